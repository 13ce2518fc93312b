//! The notary Rego policy without OPA: regorus evaluates `rego/notary/` (or an unpacked bundle)
//! with the builtins it lacks supplied as extensions, and `data.notary.verify` defined by a shim
//! that calls the verifier.
//!
//! ```text
//! RegoPolicy::load(dir, Verifier::Wasm(module))   the bundle's *.rego + the shim
//!   .set_data(config)                             data.notary.config
//!   .eval("data.notary.policy.allow", &input)     one query, fresh per call
//! ```
//!
//! The shim (`package notary; verify := nv2.verify(input)`) is never shipped: in OPA the wasm
//! module's entrypoint `notary/verify` is `data.notary.verify`, so the policy files are the same
//! in both places.

mod http_send;
mod test_runner;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use regorus::{Engine, Value};
use sha2::Digest;

pub use test_runner::{run_rego_tests, test_rules, RegoTestOutcome};

use crate::PolicyModule;

/// The Rego that defines `data.notary.verify` for regorus (never part of the bundle).
pub const VERIFY_SHIM: &str = "package notary\n\nimport rego.v1\n\nverify := nv2.verify(input)\n";

/// Errors of loading or evaluating the policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegoError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no .rego file")]
    NoPolicy { path: PathBuf },
    #[error("{0:#}")]
    Rego(anyhow::Error),
}

impl From<anyhow::Error> for RegoError {
    fn from(e: anyhow::Error) -> Self {
        RegoError::Rego(e)
    }
}

/// What evaluates `data.notary.verify`.
#[derive(Clone)]
pub enum Verifier {
    /// `policy.wasm` under the wasmtime host: what OPA runs.
    Wasm(Arc<PolicyModule>),
    /// `verifier_core::verify_json` natively (same reports; no wasm needed).
    Native,
}

impl Verifier {
    /// The report for one Contract 1 request (the JSON bytes `data.notary.verify` gets as input).
    pub fn verify(&self, request: &[u8]) -> anyhow::Result<serde_json::Value> {
        match self {
            Verifier::Native => Ok(serde_json::from_str(
                &verifier_core::verify_json(request).to_json(),
            )?),
            Verifier::Wasm(module) => {
                let request: serde_json::Value = serde_json::from_slice(request)?;
                Ok(module.evaluate("notary/verify", &request)?)
            }
        }
    }
}

/// The policy, ready to evaluate queries.
#[derive(Clone)]
pub struct RegoPolicy {
    engine: Engine,
}

impl RegoPolicy {
    /// Loads every `.rego` file of `dir` except `*_test.rego`, adds the shim and the extensions.
    pub fn load(dir: &Path, verifier: Verifier) -> Result<Self, RegoError> {
        Self::load_files(&rego_files(dir, false)?, verifier)
    }

