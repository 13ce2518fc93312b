//! Notary Project signatures in registries: what `nv2 sign`, `nv2 verify REF`, `nv2 inspect`,
//! `nv2 list` and the docker plug-in run.
//!
//! ```text
//! sign(repo, subject, key, chain, options)        envelope (verifier_core::sign) → blob,
//!                                                 signature manifest → by digest, then linked
//!                                                 (referrers tag schema where the API is missing)
//! verify(repo, reference, policy, stores, time)   resolve → discover → fetch envelopes (digest
//!                                                 and size checked, bounded) → one Contract 1
//!                                                 Request → verifier_core::verify → Verification
//! discover / fetch_signatures / inspect           the steps, for list and inspect
//! ```
//!
//! The signature manifest is the one notation writes: an OCI 1.1 image manifest with
//! `artifactType` [`media_type::NOTARY_SIGNATURE`], the empty config, the envelope as its one
//! `application/jose+json` layer, `subject`, and the [`THUMBPRINTS`] annotation; or, with
//! [`ManifestKind::Artifact`], the prototype's OCI artifact manifest with the envelope in
//! `blobs`. Discovery accepts every generation (image manifests with `artifactType` or with the
//! signature type as config media type, and artifact manifests).

mod inspect;
mod sign;
mod verify;

use oci_model::media_type;

pub use inspect::{inspect, CertificateInfo, Inspected};
pub use sign::{sign, signature_manifest, ManifestKind, SignatureOptions};
pub use verify::{
    discover, fetch_signatures, verify, Fetched, FoundSignature, Skipped, Verification,
};

/// The annotation with the SHA-256 thumbprints (lowercase hex) of the envelope's `x5c` chain,
/// as a JSON array in a string.
pub const THUMBPRINTS: &str = "io.cncf.notary.x509chain.thumbprint#S256";

/// The largest envelope fetched (notation's own limit on a signature blob is 32 MiB; real
/// envelopes are a few KiB, so a far smaller cap keeps a hostile registry from filling memory).
pub const MAX_ENVELOPE_BYTES: u64 = 4 * 1024 * 1024;

/// Signature manifests read per subject at most (a cap on what a hostile registry can make us
/// fetch).
pub const MAX_SIGNATURES: usize = 64;

/// The media type of an envelope layer.
pub const ENVELOPE_MEDIA_TYPE: &str = verifier_core::JWS_MEDIA_TYPE;

/// The artifact type of signatures.
pub const ARTIFACT_TYPE: &str = media_type::NOTARY_SIGNATURE;

/// What signing, discovering or verifying can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A registry operation failed.
    #[error(transparent)]
    Remote(#[from] crate::remote::Error),
    /// The envelope could not be made (key, chain, descriptor).
    #[error("signing: {0}")]
    Sign(#[from] verifier_core::sign::SignError),
    /// A signature manifest that cannot be read as one.
    #[error("signature manifest {digest}: {reason}")]
    BadSignatureManifest { digest: String, reason: String },
    /// An envelope larger than [`MAX_ENVELOPE_BYTES`].
    #[error("signature manifest {manifest}: envelope {digest} is {size} bytes, over the limit of {limit}")]
    EnvelopeTooLarge {
        manifest: String,
        digest: String,
        size: u64,
        limit: u64,
    },
    /// The clock is before 1970 or past what RFC 3339 writes.
    #[error("the system time cannot be written as RFC 3339")]
    Time,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `REGISTRY/REPO` of a repository.
pub(crate) fn repository_name(repo: &crate::remote::Repository) -> String {
    format!("{}/{}", repo.registry(), repo.name())
}
