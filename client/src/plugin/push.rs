//! `docker generate manifest` and `docker generate push`: the push flow, in the order that keeps
//! a tag from ever pointing at an unsigned image:
//!
//! ```text
//! 1 blobs      exactly the blobs the image reader hashed (existing ones skipped by HEAD)
//! 2 manifest   by digest (no tag yet)
//! 3 signature  signature::sign(manifest), as `nv2 sign` (its --key/--cert flags, the default key)
//! 4 SBoM       `nv2 attach`'s push (subject = the image), then signature::sign(SBoM)
//! 5 tag        only now; on any earlier failure it is not moved, and what was left is printed
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{bail, Context};
use clap::Args;
use futures_util::StreamExt;
use oci_model::Descriptor;

use super::DockerFlags;
use crate::cli::push::{prepare_layers, push_artifact, ArtifactFlags};
use crate::cli::remote::{parse_reference, RemoteFlags};
use crate::cli::sign::{explain, SigningFlags};
use crate::image::{self, Engine, Image, Source};
use crate::remote::Repository;
use crate::signature::{self, SignatureOptions};
use verifier_core::sign::SigningKey;

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The image: a `docker save` tar, an OCI archive, an OCI layout (oci:DIR[:TAG] or a folder
    /// holding oci-layout), or a local image name (needs a Docker engine).
    #[arg(value_name = "SRC")]
    pub source: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image (as for `manifest`).
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Where to push: REGISTRY/REPO[:TAG] (default tag: latest).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// How the image and its SBoM are signed, as by `nv2 sign`.
    #[command(flatten)]
    pub signing: SigningFlags,
    /// An SBoM file to attach to the image (and sign).
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// The SBoM's media type, also its artifact type.
    #[arg(
        long,
        value_name = "TYPE",
        default_value = "application/spdx+json",
        requires = "sbom"
    )]
    pub sbom_type: String,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// Reads the source as the flags say where the engine is.
fn read_image(docker: &DockerFlags, source: &str) -> anyhow::Result<Image> {
    let source = Source::parse(source)?;
    let engine = Engine::locate(docker.host.last().map(String::as_str));
    Ok(image::read(&source, &engine)?)
}

pub fn run_manifest(docker: &DockerFlags, args: ManifestArgs) -> anyhow::Result<ExitCode> {
    let image = read_image(docker, &args.source)?;
    println!("{}", String::from_utf8_lossy(&image.manifest));
    println!("MediaType: {}", image.descriptor.media_type);
    println!("Digest: {}", image.descriptor.digest);
    Ok(ExitCode::SUCCESS)
}

/// What the flow has put into the registry so far, for the failure report.
#[derive(Default)]
struct Left {
    blobs: usize,
    manifest: Option<String>,
    signatures: Vec<String>,
    sbom: Option<String>,
}

