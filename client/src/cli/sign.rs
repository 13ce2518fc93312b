//! `nv2 sign REF`: sign an artifact in a registry as `notation sign` does (the tag resolved
//! once, the digest signed, the signature pushed as an OCI 1.1 image manifest and linked).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Args, ValueEnum};
use verifier_core::sign::SigningKey;

use super::remote::{parse_reference, runtime, RemoteFlags};
use crate::duration::parse_duration;
use crate::signature::{self, ManifestKind, SignatureOptions};
use crate::trust::load_signing_key;

/// Sign an artifact in a registry and push the signature.
///
/// As `notation sign`, but --key also takes a key file (with --cert), and
/// --signature-manifest artifact writes the prototype's OCI artifact manifest.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The artifact: REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST (a tag is resolved once and the
    /// digest is signed).
    pub reference: String,
    #[command(flatten)]
    pub signing: SigningFlags,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// How to sign: the flags `nv2 sign` and `docker generate push` share.
#[derive(Debug, Clone, Args)]
pub struct SigningFlags {
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
}

impl SigningFlags {
    /// The key and its chain the flags name (files, a key name, or the default key of the
    /// trust configuration).
    pub fn key(&self) -> anyhow::Result<(SigningKey, Vec<Vec<u8>>)> {
        Ok(load_signing_key(self.key.as_deref(), self.cert.as_deref())?)
    }

    /// The options, signing now.
    pub fn options(&self) -> anyhow::Result<SignatureOptions> {
        Ok(SignatureOptions {
            signing_time: SystemTime::now(),
            expiry: self.expiry,
            annotations: parse_pairs(&self.annotations)?,
            manifest: self.signature_manifest.into(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestArg {
    Image,
    Artifact,
}

impl From<ManifestArg> for ManifestKind {
    fn from(arg: ManifestArg) -> ManifestKind {
        match arg {
            ManifestArg::Image => ManifestKind::Image,
            ManifestArg::Artifact => ManifestKind::Artifact,
        }
    }
}

/// A signing failure for people: a registry that refuses the OCI artifact manifest is told to
/// sign with an image manifest instead (`nv2 sign` and `docker generate push`).
pub(crate) fn explain(e: signature::Error, kind: ManifestKind) -> anyhow::Error {
    let refused =
        matches!(&e, signature::Error::Remote(r) if matches!(r.status(), Some(400 | 415)));
    let e = anyhow::Error::new(e);
    if kind == ManifestKind::Artifact && refused {
        e.context(
            "the registry refuses the OCI artifact manifest: sign with --signature-manifest image",
        )
    } else {
        e
    }
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
    let (key, chain) = args.signing.key()?;
    let options = args.signing.options()?;
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
            .map_err(|e| explain(e, options.manifest))?;
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
