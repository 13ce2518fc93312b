//! Trust policy (trust-store-trust-policy.md): the version 1.0 document, its validation, the
//! verification levels as tables of actions, and selection by registry scope.
//!
//! Validation of the document is kept apart from evaluation: [`TrustPolicyDocument::validate`]
//! turns the JSON into [`Policy`] values that cannot express anything the specification forbids
//! (integrity can never be relaxed, `skip` has no trust stores).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Stage};
use crate::x509::name::{self, Attribute};

/// The trust policy document as written.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPolicyDocument {
    pub version: String,
    pub trust_policies: Vec<TrustPolicyStatement>,
}

/// One statement of `trustPolicies`, as written.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPolicyStatement {
    pub name: String,
    pub registry_scopes: Vec<String>,
    pub signature_verification: SignatureVerification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_stores: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_identities: Option<Vec<String>>,
}

/// `signatureVerification`: a level and optional per-stage overrides.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct SignatureVerification {
    pub level: String,
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<BTreeMap<String, String>>,
}

impl TrustPolicyDocument {
    /// A version 1.0 document of `statements`.
    pub fn new(statements: Vec<TrustPolicyStatement>) -> Self {
        TrustPolicyDocument {
            version: "1.0".into(),
            trust_policies: statements,
        }
    }
}

impl TrustPolicyStatement {
    /// A statement without trust stores or trusted identities (what a `skip` level needs; the
    /// other levels need both, see [`Self::with_trust_stores`], [`Self::with_trusted_identities`]).
    pub fn new(
        name: impl Into<String>,
        registry_scopes: Vec<String>,
        signature_verification: SignatureVerification,
    ) -> Self {
        TrustPolicyStatement {
            name: name.into(),
            registry_scopes,
            signature_verification,
            trust_stores: None,
            trusted_identities: None,
        }
    }

    /// Sets `trustStores` (`ca:NAME`, `signingAuthority:NAME`).
    pub fn with_trust_stores(mut self, stores: Vec<String>) -> Self {
        self.trust_stores = Some(stores);
        self
    }

    /// Sets `trustedIdentities` (`*`, or `x509.subject: …`).
    pub fn with_trusted_identities(mut self, identities: Vec<String>) -> Self {
        self.trusted_identities = Some(identities);
        self
    }
}

impl SignatureVerification {
    /// A level (`strict`, `permissive`, `audit`, `skip`) without overrides.
    pub fn new(level: impl Into<String>) -> Self {
        SignatureVerification {
            level: level.into(),
            override_: None,
        }
    }

    /// Overrides the action (`enforce`, `log`, `skip`) of one check (`authenticity`, `expiry`,
    /// `authenticTimestamp`, `revocation`).
    pub fn with_override(mut self, check: impl Into<String>, action: impl Into<String>) -> Self {
        self.override_
            .get_or_insert_with(BTreeMap::new)
            .insert(check.into(), action.into());
        self
    }
}

/// What a level does with a failed check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A failure fails the signature.
    Enforce,
    /// A failure is reported as a warning.
    Log,
    /// The check is not run.
    Skip,
}

/// The predefined verification levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Strict,
    Permissive,
    Audit,
    Skip,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Strict => "strict",
            Level::Permissive => "permissive",
            Level::Audit => "audit",
            Level::Skip => "skip",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "strict" => Level::Strict,
            "permissive" => Level::Permissive,
            "audit" => Level::Audit,
            "skip" => Level::Skip,
            _ => return None,
        })
    }

    /// The table of trust-store-trust-policy.md, "Signature Verification details".
    pub fn actions(self) -> Actions {
        use Action::*;
        let (authenticity, authentic_timestamp, expiry, revocation) = match self {
            Level::Strict => (Enforce, Enforce, Enforce, Enforce),
            Level::Permissive => (Enforce, Log, Log, Log),
            Level::Audit => (Log, Log, Log, Log),
            Level::Skip => (Skip, Skip, Skip, Skip),
        };
        let integrity = if self == Level::Skip { Skip } else { Enforce };
        Actions {
            integrity,
            authenticity,
            authentic_timestamp,
            expiry,
            revocation,
        }
    }
}

/// The action for each stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actions {
    pub integrity: Action,
    pub authenticity: Action,
    pub authentic_timestamp: Action,
    pub expiry: Action,
    pub revocation: Action,
}

