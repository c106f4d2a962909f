//! `#[handler]` misuse gives compiler errors that point at the user's code.

#[test]
fn handler_misuse() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
