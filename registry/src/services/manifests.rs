//! Manifests: the checks a PUT must pass, storing with the referrers index
//! kept in step, resolving tags, and deletes (with the optional cascade to
//! referrers).

use std::collections::HashSet;

use bytes::Bytes;
use oci_model::{media_type, Digest, Manifest, ManifestRef};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Code};
use crate::storage::{ManifestPut, StoredManifest};

/// What a successful PUT reports.
pub struct PutOutcome {
    pub digest: Digest,
    pub subject: Option<Digest>,
}

fn unknown(name: &str, what: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        Code::ManifestUnknown,
        format!("manifest {what} unknown to {name}"),
    )
}

/// Validates and stores a manifest; tags it if `reference` is a tag.
pub async fn put(
    state: &AppState,
    name: &str,
    reference: &ManifestRef,
    content_type: Option<&str>,
    bytes: Bytes,
) -> ApiResult<PutOutcome> {
    let digest = match reference {
        ManifestRef::Digest(d) => {
            // Hash with the algorithm the client named, over the exact bytes.
            let actual = d.recompute(&bytes);
            if &actual != d {
                return Err(ApiError::new(
                    Code::DigestInvalid,
                    format!("manifest digest is {actual}, not {d}"),
                ));
            }
            actual
        }
        ManifestRef::Tag(_) => Digest::sha256_of(&bytes),
    };
    let manifest = Manifest::parse(&bytes, content_type)
        .map_err(|e| ApiError::new(Code::ManifestInvalid, e.to_string()))?;
    check_references(state, name, &manifest).await?;

    let stored = StoredManifest {
        media_type: manifest.media_type().to_string(),
        bytes: bytes.clone(),
    };
    let subject = manifest.subject.as_ref().map(|s| s.digest.clone());
    let desc = subject
        .as_ref()
        .map(|_| super::referrers::descriptor_of(&manifest, &digest, bytes.len() as u64));
    let tag = match reference {
        ManifestRef::Tag(t) => Some(t.as_str()),
        ManifestRef::Digest(_) => None,
    };
    let put = ManifestPut {
        digest: &digest,
        manifest: &stored,
        referrer: subject.as_ref().zip(desc.as_ref()),
        tag,
    };
    state.store.manifest_put(name, put).await?;
    Ok(PutOutcome { digest, subject })
}

/// Blobs a manifest uses must be in the repository, with the size it says;
/// an index's children must be manifests of the repository. The `subject`
/// is exempt: it may be pushed later.
async fn check_references(state: &AppState, name: &str, m: &Manifest) -> ApiResult<()> {
    let store = &state.store;
    for d in m.referenced_blobs() {
        match store.blob_size(name, &d.digest).await? {
            None => {
                return Err(ApiError::new(
                    Code::ManifestBlobUnknown,
                    format!("blob {} is not in {name}", d.digest),
                ))
            }
            Some(size) if size != d.size => {
                return Err(ApiError::new(
                    Code::ManifestInvalid,
                    format!(
                        "descriptor of {} says {} bytes, the blob has {size}",
                        d.digest, d.size
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if media_type::is_index(m.media_type()) {
        for d in m.referenced_manifests() {
            if store.manifest_read(name, &d.digest).await?.is_none() {
                return Err(ApiError::new(
                    Code::ManifestBlobUnknown,
                    format!("manifest {} listed in the index is not in {name}", d.digest),
                ));
            }
        }
    }
    Ok(())
}

/// The digest a reference names, if the repository has it.
pub async fn resolve(
    state: &AppState,
    name: &str,
    reference: &ManifestRef,
) -> ApiResult<(Digest, StoredManifest)> {
    let digest = match reference {
        ManifestRef::Digest(d) => d.clone(),
        ManifestRef::Tag(t) => state
            .store
            .tag_read(name, t)
            .await?
            .ok_or_else(|| unknown(name, t))?,
    };
    let m = state
        .store
        .manifest_read(name, &digest)
        .await?
        .ok_or_else(|| unknown(name, &digest))?;
    Ok((digest, m))
}

/// Deletes a tag (by tag) or a manifest (by digest).
///
/// Deleting a manifest removes it from its subject's referrers, removes the
/// tags that point at it, and, with `delete_referrers_with_subject`, deletes
/// its referrers too (recursively). Without that option its referrers stay
/// stored and indexed under its digest: they are listed again if the same
/// manifest is pushed again.
pub async fn delete(state: &AppState, name: &str, reference: &ManifestRef) -> ApiResult<()> {
    match reference {
        ManifestRef::Tag(t) => {
            if state.store.tag_delete(name, t).await? {
                Ok(())
            } else {
                Err(unknown(name, t))
            }
        }
        ManifestRef::Digest(d) => {
            let mut seen = HashSet::new();
            let mut pending = vec![d.clone()];
            let mut first = true;
            while let Some(d) = pending.pop() {
                if !seen.insert(d.clone()) {
                    continue;
                }
                let found = delete_one(state, name, &d).await?;
                if first && !found {
                    return Err(unknown(name, &d));
                }
                first = false;
                if state.config.delete_referrers_with_subject {
                    pending.extend(state.store.referrers(name, &d).await?.keys().cloned());
                }
            }
            Ok(())
        }
    }
}

async fn delete_one(state: &AppState, name: &str, digest: &Digest) -> ApiResult<bool> {
    let store = &state.store;
    let Some(stored) = store.manifest_read(name, digest).await? else {
        return Ok(false);
    };
    if let Ok(m) = Manifest::parse(&stored.bytes, Some(&stored.media_type)) {
        if let Some(s) = &m.subject {
            store.referrer_remove(name, &s.digest, digest).await?;
        }
    }
    // Tags that point at the manifest would dangle: remove them.
    for tag in store.tags(name).await?.unwrap_or_default() {
        if store.tag_read(name, &tag).await?.as_ref() == Some(digest) {
            store.tag_delete(name, &tag).await?;
        }
    }
    store.manifest_delete(name, digest).await?;
    Ok(true)
}