impl Actions {
    /// The action for a stage (`Request` is always enforced).
    pub fn for_stage(&self, stage: Stage) -> Action {
        match stage {
            Stage::Request => Action::Enforce,
            Stage::Integrity => self.integrity,
            Stage::Authenticity => self.authenticity,
            Stage::Expiry => self.expiry,
            Stage::AuthenticTimestamp => self.authentic_timestamp,
            Stage::Revocation => self.revocation,
        }
    }
}

/// A trust store reference `type:name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustStoreRef {
    pub kind: String,
    pub name: String,
}

impl TrustStoreRef {
    /// The key under which the request carries this store (`ca:wabbit-networks`).
    pub fn key(&self) -> String {
        alloc::format!("{}:{}", self.kind, self.name)
    }
}

/// Who may sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedIdentities {
    /// `*`: any certificate that chains to the trust stores.
    Any,
    /// `x509.subject:` entries, each a set of subject attributes that must all match.
    Subjects(Vec<Vec<Attribute>>),
}

impl TrustedIdentities {
    /// Whether a signing certificate with these subject attributes is trusted.
    pub fn matches(&self, subject: &[Attribute]) -> bool {
        match self {
            TrustedIdentities::Any => true,
            TrustedIdentities::Subjects(list) => list.iter().any(|id| name::is_subset(id, subject)),
        }
    }
}

/// A validated trust policy statement.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub scopes: Vec<String>,
    pub level: Level,
    pub actions: Actions,
    pub trust_stores: Vec<TrustStoreRef>,
    pub identities: TrustedIdentities,
}

fn invalid(reason: impl ToString) -> Error {
    Error::PolicyInvalid {
        reason: reason.to_string(),
    }
}

impl TrustPolicyDocument {
    /// Applies every rule of the specification to the document.
    pub fn validate(&self) -> Result<Vec<Policy>, Error> {
        if self.version != "1.0" {
            return Err(invalid(alloc::format!(
                "version {:?} is not supported (1.0)",
                self.version
            )));
        }
        if self.trust_policies.is_empty() {
            return Err(invalid("trustPolicies is empty"));
        }
        let mut policies: Vec<Policy> = Vec::with_capacity(self.trust_policies.len());
        for statement in &self.trust_policies {
            let policy = statement.validate()?;
            if policies.iter().any(|p| p.name == policy.name) {
                return Err(invalid(alloc::format!(
                    "policy name {:?} is used twice",
                    policy.name
                )));
            }
            for scope in &policy.scopes {
                if let Some(other) = policies.iter().find(|p| p.scopes.contains(scope)) {
                    return Err(invalid(alloc::format!(
                        "registry scope {scope:?} is in both {:?} and {:?}",
                        other.name,
                        policy.name
                    )));
                }
            }
            policies.push(policy);
        }
        Ok(policies)
    }
}

impl TrustPolicyStatement {
    fn validate(&self) -> Result<Policy, Error> {
        let name = &self.name;
        if name.trim().is_empty() {
            return Err(invalid("a trust policy has an empty name"));
        }
        let scopes = check_registry_scopes(name, &self.registry_scopes)?;
        let (level, actions) = check_verification_level(name, &self.signature_verification)?;
        if level == Level::Skip {
            if scopes == ["*"] {
                return Err(invalid(alloc::format!(
                    "policy {name:?}: level skip cannot have the global scope \"*\""
                )));
            }
            if self.trust_stores.as_ref().is_some_and(|v| !v.is_empty())
                || self
                    .trusted_identities
                    .as_ref()
                    .is_some_and(|v| !v.is_empty())
            {
                return Err(invalid(alloc::format!(
                    "policy {name:?}: level skip must not have trustStores or trustedIdentities"
                )));
            }
            return Ok(Policy {
                name: name.clone(),
                scopes,
                level,
                actions,
                trust_stores: Vec::new(),
                identities: TrustedIdentities::Any,
            });
        }
        let trust_stores = check_trust_stores(name, self.trust_stores.as_deref().unwrap_or(&[]))?;
        let identities =
            check_trusted_identities(name, self.trusted_identities.as_deref().unwrap_or(&[]))?;
        Ok(Policy {
            name: name.clone(),
            scopes,
            level,
            actions,
            trust_stores,
            identities,
        })
    }
}

