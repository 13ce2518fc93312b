//! The one error type of reading images: each variant names the file and what is wrong with it.

use std::path::PathBuf;

use oci_model::Digest;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    #[error("{path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a tar archive at all.
    #[error("{path}: not a tar archive ({reason}): give a `docker save` tar, an OCI archive (a tar of an OCI layout) or an OCI layout folder", path = .path.display())]
    NotATar { path: PathBuf, reason: String },
    /// A compressed archive (`docker save | gzip`).
    #[error("{path}: a gzip-compressed file: decompress it first (gunzip), then give the tar", path = .path.display())]
    Compressed { path: PathBuf },
    /// A tar with neither `manifest.json` nor `oci-layout`.
    #[error("{path}: a tar archive without manifest.json (docker save) or oci-layout (OCI archive): not an image archive", path = .path.display())]
    UnknownArchive { path: PathBuf },
    /// A folder without `oci-layout`.
    #[error("{path}: a folder without an oci-layout file: not an OCI image layout", path = .path.display())]
    NotALayout { path: PathBuf },
    /// `manifest.json` (or a config) that cannot be used.
    #[error("{path}: {entry}: {problem}", path = .path.display())]
    BadArchive {
        path: PathBuf,
        entry: String,
        problem: String,
    },
    /// An entry that `manifest.json` names is not in the archive.
    #[error("{path}: manifest.json names {entry}, which is not in the archive (a layer is missing: the archive is incomplete)", path = .path.display())]
    MissingEntry { path: PathBuf, entry: String },
    /// A symbolic or hard link that leads nowhere, in circles, or out of the archive.
    #[error("{path}: {entry} is a link that cannot be followed ({problem})", path = .path.display())]
    BadLink {
        path: PathBuf,
        entry: String,
        problem: String,
    },
    /// A blob whose bytes do not hash to the digest that names it.
    #[error("{what}: the content does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    /// A blob of another size than its descriptor says.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    /// A blob a layout's manifest names is missing.
    #[error("{what}: {path} is missing: the layout is incomplete", path = .path.display())]
    MissingBlob { what: String, path: PathBuf },
    /// Something valid that this tool does not push (an index, several images, …).
    #[error("{source_name}: {problem}")]
    Unsupported {
        source_name: String,
        problem: String,
    },
    /// The OCI layout itself (its `oci-layout`, `index.json`, a manifest) is unusable.
    #[error(transparent)]
    Layout(#[from] crate::remote::Error),
    /// A name that is not a file, and no engine to ask.
    #[error("{name:?} is not a file or folder, and no Docker engine is reachable at {endpoint} ({cause}). Without an engine, give a `docker save` tar (docker save -o image.tar {name}), an OCI archive (tar) or an OCI layout folder (oci:DIR[:TAG], or a folder holding oci-layout)")]
    NoEngine {
        name: String,
        endpoint: String,
        cause: String,
    },
    /// A rootfs path an image cannot hold (empty, or with `.`, `..` or empty segments).
    #[error("{path:?} cannot be a path in an image's root filesystem: give a plain path such as /etc/passwd")]
    RootfsPath { path: String },
    /// The engine answered, but `docker save` failed.
    #[error("docker save {name}: {problem}")]
    DockerSave { name: String, problem: String },
}

impl ImageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ImageError {
        ImageError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
