//! The nv2 client: signing and verifying artifacts in the Notary Project signature format, and
//! pushing, linking, discovering and pulling them in OCI registries.
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | the `nv2` command line: one module per subcommand |
//! | [`copy`] | an artifact's graph (and its referrers) from one registry or OCI layout to another |
//! | [`image`] | images from `docker save` tars, OCI layouts and OCI archives, ready to push |
//! | [`plugin`] | `docker-generate`, the docker CLI plug-in: push by digest, sign, attach the SBoM, tag |
//! | [`duration`] | `24h` / `7d` / `30m` durations for flags such as `--expiry` |
//! | [`layout`] | OCI image layouts on disk: `oci-layout`, `index.json` tags, `blobs/`, atomic writes |
//! | [`remote`] | the registry client: auth, blobs, manifests, referrers (the project's one client) |
//! | [`signature`] | signing manifests in registries and verifying them (sign, verify, inspect) |
//! | [`trust`] | trust policy, trust stores and signing keys in notation's layout |
//!
//! Contract 1 verification requests are [`verifier_core::Request`] values (`nv2 verify` builds
//! one from local files).

pub mod cli;
pub mod copy;
pub mod duration;
pub mod image;
pub mod layout;
pub mod plugin;
pub mod remote;
pub mod signature;
pub mod trust;