/// "Registry Scopes Constraints": at least one scope; `*` alone; otherwise fully qualified
/// repositories without `*`, tag or digest.
fn check_registry_scopes(policy: &str, scopes: &[String]) -> Result<Vec<String>, Error> {
    if scopes.is_empty() {
        return Err(invalid(alloc::format!(
            "policy {policy:?} has no registryScopes"
        )));
    }
    if scopes.iter().any(|s| s == "*") {
        if scopes.len() != 1 {
            return Err(invalid(alloc::format!(
                "policy {policy:?}: \"*\" must be the only registry scope"
            )));
        }
        return Ok(scopes.to_vec());
    }
    for scope in scopes {
        let last = scope.rsplit('/').next().unwrap_or("");
        let valid = scope.contains('/')
            && !scope.contains('*')
            && !scope.contains('@')
            && !last.contains(':')
            && !scope.split('/').any(str::is_empty)
            && !scope.chars().any(char::is_whitespace);
        if !valid {
            return Err(invalid(alloc::format!(
                "policy {policy:?}: registry scope {scope:?} is not a fully qualified repository"
            )));
        }
    }
    let mut sorted: Vec<&String> = scopes.iter().collect();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != scopes.len() {
        return Err(invalid(alloc::format!(
            "policy {policy:?} lists a registry scope twice"
        )));
    }
    Ok(scopes.to_vec())
}

/// "Custom Verification Level": a level, and overrides of authenticity, authenticTimestamp,
/// expiry (enforce|log) and revocation (enforce|log|skip). Integrity cannot be overridden, and
/// `skip` cannot be customised.
fn check_verification_level(
    policy: &str,
    sv: &SignatureVerification,
) -> Result<(Level, Actions), Error> {
    let level = Level::parse(&sv.level).ok_or_else(|| {
        invalid(alloc::format!(
            "policy {policy:?}: unknown verification level {:?}",
            sv.level
        ))
    })?;
    let mut actions = level.actions();
    let Some(overrides) = &sv.override_ else {
        return Ok((level, actions));
    };
    if level == Level::Skip && !overrides.is_empty() {
        return Err(invalid(alloc::format!(
            "policy {policy:?}: level skip cannot be overridden"
        )));
    }
    for (stage, action) in overrides {
        let parsed = match action.as_str() {
            "enforce" => Action::Enforce,
            "log" => Action::Log,
            "skip" if stage == "revocation" => Action::Skip,
            _ => {
                return Err(invalid(alloc::format!(
                    "policy {policy:?}: override {stage:?} cannot be {action:?}"
                )))
            }
        };
        match stage.as_str() {
            "authenticity" => actions.authenticity = parsed,
            "authenticTimestamp" => actions.authentic_timestamp = parsed,
            "expiry" => actions.expiry = parsed,
            "revocation" => actions.revocation = parsed,
            "integrity" => {
                return Err(invalid(alloc::format!(
                    "policy {policy:?}: integrity cannot be overridden"
                )))
            }
            other => {
                return Err(invalid(alloc::format!(
                    "policy {policy:?}: unknown override {other:?}"
                )))
            }
        }
    }
    Ok((level, actions))
}

/// `trustStores`: one or more unique `type:name` with type `ca`, `signingAuthority` or `tsa`.
fn check_trust_stores(policy: &str, stores: &[String]) -> Result<Vec<TrustStoreRef>, Error> {
    if stores.is_empty() {
        return Err(invalid(alloc::format!(
            "policy {policy:?} has no trustStores"
        )));
    }
    let mut out: Vec<TrustStoreRef> = Vec::with_capacity(stores.len());
    for store in stores {
        let (kind, name) = store
            .split_once(':')
            .filter(|(k, n)| matches!(*k, "ca" | "signingAuthority" | "tsa") && valid_store_name(n))
            .ok_or_else(|| {
                invalid(alloc::format!(
                    "policy {policy:?}: trust store {store:?} is not ca:NAME, signingAuthority:NAME or tsa:NAME"
                ))
            })?;
        let r = TrustStoreRef {
            kind: kind.into(),
            name: name.into(),
        };
        if out.contains(&r) {
            return Err(invalid(alloc::format!(
                "policy {policy:?} lists trust store {store:?} twice"
            )));
        }
        out.push(r);
    }
    Ok(out)
}