impl Left {
    fn describe(&self, repository: &str) -> String {
        let mut parts = Vec::new();
        if self.blobs > 0 {
            parts.push(format!("{} blob(s)", self.blobs));
        }
        if let Some(m) = &self.manifest {
            parts.push(format!("the manifest {repository}@{m} (untagged)"));
        }
        for s in &self.signatures {
            parts.push(format!("the signature {repository}@{s}"));
        }
        if let Some(s) = &self.sbom {
            parts.push(format!("the SBoM {repository}@{s}"));
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

pub fn run_push(docker: &DockerFlags, mut args: PushArgs) -> anyhow::Result<ExitCode> {
    let reference = parse_reference(&args.reference)?;
    if reference.digest().is_some() {
        bail!("push to REGISTRY/REPO[:TAG], not to a digest: the digest is the pushed manifest's");
    }
    let tag = reference.tag().unwrap_or("latest").to_string();
    let (key, chain) = args.signing.key()?;
    let signer = Signing {
        key,
        chain,
        options: args.signing.options()?,
    };
    let image = read_image(docker, &args.source)?;
    if args.remote.registry_config.is_none() {
        // docker's --config DIR holds the logins docker itself uses.
        if let Some(dir) = &docker.config {
            args.remote.registry_config = Some(dir.join("config.json"));
        }
    }
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    let repository = format!("{}/{}", repo.registry(), repo.name());
    let mut left = Left::default();
    let outcome = super::super::cli::remote::runtime()?
        .block_on(push_flow(&image, &repo, &tag, &signer, &args, &mut left));
    match outcome {
        Ok(()) => {
            println!("Digest: {}", image.descriptor.digest);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.context(format!(
            "the tag {repository}:{tag} was not moved; left in the registry: {}",
            left.describe(&repository)
        ))),
    }
}

/// Steps 3 and 4: [`signature::sign`] with one key, each signature claiming its own signing
/// time.
struct Signing {
    key: SigningKey,
    chain: Vec<Vec<u8>>,
    options: SignatureOptions,
}

impl Signing {
    async fn sign(&self, repo: &Repository, subject: &Descriptor) -> anyhow::Result<Descriptor> {
        let options = SignatureOptions {
            signing_time: SystemTime::now(),
            ..self.options.clone()
        };
        signature::sign(repo, subject, &self.key, &self.chain, &options)
            .await
            .map_err(|e| explain(e, options.manifest))
    }
}

/// The five steps; `left` records what each step put into the registry.
async fn push_flow(
    image: &Image,
    repo: &Repository,
    tag: &str,
    signer: &Signing,
    args: &PushArgs,
    left: &mut Left,
) -> anyhow::Result<()> {
    let repository = format!("{}/{}", repo.registry(), repo.name());
    let say = |line: String| args.remote.say(line);
    say(format!("Source: {}", image.source));

    say(format!(
        "[1/5] Uploading {} blob(s) to {repository}",
        image.blobs.len()
    ));
    let progress = args.remote.progress();
    let progress = progress.as_ref();
    let results = futures_util::stream::iter(image.blobs.iter().map(|b| async move {
        repo.push_blob_file(&b.descriptor, &b.path, &b.name, None, progress)
            .await
    }))
    .buffer_unordered(args.remote.concurrency as usize)
    .collect::<Vec<_>>()
    .await;
    left.blobs = results.iter().filter(|r| r.is_ok()).count();
    results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .context("step 1/5: uploading the blobs")?;
    say(format!("[1/5] Uploaded {} blob(s)", image.blobs.len()));

    let d = &image.descriptor;
    repo.push_manifest(&d.media_type, image.manifest.clone(), &d.digest.to_string())
        .await
        .context("step 2/5: pushing the manifest by digest")?;
    left.manifest = Some(d.digest.to_string());
    say(format!(
        "[2/5] Pushed manifest {repository}@{} ({})",
        d.digest, d.media_type
    ));

    let signature = signer
        .sign(repo, d)
        .await
        .context("step 3/5: signing the image")?;
    left.signatures.push(signature.digest.to_string());
    say(format!(
        "[3/5] Signed {repository}@{}: signature {}",
        d.digest, signature.digest
    ));

    match &args.sbom {
        None => say("[4/5] No SBoM to attach (--sbom FILE)".into()),
        Some(path) => {
            let sbom = attach_sbom(repo, d, path, &args.sbom_type, &args.remote)
                .await
                .context("step 4/5: attaching the SBoM")?;
            left.sbom = Some(sbom.digest.to_string());
            let sbom_signature = signer
                .sign(repo, &sbom)
                .await
                .context("step 4/5: signing the SBoM")?;
            left.signatures.push(sbom_signature.digest.to_string());
            say(format!(
                "[4/5] Attached SBoM {} ({}) and signed it: signature {}",
                sbom.digest, args.sbom_type, sbom_signature.digest
            ));
        }
    }

    // The exact bytes again, under the tag: no re-fetch needed.
    repo.push_manifest(&d.media_type, image.manifest.clone(), tag)
        .await
        .context("step 5/5: moving the tag")?;
    say(format!("[5/5] Tagged {repository}:{tag} -> {}", d.digest));
    Ok(())
}

/// `nv2 attach SUBJECT FILE:TYPE --artifact-type TYPE`, through its own push.
async fn attach_sbom(
    repo: &Repository,
    subject: &Descriptor,
    path: &std::path::Path,
    media: &str,
    remote: &RemoteFlags,
) -> anyhow::Result<Descriptor> {
    let flags = ArtifactFlags {
        artifact_type: Some(media.to_string()),
        annotations: Vec::new(),
        annotation_file: None,
        tar: false,
        artifact_manifest: false,
        image_spec: "v1.1".into(),
        export_manifest: None,
    };
    let file = format!("{}:{media}", path.display());
    let layers = prepare_layers(&[file], &flags, &Default::default())?;
    let subject = Descriptor::new(
        subject.media_type.clone(),
        subject.digest.clone(),
        subject.size,
    );
    let pushed = push_artifact(
        repo,
        &layers,
        &flags,
        media,
        &Default::default(),
        Some(&subject),
        remote,
    )
    .await?;
    Ok(pushed.descriptor)
}
