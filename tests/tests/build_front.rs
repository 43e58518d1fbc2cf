//! The `build.rs` front (`connector_codegen::Builder`): its output compiles (the library includes it
//! with warnings denied) and is the generator's code for the same description.

use connector_tests::petstore_build::{Client, models};

#[test]
fn builder_output_is_the_generated_module() {
    let written = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/petstore_build.rs"))
        .expect("build.rs output");
    let spec =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/examples/petstore.yaml");
    let (tokens, _) =
        connector_codegen::generate_tokens(&spec, &connector_codegen::Settings::default()).unwrap();
    let expected = connector_codegen::emit::file(quote_mod(tokens)).unwrap();
    assert_eq!(written, expected);
}

fn quote_mod(body: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let mut out: proc_macro2::TokenStream = "pub mod petstore_build".parse().unwrap();
    out.extend([proc_macro2::TokenTree::Group(proc_macro2::Group::new(
        proc_macro2::Delimiter::Brace,
        body,
    ))]);
    out
}

#[test]
fn builder_output_is_typed_and_usable() {
    assert_eq!(Client::config().base_url, "https://petstore.example.com/v1");
    let pet: models::Pet =
        serde_json::from_str(r#"{"id":7,"name":"Rex","status":"sold"}"#).unwrap();
    assert_eq!(pet.status, Some(models::PetStatus::Sold));
    let bad = models::NewPet {
        name: String::new(),
        ..Default::default()
    };
    assert!(bad.validate().is_err());
}
