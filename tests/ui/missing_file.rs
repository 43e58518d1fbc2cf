#[connector_macros::connector(spec = "fixtures/ui/does_not_exist.yaml")]
mod api {}

fn main() {}
