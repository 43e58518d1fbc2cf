#[connector_macros::connector(spec = "fixtures/macro_petstore.yaml", overlay = "ui/no_such_overlay.yaml")]
mod api {}

fn main() {}
