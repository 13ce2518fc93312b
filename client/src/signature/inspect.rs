//! What a signature says, for `nv2 inspect`: read leniently (a broken envelope is shown as far
//! as it can be read, never verified here).

use std::collections::BTreeMap;

use base64ct::{Base64, Encoding};
use oci_model::{Descriptor, Digest};
use serde::Serialize;
use serde_json::Value;
use verifier_core::jws::decode_base64url;
use verifier_core::x509::{name, CertificateView};

use super::FoundSignature;

/// One certificate of an envelope's `x5c` chain.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// Lowercase hex SHA-256 of the DER certificate.
    pub sha256_thumbprint: String,
}

/// One signature as `nv2 inspect` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspected {
    /// The signature manifest's digest.
    pub digest: Digest,
    pub media_type: String,
    pub envelope: Descriptor,
    /// `RSASSA-PSS-SHA-256`, `ECDSA-SHA-384`, … (notation's names), from the header's `alg`.
    pub signature_algorithm: Option<String>,
    pub signing_scheme: Option<String>,
    pub signing_time: Option<String>,
    pub expiry: Option<String>,
    /// The protected header's members but `alg`, `crit` and `cty`.
    pub signed_attributes: BTreeMap<String, Value>,
    /// The unprotected header's members but `x5c` (`io.cncf.notary.signingAgent`).
    pub unsigned_attributes: BTreeMap<String, Value>,
    /// The payload's `targetArtifact.annotations` (signed user metadata).
    pub user_defined_attributes: BTreeMap<String, String>,
    /// The payload's `targetArtifact`.
    pub signed_artifact: Option<Value>,
    pub certificates: Vec<CertificateInfo>,
    /// What could not be read.
    pub errors: Vec<String>,
}

/// notation's name of a JWS algorithm.
fn algorithm_name(alg: &str) -> String {
    match alg {
        "PS256" => "RSASSA-PSS-SHA-256".into(),
        "PS384" => "RSASSA-PSS-SHA-384".into(),
        "PS512" => "RSASSA-PSS-SHA-512".into(),
        "ES256" => "ECDSA-SHA-256".into(),
        "ES384" => "ECDSA-SHA-384".into(),
        "ES512" => "ECDSA-SHA-512".into(),
        other => other.into(),
    }
}

impl CertificateInfo {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertificateInfo, String> {
        let view = CertificateView::parse(der)?;
        let tbs = view.cert.tbs_certificate();
        Ok(CertificateInfo {
            subject: view.subject_string(),
            issuer: name::display(&name::attributes(tbs.issuer())),
            not_before: view.not_before.to_rfc3339(),
            not_after: view.not_after.to_rfc3339(),
            sha256_thumbprint: Digest::sha256_of(der).hex().to_string(),
        })
    }
}

