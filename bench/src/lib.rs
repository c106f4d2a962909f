//! Load generator and benchmark harnesses for Firebox.
//!
//! - [`loadgen`] drives any AWS Invoke API endpoint with concurrent keep-alive clients.
//! - [`echo_server`] is a bare loopback HTTP echo server: the floor the emulator is compared with.
//! - [`compare`] measures the floor and an endpoint in one run.
//! - [`cold`] compares a cold start through `firebox serve` with the bare exec → first `/next`.
//! - [`runtime_api`] is a loopback Runtime API server that feeds events to one bootstrap process.
//! - [`runtime_bench`] spawns bootstrap binaries against it and measures per-invocation overhead,
//!   cold start, resident memory and binary size.
//!
//! The `firebox-bench` binary is a thin command line over these modules.

mod child;
pub mod cold;
pub mod compare;
pub mod echo_server;
pub mod endpoint;
pub mod error;
pub mod loadgen;
pub mod procfs;
pub mod report;
pub mod runtime_api;
pub mod runtime_bench;
pub mod stats;

pub use error::BenchError;
