//! `nv2 verify`: evaluate a Contract 1 verification request (DESIGN.md) with the verifier core
//! and print the report. Three forms: `nv2 verify REF` finds the artifact's signatures in its
//! registry and verifies them with the trust policy and stores of the configuration (as
//! `notation verify`, see [`super::verify_ref`]); `--request` reads a complete request from a
//! file or stdin; `--envelope` builds one from local files (envelopes, subject descriptor, trust
//! policy, trust stores).

use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{bail, Context};
use clap::Args;
use verifier_core::sign::{format_rfc3339, system_time_to_unix};
use verifier_core::{Descriptor, Request, TrustPolicyDocument, TrustStores};

use super::remote::RemoteFlags;
use super::EXIT_NOT_VERIFIED;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The artifact in its registry: REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST. Its signatures
    /// are found through the referrers API (or the tag schema) and verified with the trust
    /// policy and stores of $NV2_CONFIG_DIR (default $XDG_CONFIG_HOME/nv2), as `notation verify`
    /// does. Exit 0 verified, 1 not verified, 2 error.
    #[arg(value_name = "REF", conflicts_with_all = ["request", "envelope", "subject", "reference", "save_request"])]
    pub target: Option<String>,
    /// With REF: text (which signature verified, by whom, under which policy) or json (the
    /// report, with the reference and each signature's manifest).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// A complete verification request (JSON: reference, subject, signatures, trustPolicy,
    /// trustStores, time); '-' reads it from stdin.
    #[arg(
        long,
        value_name = "FILE|-",
        required_unless_present_any = ["envelope", "target"],
        conflicts_with_all = ["envelope", "subject", "trust_policy", "trust_store", "reference", "time", "save_request"]
    )]
    pub request: Option<String>,
    /// Instead of --request: a signature envelope file (repeat for several signatures).
    #[arg(long, value_name = "FILE", requires_all = ["subject", "trust_policy", "reference"])]
    pub envelope: Vec<PathBuf>,
    /// With --envelope: the OCI descriptor (JSON) of the artifact the signatures must be for.
    #[arg(long, value_name = "DESCRIPTOR.json")]
    pub subject: Option<PathBuf>,
    /// The trust policy document (JSON, version 1.0). With REF, default: the configuration's
    /// trustpolicy.json.
    #[arg(long, value_name = "FILE")]
    pub trust_policy: Option<PathBuf>,
    /// With REF: a truststore folder (holding x509/ca/<name>/…), instead of the configuration's.
    /// With --envelope: a trust store entry NAME=PEMFILE, e.g. ca:demo=demo.crt (repeatable;
    /// entries with the same NAME are merged).
    #[arg(long, value_name = "DIR|NAME=PEMFILE")]
    pub trust_store: Vec<String>,
    /// With --envelope: the artifact reference that selects the trust policy by registryScopes,
    /// e.g. registry.example/app@sha256:....
    #[arg(long, value_name = "REFERENCE")]
    pub reference: Option<String>,
    /// The verification time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub time: Option<String>,
    /// With --envelope: also write the request that was built to FILE.
    #[arg(long, value_name = "FILE")]
    pub save_request: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// How `nv2 verify REF` prints its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(target) = &args.target {
        return super::verify_ref::run(target, &args);
    }
    let request = match &args.request {
        Some(source) => read_request(source)?,
        None => {
            let request = request_from_parts(&args)?;
            if let Some(path) = &args.save_request {
                fs::write(path, &request)
                    .with_context(|| format!("writing request {}", path.display()))?;
            }
            request
        }
    };

    let report = verifier_core::verify_json(&request);
    let json = serde_json::to_string_pretty(&report).context("serialising the report")?;
    println!("{json}");
    if report.verified {
        Ok(ExitCode::SUCCESS)
    } else {
        // A one-line reason on stderr; the full story is in the report on stdout.
        let reason = report
            .errors
            .first()
            .cloned()
            .unwrap_or_else(|| "no signature passed the policy".into());
        eprintln!("nv2: not verified: {reason}");
        Ok(ExitCode::from(EXIT_NOT_VERIFIED))
    }
}

fn read_request(source: &str) -> anyhow::Result<Vec<u8>> {
    if source == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the request from stdin")?;
        Ok(buf)
    } else {
        fs::read(source).with_context(|| format!("reading request {source}"))
    }
}

/// The request from --envelope, --subject, --trust-policy, --trust-store, --reference, --time.
/// The subject and the trust policy must have their contract's shape (a file that does not is an
/// error here, naming the file); what they say is for the verifier to judge.
fn request_from_parts(args: &VerifyArgs) -> anyhow::Result<Vec<u8>> {
    let read_json = |path: &PathBuf, what: &str| -> anyhow::Result<serde_json::Value> {
        let bytes = fs::read(path).with_context(|| format!("reading {what} {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{what} {} is not JSON", path.display()))
    };
    // clap's `requires_all` guarantees these with --envelope.
    let (Some(subject_path), Some(policy_path), Some(reference)) =
        (&args.subject, &args.trust_policy, &args.reference)
    else {
        bail!("--envelope needs --subject, --trust-policy and --reference");
    };
    let subject: Descriptor =
        serde_json::from_value(read_json(subject_path, "subject descriptor")?).with_context(
            || {
                format!(
                    "subject descriptor {} is not an OCI descriptor (mediaType, digest, size)",
                    subject_path.display()
                )
            },
        )?;
    let policy: TrustPolicyDocument =
        serde_json::from_value(read_json(policy_path, "trust policy")?).with_context(|| {
            format!(
                "trust policy {} is not a trust policy document",
                policy_path.display()
            )
        })?;
    let time = match &args.time {
        Some(t) => t.clone(),
        None => format_rfc3339(system_time_to_unix(SystemTime::now())?)?,
    };
    let mut request = Request::new(
        reference.as_str(),
        subject,
        policy,
        TrustStores::new(),
        time,
    );
    for path in &args.envelope {
        let envelope =
            fs::read(path).with_context(|| format!("reading envelope {}", path.display()))?;
        request = request.signature_envelope(&envelope);
    }
    for entry in &args.trust_store {
        let Some((name, file)) = entry.split_once('=') else {
            bail!("--trust-store {entry:?}: expected NAME=PEMFILE, e.g. ca:demo=demo.crt");
        };
        let pem = fs::read_to_string(file)
            .with_context(|| format!("reading trust store {name} from {file}"))?;
        // Entries with the same name are merged, in order.
        request = request.trust_store_pem(name, pem);
    }
    Ok(serde_json::to_vec_pretty(&request)?)
}
