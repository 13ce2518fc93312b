//! The wasmtime host for OPA WebAssembly modules: compile once, a fresh bounded store per call.
//!
//! ```text
//! PolicyModule::load(policy.wasm)
//!   compile (cranelift) → check imports (env.memory, env.opa_*) → scratch instance:
//!   ABI globals (1.x), exports and their types, entrypoints() and builtins() via opa_json_dump
//! PolicyModule::evaluate(entrypoint, input)            (each call, nothing shared but code)
//!   Store (fuel + memory budget) → Memory with the import's limits → Instance
//!   data: opa_malloc + write + opa_json_parse
//!   ABI ≥ 1.2: input written at the heap pointer, opa_eval(0, ep, data, in, len, heap, 0)
//!   ABI 1.0/1.1: opa_json_parse(input), opa_eval_ctx_*, eval, opa_json_dump(result)
//!   → JSON `[{"result": …}]` → the value of `result`
//! ```
//!
//! The host functions mirror OPA's own loaders (`npm-opa-wasm`, OPA's Go SDK): `opa_abort` ends
//! the call with its message, `opa_println` logs, and `opa_builtin0..4` end the call with
//! "unknown builtin", since our policy calls none.
//!
//! Three layers, one file each:
//!
//! | module | what it holds |
//! |---|---|
//! | `module` | the engine, compiling a module and checking its ABI surface ([`PolicyModule`]) |
//! | `imports` | the host functions of the ABI and the classification of a failed call |
//! | `session` | one instance in its own bounded store, good for one evaluation ([`Session`]) |

mod imports;
mod module;
mod session;

pub use module::{AbiVersion, PolicyModule};
pub use session::Session;
