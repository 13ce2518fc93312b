//! `trustpolicy.json`: read and validated, imported (validated before it replaces anything), and
//! a strict starter policy.

use std::path::Path;

use verifier_core::{SignatureVerification, TrustPolicyDocument, TrustPolicyStatement};

use super::{write_atomic, TrustError};

/// Parses and validates a trust policy document.
fn parse(bytes: &[u8], path: &Path) -> Result<TrustPolicyDocument, TrustError> {
    let invalid = |reason: String| TrustError::PolicyInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let document: TrustPolicyDocument = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("not a trust policy document: {e}")))?;
    document.validate().map_err(|e| invalid(e.to_string()))?;
    Ok(document)
}

/// Reads the trust policy at `path`; missing is an error naming `nv2 policy init` / `import`.
pub fn load_policy(path: &Path) -> Result<TrustPolicyDocument, TrustError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&bytes, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(TrustError::PolicyMissing {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(TrustError::io(path, e)),
    }
}

/// Validates the policy in `source` and only then writes it to `target` (atomically), so that
/// a broken policy never replaces a good one.
pub fn import_policy(source: &Path, target: &Path) -> Result<TrustPolicyDocument, TrustError> {
    let bytes = std::fs::read(source).map_err(|e| TrustError::io(source, e))?;
    let document = parse(&bytes, source)?;
    write_atomic(target, &bytes)?;
    Ok(document)
}

/// A strict policy named `name` for `scopes`, trusting the stores `stores` (`ca:NAME`) and any
/// identity they issue for.
pub fn starter_policy(name: &str, stores: &[String], scopes: &[String]) -> TrustPolicyDocument {
    TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
        name,
        scopes.to_vec(),
        SignatureVerification::new("strict"),
    )
    .with_trust_stores(stores.to_vec())
    .with_trusted_identities(vec!["*".into()])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_policy_never_replaces_a_good_one() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("trustpolicy.json");
        assert!(load_policy(&target)
            .unwrap_err()
            .to_string()
            .contains("nv2 policy init"));
        let good = tmp.path().join("good.json");
        let doc = starter_policy("p", &["ca:s".into()], &["r.example/app".into()]);
        std::fs::write(&good, serde_json::to_vec(&doc).unwrap()).unwrap();
        import_policy(&good, &target).unwrap();
        let bad = tmp.path().join("bad.json");
        // Valid JSON, invalid policy: a strict level without trust stores.
        let mut broken = doc.clone();
        broken.trust_policies[0].trust_stores = None;
        std::fs::write(&bad, serde_json::to_vec(&broken).unwrap()).unwrap();
        assert!(matches!(
            import_policy(&bad, &target),
            Err(TrustError::PolicyInvalid { .. })
        ));
        std::fs::write(&bad, "{").unwrap();
        assert!(import_policy(&bad, &target).is_err());
        assert_eq!(load_policy(&target).unwrap(), doc);
    }
}
