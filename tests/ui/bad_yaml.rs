#[connector_macros::connector(spec = "fixtures/ui/broken.yaml")]
mod api {}

fn main() {}
