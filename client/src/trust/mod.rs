//! The trust configuration of `nv2`, in notation's layout and with its defaults:
//!
//! ```text
//! $NV2_CONFIG_DIR, else $XDG_CONFIG_HOME/nv2, else ~/.config/nv2
//! ├── trustpolicy.json                       the trust policy document (version 1.0)
//! ├── signingkeys.json                       {"default": NAME, "keys": [{name, keyPath, certPath}]}
//! ├── localkeys/NAME.{key,crt}               what `nv2 cert generate-test NAME --default` writes
//! └── truststore/x509/{ca,signingAuthority,tsa}/<store>/*.{pem,crt}
//! ```
//!
//! A trust store folder is loaded into [`verifier_core::TrustStores`] (`ca:NAME` → PEM texts) for
//! the policy that applies to a reference; a missing policy, store or signing key is a
//! [`TrustError`] that names the command that fixes it. Every write is atomic (a temporary file
//! in the same folder, then a rename), so a reader never sees half a file.

mod keys;
mod policy;
mod store;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use keys::{load_signing_key, select_key, KeyEntry, SigningKeys};
pub use policy::{import_policy, load_policy, starter_policy};
pub use store::{StoreEntry, StoreType, TrustStoreDir};

/// Where the configuration lives.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    root: PathBuf,
}

impl ConfigDir {
    /// `$NV2_CONFIG_DIR`, else `$XDG_CONFIG_HOME/nv2`, else `$HOME/.config/nv2`.
    pub fn from_env() -> Result<ConfigDir, TrustError> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let root = if let Some(dir) = var("NV2_CONFIG_DIR") {
            PathBuf::from(dir)
        } else if let Some(xdg) = var("XDG_CONFIG_HOME") {
            PathBuf::from(xdg).join("nv2")
        } else if let Some(home) = var("HOME") {
            PathBuf::from(home).join(".config").join("nv2")
        } else {
            return Err(TrustError::NoConfigDir);
        };
        Ok(ConfigDir { root })
    }

    /// A configuration rooted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> ConfigDir {
        ConfigDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn trust_policy(&self) -> PathBuf {
        self.root.join("trustpolicy.json")
    }

    pub fn trust_store(&self) -> TrustStoreDir {
        TrustStoreDir::new(self.root.join("truststore"))
    }

    pub fn signing_keys(&self) -> PathBuf {
        self.root.join("signingkeys.json")
    }

    /// Where generated test keys go (notation's `localkeys`).
    pub fn local_keys(&self) -> PathBuf {
        self.root.join("localkeys")
    }
}

/// What can go wrong with the trust configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    #[error("no configuration folder: set NV2_CONFIG_DIR, XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    #[error("no trust policy at {}: create one with `nv2 policy init --name NAME --store ca:STORE --scope REGISTRY/REPO` or `nv2 policy import FILE`", .path.display())]
    PolicyMissing { path: PathBuf },
    #[error("trust policy {}: {reason}", .path.display())]
    PolicyInvalid { path: PathBuf, reason: String },
    #[error("trust store {store} does not exist (no folder {}): add certificates with `nv2 cert add --type {kind} --store {name} FILE`", .dir.display())]
    StoreMissing {
        store: String,
        kind: String,
        name: String,
        dir: PathBuf,
    },
    #[error("trust store {store} ({}) holds no .pem or .crt certificate: add one with `nv2 cert add --type {kind} --store {name} FILE`", .dir.display())]
    StoreEmpty {
        store: String,
        kind: String,
        name: String,
        dir: PathBuf,
    },
    #[error("{}: not a PEM certificate file", .path.display())]
    CertificateInvalid { path: PathBuf },
    #[error("{}: already in trust store {store}", .path.display())]
    CertificateExists { path: PathBuf, store: String },
    #[error("{file}: not in trust store {store}")]
    CertificateNotFound { file: String, store: String },
    #[error("trust store type {0:?} is not ca, signingAuthority or tsa")]
    StoreTypeInvalid(String),
    #[error("{what} {name:?} must match [a-zA-Z0-9_.-]+ and not start with '.'")]
    NameInvalid { what: &'static str, name: String },
    #[error("no default signing key in {}: pass --key and --cert, or make one with `nv2 cert generate-test NAME --default`", .path.display())]
    NoDefaultKey { path: PathBuf },
    #[error("no signing key named {name:?} in {}: to sign with a key file, pass --key FILE --cert FILE", .path.display())]
    KeyNotFound { name: String, path: PathBuf },
    #[error("--cert needs --key (the key file it certifies)")]
    CertWithoutKey,
    #[error("{}: {reason}", .path.display())]
    KeyInvalid { path: PathBuf, reason: String },
    #[error("a signing key named {name:?} exists in {}", .path.display())]
    KeyExists { name: String, path: PathBuf },
    #[error("{}: {reason}", .path.display())]
    SigningKeysInvalid { path: PathBuf, reason: String },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl TrustError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> TrustError {
        TrustError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A store or key name: notation's safe alphabet, as it becomes a folder or file name.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), TrustError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(TrustError::NameInvalid {
            what,
            name: name.into(),
        })
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, then renamed over
/// it. The folder is created when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrustError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TrustError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| TrustError::io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| TrustError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| TrustError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_to_notations_alphabet() {
        assert!(check_name("store", "wabbit-networks.io_1").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", ".."] {
            assert!(check_name("store", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn atomic_writes_replace_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/trustpolicy.json");
        write_atomic(&path, b"first, and longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // No temporary file is left beside it.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
