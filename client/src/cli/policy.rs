//! `nv2 policy`: the trust policy of the configuration (`import`, `show`, as `notation policy`
//! does, and `init` for a strict starter policy, which notation lacks).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::trust::{import_policy, load_policy, starter_policy, write_atomic, ConfigDir};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Import a trust policy document (JSON, version 1.0): validated first, so a broken policy
    /// never replaces a good one. (notation asks before replacing; nv2 replaces, --force is
    /// accepted and changes nothing.)
    Import(ImportArgs),
    /// Print the trust policy of the configuration.
    Show,
    /// Write a strict starter policy: one statement NAME for the scopes, trusting the stores and
    /// any identity they certify. Refuses to replace an existing policy without --force.
    Init(InitArgs),
    /// Print what the OPA bundle reads at `data.notary.config`: this trust policy, the
    /// certificates of every trust store it names, and the registries reached over plain HTTP.
    /// `opa eval -b dist/bundle.tar.gz -d FILE …` takes it as written.
    OpaConfig(OpaConfigArgs),
}

#[derive(Debug, Args)]
pub struct OpaConfigArgs {
    /// A registry (`HOST[:PORT]`) that the policy reaches over plain HTTP; repeatable.
    #[arg(long = "plain-http", value_name = "HOST[:PORT]")]
    pub plain_http: Vec<String>,
    /// The bare configuration (for OPA's Data API: `PUT /v1/data/notary/config`), not wrapped
    /// in `{"notary": {"config": …}}`.
    #[arg(long)]
    pub bare: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The trust policy file.
    pub file: PathBuf,
    /// Accepted for notation's sake; the import never asks.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The trust policy statement's name.
    #[arg(long)]
    pub name: String,
    /// A trust store the statement trusts: TYPE:NAME, e.g. ca:wabbit-networks (repeatable).
    #[arg(long, value_name = "TYPE:NAME", required = true)]
    pub store: Vec<String>,
    /// A registry scope: REGISTRY/REPO, or * for every artifact (repeatable).
    #[arg(long, value_name = "REGISTRY/REPO", required = true)]
    pub scope: Vec<String>,
    /// Replace an existing trust policy.
    #[arg(long)]
    pub force: bool,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let config = ConfigDir::from_env()?;
    let target = config.trust_policy();
    match command {
        PolicyCommand::Import(args) => {
            import_policy(&args.file, &target)?;
            println!(
                "Trust policy configuration imported successfully: {}",
                target.display()
            );
        }
        PolicyCommand::Show => {
            load_policy(&target)?;
            let text = std::fs::read_to_string(&target)
                .with_context(|| format!("reading {}", target.display()))?;
            println!("{}", text.trim_end());
        }
        PolicyCommand::Init(args) => {
            if target.exists() && !args.force {
                bail!(
                    "{} exists: pass --force to replace it, or edit it and `nv2 policy import` it",
                    target.display()
                );
            }
            let document = starter_policy(&args.name, &args.store, &args.scope);
            document
                .validate()
                .map_err(|e| anyhow::anyhow!("the starter policy is invalid: {e}"))?;
            let bytes = serde_json::to_vec_pretty(&document)?;
            write_atomic(&target, &bytes)?;
            println!("Trust policy {} written to {}", args.name, target.display());
        }
        PolicyCommand::OpaConfig(args) => {
            let config = opa_config(&config, &args.plain_http)?;
            let config = if args.bare {
                config
            } else {
                serde_json::json!({"notary": {"config": config}})
            };
            println!("{}", serde_json::to_string_pretty(&config)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bundle's configuration from the files `nv2 verify` reads: the policy as written (so what
/// OPA verifies under is byte for byte what nv2 does) and each store it names, once.
fn opa_config(config: &ConfigDir, plain_http: &[String]) -> anyhow::Result<serde_json::Value> {
    use serde_json::{json, Map, Value};
    let target = config.trust_policy();
    let document = load_policy(&target)?;
    let policies = document
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", target.display()))?;
    let written: Value = serde_json::from_slice(
        &std::fs::read(&target).with_context(|| format!("reading {}", target.display()))?,
    )?;
    let store_dir = config.trust_store();
    let mut stores = Map::new();
    for store in policies.iter().flat_map(|p| &p.trust_stores) {
        let key = store.key();
        if !stores.contains_key(&key) {
            let pems = store_dir.load_store(&key)?;
            stores.insert(key, serde_json::to_value(pems)?);
        }
    }
    let registries: Map<String, Value> = plain_http
        .iter()
        .map(|host| (host.clone(), json!({"scheme": "http"})))
        .collect();
    Ok(json!({"trustPolicy": written, "trustStores": stores, "registries": registries}))
}
