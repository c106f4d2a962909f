//! `#[handler]` misuse gives compiler errors that point at the user's code: one error per
//! mistake (two, both saying what `init` must return, for an `init` that returns no
//! `Result`), without the macro's internals.

#[test]
fn handler_misuse() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // Asks for what the feature gives.
    #[cfg(not(feature = "multi-thread"))]
    t.compile_fail("tests/ui/without_multi_thread/*.rs");
}
