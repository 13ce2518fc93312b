//! Storage behind a small trait, so that an object-store backend can replace
//! the filesystem one without touching the HTTP layer.
//!
//! The trait speaks in registry terms (blobs, upload sessions, manifests,
//! tags, referrer entries) but holds no policy: validation, the referrers
//! rules and cascades live in `services`, and names and digests arrive
//! already validated. Every method that returns `Ok` after a write has made
//! that write durable.

mod durable;
mod fs;
pub mod layout;
mod referrers;
mod stream;
mod uploads;

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use oci_model::{Descriptor, Digest};

pub use fs::{FsOptions, FsStorage};

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// A subject's referrers, keyed by referrer digest (a shared snapshot).
pub type Referrers = std::sync::Arc<std::collections::BTreeMap<Digest, Descriptor>>;

/// A stream of body bytes, in or out.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Storage failures the HTTP layer tells apart.
#[derive(Debug)]
pub enum StorageError {
    /// No such upload session (or it belongs to another repository).
    UploadUnknown,
    /// No such blob in this repository.
    BlobUnknown,
    /// The uploaded bytes hash to something else; nothing was stored.
    DigestMismatch { expected: Digest, actual: Digest },
    /// The content is over a configured size limit; nothing was stored.
    TooLarge { limit: u64 },
    /// The request body ended with an error (client gone, truncated).
    Body(std::io::Error),
    /// The backend failed.
    Io(std::io::Error),
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> StorageError {
        StorageError::Io(e)
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::UploadUnknown => write!(f, "upload unknown"),
            StorageError::BlobUnknown => write!(f, "blob unknown"),
            StorageError::DigestMismatch { expected, actual } => {
                write!(f, "digest {actual} != {expected}")
            }
            StorageError::TooLarge { limit } => write!(f, "over {limit} bytes"),
            StorageError::Body(e) => write!(f, "body: {e}"),
            StorageError::Io(e) => write!(f, "io: {e}"),
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A stored manifest: its exact bytes and the media type it was pushed with.
#[derive(Clone, Debug)]
pub struct StoredManifest {
    pub media_type: String,
    pub bytes: Bytes,
}

/// Everything one manifest PUT stores.
#[derive(Clone, Copy, Debug)]
pub struct ManifestPut<'a> {
    pub digest: &'a Digest,
    pub manifest: &'a StoredManifest,
    /// The manifest's subject and the descriptor it is listed with.
    pub referrer: Option<(&'a Digest, &'a Descriptor)>,
    /// A tag to point at the manifest.
    pub tag: Option<&'a str>,
}

/// The state of an upload session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadStatus {
    /// Bytes received so far (the next chunk must start here).
    pub size: u64,
}

/// What the registry needs from a storage backend.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    // --- blobs: content-addressed, linked into the repositories that hold them

    /// The blob's size if `repo` holds it.
    async fn blob_size(&self, repo: &str, digest: &Digest) -> StorageResult<Option<u64>>;
    /// The blob's bytes (a `range` of them, if given); `BlobUnknown` if absent.
    async fn blob_read(
        &self,
        repo: &str,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> StorageResult<ByteStream>;
    /// Makes `repo` hold a blob that `from` holds (cross-repository mount);
    /// `false` if `from` does not hold it.
    async fn blob_mount(&self, repo: &str, from: &str, digest: &Digest) -> StorageResult<bool>;
    /// Removes the blob from `repo`; `false` if it was not there.
    async fn blob_delete(&self, repo: &str, digest: &Digest) -> StorageResult<bool>;

    // --- upload sessions

    /// Opens a session for `repo` and returns its id.
    async fn upload_create(&self, repo: &str) -> StorageResult<String>;
    /// The session's progress.
    async fn upload_status(&self, repo: &str, id: &str) -> StorageResult<UploadStatus>;
    /// Appends `body` to the session, hashing as it streams. If the body
    /// fails midway the session is rolled back to where it was.
    async fn upload_append(
        &self,
        repo: &str,
        id: &str,
        body: ByteStream,
    ) -> StorageResult<UploadStatus>;
    /// Closes the session: checks the digest, then makes the blob visible in
    /// `repo` under `digest`. On a mismatch nothing becomes visible.
    async fn upload_commit(&self, repo: &str, id: &str, digest: &Digest) -> StorageResult<u64>;
    /// Discards the session.
    async fn upload_cancel(&self, repo: &str, id: &str) -> StorageResult<()>;
    /// How many sessions are open.
    fn upload_count(&self) -> usize;
    /// Discards sessions idle for longer than `ttl`; returns how many.
    async fn upload_expire(&self, ttl: std::time::Duration) -> StorageResult<usize>;

    // --- manifests and tags

    async fn manifest_read(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> StorageResult<Option<StoredManifest>>;
    /// Stores a manifest with its referrers-index entry and its tag, if any,
    /// as one durable operation that makes the manifest visible first.
    async fn manifest_put(&self, repo: &str, put: ManifestPut<'_>) -> StorageResult<()>;
    /// `false` if it was not there.
    async fn manifest_delete(&self, repo: &str, digest: &Digest) -> StorageResult<bool>;
    async fn tag_read(&self, repo: &str, tag: &str) -> StorageResult<Option<Digest>>;
    /// `false` if it was not there.
    async fn tag_delete(&self, repo: &str, tag: &str) -> StorageResult<bool>;
    /// The repository's tags in lexical order; `None` if the repository is unknown.
    async fn tags(&self, repo: &str) -> StorageResult<Option<Vec<String>>>;
    /// Every repository name in lexical order.
    async fn repositories(&self) -> StorageResult<Vec<String>>;

    // --- the referrers index: subject digest -> descriptors of its referrers

    /// Forgets that `referrer` has `subject`.
    async fn referrer_remove(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Digest,
    ) -> StorageResult<()>;
    /// The referrers of `subject`, keyed and ordered by digest, in
    /// O(referrers of it); the ordered map lets a page start after `last`
    /// without scanning what came before.
    async fn referrers(&self, repo: &str, subject: &Digest) -> StorageResult<Referrers>;
}
