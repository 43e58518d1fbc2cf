#[connector_macros::connector(spec = "fixtures/macro_petstore.yaml")]
struct Api;

#[connector_macros::connector(spec = "fixtures/macro_petstore.yaml")]
mod with_items {
    fn helper() {}
}

fn main() {}
