//! `opa test` for regorus: every `test_*` rule of the `*_test.rego` files is evaluated, and a
//! test passes only when its value is exactly `true` (undefined, false or an error fail).

use std::path::{Path, PathBuf};

use regorus::Value;

use super::{rego_files, RegoError, RegoPolicy, Verifier};

/// One test rule's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoTestOutcome {
    /// `data.<package>.test_<name>`.
    pub rule: String,
    /// `None` when it passed; otherwise what it evaluated to, or the error.
    pub failure: Option<String>,
}

/// Loads every `.rego` file under `dir` (tests included) and evaluates each `test_*` rule.
pub fn run_rego_tests(dir: &Path, verifier: Verifier) -> Result<Vec<RegoTestOutcome>, RegoError> {
    let files = rego_files(dir, true)?;
    let policy = RegoPolicy::load_files(&files, verifier)?;
    Ok(test_rules(&files)?
        .into_iter()
        .map(|rule| {
            let mut engine = policy.engine().clone();
            let failure = match engine.eval_rule(rule.clone()) {
                Ok(v) if v == Value::from(true) => None,
                Ok(Value::Undefined) => Some("undefined".to_string()),
                Ok(v) => Some(format!("evaluated to {v}")),
                Err(e) => Some(format!("error: {e:#}")),
            };
            RegoTestOutcome { rule, failure }
        })
        .collect())
}

/// The `data.<package>.test_<name>` rules of the `*_test.rego` files among `files`, in file
/// order: what `opa test` runs.
pub fn test_rules(files: &[PathBuf]) -> Result<Vec<String>, RegoError> {
    let mut rules = Vec::new();
    for path in files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with("_test.rego"))
    {
        let text = std::fs::read_to_string(path).map_err(|source| RegoError::Io {
            path: path.clone(),
            source,
        })?;
        let package = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("package "))
            .map(|p| p.trim().to_string())
            .ok_or_else(|| RegoError::Rego(anyhow::anyhow!("{} has no package", path.display())))?;
        // Test rules start a line (`test_name if {`), as `opa fmt` writes them.
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("test_") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let rule = format!("data.{package}.test_{name}");
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }
    Ok(rules)
}
