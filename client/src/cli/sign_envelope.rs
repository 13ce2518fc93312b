//! `nv2 sign-envelope`: sign a subject descriptor with a PKCS#8 key and its certificate chain,
//! writing the JWS envelope (the blob pushed as `application/jose+json`) to stdout or a file.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;
use sha2::{Digest, Sha256};
use verifier_core::sign::{format_rfc3339, sign_envelope, system_time_to_unix, SignOptions};

use crate::duration::parse_duration;
use crate::trust::KeyEntry;

#[derive(Debug, Args)]
pub struct SignEnvelopeArgs {
    /// Private key, PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); its type picks the algorithm
    /// (RSA 2048/3072/4096: PS256/384/512; EC P-256/384/521: ES256/384/512).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Certificate chain, PEM: the signing certificate first, then its issuers (the root may be
    /// left out). Goes into the envelope's x5c header.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The OCI descriptor of the artifact to sign, as JSON: {"mediaType", "digest", "size"}.
    #[arg(long, value_name = "DESCRIPTOR.json")]
    pub subject: PathBuf,
    /// Make the signature expire this long after signing (e.g. 30m, 24h, 7d, 1h30m); the expiry
    /// is signed and marked critical. Default: no expiry.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expiry: Option<Duration>,
    /// Write the envelope to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: SignEnvelopeArgs) -> anyhow::Result<ExitCode> {
    let (key, chain) = KeyEntry::files(&args.key, &args.cert).load()?;
    let subject_bytes = fs::read(&args.subject)
        .with_context(|| format!("reading subject descriptor {}", args.subject.display()))?;
    let subject: serde_json::Value = serde_json::from_slice(&subject_bytes)
        .with_context(|| format!("subject descriptor {} is not JSON", args.subject.display()))?;

    let now = SystemTime::now();
    let mut options = SignOptions::new(now);
    options.expiry = args.expiry;
    let alg = key
        .algorithm()
        .context("choosing the signature algorithm")?;
    let envelope = sign_envelope(&key, &chain, &subject, &options).context("signing")?;

    match &args.out {
        Some(path) => fs::write(path, &envelope)
            .with_context(|| format!("writing envelope {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&envelope)
                .context("writing the envelope to stdout")?;
            stdout.flush().context("writing the envelope to stdout")?;
        }
    }
    // A receipt on stderr, so that stdout stays the envelope alone.
    let expires = match args.expiry {
        Some(d) => format!(
            ", expires {}",
            format_rfc3339(system_time_to_unix(now)? + d.as_secs())?
        ),
        None => String::new(),
    };
    eprintln!(
        "signed {} with {} ({}, {} certificate(s)){expires}; envelope {}",
        subject["digest"].as_str().unwrap_or("?"),
        alg.name(),
        key.kind(),
        chain.len(),
        sha256_digest(&envelope),
    );
    Ok(ExitCode::SUCCESS)
}

/// `sha256:<lowercase hex>` of `bytes`, an OCI digest.
fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_config() {
        // DESIGN.md, media types: the empty config `{}`.
        assert_eq!(
            sha256_digest(b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
