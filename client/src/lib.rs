//! The nv2 client: signing and verifying artifacts in the Notary Project signature format, and
//! pushing, linking, discovering and pulling them in OCI registries.
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | the `nv2` command line: one module per subcommand |
//! | [`duration`] | `24h` / `7d` / `30m` durations for flags such as `--expiry` |
//! | [`remote`] | the registry client: auth, blobs, manifests, referrers (the project's one client) |
//!
//! Contract 1 verification requests are [`verifier_core::Request`] values (`nv2 verify` builds
//! one from local files).

pub mod cli;
pub mod duration;
pub mod remote;
