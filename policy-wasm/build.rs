//! Linker settings for the wasm32 build of the policy module (nothing for host builds, whose
//! linker would reject these flags).
//!
//! OPA's ABI wants the module to import its memory as `env.memory` (and to re-export it), and
//! hosts hand over small memories: OPA's Go SDK and wazero compare the import's limits with what
//! they provide, so the initial size must stay at or below 2 pages. The stack therefore cannot
//! be Rust's default 1 MiB; it lives at the bottom of memory (`--stack-first`), so an overflow
//! traps instead of overwriting data.

use std::env;

/// Stack bytes. With `--stack-first` the stack occupies [0, STACK) and static data follows, so
/// STACK + static data must fit in INITIAL_MEMORY (the link fails otherwise).
const STACK: u32 = 64 * 1024;
/// Two 64 KiB pages: what every OPA host accepts as the memory import's minimum.
const INITIAL_MEMORY: u32 = 2 * 65536;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    for arg in [
        "--import-memory".to_string(),
        // With an imported memory wasm-ld exports none unless asked; ABI 1.1 wants `memory`.
        "--export-memory".to_string(),
        "--stack-first".to_string(),
        format!("-zstack-size={STACK}"),
        // No `--max-memory`: hosts grow memory for input, the heap grows it with memory.grow,
        // and a declared maximum would have to match each host's own.
        format!("--initial-memory={INITIAL_MEMORY}"),
    ] {
        println!("cargo:rustc-link-arg-cdylib={arg}");
    }
}
