//! The notary policy loaded into either Rego engine, the same way: regorus (`gatekeeper::rego`,
//! what `nv2-gatekeeper` runs) or OPA's own engine ([`crate::opa`], what users run). Both get the
//! same files, the same `data`, the real `http.send` and the same `data.notary.verify` shim over
//! the same verifier, so any difference in their answers is a difference between the engines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatekeeper::rego::{
    rego_files, test_rules, RegoPolicy, RegoTestOutcome, Verifier, VERIFY_SHIM,
};
use gatekeeper::PolicyModule;
use serde_json::Value;

use crate::opa::{OpaEngine, OpaError};
use crate::{require, workspace_root};

/// Which engine evaluates the Rego.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Regorus,
    Opa,
}

/// The verifier behind `data.notary.verify`: `policy.wasm` under wasmtime when `make bundle` has
/// run, else the native one (or a failure when peers are required).
pub fn verifier() -> Verifier {
    let path = workspace_root().join("dist/bundle/policy.wasm");
    match require(
        path.exists().then_some(()),
        "dist/bundle/policy.wasm is missing: run `make bundle`",
    ) {
        Some(()) => Verifier::Wasm(Arc::new(
            PolicyModule::load(&path).expect("load policy.wasm"),
        )),
        None => Verifier::Native,
    }
}

/// Whether OPA's engine is installed; when it is not, skips (or fails when peers are required).
pub fn opa_available() -> bool {
    match crate::opa::available() {
        Ok(()) => true,
        Err(why) => require(None::<()>, &why).is_some(),
    }
}

/// The Rego files as (name, source) modules, named relative to the workspace.
pub fn read_modules(files: &[PathBuf]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (display_path(path), text)
        })
        .collect()
}

/// An OPA engine holding `modules` (name, source), the verify shim and `nv2.verify`.
pub fn opa_engine(modules: &[(String, String)], verifier: Verifier) -> Result<OpaEngine, OpaError> {
    let opa = OpaEngine::new().map_err(|message| OpaError {
        code: "load".into(),
        message,
    })?;
    for (name, source) in modules {
        opa.add_policy(name, source)?;
    }
    opa.add_policy("nv2-verify-shim.rego", VERIFY_SHIM)?;
    opa.register_function(
        "nv2.verify",
        1,
        Arc::new(move |args: &[Value]| {
            verifier
                .verify(args[0].to_string().as_bytes())
                .map_err(|e| format!("nv2.verify: {e:#}"))
        }),
    )?;
    // Gatekeeper's builtin, which OPA lacks: declared so that the template's Rego compiles; its
    // tests mock it with `with`, and a call that is not mocked fails (undefined in OPA).
    opa.register_function(
        "external_data",
        1,
        Arc::new(|_: &[Value]| Err("external_data: no provider in plain OPA".to_string())),
    )?;
    Ok(opa)
}

/// A path as OPA's messages should show it: relative to the workspace when inside it.
pub fn display_path(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The notary policy (`rego/notary/`, tests excluded) in one engine, with `data` loaded.
pub enum NotaryPolicy {
    Regorus(Box<RegoPolicy>),
    Opa(OpaEngine),
}

impl NotaryPolicy {
    pub fn load(engine: Engine, verifier: Verifier, data: &Value) -> Self {
        let dir = workspace_root().join("rego/notary");
        match engine {
            Engine::Regorus => {
                let mut policy = RegoPolicy::load(&dir, verifier).expect("load policy (regorus)");
                policy.set_data(data).expect("data (regorus)");
                NotaryPolicy::Regorus(Box::new(policy))
            }
            Engine::Opa => {
                let files = rego_files(&dir, false).expect("policy files");
                let opa = opa_engine(&read_modules(&files), verifier).expect("load policy (OPA)");
                opa.add_data("", data).expect("data (OPA)");
                NotaryPolicy::Opa(opa)
            }
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            NotaryPolicy::Regorus(_) => Engine::Regorus,
            NotaryPolicy::Opa(_) => Engine::Opa,
        }
    }

    /// The query's value, `None` when undefined; an engine error is a test failure.
    pub fn eval(&self, query: &str, input: &Value) -> Option<Value> {
        match self {
            NotaryPolicy::Regorus(p) => p
                .eval(query, input)
                .unwrap_or_else(|e| panic!("regorus: {query}: {e}")),
            NotaryPolicy::Opa(p) => p
                .eval(query, Some(input))
                .unwrap_or_else(|e| panic!("OPA: {query}: {e}")),
        }
    }
}

/// `opa test` under OPA's engine: every `test_*` rule of the `*_test.rego` files under `dir`,
/// with the rest of the Rego there; passes only when a rule is exactly `true`.
pub fn run_opa_tests(dir: &Path, verifier: Verifier) -> Result<Vec<RegoTestOutcome>, String> {
    let files = rego_files(dir, true).map_err(|e| e.to_string())?;
    let opa = opa_engine(&read_modules(&files), verifier).map_err(|e| e.to_string())?;
    let rules = test_rules(&files).map_err(|e| e.to_string())?;
    Ok(rules
        .into_iter()
        .map(|rule| {
            let failure = match opa.eval(&rule, None) {
                Ok(Some(Value::Bool(true))) => None,
                Ok(None) => Some("undefined".to_string()),
                Ok(Some(v)) => Some(format!("evaluated to {v}")),
                Err(e) => Some(format!("error: {e}")),
            };
            RegoTestOutcome { rule, failure }
        })
        .collect())
}
