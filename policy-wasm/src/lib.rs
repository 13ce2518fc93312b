//! `policy.wasm`: the OPA WebAssembly ABI 1.3 around `verifier-core`, with one entrypoint,
//! `notary/verify` (id 0), whose input is the Contract 1 request and whose result is the report
//! (DESIGN.md, Contracts 1 and 2).
//!
//! ```text
//! host ──opa_malloc/opa_json_parse──▶ value (bump heap) ──eval──▶ verify_json ──▶ {{"result": report}}
//! host ──opa_eval(input text, heap_ptr, format)─────────────────▶ verify_json ──▶ NUL-terminated text
//! ```
//!
//! | module | what | built for |
//! |---|---|---|
//! | `value` | OPA's value model, order, `add_path`/`remove_path` | host and wasm |
//! | `parse` | JSON and Rego value text to values | host and wasm |
//! | `dump` | values to JSON and Rego value text | host and wasm |
//! | `eval` | the entrypoint: input to result set | host and wasm |
//! | `heap` | the bump heap whose state is the ABI heap pointer | arithmetic on both, allocator wasm |
//! | `abi` | imports, exports, panic handler | wasm only |
//!
//! Only the ABI and memory handling live here; verification is entirely the core's. The ABI
//! version globals are added after linking by `cargo run -p xtask -- bundle`.

#![no_std]
// On hosts nothing calls the pieces but their unit tests: the exports that use them are wasm-only.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

extern crate alloc;
// Hosts (unit tests, `cargo build --workspace`) get std's allocator and panic handler; the wasm
// module brings its own (`heap`, `abi`).
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

#[cfg(target_arch = "wasm32")]
mod abi;
mod dump;
mod eval;
mod heap;
mod parse;
mod value;
