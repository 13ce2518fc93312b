//! `nv2-gatekeeper`: the Gatekeeper external-data provider (`serve`), its certificates
//! (`certs`), and the `opa eval` and `opa test` experience for the notary policy without OPA
//! (`policy`: regorus evaluates the Rego; `policy.wasm` under wasmtime answers
//! `data.notary.verify`).

mod serve_cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gatekeeper::bundle::{Bundle, VERIFY_ENTRYPOINT};
use gatekeeper::rego::{run_rego_tests, RegoPolicy, Verifier};
use gatekeeper::PolicyModule;

#[derive(Parser)]
#[command(
    name = "nv2-gatekeeper",
    version,
    about = "nv2's policy tools for OPA and Gatekeeper"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The notary Rego policy without OPA.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The Gatekeeper external-data provider over HTTPS (TLS 1.3).
    Serve(Box<serve_cli::ServeArgs>),
    /// Writes a CA and a serving certificate (ca.crt, tls.crt, tls.key) and prints the caBundle.
    Certs(serve_cli::CertsArgs),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Evaluate a query, like `opa eval -b BUNDLE -d DATA -i INPUT QUERY`; prints its value as JSON.
    Eval {
        /// The bundle, like `opa eval -b`: dist/bundle.tar.gz or an unpacked folder (dist/bundle,
        /// or any folder of Rego with --native): its .rego files and the notary/verify module.
        #[arg(long, short = 'b', default_value = "dist/bundle.tar.gz")]
        bundle: PathBuf,
        /// A JSON document loaded as `data` (e.g. `{"notary": {"config": …}}`).
        #[arg(long, short = 'd')]
        data: Option<PathBuf>,
        /// A JSON document used as `input`.
        #[arg(long, short = 'i')]
        input: Option<PathBuf>,
        /// Verify natively instead of through the bundle's policy.wasm.
        #[arg(long)]
        native: bool,
        /// The query, e.g. `data.notary.policy.allow`.
        query: String,
    },
    /// Run every `test_*` rule of the `*_test.rego` files under DIR, like `opa test DIR`.
    Test {
        /// The directory of Rego files (tests included).
        #[arg(default_value = "rego")]
        dir: PathBuf,
        /// policy.wasm for `data.notary.verify` (default: verify natively).
        #[arg(long)]
        wasm: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nv2-gatekeeper: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read_json(path: &Option<PathBuf>) -> anyhow::Result<serde_json::Value> {
    match path {
        None => Ok(serde_json::json!({})),
        Some(p) => {
            let bytes =
                std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", p.display()))
        }
    }
}

fn wasm_verifier(path: &std::path::Path) -> anyhow::Result<Verifier> {
    let module =
        PolicyModule::load(path).map_err(|e| anyhow::anyhow!("loading {}: {e}", path.display()))?;
    Ok(Verifier::Wasm(Arc::new(module)))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve_cli::serve(*args),
        Command::Certs(args) => serve_cli::certs(args),
        Command::Policy(PolicyCommand::Eval {
            bundle,
            data,
            input,
            native,
            query,
        }) => {
            let bundle = Bundle::open(&bundle)?;
            let verifier = match (native, bundle.verify_wasm.as_deref()) {
                (true, _) => Verifier::Native,
                (false, Some(module)) => Verifier::Wasm(Arc::new(
                    PolicyModule::from_bytes(module).map_err(|e| {
                        anyhow::anyhow!("loading the policy.wasm of {}: {e}", bundle.path.display())
                    })?,
                )),
                (false, None) => anyhow::bail!(
                    "{} holds no policy.wasm for {VERIFY_ENTRYPOINT} (run `make bundle`, or pass --native)",
                    bundle.path.display()
                ),
            };
            let mut policy = RegoPolicy::load_modules(&bundle.modules, verifier)?;
            policy.set_data(&read_json(&data)?)?;
            match policy.eval(&query, &read_json(&input)?)? {
                Some(value) => println!("{}", serde_json::to_string_pretty(&value)?),
                None => println!("undefined"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy(PolicyCommand::Test { dir, wasm }) => {
            let verifier = match wasm {
                Some(p) => wasm_verifier(&p)?,
                None => Verifier::Native,
            };
            let outcomes = run_rego_tests(&dir, verifier)?;
            let mut failed = 0;
            for o in &outcomes {
                match &o.failure {
                    None => println!("PASS {}", o.rule),
                    Some(why) => {
                        failed += 1;
                        println!("FAIL {}: {why}", o.rule);
                    }
                }
            }
            println!("{} passed, {failed} failed", outcomes.len() - failed);
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