    /// Loads the given files (tests included when listed), adds the shim and the extensions.
    pub fn load_files(files: &[PathBuf], verifier: Verifier) -> Result<Self, RegoError> {
        let mut modules = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(path).map_err(|source| RegoError::Io {
                path: path.clone(),
                source,
            })?;
            modules.push((path.display().to_string(), text));
        }
        Self::load_modules(&modules, verifier)
    }

    /// Loads Rego modules given as (name for messages, source), adds the shim and the extensions.
    pub fn load_modules(
        modules: &[(String, String)],
        verifier: Verifier,
    ) -> Result<Self, RegoError> {
        let mut engine = Engine::new();
        for (name, source) in modules {
            engine.add_policy(name.clone(), source.clone())?;
        }
        engine.add_policy("nv2-verify-shim.rego".into(), VERIFY_SHIM.into())?;
        engine.add_extension("http.send".into(), 1, Box::new(http_send::extension()))?;
        engine.add_extension("crypto.sha256".into(), 1, Box::new(sha256_extension))?;
        // Gatekeeper's builtin, declared so that the template's Rego under `rego/` loads beside
        // the notary policy; its tests mock it with `with`. Admission wires a real provider
        // (`crate::admission`).
        engine.add_extension(
            "external_data".into(),
            1,
            Box::new(|_: Vec<Value>| -> anyhow::Result<Value> {
                anyhow::bail!("external_data: no provider here (nv2-gatekeeper admit wires one)")
            }),
        )?;
        engine.add_extension(
            "nv2.verify".into(),
            1,
            Box::new(move |args: Vec<Value>| {
                let report = verifier.verify(args[0].to_json_str()?.as_bytes())?;
                Value::from_json_str(&report.to_string())
            }),
        )?;
        Ok(RegoPolicy { engine })
    }

    /// Replaces `data` (e.g. `{"notary": {"config": …}}`).
    pub fn set_data(&mut self, data: &serde_json::Value) -> Result<(), RegoError> {
        self.engine.clear_data();
        self.engine
            .add_data(Value::from_json_str(&data.to_string())?)?;
        Ok(())
    }

    /// Evaluates one query (`data.notary.policy.allow`) with `input`; `None` when it is undefined.
    pub fn eval(
        &self,
        query: &str,
        input: &serde_json::Value,
    ) -> Result<Option<serde_json::Value>, RegoError> {
        let mut engine = self.engine.clone();
        engine.set_input(Value::from_json_str(&input.to_string())?);
        let rule = if is_rule_path(query) {
            // A package or an unknown name is no rule: the general query answers those.
            engine.eval_rule(query.to_string()).ok()
        } else {
            None
        };
        let value = match rule {
            Some(value) => value,
            None => {
                // Any other expression (a function call, a comparison): its value in the first
                // result, as `opa eval` prints it; no result is undefined.
                let results = engine.eval_query(query.to_string(), false)?;
                results
                    .result
                    .into_iter()
                    .next()
                    .and_then(|r| r.expressions.into_iter().last())
                    .map_or(Value::Undefined, |e| e.value)
            }
        };
        if value == Value::Undefined {
            return Ok(None);
        }
        Ok(Some(
            serde_json::from_str(&value.to_json_str()?).map_err(anyhow::Error::from)?,
        ))
    }

    /// The engine, for the test runner.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// `data.a.b_c`: what regorus's `eval_rule` may take (it evaluates just that rule and what it
/// depends on).
fn is_rule_path(query: &str) -> bool {
    let is_name = |p: &str| {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    query
        .trim()
        .strip_prefix("data.")
        .is_some_and(|rest| rest.split('.').all(is_name))
}

/// regorus has no `crypto.sha256`; OPA's hashes the string's bytes and answers lowercase hex.
fn sha256_extension(args: Vec<Value>) -> anyhow::Result<Value> {
    let text = args[0].as_string()?;
    Ok(Value::from(hex::encode(sha2::Sha256::digest(
        text.as_bytes(),
    ))))
}

/// The `.rego` files of `dir` (recursively), sorted; test files only when `tests` is set.
pub fn rego_files(dir: &Path, tests: bool) -> Result<Vec<PathBuf>, RegoError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| RegoError::Io {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| RegoError::Io {
                    path: d.clone(),
                    source,
                })?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rego") {
                let is_test = path.to_string_lossy().ends_with("_test.rego");
                if tests || !is_test {
                    out.push(path);
                }
            }
        }
    }
    if out.is_empty() {
        return Err(RegoError::NoPolicy {
            path: dir.to_path_buf(),
        });
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_paths_are_told_from_expressions() {
        assert!(is_rule_path("data.notary.policy.allow"));
        assert!(is_rule_path(" data.notary.max_referrer_pages "));
        assert!(!is_rule_path("data"));
        assert!(!is_rule_path("data.notary.parse_reference(input.image)"));
        assert!(!is_rule_path("data.notary.deny[_]"));
        assert!(!is_rule_path("input.image"));
        assert!(!is_rule_path("data.notary.1x"));
    }

    #[test]
    fn expressions_evaluate_like_opa_eval() {
        let dir = std::env::temp_dir().join(format!("nv2-rego-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("p.rego"),
            "package t\n\nimport rego.v1\n\ndouble(x) := 2 * x\n\nanswer := 42\n",
        )
        .unwrap();
        let policy = RegoPolicy::load(&dir, Verifier::Native).unwrap();
        let input = serde_json::json!({"n": 4});
        assert_eq!(
            policy.eval("data.t.answer", &input).unwrap(),
            Some(serde_json::json!(42))
        );
        assert_eq!(
            policy.eval("data.t.double(input.n)", &input).unwrap(),
            Some(serde_json::json!(8))
        );
        assert_eq!(policy.eval("data.t.missing", &input).unwrap(), None);
        assert_eq!(
            policy.eval("input.n == 4", &input).unwrap(),
            Some(serde_json::json!(true))
        );
        assert_eq!(
            policy.eval("data.t", &input).unwrap(),
            Some(serde_json::json!({"answer": 42}))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
