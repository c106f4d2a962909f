//! The `#[handler]` attribute macro for firebox-runtime.
use proc_macro::TokenStream;

/// placeholder
#[proc_macro_attribute]
pub fn handler(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
