//! Generates the example pet store client through `connector_codegen::Builder`, the `build.rs` front.
fn main() {
    if let Err(d) = connector_codegen::Builder::new("../specs/examples/petstore.yaml")
        .name("petstore_build")
        .build()
    {
        panic!("{d}");
    }
}
