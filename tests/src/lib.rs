//! Support for nv2's end-to-end tests: registries on loopback (ours in-process, and CNCF
//! distribution as a child process), a misbehaving front to put before either (bearer tokens,
//! faults, a request log), an OCI pusher over the project's registry client, a signer, OPA's own
//! engine in-process, the notary policy loaded into either Rego engine (regorus or OPA) for
//! differential runs, what the benchmarks share, and nv2-registry's image as the tests read it.

pub mod bench;
pub mod bundle;
pub mod distribution;
pub mod front;
pub mod image;
pub mod nv2;
pub mod oci;
pub mod opa;
pub mod peers;
pub mod policy;
pub mod registry;
pub mod signer;

use std::path::PathBuf;

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/<profile>/`, the folder the test binary's `deps/` is in: where `cargo test` put the
/// workspace's binaries (nv2, docker-generate, nv2-registry, nv2-gatekeeper, xtask).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The workspace binary `name` in [`target_dir`], when it was built.
pub fn target_binary(name: &str) -> Option<PathBuf> {
    Some(target_dir().join(name)).filter(|p| p.is_file())
}

/// Whether missing peers (tools, built artifacts) fail tests instead of skipping them.
pub fn peers_required() -> bool {
    std::env::var("NV2_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Skips (prints and returns `None`) or fails, depending on [`peers_required`].
pub fn require<T>(what: Option<T>, missing: &str) -> Option<T> {
    if what.is_none() {
        assert!(!peers_required(), "{missing} (NV2_REQUIRE_PEERS=1)");
        println!("SKIPPED: {missing}");
    }
    what
}
