//! nv2's Gatekeeper side: the wasmtime host that runs the OPA WebAssembly policy module
//! (`policy.wasm`, ABI 1.x), and the external-data provider Gatekeeper calls (Contract 3).
//!
//! ```text
//! PolicyModule::load("dist/bundle/policy.wasm")      compile once, check the ABI surface
//!   .evaluate("notary/verify", &request)             a fresh, bounded store per call
//!   → the Contract 1 report (serde_json::Value)      or a HostError naming the cause
//!
//! Provider::new(ProviderOptions)                     trust policy, stores, bundle; registry client
//!   .validate(&keys) / .mutate(&keys)                → protocol::ProviderResponse
//! server::app(provider), server::serve(…)            HTTPS (TLS 1.3) for Gatekeeper
//! ```
//!
//! | module | what it holds |
//! |---|---|
//! | [`protocol`] | the wire types of Contract 3 (`ProviderRequest`, `ProviderResponse`, items) |
//! | [`provider`] | keys → items: resolve, fetch signatures, verify, cache; the shared CLI flags |
//! | [`server`] | the routes, TLS 1.3 with certificate reload and optional client certificates |
//! | [`metrics`] | Prometheus text for `/metrics` |
//! | [`certs`] | a CA and serving certificate for `nv2-gatekeeper certs` |
//! | [`bundle`], [`rego`] | OPA bundles, and the notary Rego policy under regorus |
//!
//! Every evaluation is bounded by fuel, a wall-clock deadline and a memory limit ([`HostOptions`]); a module that loops,
//! traps, aborts or hoards memory costs one failed call ([`HostError`]), never the host.
//! [`PolicyModule`] is `Send + Sync`: share it behind an `Arc`.

#![forbid(unsafe_code)]

pub mod admission;
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
