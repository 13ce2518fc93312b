//! Run-time settings shared by the routes; the CLI fills them from flags and
//! tests build them with [`Config::default`].

use std::time::Duration;

/// Limits and switches of one registry instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest manifest accepted; larger bodies get 413 (the spec's 4 MiB).
    pub max_manifest_bytes: usize,
    /// Largest blob accepted through an upload (0 = no limit).
    pub max_blob_bytes: u64,
    /// Most upload sessions open at once; more get 429 `TOOMANYREQUESTS`.
    pub max_upload_sessions: usize,
    /// An upload session untouched this long is discarded.
    pub upload_ttl: Duration,
    /// Most descriptors on one referrers page (the page is also capped at
    /// `max_manifest_bytes` of JSON, whichever comes first).
    pub referrers_page_size: usize,
    /// Default and maximum `n` for tags and catalog listings.
    pub list_page_max: usize,
    /// Deleting a manifest also deletes the manifests whose `subject` it is.
    pub delete_referrers_with_subject: bool,
    /// Refuse DELETE with 405 `UNSUPPORTED`.
    pub disable_delete: bool,
    /// Refuse every write with 403 `DENIED`.
    pub read_only: bool,
    /// With an htpasswd file: let GET and HEAD through without credentials.
    pub anonymous_read: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_blob_bytes: 0,
            max_upload_sessions: 256,
            upload_ttl: Duration::from_secs(3600),
            referrers_page_size: 500,
            list_page_max: 10_000,
            delete_referrers_with_subject: false,
            disable_delete: false,
            read_only: false,
            anonymous_read: false,
        }
    }
}
