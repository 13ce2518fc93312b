//! Contract 1 verification requests (DESIGN.md) built from local files, for `nv2 verify` and for
//! tests: the envelope travels as standard base64 with its `sha256:` digest, trust stores as PEM
//! texts, and the verification time as RFC 3339.

use base64ct::{Base64, Encoding};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The media type of a JWS signature envelope blob.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";

/// `sha256:<lowercase hex>` of `bytes`, an OCI digest.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// One signature entry of a request.
pub fn signature_entry(envelope: &[u8]) -> Value {
    json!({
        "mediaType": JWS_MEDIA_TYPE,
        "digest": sha256_digest(envelope),
        "envelope": Base64::encode_string(envelope),
    })
}

/// A full request. `trust_stores` pairs a store name (`ca:NAME`, `signingAuthority:NAME`) with
/// PEM texts; several pairs with the same name are merged, in order.
pub fn build_request(
    reference: &str,
    subject: &Value,
    envelopes: &[Vec<u8>],
    trust_policy: &Value,
    trust_stores: &[(String, String)],
    time_rfc3339: &str,
) -> Value {
    let mut stores = Map::new();
    for (name, pem) in trust_stores {
        let entry = stores
            .entry(name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(pem.clone()));
        }
    }
    json!({
        "reference": reference,
        "subject": subject,
        "signatures": envelopes.iter().map(|e| signature_entry(e)).collect::<Vec<_>>(),
        "trustPolicy": trust_policy,
        "trustStores": stores,
        "time": time_rfc3339,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_config() {
        // DESIGN.md, media types: the empty config `{}`.
        assert_eq!(
            sha256_digest(b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn request_has_contract_1_members() {
        let r = build_request(
            "registry.example/app@sha256:00",
            &json!({"mediaType": "m", "digest": "sha256:00", "size": 1}),
            &[b"env".to_vec()],
            &json!({"version": "1.0", "trustPolicies": []}),
            &[("ca:x".into(), "A".into()), ("ca:x".into(), "B".into())],
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(r["signatures"][0]["envelope"], "ZW52");
        assert_eq!(r["signatures"][0]["mediaType"], JWS_MEDIA_TYPE);
        assert_eq!(r["trustStores"]["ca:x"], json!(["A", "B"]));
        assert_eq!(r["time"], "2026-01-01T00:00:00Z");
        assert_eq!(r["reference"], "registry.example/app@sha256:00");
    }
}
