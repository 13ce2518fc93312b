//! Trust store folders: `truststore/x509/<type>/<name>/*.{pem,crt}`, as notation lays them out.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use verifier_core::policy::{repository_of, select};
use verifier_core::{PemList, TrustPolicyDocument, TrustStores};

use super::{check_name, write_atomic, TrustError};

/// The trust store types of the Notary Project (trust-store-trust-policy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StoreType {
    Ca,
    SigningAuthority,
    Tsa,
}

impl StoreType {
    pub const ALL: [StoreType; 3] = [StoreType::Ca, StoreType::SigningAuthority, StoreType::Tsa];

    /// The name in policies and folder names: `ca`, `signingAuthority`, `tsa`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreType::Ca => "ca",
            StoreType::SigningAuthority => "signingAuthority",
            StoreType::Tsa => "tsa",
        }
    }
}

impl FromStr for StoreType {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, TrustError> {
        StoreType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| TrustError::StoreTypeInvalid(s.into()))
    }
}

/// One certificate file of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEntry {
    pub kind: StoreType,
    pub store: String,
    pub path: PathBuf,
}

/// A `truststore` folder (`$CONFIG/truststore`, or `--trust-store DIR`).
#[derive(Debug, Clone)]
pub struct TrustStoreDir {
    root: PathBuf,
}

fn is_cert_file(path: &Path) -> bool {
    path.is_file()
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("pem" | "crt")
        )
}

