//! Signing a manifest in a registry and pushing the signature as notation does.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use oci_model::{media_type, Descriptor, Digest};
use serde::Serialize;
use verifier_core::sign::{format_rfc3339, sign_envelope, system_time_to_unix, SigningKey};

use super::{Error, Result, ARTIFACT_TYPE, ENVELOPE_MEDIA_TYPE, THUMBPRINTS};
use crate::remote::Repository;

/// Which manifest carries the signature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ManifestKind {
    /// An OCI 1.1 image manifest (what notation writes; every registry stores it).
    #[default]
    Image,
    /// The prototype's OCI artifact manifest (`blobs`); registries without it refuse it.
    Artifact,
}

/// How to sign.
#[derive(Debug, Clone)]
pub struct SignatureOptions {
    /// The signing time the signature claims.
    pub signing_time: SystemTime,
    /// The signature expires this long after `signing_time` (signed, critical).
    pub expiry: Option<Duration>,
    /// Signed user metadata: the payload's `targetArtifact.annotations` (notation's
    /// `--user-metadata`).
    pub annotations: BTreeMap<String, String>,
    pub manifest: ManifestKind,
}

impl Default for SignatureOptions {
    /// Now, no expiry, no annotations, an image manifest.
    fn default() -> Self {
        SignatureOptions {
            signing_time: SystemTime::now(),
            expiry: None,
            annotations: BTreeMap::new(),
            manifest: ManifestKind::Image,
        }
    }
}

/// The signature manifest, its fields in the order notation (Go) writes them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignatureManifest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_version: Option<u32>,
    media_type: &'a str,
    artifact_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layers: Option<Vec<&'a Descriptor>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blobs: Option<Vec<&'a Descriptor>>,
    subject: Descriptor,
    annotations: &'a BTreeMap<String, String>,
}

fn empty_config() -> Descriptor {
    Descriptor::new(media_type::OCI_EMPTY, Digest::sha256_of(b"{}"), 2)
}

/// The signature manifest's media type and exact bytes for an envelope `envelope` over
/// `subject`, with `annotations` (the thumbprints and the creation time).
pub fn signature_manifest(
    kind: ManifestKind,
    subject: &Descriptor,
    envelope: &Descriptor,
    annotations: &BTreeMap<String, String>,
) -> (&'static str, Bytes) {
    // Only the identifying fields: the subject's own annotations are not the signature's.
    let subject = Descriptor::new(
        subject.media_type.clone(),
        subject.digest.clone(),
        subject.size,
    );
    let manifest = match kind {
        ManifestKind::Image => SignatureManifest {
            schema_version: Some(2),
            media_type: media_type::OCI_MANIFEST,
            artifact_type: ARTIFACT_TYPE,
            config: Some(empty_config()),
            layers: Some(vec![envelope]),
            blobs: None,
            subject,
            annotations,
        },
        ManifestKind::Artifact => SignatureManifest {
            schema_version: None,
            media_type: media_type::OCI_ARTIFACT_MANIFEST,
            artifact_type: ARTIFACT_TYPE,
            config: None,
            layers: None,
            blobs: Some(vec![envelope]),
            subject,
            annotations,
        },
    };
    let media: &'static str = match kind {
        ManifestKind::Image => media_type::OCI_MANIFEST,
        ManifestKind::Artifact => media_type::OCI_ARTIFACT_MANIFEST,
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    (media, Bytes::from(bytes))
}

/// The thumbprint annotation's value: a JSON array of the lowercase hex SHA-256 of each DER
/// certificate.
fn thumbprints(chain: &[Vec<u8>]) -> String {
    let hex: Vec<String> = chain
        .iter()
        .map(|der| Digest::sha256_of(der).hex().to_string())
        .collect();
    serde_json::to_string(&hex).expect("strings serialise")
}

