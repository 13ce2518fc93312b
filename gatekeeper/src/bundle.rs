//! An OPA bundle as `opa eval -b` takes it: the gzipped tarball (`dist/bundle.tar.gz`, the form
//! users load) or an unpacked directory (`dist/bundle/`, or any folder of Rego). Its Rego modules
//! and the wasm module that answers the `notary/verify` entrypoint, found through `/.manifest`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rego::{rego_files, RegoError};

/// The entrypoint whose module answers `data.notary.verify`.
pub const VERIFY_ENTRYPOINT: &str = "notary/verify";

/// A bundle's parts.
#[derive(Debug)]
pub struct Bundle {
    /// Where it came from, for messages.
    pub path: PathBuf,
    /// `/.manifest`, when the bundle has one.
    pub manifest: Option<Value>,
    /// The Rego modules: (name for messages, source).
    pub modules: Vec<(String, String)>,
    /// The module of the `notary/verify` entrypoint (`/policy.wasm` without a manifest entry).
    pub verify_wasm: Option<Vec<u8>>,
}

impl Bundle {
    /// A `.tar.gz` file or a directory. A directory's `*_test.rego` files are left out, as they
    /// are from the tarball that `make bundle` writes.
    pub fn open(path: &Path) -> Result<Self, RegoError> {
        let io = |source| RegoError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut files = BTreeMap::new();
        let mut modules = Vec::new();
        if path.is_file() {
            files = read_tarball(&std::fs::read(path).map_err(io)?).map_err(io)?;
            for (name, bytes) in &files {
                if name.ends_with(".rego") {
                    let source = String::from_utf8(bytes.clone()).map_err(|_| {
                        RegoError::Rego(anyhow::anyhow!("{}:{name} is not UTF-8", path.display()))
                    })?;
                    modules.push((format!("{}:{name}", path.display()), source));
                }
            }
            if modules.is_empty() {
                return Err(RegoError::NoPolicy {
                    path: path.to_path_buf(),
                });
            }
        } else {
            for file in rego_files(path, false)? {
                let source = std::fs::read_to_string(&file).map_err(|source| RegoError::Io {
                    path: file.clone(),
                    source,
                })?;
                modules.push((file.display().to_string(), source));
            }
            if let Ok(bytes) = std::fs::read(path.join(".manifest")) {
                files.insert("/.manifest".into(), bytes);
            }
        }
        let manifest = match files.get("/.manifest") {
            Some(bytes) => Some(serde_json::from_slice::<Value>(bytes).map_err(|e| {
                RegoError::Rego(anyhow::anyhow!(
                    "{}: /.manifest is not JSON: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let module_path = manifest
            .as_ref()
            .and_then(|m| m["wasm"].as_array())
            .and_then(|w| w.iter().find(|e| e["entrypoint"] == VERIFY_ENTRYPOINT))
            .and_then(|e| e["module"].as_str())
            .unwrap_or("/policy.wasm");
        let module_path = format!("/{}", module_path.trim_start_matches('/'));
        let verify_wasm = if path.is_file() {
            files.remove(&module_path)
        } else {
            std::fs::read(path.join(module_path.trim_start_matches('/'))).ok()
        };
        Ok(Bundle {
            path: path.to_path_buf(),
            manifest,
            modules,
            verify_wasm,
        })
    }
}

/// Every regular file of a gzipped tarball, by entry name, written with a leading `/` (as
/// `opa build` names them) whether or not the archive has one.
pub fn read_tarball(gz: &[u8]) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut files = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = format!("/{}", name.trim_start_matches("./").trim_start_matches('/'));
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        files.insert(name, bytes);
    }
    Ok(files)
}
