//! End-to-end tests across Firebox crates and third-party Lambda clients.
