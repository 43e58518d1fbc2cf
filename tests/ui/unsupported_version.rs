#[connector_macros::connector(spec = "fixtures/ui/unsupported_version.yaml")]
mod api {}

fn main() {}
