#[connector_macros::connector(
    spec = "fixtures/macro_petstore.yaml",
    tags = "pets",
    idempotency_keys = "yes",
    base_url = 8080
)]
mod api {}

fn main() {}
