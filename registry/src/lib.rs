//! `nv2-registry`: an OCI distribution-spec v1.1 registry with the referrers
//! API, the prototype-2 artifact manifests and their links endpoint.
//!
//! The crate is a library so that tests drive [`app`] without a socket; the
//! `nv2-registry` binary only parses flags and serves it.
//!
//! | module | what |
//! |---|---|
//! | `app` | the router, shared state and the auth / limits layers |
//! | `routes` | one module per API area plus the catch-all `/v2/` path parser |
//! | `services` | manifest validation and the referrers index upkeep |
//! | `storage` | the [`Storage`] trait, the on-disk layout and the filesystem backend |
//! | `error` | the OCI error-code table and the one error → response conversion |

mod app;
mod auth;
mod config;
mod error;
mod routes;
mod services;
pub mod storage;

pub use app::{app, AppState};
pub use auth::Htpasswd;
pub use config::Config;
pub use error::{ApiError, Code};
pub use storage::{FsOptions, FsStorage, Storage, StorageError};
