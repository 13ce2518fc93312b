//! `nv2 push` and `nv2 attach`: files as layers of an OCI 1.1 image manifest (empty config,
//! `artifactType`, `org.opencontainers.image.title` per layer), or of the prototype's OCI
//! artifact manifest (`--artifact-manifest`); pushed by digest first, and only then tagged.
//! `attach` links the artifact to a subject and keeps the referrers tag schema up to date on
//! registries without the referrers API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use futures_util::{StreamExt, TryStreamExt};
use oci_model::{media_type, Descriptor, Digest, Reference};
use serde_json::{json, Value};

use super::remote::{parse_reference, RemoteFlags};
use crate::remote::Repository;

/// The title annotation: the file name a layer is pulled to.
pub const TITLE: &str = "org.opencontainers.image.title";
/// oras's artifact type when none is given.
pub const UNKNOWN_ARTIFACT: &str = "application/vnd.unknown.artifact.v1";
/// A layer's media type when the file argument names none.
pub const DEFAULT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Where to push: REGISTRY/REPO[:TAG[,TAG…]].
    pub reference: String,
    /// FILE[:MEDIATYPE] to push as layers (a folder needs --tar).
    #[arg(value_name = "FILE[:MEDIATYPE]")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub artifact: ArtifactFlags,
    /// The artifact this one refers to (sets `subject`, like `attach`).
    #[arg(long, value_name = "REF")]
    pub subject: Option<String>,
    #[command(flatten)]
    pub output: FormatFlag,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The subject: REGISTRY/REPO:TAG or @DIGEST.
    pub subject: String,
    /// FILE[:MEDIATYPE] to attach as layers.
    #[arg(value_name = "FILE[:MEDIATYPE]")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub artifact: ArtifactFlags,
    #[command(flatten)]
    pub output: FormatFlag,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// How `push`, `attach` and `pull` report their result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Status lines and `Digest: sha256:…`.
    Text,
    /// One JSON object with oras 1.2's fields (`reference`, `mediaType`, `digest`, …); status
    /// lines are left out so that stdout parses.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct FormatFlag {
    /// text, or json: one object with oras's fields (push: reference, mediaType, digest, size,
    /// annotations, artifactType, referenceAsTags; pull: reference, files[].path …).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl FormatFlag {
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

/// A descriptor as oras's formatted output shows it: `reference` (`REGISTRY/REPO@DIGEST`), then
/// the descriptor's own fields.
pub fn descriptor_json(repository: &str, d: &Descriptor) -> Value {
    let mut v = json!({
        "reference": format!("{repository}@{}", d.digest),
        "mediaType": d.media_type,
        "digest": d.digest,
        "size": d.size,
    });
    if let Some(a) = d.annotations.as_ref().filter(|a| !a.is_empty()) {
        v["annotations"] = json!(a);
    }
    if let Some(t) = &d.artifact_type {
        v["artifactType"] = json!(t);
    }
    v
}

#[derive(Debug, Clone, Args)]
pub struct ArtifactFlags {
    /// The artifact type (default for push: application/vnd.unknown.artifact.v1).
    #[arg(long)]
    pub artifact_type: Option<String>,
    /// A manifest annotation KEY=VALUE (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// A JSON file of annotations: {"$manifest": {…}, "FILE": {…}}, as oras reads it.
    #[arg(long, value_name = "FILE")]
    pub annotation_file: Option<PathBuf>,
    /// Pack the file or folder as one tar layer without a title (pull unpacks it).
    #[arg(long)]
    pub tar: bool,
    /// The prototype's OCI artifact manifest (`blobs`) instead of an OCI 1.1 image manifest.
    #[arg(long)]
    pub artifact_manifest: bool,
    /// v1.1 (default: artifactType, empty config) or v1.0 (the artifact type as config media type).
    #[arg(long, default_value = "v1.1", value_parser = ["v1.1", "v1.0"])]
    pub image_spec: String,
    /// Also write the pushed manifest to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_manifest: Option<PathBuf>,
}

/// Annotations by key.
type Annotations = BTreeMap<String, String>;

