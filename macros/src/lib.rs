//! `#[connector]`: a thin shim over `connector-codegen` that expands a description in place.
use proc_macro::TokenStream;

/// Expand an OpenAPI description into the annotated module.
#[proc_macro_attribute]
pub fn connector(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
