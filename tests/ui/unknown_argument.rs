#[connector_macros::connector(spec = "fixtures/macro_petstore.yaml", crate_name = "pets")]
mod api {}

fn main() {}