/// Signs `subject` (a manifest in `repo`) with `key` and its certificate `chain` (DER, leaf
/// first), pushes the envelope and the signature manifest by digest, and links the manifest to
/// its subject (the referrers tag schema is updated where the registry has no referrers API).
/// Answers the signature manifest's descriptor, with its artifact type and annotations as a
/// referrers listing shows them.
///
/// The subject is signed as given: resolve a tag to its descriptor once, before, and sign that.
///
/// ```no_run
/// # async fn example() -> anyhow::Result<()> {
/// use nv2_client::remote::{Client, ClientOptions};
/// use nv2_client::signature::{sign, SignatureOptions};
/// use nv2_client::trust::load_signing_key;
///
/// // The default key of signingkeys.json (`nv2 cert generate-test NAME --default`).
/// let (key, chain) = load_signing_key(None, None)?;
/// let reference: oci_model::Reference = "localhost:5000/app:v1".parse()?;
/// let repo = Client::new(ClientOptions::default())?.repository(&reference);
/// let subject = repo.resolve(&reference.manifest_ref()).await?;
/// let signature = sign(&repo, &subject, &key, &chain, &SignatureOptions::default()).await?;
/// println!("signed {} with {}", subject.digest, signature.digest);
/// # Ok(())
/// # }
/// ```
pub async fn sign(
    repo: &Repository,
    subject: &Descriptor,
    key: &SigningKey,
    chain: &[Vec<u8>],
    options: &SignatureOptions,
) -> Result<Descriptor> {
    let mut target = serde_json::json!({
        "mediaType": subject.media_type,
        "digest": subject.digest,
        "size": subject.size,
    });
    if !options.annotations.is_empty() {
        target["annotations"] = serde_json::json!(options.annotations);
    }
    let mut envelope_options = verifier_core::sign::SignOptions::new(options.signing_time);
    envelope_options.expiry = options.expiry;
    let envelope = sign_envelope(key, chain, &target, &envelope_options)?;
    let envelope_descriptor = Descriptor::new(
        ENVELOPE_MEDIA_TYPE,
        Digest::sha256_of(&envelope),
        envelope.len() as u64,
    );
    // An envelope carries its signing time: it is never in the registry yet, so no HEAD first.
    repo.upload_blob_bytes(&envelope_descriptor, Bytes::from(envelope))
        .await?;

    let created = system_time_to_unix(options.signing_time)
        .and_then(format_rfc3339)
        .map_err(|_| Error::Time)?;
    let annotations = BTreeMap::from([
        (THUMBPRINTS.to_string(), thumbprints(chain)),
        ("org.opencontainers.image.created".to_string(), created),
    ]);
    let (media, bytes) = signature_manifest(
        options.manifest,
        subject,
        &envelope_descriptor,
        &annotations,
    );
    if options.manifest == ManifestKind::Image {
        repo.push_blob_bytes(&empty_config(), Bytes::from_static(b"{}"))
            .await?;
    }
    let digest = Digest::sha256_of(&bytes);
    let pushed = repo
        .push_manifest(media, bytes, &digest.to_string())
        .await?;
    repo.index_referrer(
        &subject.digest,
        &pushed,
        Some(ARTIFACT_TYPE),
        Some(&annotations),
    )
    .await?;
    let mut descriptor = pushed.descriptor;
    descriptor.artifact_type = Some(ARTIFACT_TYPE.to_string());
    descriptor.annotations = Some(annotations);
    Ok(descriptor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_manifest_is_notations() {
        let subject = Descriptor::new(media_type::OCI_MANIFEST, Digest::sha256_of(b"subject"), 7);
        let envelope = Descriptor::new(ENVELOPE_MEDIA_TYPE, Digest::sha256_of(b"env"), 3);
        let annotations =
            BTreeMap::from([(THUMBPRINTS.to_string(), thumbprints(&[b"der".to_vec()]))]);
        let (media, bytes) =
            signature_manifest(ManifestKind::Image, &subject, &envelope, &annotations);
        assert_eq!(media, media_type::OCI_MANIFEST);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.cncf.notary.signature",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                           "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
                "layers": [{"mediaType": "application/jose+json", "digest": Digest::sha256_of(b"env").to_string(), "size": 3}],
                "subject": {"mediaType": media_type::OCI_MANIFEST, "digest": Digest::sha256_of(b"subject").to_string(), "size": 7},
                "annotations": {THUMBPRINTS: format!("[\"{}\"]", Digest::sha256_of(b"der").hex())},
            })
        );
        // Go's field order, as notation writes it.
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(
            text.starts_with(r#"{"schemaVersion":2,"mediaType":"#),
            "{text}"
        );

        let (media, bytes) =
            signature_manifest(ManifestKind::Artifact, &subject, &envelope, &annotations);
        assert_eq!(media, media_type::OCI_ARTIFACT_MANIFEST);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["blobs"][0]["mediaType"], "application/jose+json");
        assert!(v.get("config").is_none() && v.get("layers").is_none());
        assert_eq!(
            v["subject"]["digest"],
            Digest::sha256_of(b"subject").to_string()
        );
    }
}
