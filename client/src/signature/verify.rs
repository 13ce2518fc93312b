//! Finding a subject's signatures in a registry and verifying them with the signature core.

use std::time::SystemTime;

use bytes::Bytes;
use oci_model::{Descriptor, Digest, Manifest, Reference};
use verifier_core::sign::{format_rfc3339, system_time_to_unix};
use verifier_core::{Report, Request, SignatureEntry, TrustPolicyDocument, TrustStores};

use super::{repository_name, Error, Result, ARTIFACT_TYPE, MAX_ENVELOPE_BYTES, MAX_SIGNATURES};
use crate::remote::{Error as RemoteError, Repository};

/// One signature found for a subject: its manifest, and its envelope blob as fetched (digest and
/// size checked).
#[derive(Debug, Clone)]
pub struct FoundSignature {
    pub manifest: Descriptor,
    pub envelope: Descriptor,
    pub bytes: Bytes,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone)]
pub struct Verification {
    /// `REGISTRY/REPO@sha256:…`: what was verified (a tag is resolved once).
    pub reference: String,
    pub subject: Descriptor,
    /// The signatures, in the order of the report's `signatures`.
    pub signatures: Vec<FoundSignature>,
    /// Signature manifests left out, and why.
    pub skipped: Vec<Skipped>,
    /// The Contract 1 report.
    pub report: Report,
}

impl Verification {
    /// The signature that verified, if one did.
    pub fn verified_by(&self) -> Option<(&FoundSignature, &verifier_core::SignatureReport)> {
        self.signatures
            .iter()
            .zip(&self.report.signatures)
            .find(|(_, r)| r.verified)
    }
}

/// The signature manifests that refer to `subject` (referrers API, else the tag schema).
pub async fn discover(repo: &Repository, subject: &Digest) -> Result<Vec<Descriptor>> {
    Ok(repo
        .referrers(subject, Some(ARTIFACT_TYPE))
        .await?
        .descriptors)
}

/// A signature manifest that was left out, and why (a registry's content, not its transport:
/// one bad manifest must not hide the good ones).
#[derive(Debug, Clone)]
pub struct Skipped {
    pub manifest: Digest,
    pub reason: String,
}

/// What [`fetch_signatures`] found.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub signatures: Vec<FoundSignature>,
    pub skipped: Vec<Skipped>,
}

/// Every signature of `subject` with its envelope: each manifest fetched by digest, its one
/// envelope (first layer, or first blob of an artifact manifest) fetched with its digest and
/// size checked, refused over [`MAX_ENVELOPE_BYTES`]; at most [`MAX_SIGNATURES`] of them. A
/// manifest whose content is wrong (not a manifest, another subject, no envelope, an envelope
/// too large, missing or not matching its digest) is [`Skipped`]; a registry that cannot be
/// reached is an error.
pub async fn fetch_signatures(repo: &Repository, subject: &Descriptor) -> Result<Fetched> {
    let mut out = Fetched::default();
    let mut listed = discover(repo, &subject.digest).await?;
    // Past the cap, each is named as skipped rather than fetched.
    let over = listed.split_off(listed.len().min(MAX_SIGNATURES));
    out.skipped.extend(over.into_iter().map(|d| Skipped {
        manifest: d.digest,
        reason: format!("more than {MAX_SIGNATURES} signatures: not fetched"),
    }));
    for manifest in listed {
        match fetch_one(repo, subject, &manifest).await {
            Ok(found) => out.signatures.push(found),
            Err(e) if is_content_problem(&e) => out.skipped.push(Skipped {
                manifest: manifest.digest.clone(),
                reason: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn is_content_problem(e: &Error) -> bool {
    match e {
        Error::BadSignatureManifest { .. } | Error::EnvelopeTooLarge { .. } => true,
        Error::Remote(r) => {
            matches!(
                r,
                RemoteError::DigestMismatch { .. } | RemoteError::SizeMismatch { .. }
            ) || r.is_not_found()
        }
        _ => false,
    }
}

async fn fetch_one(
    repo: &Repository,
    subject: &Descriptor,
    manifest: &Descriptor,
) -> Result<FoundSignature> {
    let fetched = repo.fetch_manifest(&manifest.digest.to_string()).await?;
    let bad = |reason: String| Error::BadSignatureManifest {
        digest: manifest.digest.to_string(),
        reason,
    };
    let parsed = Manifest::parse(&fetched.bytes, Some(&fetched.descriptor.media_type))
        .map_err(|e| bad(e.to_string()))?;
    // A registry must not make a signature of one artifact count for another.
    match &parsed.subject {
        Some(s) if s.digest == subject.digest => {}
        Some(s) => {
            return Err(bad(format!(
                "its subject is {}, not {}",
                s.digest, subject.digest
            )))
        }
        None => return Err(bad("it has no subject".into())),
    }
    let envelope = parsed
        .layers
        .as_ref()
        .or(parsed.blobs.as_ref())
        .and_then(|l| l.first())
        .cloned()
        .ok_or_else(|| bad("it has no envelope layer".into()))?;
    if envelope.size > MAX_ENVELOPE_BYTES {
        return Err(Error::EnvelopeTooLarge {
            manifest: manifest.digest.to_string(),
            digest: envelope.digest.to_string(),
            size: envelope.size,
            limit: MAX_ENVELOPE_BYTES,
        });
    }
    let bytes = repo
        .fetch_blob_bytes(&envelope.digest, envelope.size)
        .await?;
    if bytes.len() as u64 != envelope.size {
        return Err(RemoteError::SizeMismatch {
            what: format!("fetch envelope {} of {}", envelope.digest, manifest.digest),
            expected: envelope.size,
            actual: bytes.len() as u64,
        }
        .into());
    }
    Ok(FoundSignature {
        manifest: fetched.descriptor,
        envelope,
        bytes,
    })
}

/// Verifies `reference` (a tag is resolved once, to the digest that is verified): its signatures
/// are found and fetched, and one Contract 1 request with `policy`, `stores` and `time` goes to
/// the signature core. `stores` are the stores the applicable policy names (see
/// [`crate::trust::TrustStoreDir::load_for`]).
pub async fn verify(
    repo: &Repository,
    reference: &Reference,
    policy: &TrustPolicyDocument,
    stores: &TrustStores,
    time: SystemTime,
) -> Result<Verification> {
    let subject = repo.resolve(&reference.manifest_ref()).await?;
    let Fetched {
        signatures,
        skipped,
    } = fetch_signatures(repo, &subject).await?;
    let time = system_time_to_unix(time)
        .and_then(format_rfc3339)
        .map_err(|_| Error::Time)?;
    let pinned = format!("{}@{}", repository_name(repo), subject.digest);
    let mut request = Request::new(
        pinned.as_str(),
        verifier_core::Descriptor::new(
            subject.media_type.as_str(),
            subject.digest.to_string(),
            subject.size,
        ),
        policy.clone(),
        stores.clone(),
        time,
    );
    for s in &signatures {
        request = request.signature(SignatureEntry::from_envelope(
            s.envelope.media_type.as_str(),
            &s.bytes,
        ));
    }
    let report = verifier_core::verify(&request);
    Ok(Verification {
        reference: pinned,
        subject,
        signatures,
        skipped,
        report,
    })
}
