//! The signing step of `docker generate push`, as one [`Signer`]: a Notary Project JWS envelope
//! over the subject descriptor (the signature core, as `nv2 sign-envelope` makes it), pushed as
//! notation pushes it: an OCI 1.1 image manifest (artifactType
//! `application/vnd.cncf.notary.signature`, the empty config `{}`, the envelope as its one
//! `application/jose+json` layer, `subject`, the certificate chain's thumbprints annotation),
//! or the prototype's OCI artifact manifest; by digest, then indexed in the referrers tag schema
//! where the registry has no referrers API.
//!
//! This file stands in for `nv2_client::signature::sign` and goes when that arrives: the push
//! flow only knows the [`Signer`] trait.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use oci_model::{media_type, Descriptor, Digest};
use serde_json::json;
use verifier_core::sign::{
    pem_decode_certificates, sign_envelope, SignError, SignOptions, SigningKey,
};

use super::Signer;
use crate::remote::Repository;

/// The envelope's media type (a JWS).
pub const JWS: &str = "application/jose+json";
/// The annotation with the SHA-256 thumbprints of the signing chain, as notation writes it.
pub const THUMBPRINTS: &str = "io.cncf.notary.x509chain.thumbprint#S256";

/// Which manifest carries the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureManifest {
    /// An OCI 1.1 image manifest (notation's).
    Image,
    /// The prototype's OCI artifact manifest (`blobs`).
    Artifact,
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignStepError {
    #[error("{path}: {source}", path = .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}", path = .path.display())]
    Key {
        path: std::path::PathBuf,
        source: SignError,
    },
    #[error("signing {digest}: {source}")]
    Sign { digest: Digest, source: SignError },
    #[error("pushing the signature of {digest}: {source}")]
    Push {
        digest: Digest,
        source: crate::remote::Error,
    },
}

/// Signs with a key and its certificate chain.
pub struct EnvelopeSigner {
    key: SigningKey,
    chain: Vec<Vec<u8>>,
    expiry: Option<Duration>,
    manifest: SignatureManifest,
}

impl EnvelopeSigner {
    /// From a PKCS#8 PEM key and a PEM chain (signing certificate first).
    pub fn from_files(
        key: &Path,
        cert: &Path,
        expiry: Option<Duration>,
        manifest: SignatureManifest,
    ) -> Result<EnvelopeSigner, SignStepError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| SignStepError::Read {
                path: path.into(),
                source,
            })
        };
        let key_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SignStepError::Key { path, source }
        };
        let signing_key = SigningKey::from_pkcs8_pem(&read(key)?).map_err(key_error(key))?;
        let chain = pem_decode_certificates(&read(cert)?).map_err(key_error(cert))?;
        Ok(EnvelopeSigner {
            key: signing_key,
            chain,
            expiry,
            manifest,
        })
    }

    /// `["<hex sha256 of each certificate>", …]`, the annotation's value.
    fn thumbprints(&self) -> String {
        let prints: Vec<String> = self
            .chain
            .iter()
            .map(|der| Digest::sha256_of(der).hex().to_string())
            .collect();
        serde_json::to_string(&prints).expect("strings serialise")
    }
}

impl Signer for EnvelopeSigner {
    type Error = SignStepError;

    async fn sign(
        &self,
        repo: &Repository,
        subject: &Descriptor,
    ) -> Result<Descriptor, SignStepError> {
        let digest = subject.digest.clone();
        let plain = Descriptor::new(subject.media_type.clone(), digest.clone(), subject.size);
        let mut options = SignOptions::new(SystemTime::now());
        options.expiry = self.expiry;
        let envelope =
            sign_envelope(&self.key, &self.chain, &json!(plain), &options).map_err(|source| {
                SignStepError::Sign {
                    digest: digest.clone(),
                    source,
                }
            })?;
        let push_error = |source| SignStepError::Push {
            digest: digest.clone(),
            source,
        };
        let layer = Descriptor::new(JWS, Digest::sha256_of(&envelope), envelope.len() as u64);
        repo.push_blob_bytes(&layer, Bytes::from(envelope))
            .await
            .map_err(push_error)?;
        let annotations = BTreeMap::from([(THUMBPRINTS.to_string(), self.thumbprints())]);
        let manifest = match self.manifest {
            SignatureManifest::Image => {
                let config = Descriptor::new(media_type::OCI_EMPTY, Digest::sha256_of(b"{}"), 2);
                repo.push_blob_bytes(&config, Bytes::from_static(b"{}"))
                    .await
                    .map_err(push_error)?;
                json!({
                    "schemaVersion": 2,
                    "mediaType": media_type::OCI_MANIFEST,
                    "artifactType": media_type::NOTARY_SIGNATURE,
                    "config": config,
                    "layers": [layer],
                    "subject": plain,
                    "annotations": annotations,
                })
            }
            SignatureManifest::Artifact => json!({
                "mediaType": media_type::OCI_ARTIFACT_MANIFEST,
                "artifactType": media_type::NOTARY_SIGNATURE,
                "blobs": [layer],
                "subject": plain,
                "annotations": annotations,
            }),
        };
        let media = manifest["mediaType"]
            .as_str()
            .expect("set above")
            .to_string();
        let bytes = Bytes::from(serde_json::to_vec(&manifest).expect("a manifest serialises"));
        let pushed = repo
            .push_manifest(
                &media,
                bytes.clone(),
                &Digest::sha256_of(&bytes).to_string(),
            )
            .await
            .map_err(push_error)?;
        repo.index_referrer(
            &digest,
            &pushed,
            Some(media_type::NOTARY_SIGNATURE),
            Some(&annotations),
        )
        .await
        .map_err(push_error)?;
        let mut descriptor = pushed.descriptor;
        descriptor.artifact_type = Some(media_type::NOTARY_SIGNATURE.into());
        Ok(descriptor)
    }
}