impl TrustStoreDir {
    pub fn new(root: impl Into<PathBuf>) -> TrustStoreDir {
        TrustStoreDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `x509/<type>/<name>`.
    pub fn store_dir(&self, kind: StoreType, name: &str) -> PathBuf {
        self.root.join("x509").join(kind.as_str()).join(name)
    }

    /// Copies PEM certificate files into store `name` of `kind` (each checked to parse first;
    /// none is copied when one is bad). A file of the same name already there is an error.
    pub fn add(
        &self,
        kind: StoreType,
        name: &str,
        files: &[PathBuf],
    ) -> Result<Vec<PathBuf>, TrustError> {
        check_name("trust store name", name)?;
        let dir = self.store_dir(kind, name);
        let mut checked = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|e| TrustError::io(file, e))?;
            if verifier_core::parse_pem_certificates(&text).is_none() {
                return Err(TrustError::CertificateInvalid { path: file.clone() });
            }
            let base = file
                .file_name()
                .ok_or_else(|| TrustError::CertificateInvalid { path: file.clone() })?;
            let mut target = dir.join(base);
            // notation reads .pem and .crt; anything else is stored as .crt so that it is read.
            if !matches!(
                target.extension().and_then(|e| e.to_str()),
                Some("pem" | "crt")
            ) {
                target.set_extension("crt");
            }
            if target.exists() {
                return Err(TrustError::CertificateExists {
                    path: target,
                    store: format!("{}:{name}", kind.as_str()),
                });
            }
            checked.push((target, text));
        }
        for (target, text) in &checked {
            write_atomic(target, text.as_bytes())?;
        }
        Ok(checked.into_iter().map(|(t, _)| t).collect())
    }

    /// Every certificate file, by type, store and file name.
    pub fn list(&self) -> Result<Vec<StoreEntry>, TrustError> {
        let mut out = Vec::new();
        for kind in StoreType::ALL {
            let kind_dir = self.root.join("x509").join(kind.as_str());
            for store in sorted_entries(&kind_dir)? {
                if !store.is_dir() {
                    continue;
                }
                let name = store.file_name().unwrap_or_default().to_string_lossy();
                for path in sorted_entries(&store)?
                    .into_iter()
                    .filter(|p| is_cert_file(p))
                {
                    out.push(StoreEntry {
                        kind,
                        store: name.to_string(),
                        path,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The path of certificate `file` in a store (an error when it is not there).
    pub fn certificate(
        &self,
        kind: StoreType,
        name: &str,
        file: &str,
    ) -> Result<PathBuf, TrustError> {
        check_name("trust store name", name)?;
        let path = self.store_dir(kind, name).join(file);
        if file.contains('/') || !is_cert_file(&path) {
            return Err(TrustError::CertificateNotFound {
                file: file.into(),
                store: format!("{}:{name}", kind.as_str()),
            });
        }
        Ok(path)
    }

    /// Deletes certificate `file` of a store, or with `None` every certificate of it (and the
    /// folder). Answers what was deleted.
    pub fn delete(
        &self,
        kind: StoreType,
        name: &str,
        file: Option<&str>,
    ) -> Result<Vec<PathBuf>, TrustError> {
        let store = format!("{}:{name}", kind.as_str());
        let paths = match file {
            Some(f) => vec![self.certificate(kind, name, f)?],
            None => {
                check_name("trust store name", name)?;
                let dir = self.store_dir(kind, name);
                if !dir.is_dir() {
                    return Err(TrustError::CertificateNotFound {
                        file: "any certificate".into(),
                        store,
                    });
                }
                sorted_entries(&dir)?
                    .into_iter()
                    .filter(|p| is_cert_file(p))
                    .collect()
            }
        };
        for p in &paths {
            std::fs::remove_file(p).map_err(|e| TrustError::io(p, e))?;
        }
        if file.is_none() {
            let dir = self.store_dir(kind, name);
            // Only an empty folder goes: anything else in it is not ours to delete.
            let _ = std::fs::remove_dir(&dir);
        }
        Ok(paths)
    }

    /// The PEM texts of store `key` (`ca:NAME`): an error naming `nv2 cert add` when it is
    /// missing or empty.
    pub fn load_store(&self, key: &str) -> Result<PemList, TrustError> {
        let (kind, name) = key.split_once(':').unwrap_or(("", key));
        let kind: StoreType = kind.parse()?;
        check_name("trust store name", name)?;
        let dir = self.store_dir(kind, name);
        let fields = |dir: PathBuf| {
            (
                key.to_string(),
                kind.as_str().to_string(),
                name.to_string(),
                dir,
            )
        };
        if !dir.is_dir() {
            let (store, kind, name, dir) = fields(dir);
            return Err(TrustError::StoreMissing {
                store,
                kind,
                name,
                dir,
            });
        }
        let mut texts = Vec::new();
        for path in sorted_entries(&dir)?
            .into_iter()
            .filter(|p| is_cert_file(p))
        {
            let text = std::fs::read_to_string(&path).map_err(|e| TrustError::io(&path, e))?;
            if verifier_core::parse_pem_certificates(&text).is_none() {
                return Err(TrustError::CertificateInvalid { path });
            }
            texts.push(text);
        }
        if texts.is_empty() {
            let (store, kind, name, dir) = fields(dir);
            return Err(TrustError::StoreEmpty {
                store,
                kind,
                name,
                dir,
            });
        }
        Ok(PemList::Many(texts))
    }

    /// The stores that the policy applying to `reference` names, loaded. An invalid document or
    /// one without a policy for the reference loads nothing: the verifier reports why.
    pub fn load_for(
        &self,
        document: &TrustPolicyDocument,
        reference: &str,
    ) -> Result<TrustStores, TrustError> {
        let mut stores = TrustStores::new();
        let Ok(policies) = document.validate() else {
            return Ok(stores);
        };
        let Some(policy) = repository_of(reference).and_then(|r| select(&policies, r).ok()) else {
            return Ok(stores);
        };
        if policy.level == verifier_core::policy::Level::Skip {
            return Ok(stores);
        }
        for store in &policy.trust_stores {
            let key = store.key();
            let pems = self.load_store(&key)?;
            stores.insert(key, pems);
        }
        Ok(stores)
    }
}

/// A folder's entries in name order (none when the folder does not exist).
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, TrustError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            Ok(paths)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(TrustError::io(dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;
    use verifier_core::sign::{generate_test_certificate, KeyType};
    use verifier_core::{SignatureVerification, TrustPolicyStatement};

    fn cert_file(dir: &Path, name: &str) -> PathBuf {
        let (_, pem) = generate_test_certificate(name, KeyType::EcP256, SystemTime::now()).unwrap();
        let path = dir.join(format!("{name}.crt"));
        std::fs::write(&path, pem).unwrap();
        path
    }

    #[test]
    fn add_list_load_and_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let stores = TrustStoreDir::new(tmp.path().join("truststore"));
        let a = cert_file(tmp.path(), "a");
        let b = cert_file(tmp.path(), "b");
        let added = stores.add(StoreType::Ca, "acme", &[a.clone(), b]).unwrap();
        assert_eq!(added.len(), 2);
        assert!(added[0].ends_with("truststore/x509/ca/acme/a.crt"));
        assert!(matches!(
            stores.add(StoreType::Ca, "acme", &[a]),
            Err(TrustError::CertificateExists { .. })
        ));
        let junk = tmp.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(matches!(
            stores.add(StoreType::Ca, "other", &[junk]),
            Err(TrustError::CertificateInvalid { .. })
        ));
        assert!(!stores.store_dir(StoreType::Ca, "other").exists());
        assert_eq!(stores.list().unwrap().len(), 2);
        assert_eq!(stores.load_store("ca:acme").unwrap().texts().len(), 2);
        let missing = stores.load_store("ca:nobody").unwrap_err().to_string();
        assert!(
            missing.contains("nv2 cert add --type ca --store nobody"),
            "{missing}"
        );

        stores.delete(StoreType::Ca, "acme", Some("a.crt")).unwrap();
        assert_eq!(stores.list().unwrap().len(), 1);
        stores.delete(StoreType::Ca, "acme", None).unwrap();
        assert!(stores.list().unwrap().is_empty());
        assert!(!stores.store_dir(StoreType::Ca, "acme").exists());
    }

    #[test]
    fn only_the_applicable_policys_stores_are_loaded() {
        let tmp = tempfile::tempdir().unwrap();
        let stores = TrustStoreDir::new(tmp.path());
        stores
            .add(StoreType::Ca, "mine", &[cert_file(tmp.path(), "c")])
            .unwrap();
        let doc = TrustPolicyDocument::new(vec![
            TrustPolicyStatement::new(
                "mine",
                vec!["r.example/app".into()],
                SignatureVerification::new("strict"),
            )
            .with_trust_stores(vec!["ca:mine".into()])
            .with_trusted_identities(vec!["*".into()]),
            TrustPolicyStatement::new(
                "theirs",
                vec!["r.example/other".into()],
                SignatureVerification::new("strict"),
            )
            .with_trust_stores(vec!["ca:absent".into()])
            .with_trusted_identities(vec!["*".into()]),
        ]);
        let loaded = stores.load_for(&doc, "r.example/app@sha256:00").unwrap();
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["ca:mine"]);
        assert!(matches!(
            stores.load_for(&doc, "r.example/other:v1"),
            Err(TrustError::StoreMissing { .. })
        ));
        assert!(stores
            .load_for(&doc, "r.example/none:v1")
            .unwrap()
            .is_empty());
    }
}