/// Reads a fetched signature.
pub fn inspect(found: &FoundSignature) -> Inspected {
    let mut out = Inspected {
        digest: found.manifest.digest.clone(),
        media_type: found.manifest.media_type.clone(),
        envelope: found.envelope.clone(),
        signature_algorithm: None,
        signing_scheme: None,
        signing_time: None,
        expiry: None,
        signed_attributes: BTreeMap::new(),
        unsigned_attributes: BTreeMap::new(),
        user_defined_attributes: BTreeMap::new(),
        signed_artifact: None,
        certificates: Vec::new(),
        errors: Vec::new(),
    };
    let envelope: Value = match serde_json::from_slice(&found.bytes) {
        Ok(v) => v,
        Err(e) => {
            out.errors.push(format!("the envelope is not JSON: {e}"));
            return out;
        }
    };
    let decoded = |member: &'static str| -> Result<Value, String> {
        let text = envelope[member]
            .as_str()
            .ok_or_else(|| format!("no {member} string"))?;
        let bytes = decode_base64url(text, member).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{member} is not JSON: {e}"))
    };
    match decoded("protected") {
        Ok(Value::Object(header)) => {
            let text = |k: &str| header.get(k).and_then(Value::as_str).map(str::to_string);
            out.signature_algorithm = text("alg").map(|a| algorithm_name(&a));
            out.signing_scheme = text("io.cncf.notary.signingScheme");
            out.signing_time = text("io.cncf.notary.signingTime")
                .or_else(|| text("io.cncf.notary.authenticSigningTime"));
            out.expiry = text("io.cncf.notary.expiry");
            out.signed_attributes = header
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "alg" | "crit" | "cty"))
                .collect();
        }
        Ok(_) => out
            .errors
            .push("the protected header is not an object".into()),
        Err(e) => out.errors.push(e),
    }
    match decoded("payload") {
        Ok(payload) => {
            let target = payload["targetArtifact"].clone();
            if let Some(a) = target["annotations"].as_object() {
                out.user_defined_attributes = a
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect();
            }
            out.signed_artifact = (!target.is_null()).then_some(target);
        }
        Err(e) => out.errors.push(e),
    }
    if let Some(header) = envelope["header"].as_object() {
        out.unsigned_attributes = header
            .iter()
            .filter(|(k, _)| k.as_str() != "x5c")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    for (i, item) in envelope["header"]["x5c"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        match item
            .as_str()
            .and_then(|s| Base64::decode_vec(s).ok())
            .ok_or_else(|| "not standard base64".to_string())
            .and_then(|der| CertificateInfo::from_der(&der))
        {
            Ok(c) => out.certificates.push(c),
            Err(e) => out.errors.push(format!("x5c[{i}]: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn found(bytes: Vec<u8>) -> FoundSignature {
        FoundSignature {
            manifest: Descriptor::new(
                oci_model::media_type::OCI_MANIFEST,
                Digest::sha256_of(b"m"),
                1,
            ),
            envelope: Descriptor::new(
                super::super::ENVELOPE_MEDIA_TYPE,
                Digest::sha256_of(&bytes),
                bytes.len() as u64,
            ),
            bytes: Bytes::from(bytes),
        }
    }

    #[test]
    fn reads_a_notation_envelope() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/vectors/notation/01-notation-e2e-valid-ps256-selfsigned/envelope.jws.json");
        let Ok(bytes) = std::fs::read(&path) else {
            println!(
                "SKIPPED: {} is absent (the Notary Project vectors)",
                path.display()
            );
            return;
        };
        let s = inspect(&found(bytes));
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.signature_algorithm.as_deref(), Some("RSASSA-PSS-SHA-256"));
        assert_eq!(s.signing_scheme.as_deref(), Some("notary.x509"));
        assert_eq!(s.signing_time.as_deref(), Some("2023-06-27T13:30:33+08:00"));
        assert_eq!(s.expiry, None);
        assert!(s
            .signed_attributes
            .contains_key("io.cncf.notary.signingScheme"));
        assert!(!s.signed_attributes.contains_key("alg"));
        assert_eq!(
            s.unsigned_attributes["io.cncf.notary.signingAgent"],
            "Notation/1.0.0"
        );
        assert_eq!(s.certificates.len(), 1);
        // The README of the vector: the thumbprint annotation of notation's own manifest.
        assert_eq!(
            s.certificates[0].sha256_thumbprint,
            "e38aea13f2b051f7183cca64a51ee676f4d4456f41d9fecf15eb367efc7343b9"
        );
        assert_eq!(s.certificates[0].subject, s.certificates[0].issuer);
        // As `openssl x509 -enddate` reads it.
        assert_eq!(s.certificates[0].not_after, "2122-12-19T02:43:39Z");
        assert_eq!(s.signed_artifact.as_ref().unwrap()["size"], 517);
    }

    #[test]
    fn a_broken_envelope_is_shown_as_far_as_it_reads() {
        let s = inspect(&found(b"not json".to_vec()));
        assert_eq!(s.errors.len(), 1);
        let s = inspect(&found(
            br#"{"protected": "!!", "payload": "e30", "header": {"x5c": ["%"]}}"#.to_vec(),
        ));
        assert_eq!(s.errors.len(), 2, "{:?}", s.errors);
        assert!(s.errors.iter().any(|e| e.starts_with("x5c[0]")));
    }
}
