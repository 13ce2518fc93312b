//! `nv2-gatekeeper`: the Gatekeeper external-data provider (`serve`), its certificates
//! (`certs`), `admit` (Gatekeeper's admission decision without a cluster: the ConstraintTemplate's
//! Rego under regorus, `external_data` answered by the provider), and the `opa eval` and `opa
//! test` experience for the notary policy without OPA (`policy`: regorus evaluates the Rego;
//! `policy.wasm` under wasmtime answers `data.notary.verify`).

mod serve_cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gatekeeper::admission::{self, Admission, ExternalData, HttpsProvider, InProcessProvider};
use gatekeeper::bundle::{Bundle, VERIFY_ENTRYPOINT};
use gatekeeper::provider::ProviderArgs;
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
    /// Gatekeeper's decision for Pods and workloads without a cluster: prints `allowed` or the
    /// violations; exits 0 when every object is allowed, 1 when one is denied, 2 on errors.
    Admit(AdmitArgs),
}

#[derive(clap::Args)]
struct AdmitArgs {
    /// YAML files of Pods or workloads (several documents per file), or AdmissionReview JSON.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The constraint's parameters: a Constraint (its spec.parameters, e.g.
    /// gatekeeper/deploy/constraint.yaml) or a bare parameters document.
    #[arg(long)]
    parameters: Option<PathBuf>,
    /// A remote provider's validate endpoint, as the Provider resource names it
    /// (https://nv2-gatekeeper.NAMESPACE:8443/validate). Without it the provider runs in this
    /// process, configured by the trust and registry flags below (those of `serve`).
    #[arg(long, requires = "provider_ca", conflicts_with_all = IN_PROCESS_FLAGS)]
    provider: Option<String>,
    /// The CA certificate (PEM) that signed the remote provider's serving certificate (its
    /// caBundle).
    #[arg(long, requires = "provider")]
    provider_ca: Option<PathBuf>,
    /// Timeout of the remote provider call, in seconds (Gatekeeper's default is 3).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 3.0,
        requires = "provider"
    )]
    provider_timeout: f64,
    #[command(flatten)]
    in_process: ProviderArgs,
}

/// The ids of [`ProviderArgs`]' flags: they configure the in-process provider and are refused
/// beside `--provider`, where they would silently do nothing.
const IN_PROCESS_FLAGS: [&str; 12] = [
    "trust_policy",
    "trust_store",
    "namespace_policies",
    "bundle",
    "engine",
    "docker_config",
    "plain_http",
    "cache_ttl",
    "cache_size",
    "timeout",
    "registry_timeout",
    "concurrency",
];

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

fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
}

fn admit(args: AdmitArgs) -> anyhow::Result<ExitCode> {
    let parameters = match &args.parameters {
        None => serde_json::json!({}),
        Some(p) => {
            let docs = admission::documents(&read_text(p)?)?;
            match docs.as_slice() {
                [one] => admission::parameters_of(one),
                _ => anyhow::bail!(
                    "{}: expected one document, found {}",
                    p.display(),
                    docs.len()
                ),
            }
        }
    };
    let provider: Arc<dyn ExternalData> = match (&args.provider, &args.provider_ca) {
        (Some(url), Some(ca_path)) => {
            let ca = std::fs::read(ca_path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", ca_path.display()))?;
            let timeout = std::time::Duration::try_from_secs_f64(args.provider_timeout)?;
            Arc::new(HttpsProvider::new(url, &ca, timeout)?)
        }
        // clap requires both or neither.
        _ => Arc::new(InProcessProvider::new(args.in_process.options()?)?),
    };
    let admission = Admission::new(provider)?;
    // Every document is read before any is judged: a typo in the last file is an error (2),
    // not a partial answer.
    let mut documents = Vec::new();
    for file in &args.files {
        let docs = admission::documents(&read_text(file)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        documents.extend(docs);
    }
    let mut denied = false;
    for document in &documents {
        let decision = admission.review(document, &parameters)?;
        if decision.allowed() {
            println!("{}: allowed", decision.object);
        } else {
            denied = true;
            println!("{}: denied", decision.object);
            for v in &decision.violations {
                println!("  {v}");
            }
        }
    }
    Ok(if denied {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve_cli::serve(*args),
        Command::Certs(args) => serve_cli::certs(args),
        Command::Admit(args) => admit(args),
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
