//! `nv2 sign REF`: sign an artifact in a registry as `notation sign` does (the tag resolved
//! once, the digest signed, the signature pushed as an OCI 1.1 image manifest and linked).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use verifier_core::sign::SigningKey;

use super::remote::{parse_reference, runtime, RemoteFlags};
use crate::duration::parse_duration;
use crate::signature::{self, ManifestKind, SignatureOptions};
use crate::trust::{ConfigDir, KeyEntry, SigningKeys};

/// Sign an artifact in a registry and push the signature.
///
/// As `notation sign`, but --key also takes a key file (with --cert), and
/// --signature-manifest artifact writes the prototype's OCI artifact manifest.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The artifact: REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST (a tag is resolved once and the
    /// digest is signed).
    pub reference: String,
    /// The signing key: a PKCS#8 PEM file (with --cert), or the name of a key in
    /// signingkeys.json. Default: signingkeys.json's default key.
    #[arg(short = 'k', long, value_name = "FILE|NAME")]
    pub key: Option<String>,
    /// The certificate chain (PEM, signing certificate first) of a --key file.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The signature expires this long after signing (e.g. 30m, 24h, 7d; signed, critical).
    #[arg(short = 'e', long, value_name = "DURATION", value_parser = parse_duration)]
    pub expiry: Option<Duration>,
    /// Signed user metadata KEY=VALUE, in the payload's targetArtifact annotations
    /// (notation's --user-metadata; repeatable).
    #[arg(
        short = 'm',
        long = "annotation",
        visible_alias = "user-metadata",
        value_name = "KEY=VALUE"
    )]
    pub annotations: Vec<String>,
    /// image (an OCI 1.1 image manifest, as notation writes) or artifact (the prototype's OCI
    /// artifact manifest; registries without it refuse it).
    #[arg(long, value_enum, default_value_t = ManifestArg::Image)]
    pub signature_manifest: ManifestArg,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestArg {
    Image,
    Artifact,
}

/// The key and the chain: from files, a named entry, or the default entry of signingkeys.json.
fn signing_key(args: &SignArgs) -> anyhow::Result<(SigningKey, Vec<Vec<u8>>)> {
    let entry = match (&args.key, &args.cert) {
        (Some(k), Some(c)) => KeyEntry {
            name: String::new(),
            key_path: PathBuf::from(k),
            cert_path: c.clone(),
        },
        (None, Some(_)) => bail!("--cert needs --key (the key file it certifies)"),
        (key, None) => {
            let path = ConfigDir::from_env()?.signing_keys();
            let keys = SigningKeys::load(&path)?;
            match key {
                None => keys.default_key(&path)?.clone(),
                Some(name) => keys.get(name, &path).cloned().with_context(|| {
                    format!("to sign with a key file, pass --key {name} --cert FILE")
                })?,
            }
        }
    };
    Ok(entry.load()?)
}

/// `KEY=VALUE` arguments.
pub(crate) fn parse_pairs(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in pairs {
        let (k, v) = a
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .with_context(|| format!("{a:?} is not KEY=VALUE"))?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    let reference = parse_reference(&args.reference)?;
    let (key, chain) = signing_key(&args)?;
    let options = SignatureOptions {
        signing_time: SystemTime::now(),
        expiry: args.expiry,
        annotations: parse_pairs(&args.annotations)?,
        manifest: match args.signature_manifest {
            ManifestArg::Image => ManifestKind::Image,
            ManifestArg::Artifact => ManifestKind::Artifact,
        },
    };
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    runtime()?.block_on(async {
        let subject = repo.resolve(&reference.manifest_ref()).await?;
        if reference.digest().is_none() {
            // notation's warning, word for word.
            eprintln!(
                "Warning: Always sign the artifact using digest(@sha256:...) rather than a tag(:{}) because tags are mutable and a tag reference can point to a different artifact than the one signed.",
                reference.manifest_ref()
            );
        }
        let pushed = signature::sign(&repo, &subject, &key, &chain, &options)
            .await
            .map_err(|e| {
                let refused = matches!(&e, signature::Error::Remote(r) if matches!(r.status(), Some(400 | 415)));
                let e = anyhow::Error::new(e);
                if options.manifest == ManifestKind::Artifact && refused {
                    e.context("the registry refuses the OCI artifact manifest: sign with --signature-manifest image")
                } else {
                    e
                }
            })?;
        println!(
            "Successfully signed {}/{}@{}",
            repo.registry(),
            repo.name(),
            subject.digest
        );
        args.remote
            .say(format!("Signature manifest: {}", pushed.digest));
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_need_a_key() {
        let m = parse_pairs(&["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(m["b"], "x=y");
        assert!(parse_pairs(&["=1".into()]).is_err());
        assert!(parse_pairs(&["nokey".into()]).is_err());
    }
}
