//! `nv2 verify REF`: the artifact's signatures from its registry, verified with the trust
//! policy and stores of the configuration (or `--trust-policy FILE`, `--trust-store DIR`).
//! Text output as `notation verify` (`Successfully verified signature for …`), plus who signed,
//! under which policy and level, and what was only logged.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde_json::json;
use verifier_core::Timestamp;

use super::remote::{parse_reference, runtime};
use super::verify::{OutputFormat, VerifyArgs};
use super::EXIT_NOT_VERIFIED;
use crate::signature::{self, Verification};
use crate::trust::{load_policy, ConfigDir, TrustStoreDir};

pub fn run(target: &str, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let reference = parse_reference(target)?;
    let config = ConfigDir::from_env();
    let policy_path = match &args.trust_policy {
        Some(p) => p.clone(),
        None => config
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .trust_policy(),
    };
    let policy = load_policy(&policy_path)?;
    let stores = match args.trust_store.as_slice() {
        [] => config
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .trust_store(),
        [dir] => TrustStoreDir::new(dir),
        _ => bail!("with REF, --trust-store names one truststore folder"),
    };
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    let stores = stores.load_for(&policy, &repository)?;
    let time = match &args.time {
        Some(t) => {
            let at = Timestamp::parse_rfc3339(t)
                .with_context(|| format!("--time {t:?} is not an RFC 3339 date-time"))?;
            let secs = u64::try_from(at.unix_seconds()).context("--time before 1970")?;
            UNIX_EPOCH + Duration::from_secs(secs)
        }
        None => SystemTime::now(),
    };
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    let verification =
        runtime()?.block_on(signature::verify(&repo, &reference, &policy, &stores, time))?;
    if reference.digest().is_none() {
        eprintln!(
            "Warning: Always verify the artifact using digest(@sha256:...) rather than a tag(:{}) because resolved digest may not point to the same signed artifact, as tags are mutable.",
            reference.manifest_ref()
        );
    }
    for s in &verification.skipped {
        eprintln!(
            "Warning: skipped signature manifest {}: {}",
            s.manifest, s.reason
        );
    }
    match args.output {
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&to_json(&verification))?)
        }
        OutputFormat::Text => print_text(&verification),
    }
    if verification.report.verified {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("nv2: not verified: {}", reason(&verification));
        Ok(ExitCode::from(EXIT_NOT_VERIFIED))
    }
}

/// The report, with the reference verified and each signature's manifest beside its entry.
fn to_json(v: &Verification) -> serde_json::Value {
    let mut out = serde_json::to_value(&v.report).unwrap_or_else(|_| json!({"verified": false}));
    out["reference"] = json!(v.reference);
    out["skipped"] = json!(v
        .skipped
        .iter()
        .map(|s| json!({"manifest": s.manifest, "reason": s.reason}))
        .collect::<Vec<_>>());
    if let Some(entries) = out["signatures"].as_array_mut() {
        for (entry, found) in entries.iter_mut().zip(&v.signatures) {
            entry["manifest"] = json!(found.manifest.digest);
        }
    }
    out
}

/// A signature's enforced failure (the core's text starts with the stage: `integrity: …`).
fn failure(r: &verifier_core::SignatureReport) -> Option<String> {
    r.error.clone()
}

/// Why nothing verified, in one line.
fn reason(v: &Verification) -> String {
    let per_signature: Vec<String> = v
        .signatures
        .iter()
        .zip(&v.report.signatures)
        .filter_map(|(f, r)| failure(r).map(|e| format!("{}: {e}", f.manifest.digest)))
        .collect();
    let skipped = v
        .skipped
        .iter()
        .map(|s| format!("{} skipped: {}", s.manifest, s.reason));
    let all: Vec<String> = per_signature.into_iter().chain(skipped).collect();
    if !all.is_empty() {
        return all.join("; ");
    }
    v.report
        .errors
        .first()
        .cloned()
        .unwrap_or_else(|| "no signature passed the trust policy".into())
}

fn print_text(v: &Verification) {
    let report = &v.report;
    let policy = report.policy.as_deref().unwrap_or("?");
    let level = report.level.as_deref().unwrap_or("?");
    if let Some((found, r)) = v.verified_by() {
        println!("Successfully verified signature for {}", v.reference);
        println!("  signature:    {}", found.manifest.digest);
        println!("  signed by:    {}", r.signer.as_deref().unwrap_or("?"));
        if let Some(t) = &r.signing_time {
            println!("  signed at:    {t}");
        }
        println!("  trust policy: {policy} (level {level})");
        // The report repeats each signature's logged failures as `<digest>: …`: once is enough.
        let own = |w: &String| r.warnings.iter().any(|x| w.ends_with(x.as_str()));
        let others = report.warnings.iter().filter(|w| !own(w));
        for w in r.warnings.iter().chain(others) {
            println!("Warning: {w}");
        }
        return;
    }
    if report.verified {
        // A skip-level policy: verified without looking at signatures.
        println!(
            "Trust policy {policy} skips signature verification for {}",
            v.reference
        );
        for w in &report.warnings {
            println!("Warning: {w}");
        }
        return;
    }
    println!("Signature verification failed for {}", v.reference);
    if report.policy.is_some() {
        println!("  trust policy: {policy} (level {level})");
    }
    for s in &v.skipped {
        println!("  signature {} skipped: {}", s.manifest, s.reason);
    }
    if v.signatures.is_empty() && v.skipped.is_empty() {
        println!(
            "  no signature is associated with {}; make sure the artifact was signed successfully",
            v.reference
        );
    }
    for (found, r) in v.signatures.iter().zip(&report.signatures) {
        println!(
            "  signature {}: {}",
            found.manifest.digest,
            failure(r).unwrap_or_else(|| "not verified".into())
        );
    }
    for e in &report.errors {
        println!("  error: {e}");
    }
}
