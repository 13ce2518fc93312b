//! What the provider verifies with, loaded as one unit so that a reload swaps all of it or none
//! of it: the default trust policy, one policy per namespace (`DIR/<namespace>.json`), the trust
//! store folder, and the verifier (`policy.wasm` of the bundle, or the native core).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use nv2_client::trust::{load_policy, TrustStoreDir};
use verifier_core::TrustPolicyDocument;

use crate::bundle::{Bundle, VERIFY_ENTRYPOINT};
use crate::rego::Verifier;
use crate::PolicyModule;

/// Which verifier answers a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// `policy.wasm` of the bundle under the wasmtime host: what OPA would run.
    Wasm,
    /// `verifier_core::verify` natively.
    Native,
}

/// Where the trust configuration and the bundle are read from.
#[derive(Clone, Debug)]
pub struct TrustSources {
    /// The default `trustpolicy.json`.
    pub trust_policy: PathBuf,
    /// The `truststore` folder (notation's layout: `x509/<type>/<name>/*.pem`).
    pub trust_store: PathBuf,
    /// `--namespace-policies DIR`: `DIR/<namespace>.json`, chosen by a key's `[namespace]`.
    pub namespace_policies: Option<PathBuf>,
    /// The bundle whose `policy.wasm` verifies (read only with [`Engine::Wasm`]).
    pub bundle: PathBuf,
    pub engine: Engine,
}

/// A loaded, checked trust configuration.
#[derive(Clone)]
pub struct Trust {
    pub default: TrustPolicyDocument,
    pub namespaces: BTreeMap<String, TrustPolicyDocument>,
    pub stores: TrustStoreDir,
    pub verifier: Verifier,
}

impl Trust {
    /// The policy for a key's namespace: its own file if there is one, else the default.
    pub fn policy_for(&self, namespace: Option<&str>) -> &TrustPolicyDocument {
        namespace
            .and_then(|ns| self.namespaces.get(ns))
            .unwrap_or(&self.default)
    }
}

impl TrustSources {
    /// Loads and checks everything; the first problem is the error (nothing half-loaded).
    pub fn load(&self) -> Result<Arc<Trust>, String> {
        let default = load_policy(&self.trust_policy).map_err(|e| e.to_string())?;
        let mut namespaces = BTreeMap::new();
        if let Some(dir) = &self.namespace_policies {
            for path in json_files(dir)? {
                let Some(ns) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let document = load_policy(&path).map_err(|e| e.to_string())?;
                namespaces.insert(ns.to_string(), document);
            }
        }
        let verifier = match self.engine {
            Engine::Native => Verifier::Native,
            Engine::Wasm => {
                let bundle = Bundle::open(&self.bundle).map_err(|e| e.to_string())?;
                let wasm = bundle.verify_wasm.ok_or_else(|| {
                    format!(
                        "{} holds no policy.wasm for {VERIFY_ENTRYPOINT}",
                        self.bundle.display()
                    )
                })?;
                let module = PolicyModule::from_bytes(&wasm)
                    .map_err(|e| format!("{}: {e}", self.bundle.display()))?;
                Verifier::Wasm(Arc::new(module))
            }
        };
        Ok(Arc::new(Trust {
            default,
            namespaces,
            stores: TrustStoreDir::new(&self.trust_store),
            verifier,
        }))
    }

    /// Every file the configuration is made of, with its modification time and size: when this
    /// changes, the configuration is reloaded.
    pub fn fingerprint(&self) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
        let mut files = vec![self.trust_policy.clone()];
        if self.engine == Engine::Wasm {
            files.push(self.bundle.clone());
        }
        if let Some(dir) = &self.namespace_policies {
            files.extend(json_files(dir).unwrap_or_default());
        }
        walk(&self.trust_store, &mut files);
        files
            .into_iter()
            .map(|p| {
                let meta = std::fs::metadata(&p).ok();
                let modified = meta.as_ref().and_then(|m| m.modified().ok());
                let len = meta.map_or(0, |m| m.len());
                (p, modified, len)
            })
            .collect()
    }
}

/// The `*.json` files of a folder, sorted.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("namespace policies {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Every file under `dir`, depth first (a trust store is a few folders deep).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}