/// The manifest's annotations (`-a` over the file's `$manifest`) and each file's.
fn parse_annotations(
    flags: &ArtifactFlags,
) -> anyhow::Result<(Annotations, BTreeMap<String, Annotations>)> {
    let mut manifest = BTreeMap::new();
    let mut per_file = BTreeMap::new();
    if let Some(path) = &flags.annotation_file {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let v: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_slice(&text)
            .with_context(|| {
                format!(
                    "{}: expected {{\"$manifest\": {{…}}, \"FILE\": {{…}}}} of strings",
                    path.display()
                )
            })?;
        for (k, map) in v {
            if k == "$manifest" {
                manifest.extend(map);
            } else {
                per_file.insert(k, map);
            }
        }
    }
    for a in &flags.annotations {
        let (k, v) = a
            .split_once('=')
            .with_context(|| format!("annotation {a:?} is not KEY=VALUE"))?;
        if k.is_empty() {
            bail!("annotation {a:?} has an empty key");
        }
        manifest.insert(k.to_string(), v.to_string());
    }
    Ok((manifest, per_file))
}

/// One file to push.
pub(crate) struct Layer {
    path: PathBuf,
    name: String,
    media_type: String,
    annotations: Option<BTreeMap<String, String>>,
    /// A temporary tar that goes away after the push.
    _packed: Option<tempfile::TempPath>,
}

/// `FILE[:MEDIATYPE]` (a colon followed by a `/`-less remainder stays part of the path).
fn split_file_arg(arg: &str) -> (&str, Option<&str>) {
    match arg.rsplit_once(':') {
        Some((path, media)) if media.contains('/') && !path.is_empty() => (path, Some(media)),
        _ => (arg, None),
    }
}

