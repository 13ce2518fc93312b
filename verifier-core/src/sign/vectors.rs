//! The Notary Project's own signatures (`shared/vectors/notation/<set>/expected.json`) as
//! Contract 1 requests: one builder for every suite that checks itself against them (the native
//! verdicts, the wasmtime host, the npm OPA host).

use std::fs;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use serde_json::Value;

use crate::{
    Descriptor, Request, SignatureEntry, SignatureVerification, TrustPolicyDocument,
    TrustPolicyStatement, TrustStores, JWS_MEDIA_TYPE,
};

/// One case of one vector set.
#[derive(Debug, Clone)]
pub struct NotationCase {
    /// `<set> / <envelope file> (<why>)`.
    pub name: String,
    /// Whether the case expects `verified: true`.
    pub valid: bool,
    /// For an invalid case, the stage expected to fail (`integrity`, `authenticity`, …).
    pub stage: Option<String>,
    /// The Contract 1 request.
    pub request: Request,
}

/// Every case under `root` (one folder per set), sets in name order.
pub fn notation_cases(root: &Path) -> Result<Vec<NotationCase>, String> {
    let read = |path: &Path| fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let mut sets: Vec<_> = fs::read_dir(root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    let mut cases = vec![];
    for dir in sets {
        let path = dir.join("expected.json");
        let expected: Value = serde_json::from_slice(&read(&path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let set = dir.file_name().unwrap_or_default().to_string_lossy();
        for case in expected["cases"].as_array().into_iter().flatten() {
            // A case's own value wins over the set's default.
            let get = |k: &str| {
                case.get(k)
                    .filter(|v| !v.is_null())
                    .or_else(|| expected.get(k))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let file = |v: &Value| dir.join(v.as_str().unwrap_or_default());
            let mut roots = vec![];
            for f in get("trust_roots").as_array().into_iter().flatten() {
                roots.push(String::from_utf8_lossy(&read(&file(f))?).into_owned());
            }
            let subject_path = file(&get("subject"));
            let subject: Descriptor = serde_json::from_slice(&read(&subject_path)?)
                .map_err(|e| format!("{}: {e}", subject_path.display()))?;
            let envelope = read(&file(&case["file"]))?;
            let text = |k: &str| {
                get(k)
                    .as_str()
                    .map(ToString::to_string)
                    .ok_or_else(|| format!("{}: {k} is not a string", path.display()))
            };
            let identities: Option<Vec<String>> = serde_json::from_value(get("trustedIdentities"))
                .map_err(|e| format!("{}: trustedIdentities: {e}", path.display()))?;
            let mut statement = TrustPolicyStatement::new(
                "vectors",
                vec!["*".into()],
                SignatureVerification::new(text("level")?),
            )
            .with_trust_stores(vec!["ca:vectors".into(), "signingAuthority:vectors".into()]);
            statement.trusted_identities = identities;
            let stores = TrustStores::from([
                ("ca:vectors".to_string(), roots.clone().into()),
                ("signingAuthority:vectors".to_string(), roots.into()),
            ]);
            let mut entry = SignatureEntry::from_envelope(JWS_MEDIA_TYPE, &envelope);
            entry.digest = Some("sha256:test".into());
            let request = Request::new(
                "registry.example/vectors/app@sha256:00",
                subject,
                TrustPolicyDocument::new(vec![statement]),
                stores,
                text("now")?,
            )
            .signature(entry);
            cases.push(NotationCase {
                name: format!("{set} / {} ({})", case["file"], case["why"]),
                valid: case["expected"] == "valid",
                stage: case["stage"].as_str().map(ToString::to_string),
                request,
            });
        }
    }
    Ok(cases)
}