fn valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// "Trusted Identities Constraints": `*` alone, or `x509.subject:` DNs that each contain C, ST and
/// O and that do not overlap (one a subset of another).
fn check_trusted_identities(
    policy: &str,
    identities: &[String],
) -> Result<TrustedIdentities, Error> {
    if identities.is_empty() {
        return Err(invalid(alloc::format!(
            "policy {policy:?} has no trustedIdentities"
        )));
    }
    if identities.iter().any(|i| i == "*") {
        if identities.len() != 1 {
            return Err(invalid(alloc::format!(
                "policy {policy:?}: \"*\" must be the only trusted identity"
            )));
        }
        return Ok(TrustedIdentities::Any);
    }
    let mut parsed: Vec<Vec<Attribute>> = Vec::with_capacity(identities.len());
    for identity in identities {
        let dn = identity.strip_prefix("x509.subject:").ok_or_else(|| {
            invalid(alloc::format!(
                "policy {policy:?}: trusted identity {identity:?} is not \"*\" or x509.subject: DN"
            ))
        })?;
        let attrs = name::parse_dn(dn).map_err(|e| {
            invalid(alloc::format!(
                "policy {policy:?}: trusted identity {identity:?}: {e}"
            ))
        })?;
        for required in ["C", "ST", "O"] {
            if !attrs.iter().any(|a| a.kind == required) {
                return Err(invalid(alloc::format!(
                    "policy {policy:?}: trusted identity {identity:?} lacks {required} (C, ST and O are required)"
                )));
            }
        }
        if let Some(other) = parsed
            .iter()
            .position(|p| name::is_subset(p, &attrs) || name::is_subset(&attrs, p))
        {
            return Err(invalid(alloc::format!(
                "policy {policy:?}: trusted identities {:?} and {identity:?} overlap",
                identities[other]
            )));
        }
        parsed.push(attrs);
    }
    Ok(TrustedIdentities::Subjects(parsed))
}

/// The repository of a reference: `host[:port]/path` without `:tag` or `@digest`.
pub fn repository_of(reference: &str) -> Option<&str> {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let slash = without_digest.rfind('/')?;
    let repo = match without_digest[slash..].find(':') {
        Some(colon) => &without_digest[..slash + colon],
        None => without_digest,
    };
    if repo.is_empty() || repo.ends_with('/') || repo.starts_with('/') {
        return None;
    }
    Some(repo)
}

