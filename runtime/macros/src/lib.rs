//! The #[handler] attribute macro for firebox-runtime.
