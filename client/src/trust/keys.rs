//! `signingkeys.json` in notation's format: named key/certificate file pairs and a default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use verifier_core::sign::{pem_decode_certificates, SigningKey};

use super::{check_name, write_atomic, ConfigDir, TrustError};

/// One signing key: a PKCS#8 PEM key and its certificate chain (PEM, leaf first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyEntry {
    pub name: String,
    pub key_path: PathBuf,
    pub cert_path: PathBuf,
}

impl KeyEntry {
    /// A key file and its certificate chain file, named by no entry (`--key FILE --cert FILE`).
    pub fn files(key: impl Into<PathBuf>, cert: impl Into<PathBuf>) -> KeyEntry {
        KeyEntry {
            name: String::new(),
            key_path: key.into(),
            cert_path: cert.into(),
        }
    }

    /// Reads the key (PKCS#8 PEM) and its certificate chain (PEM, leaf first, as DER), ready for
    /// [`crate::signature::sign`].
    pub fn load(&self) -> Result<(SigningKey, Vec<Vec<u8>>), TrustError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| TrustError::io(p, e));
        let invalid = |path: &Path, e: verifier_core::sign::SignError| TrustError::KeyInvalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let key = SigningKey::from_pkcs8_pem(&read(&self.key_path)?)
            .map_err(|e| invalid(&self.key_path, e))?;
        let chain = pem_decode_certificates(&read(&self.cert_path)?)
            .map_err(|e| invalid(&self.cert_path, e))?;
        Ok((key, chain))
    }
}

/// The key a signing command (`nv2 sign`, `docker generate push`) was asked for by its `--key`
/// and `--cert` flags: a key file and its chain (both), the entry of signingkeys.json named
/// `key` (`--key NAME` alone), or the file's default entry (neither), as `notation sign` picks
/// it. `keys_file` is asked for only when signingkeys.json is read.
pub fn select_key(
    key: Option<&str>,
    cert: Option<&Path>,
    keys_file: impl FnOnce() -> Result<PathBuf, TrustError>,
) -> Result<KeyEntry, TrustError> {
    if let (Some(key), Some(cert)) = (key, cert) {
        return Ok(KeyEntry::files(key, cert));
    }
    if cert.is_some() {
        return Err(TrustError::CertWithoutKey);
    }
    let path = keys_file()?;
    let keys = SigningKeys::load(&path)?;
    match key {
        None => keys.default_key(&path).cloned(),
        Some(name) => keys.get(name, &path).cloned(),
    }
}

/// [`select_key`] in the configuration of the environment ([`ConfigDir::from_env`]), loaded:
/// the key and its chain, ready for [`crate::signature::sign`].
pub fn load_signing_key(
    key: Option<&str>,
    cert: Option<&Path>,
) -> Result<(SigningKey, Vec<Vec<u8>>), TrustError> {
    select_key(key, cert, || Ok(ConfigDir::from_env()?.signing_keys()))?.load()
}

/// The document: `{"default": NAME, "keys": [KeyEntry, …]}`. Members notation writes for plug-in
/// keys (`id`, `pluginName`) are not read: `nv2` signs with local keys only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

impl SigningKeys {
    /// Reads `path`; a missing file is an empty document.
    pub fn load(path: &Path) -> Result<SigningKeys, TrustError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| TrustError::SigningKeysInvalid {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SigningKeys::default()),
            Err(e) => Err(TrustError::io(path, e)),
        }
    }

    /// Writes the document to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrustError> {
        let bytes = serde_json::to_vec_pretty(self).expect("the document serialises");
        write_atomic(path, &bytes)
    }

    /// Adds a key (its name must be new), and makes it the default when asked.
    pub fn add(&mut self, entry: KeyEntry, default: bool, path: &Path) -> Result<(), TrustError> {
        check_name("key name", &entry.name)?;
        if self.keys.iter().any(|k| k.name == entry.name) {
            return Err(TrustError::KeyExists {
                name: entry.name,
                path: path.to_path_buf(),
            });
        }
        if default {
            self.default = Some(entry.name.clone());
        }
        self.keys.push(entry);
        Ok(())
    }

    /// The key named `name`; `path` is the file's, for the error.
    pub fn get(&self, name: &str, path: &Path) -> Result<&KeyEntry, TrustError> {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| TrustError::KeyNotFound {
                name: name.into(),
                path: path.to_path_buf(),
            })
    }

    /// The default key; `path` is the file's, for the error that says how to make one.
    pub fn default_key(&self, path: &Path) -> Result<&KeyEntry, TrustError> {
        let name = self
            .default
            .as_deref()
            .ok_or_else(|| TrustError::NoDefaultKey {
                path: path.to_path_buf(),
            })?;
        self.get(name, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_notations_format() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("signingkeys.json");
        let mut keys = SigningKeys::load(&path).unwrap();
        assert!(keys
            .default_key(&path)
            .unwrap_err()
            .to_string()
            .contains("generate-test"));
        let entry = KeyEntry {
            name: "wabbit".into(),
            key_path: "/k/wabbit.key".into(),
            cert_path: "/k/wabbit.crt".into(),
        };
        keys.add(entry.clone(), true, &path).unwrap();
        assert!(keys.add(entry.clone(), false, &path).is_err());
        keys.save(&path).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"default": "wabbit", "keys": [
                {"name": "wabbit", "keyPath": "/k/wabbit.key", "certPath": "/k/wabbit.crt"}]})
        );
        // notation's plug-in members are tolerated.
        std::fs::write(&path, r#"{"default":"p","keys":[{"name":"p","keyPath":"a","certPath":"b","pluginName":"x"}]}"#).unwrap();
        assert_eq!(
            SigningKeys::load(&path)
                .unwrap()
                .default_key(&path)
                .unwrap()
                .name,
            "p"
        );
    }

    #[test]
    fn a_key_is_a_file_pair_a_name_or_the_default() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("signingkeys.json");
        let unread = || -> Result<PathBuf, TrustError> { panic!("signingkeys.json is not read") };
        let files = select_key(Some("k.pem"), Some(Path::new("c.pem")), unread).unwrap();
        assert_eq!(
            (files.key_path, files.cert_path),
            ("k.pem".into(), "c.pem".into())
        );
        assert!(matches!(
            select_key(None, Some(Path::new("c.pem")), unread),
            Err(TrustError::CertWithoutKey)
        ));
        let here = || Ok(path.clone());
        assert!(matches!(
            select_key(None, None, here),
            Err(TrustError::NoDefaultKey { .. })
        ));
        let mut keys = SigningKeys::default();
        for (name, default) in [("a", false), ("b", true)] {
            let entry = KeyEntry {
                name: name.into(),
                key_path: format!("/k/{name}.key").into(),
                cert_path: format!("/k/{name}.crt").into(),
            };
            keys.add(entry, default, &path).unwrap();
        }
        keys.save(&path).unwrap();
        assert_eq!(select_key(None, None, here).unwrap().name, "b");
        assert_eq!(select_key(Some("a"), None, here).unwrap().name, "a");
        let err = select_key(Some("a.pem"), None, here).unwrap_err();
        assert!(matches!(&err, TrustError::KeyNotFound { name, .. } if name == "a.pem"));
        assert!(err.to_string().contains("--cert"), "{err}");
    }
}
