#[connector_macros::connector(spec = "fixtures/macro_petstore.yaml", overlay = "ui/bad_target.overlay.yaml")]
mod api {}

fn main() {}