pub(crate) fn prepare_layers(
    files: &[String],
    flags: &ArtifactFlags,
    per_file: &BTreeMap<String, BTreeMap<String, String>>,
) -> anyhow::Result<Vec<Layer>> {
    let mut layers = Vec::new();
    if flags.tar && files.len() != 1 {
        bail!("--tar packs exactly one file or folder");
    }
    for arg in files {
        let (path, media) = split_file_arg(arg);
        let path = Path::new(path);
        let meta = std::fs::metadata(path)
            .with_context(|| format!("{}: cannot read it", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let (file, packed) = if flags.tar {
            let packed = pack_tar(path)?;
            (packed.to_path_buf(), Some(packed))
        } else if meta.is_dir() {
            bail!(
                "{} is a folder: pass --tar to push it as one tar layer",
                path.display()
            );
        } else {
            (path.to_path_buf(), None)
        };
        let mut annotations = per_file.get(&name).cloned().unwrap_or_default();
        if !flags.tar {
            annotations.insert(TITLE.into(), name.clone());
        }
        layers.push(Layer {
            path: file,
            name,
            media_type: media.unwrap_or(DEFAULT_LAYER).to_string(),
            annotations: (!annotations.is_empty()).then_some(annotations),
            _packed: packed,
        });
    }
    Ok(layers)
}

/// A file or folder as a tar archive in a temporary file (entries relative to the folder).
fn pack_tar(path: &Path) -> anyhow::Result<tempfile::TempPath> {
    let tmp = tempfile::NamedTempFile::new().context("creating a temporary tar")?;
    let mut builder = tar::Builder::new(tmp.reopen()?);
    builder.follow_symlinks(false);
    if path.is_dir() {
        builder
            .append_dir_all(".", path)
            .with_context(|| format!("packing {}", path.display()))?;
    } else {
        let name = path.file_name().context("a file name")?;
        builder
            .append_path_with_name(path, name)
            .with_context(|| format!("packing {}", path.display()))?;
    }
    builder.into_inner()?.sync_all()?;
    Ok(tmp.into_temp_path())
}

/// What a push made.
pub struct Pushed {
    pub descriptor: Descriptor,
    pub manifest: Bytes,
}

/// Uploads the layers (bounded parallelism), the config, and the manifest by digest.
pub(crate) async fn push_artifact(
    repo: &Repository,
    layers: &[Layer],
    flags: &ArtifactFlags,
    artifact_type: &str,
    annotations: &BTreeMap<String, String>,
    subject: Option<&Descriptor>,
    remote: &RemoteFlags,
) -> anyhow::Result<Pushed> {
    let progress = remote.progress();
    let progress = progress.as_ref();
    // Each file is hashed in its own task, beside the other transfers (and, for a large one,
    // beside its own upload): `buffered` keeps the layers in their order.
    let layer_descriptors: Vec<Descriptor> =
        futures_util::stream::iter(layers.iter().map(|l| async move {
            let (mut descriptor, _) = repo
                .push_file(&l.path, &l.media_type, &l.name, progress)
                .await?;
            descriptor.annotations = l.annotations.clone();
            Ok::<_, crate::remote::Error>(descriptor)
        }))
        .buffered(remote.concurrency as usize)
        .try_collect()
        .await?;
    let mut manifest = if flags.artifact_manifest {
        json!({
            "mediaType": media_type::OCI_ARTIFACT_MANIFEST,
            "artifactType": artifact_type,
            "blobs": layer_descriptors,
        })
    } else {
        let config = if flags.image_spec == "v1.0" {
            // image-spec 1.0 has no artifactType: the type rides as the config's media type.
            Descriptor::new(artifact_type, Digest::sha256_of(b"{}"), 2)
        } else {
            Descriptor::new(media_type::OCI_EMPTY, Digest::sha256_of(b"{}"), 2)
        };
        repo.push_blob_bytes(&config, Bytes::from_static(b"{}"))
            .await?;
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": config,
            "layers": layer_descriptors,
        });
        if flags.image_spec == "v1.1" {
            m["artifactType"] = json!(artifact_type);
        }
        if layer_descriptors.is_empty() && flags.image_spec == "v1.1" {
            // image-spec 1.1: a manifest with no layers carries the empty descriptor as one.
            m["layers"] = json!([Descriptor::new(
                media_type::OCI_EMPTY,
                Digest::sha256_of(b"{}"),
                2
            )]);
        }
        m
    };
    if let Some(subject) = subject {
        manifest["subject"] = json!(subject);
    }
    if !annotations.is_empty() {
        manifest["annotations"] = json!(annotations);
    }
    let media = manifest["mediaType"]
        .as_str()
        .expect("set above")
        .to_string();
    let bytes = Bytes::from(serde_json::to_vec_pretty(&manifest)?);
    let digest = Digest::sha256_of(&bytes);
    let pushed = repo
        .push_manifest(&media, bytes.clone(), &digest.to_string())
        .await
        .map_err(|e| {
            let refused = matches!(e.status(), Some(400 | 415));
            let e = anyhow::Error::new(e);
            if flags.artifact_manifest && refused {
                // CNCF distribution 2.8 answers 400 MANIFEST_INVALID to a type it does not know.
                e.context(format!(
                    "the registry refuses the prototype's artifact manifest ({media}): \
                     push without --artifact-manifest for an OCI 1.1 image manifest"
                ))
            } else {
                e
            }
        })?;
    if let Some(subject) = subject {
        repo.index_referrer(
            &subject.digest,
            &pushed,
            Some(artifact_type),
            Some(annotations),
        )
        .await?;
    }
    if let Some(path) = &flags.export_manifest {
        std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    // The manifest's descriptor as a referrers listing would show it (oras reports the same).
    let mut descriptor = pushed.descriptor;
    descriptor.artifact_type = Some(artifact_type.to_string());
    descriptor.annotations = (!annotations.is_empty()).then(|| annotations.clone());
    Ok(Pushed {
        descriptor,
        manifest: bytes,
    })
}

/// `REGISTRY/REPO:t1,t2` → the reference without tags, and the tags.
pub(crate) fn split_tags(arg: &str) -> anyhow::Result<(Reference, Vec<String>)> {
    let (base, tags) = match arg.rfind(':') {
        Some(i) if !arg[i..].contains('/') && arg[i + 1..].contains(',') => (
            &arg[..i],
            arg[i + 1..].split(',').map(str::to_string).collect(),
        ),
        _ => (arg, Vec::new()),
    };
    let reference = parse_reference(base)?;
    if !tags.is_empty() {
        for t in &tags {
            reference
                .with_tag(t)
                .map_err(|e| anyhow::anyhow!("tag {t:?}: {e}"))?;
        }
        return Ok((reference, tags));
    }
    let tags = reference
        .tag()
        .map(|t| vec![t.to_string()])
        .unwrap_or_default();
    Ok((reference, tags))
}

pub fn run_push(args: PushArgs) -> anyhow::Result<std::process::ExitCode> {
    let (reference, tags) = split_tags(&args.reference)?;
    if reference.digest().is_some() {
        bail!("push to a tag (or no tag), not to a digest: the digest is the pushed manifest's");
    }
    let (annotations, per_file) = parse_annotations(&args.artifact)?;
    let layers = prepare_layers(&args.files, &args.artifact, &per_file)?;
    let artifact_type = args
        .artifact
        .artifact_type
        .clone()
        .unwrap_or_else(|| UNKNOWN_ARTIFACT.into());
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    super::remote::runtime()?.block_on(async {
        let subject = match &args.subject {
            Some(s) => Some(resolve_subject(&client, s).await?.1),
            None => None,
        };
        let pushed = push_artifact(
            &repo,
            &layers,
            &args.artifact,
            &artifact_type,
            &annotations,
            subject.as_ref(),
            &args.remote,
        )
        .await?;
        for tag in &tags {
            repo.tag(&pushed.descriptor.digest, tag).await?;
        }
        let repository = format!("{}/{}", reference.registry(), reference.repository());
        if args.output.json() {
            let mut out = descriptor_json(&repository, &pushed.descriptor);
            out["referenceAsTags"] = json!(tags
                .iter()
                .map(|t| format!("{repository}:{t}"))
                .collect::<Vec<_>>());
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(std::process::ExitCode::SUCCESS);
        }
        let shown = if tags.is_empty() {
            format!(
                "{}/{}@{}",
                reference.registry(),
                reference.repository(),
                pushed.descriptor.digest
            )
        } else {
            format!(
                "{}/{}:{}",
                reference.registry(),
                reference.repository(),
                tags.join(",")
            )
        };
        args.remote.say(format!("Pushed [registry] {shown}"));
        args.remote.say(format!("ArtifactType: {artifact_type}"));
        println!("Digest: {}", pushed.descriptor.digest);
        Ok(std::process::ExitCode::SUCCESS)
    })
}

/// The subject reference's repository and its descriptor.
pub async fn resolve_subject(
    client: &crate::remote::Client,
    s: &str,
) -> anyhow::Result<(Repository, Descriptor)> {
    let reference = parse_reference(s)?;
    let repo = client.repository(&reference);
    let descriptor = repo.resolve(&reference.manifest_ref()).await?;
    Ok((repo, descriptor))
}

pub fn run_attach(args: AttachArgs) -> anyhow::Result<std::process::ExitCode> {
    let Some(artifact_type) = args.artifact.artifact_type.clone() else {
        bail!("attach needs --artifact-type (e.g. application/vnd.cncf.notary.signature)");
    };
    let (annotations, per_file) = parse_annotations(&args.artifact)?;
    if args.files.is_empty() && annotations.is_empty() {
        bail!("attach needs a file or an --annotation");
    }
    let layers = prepare_layers(&args.files, &args.artifact, &per_file)?;
    let client = args.remote.client()?;
    super::remote::runtime()?.block_on(async {
        let (repo, subject) = resolve_subject(&client, &args.subject).await?;
        let pushed = push_artifact(
            &repo,
            &layers,
            &args.artifact,
            &artifact_type,
            &annotations,
            Some(&subject),
            &args.remote,
        )
        .await?;
        if args.output.json() {
            let repository = format!("{}/{}", repo.registry(), repo.name());
            let out = descriptor_json(&repository, &pushed.descriptor);
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(std::process::ExitCode::SUCCESS);
        }
        args.remote.say(format!(
            "Attached to [registry] {}/{}@{}",
            repo.registry(),
            repo.name(),
            subject.digest
        ));
        println!("Digest: {}", pushed.descriptor.digest);
        Ok(std::process::ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_arguments_and_tag_lists_split_as_oras_does() {
        assert_eq!(
            split_file_arg("sbom.json:application/spdx+json"),
            ("sbom.json", Some("application/spdx+json"))
        );
        assert_eq!(split_file_arg("a:b"), ("a:b", None));
        assert_eq!(split_file_arg("plain.txt"), ("plain.txt", None));
        let (r, tags) = split_tags("localhost:5000/app:v1,latest").unwrap();
        assert_eq!((r.registry(), r.repository()), ("localhost:5000", "app"));
        assert_eq!(tags, ["v1", "latest"]);
        let (_, tags) = split_tags("localhost:5000/app:v1").unwrap();
        assert_eq!(tags, ["v1"]);
        let (_, tags) = split_tags("localhost:5000/app").unwrap();
        assert!(tags.is_empty());
        assert!(split_tags("localhost:5000/app:v1,-bad").is_err());
    }

    #[test]
    fn annotations_need_a_key() {
        let mut flags = ArtifactFlags {
            artifact_type: None,
            annotations: vec!["a=1".into(), "b=x=y".into()],
            annotation_file: None,
            tar: false,
            artifact_manifest: false,
            image_spec: "v1.1".into(),
            export_manifest: None,
        };
        let (m, _) = parse_annotations(&flags).unwrap();
        assert_eq!(m["b"], "x=y");
        flags.annotations = vec!["=1".into()];
        assert!(parse_annotations(&flags).is_err());
        flags.annotations = vec!["nokey".into()];
        assert!(parse_annotations(&flags).is_err());
    }
}