/// "Selecting a trust policy based on artifact URI": an exact scope match, else the `*` policy,
/// else no policy (an error).
pub fn select<'p>(policies: &'p [Policy], repository: &str) -> Result<&'p Policy, Error> {
    policies
        .iter()
        .find(|p| p.scopes.iter().any(|s| s == repository))
        .or_else(|| policies.iter().find(|p| p.scopes.iter().any(|s| s == "*")))
        .ok_or_else(|| Error::NoApplicablePolicy {
            repository: repository.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Result<Vec<Policy>, Error> {
        serde_json::from_str::<TrustPolicyDocument>(json)
            .unwrap()
            .validate()
    }

    fn one(level: &str, extra: &str) -> String {
        alloc::format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"p","registryScopes":["*"],
            "signatureVerification":{{"level":"{level}"{extra}}},
            "trustStores":["ca:s"],"trustedIdentities":["*"]}}]}}"#
        )
    }

    #[test]
    fn levels_follow_the_specification_table() {
        use Action::*;
        let p = &doc(&one("permissive", "")).unwrap()[0];
        assert_eq!(
            p.actions,
            Actions {
                integrity: Enforce,
                authenticity: Enforce,
                authentic_timestamp: Log,
                expiry: Log,
                revocation: Log
            }
        );
        let p = &doc(&one("audit", "")).unwrap()[0];
        assert_eq!(p.actions.authenticity, Log);
        assert_eq!(p.actions.integrity, Enforce);
        let p = &doc(&one(
            "strict",
            r#","override":{"expiry":"log","revocation":"skip"}"#,
        ))
        .unwrap()[0];
        assert_eq!(
            (
                p.actions.expiry,
                p.actions.revocation,
                p.actions.authenticity
            ),
            (Log, Skip, Enforce)
        );
    }

    #[test]
    fn integrity_cannot_be_relaxed_and_skip_is_fixed() {
        assert!(doc(&one("strict", r#","override":{"integrity":"log"}"#)).is_err());
        assert!(doc(&one("strict", r#","override":{"expiry":"skip"}"#)).is_err());
        assert!(doc(&one("strict", r#","override":{"bogus":"log"}"#)).is_err());
        assert!(doc(&one("lenient", "")).is_err());
        // skip with the global scope, and skip with trust stores, are both invalid.
        assert!(doc(&one("skip", "")).is_err());
        let ok = r#"{"version":"1.0","trustPolicies":[{"name":"u","registryScopes":["r.io/a/b"],"signatureVerification":{"level":"skip"}}]}"#;
        assert_eq!(doc(ok).unwrap()[0].level, Level::Skip);
    }

    #[test]
    fn document_rules() {
        let two = |a: &str, b: &str| {
            alloc::format!(
                r#"{{"version":"1.0","trustPolicies":[
                {{"name":"a","registryScopes":{a},"signatureVerification":{{"level":"strict"}},"trustStores":["ca:s"],"trustedIdentities":["*"]}},
                {{"name":"b","registryScopes":{b},"signatureVerification":{{"level":"strict"}},"trustStores":["ca:s"],"trustedIdentities":["*"]}}]}}"#
            )
        };
        assert!(doc(&two(r#"["r.io/x"]"#, r#"["*"]"#)).is_ok());
        assert!(
            doc(&two(r#"["*"]"#, r#"["*"]"#)).is_err(),
            "two global policies"
        );
        assert!(
            doc(&two(r#"["r.io/x"]"#, r#"["r.io/x"]"#)).is_err(),
            "scope in two policies"
        );
        assert!(
            doc(&two(r#"["r.io/x:tag"]"#, r#"["*"]"#)).is_err(),
            "scope with a tag"
        );
        assert!(
            doc(&two(r#"["*", "r.io/x"]"#, r#"["r.io/y"]"#)).is_err(),
            "* not alone"
        );
        assert!(doc(&two(r#"[]"#, r#"["*"]"#)).is_err(), "no scopes");
        assert!(doc(&one("strict", "").replace("1.0", "2.0")).is_err());
        assert!(doc(&one("strict", "").replace("ca:s", "x509:s")).is_err());
        assert!(
            doc(&one("strict", "").replace("\"*\"]", "\"x509.subject: C=US, O=Acme\"]")).is_err(),
            "lacks ST"
        );
    }

    #[test]
    fn overlapping_identities_are_refused() {
        let ids = |list: &str| {
            one("strict", "").replace(
                r#""trustedIdentities":["*"]"#,
                &alloc::format!(r#""trustedIdentities":{list}"#),
            )
        };
        assert!(doc(&ids(
            r#"["x509.subject: C=US, ST=WA, O=A, OU=x", "x509.subject: C=US, ST=WA, O=A"]"#
        ))
        .is_err());
        assert!(doc(&ids(
            r#"["x509.subject: C=US, ST=WA, O=A", "x509.subject: C=US, ST=WA, O=B"]"#
        ))
        .is_ok());
        assert!(doc(&ids(r#"["*", "x509.subject: C=US, ST=WA, O=B"]"#)).is_err());
    }

    #[test]
    fn selection_prefers_exact_scope_then_global() {
        let json = r#"{"version":"1.0","trustPolicies":[
            {"name":"exact","registryScopes":["r.io/team/app"],"signatureVerification":{"level":"audit"},"trustStores":["ca:s"],"trustedIdentities":["*"]},
            {"name":"global","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:s"],"trustedIdentities":["*"]}]}"#;
        let policies = doc(json).unwrap();
        assert_eq!(select(&policies, "r.io/team/app").unwrap().name, "exact");
        assert_eq!(select(&policies, "r.io/team/app2").unwrap().name, "global");
        let only_exact = &policies[..1];
        assert!(matches!(
            select(only_exact, "r.io/other"),
            Err(Error::NoApplicablePolicy { .. })
        ));
    }

    #[test]
    fn repository_is_cut_from_references() {
        assert_eq!(repository_of("r.io/a/b:v1"), Some("r.io/a/b"));
        assert_eq!(
            repository_of("localhost:5000/a@sha256:abc"),
            Some("localhost:5000/a")
        );
        assert_eq!(
            repository_of("localhost:5000/a:tag@sha256:abc"),
            Some("localhost:5000/a")
        );
        assert_eq!(repository_of("r.io/a"), Some("r.io/a"));
        assert_eq!(repository_of("noslash"), None);
    }
}
