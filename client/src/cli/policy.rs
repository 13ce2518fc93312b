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
    }
    Ok(ExitCode::SUCCESS)
}
