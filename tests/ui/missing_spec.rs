#[connector_macros::connector(tags = ["pets"])]
mod api {}

fn main() {}
