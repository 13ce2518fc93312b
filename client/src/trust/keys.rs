//! `signingkeys.json` in notation's format: named key/certificate file pairs and a default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use verifier_core::sign::{pem_decode_certificates, SigningKey};

use super::{check_name, write_atomic, TrustError};

/// One signing key: a PKCS#8 PEM key and its certificate chain (PEM, leaf first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyEntry {
    pub name: String,
    pub key_path: PathBuf,
    pub cert_path: PathBuf,
}

impl KeyEntry {
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
}
