//! Compile-fail tests of `#[connector]`: each error points at the user's own tokens with a clear message.

#[test]
fn ui() {
    // trybuild compiles the cases from its own project directory; relative `spec` paths in them are
    // written against this crate's directory, so tell the macro where that is.
    // SAFETY: the only test of this binary; no other thread reads or writes the environment.
    unsafe { std::env::set_var("CONNECTOR_MACROS_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR")) };
    trybuild::TestCases::new().compile_fail("ui/*.rs");
}
