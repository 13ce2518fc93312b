//! nv2's Gatekeeper side: the wasmtime host that runs the OPA WebAssembly policy module
//! (`policy.wasm`, ABI 1.x) on behalf of an admission server.
//!
//! ```text
//! PolicyModule::load("dist/bundle/policy.wasm")      compile once, check the ABI surface
//!   .evaluate("notary/verify", &request)             a fresh, bounded store per call
//!   → the Contract 1 report (serde_json::Value)      or a HostError naming the cause
//! ```
//!
//! Every evaluation is bounded by fuel, a wall-clock deadline and a memory limit ([`HostOptions`]); a module that loops,
//! traps, aborts or hoards memory costs one failed call ([`HostError`]), never the host.
//! [`PolicyModule`] is `Send + Sync`: share it behind an `Arc`.

#![forbid(unsafe_code)]

pub mod bundle;
pub mod certs;
mod error;
pub mod metrics;
mod options;
pub mod protocol;
pub mod provider;
pub mod rego;
pub mod server;
mod wasm_host;

pub use error::HostError;
pub use options::{
    HostOptions, DEFAULT_DEADLINE, DEFAULT_FUEL, DEFAULT_MEMORY_LIMIT, EPOCH_TICK,
    MEASURED_VERIFY_FUEL,
};
pub use wasm_host::{AbiVersion, PolicyModule, Session};
