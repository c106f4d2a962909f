//! The Firebox Lambda runtime: a Runtime API client and handler surface for bootstrap binaries.
