//! `nv2 copy` (alias `cp`), oras's `cp`: an artifact from one registry, repository or OCI image
//! layout to another, with `-r` its referrers too. The work is [`crate::copy`]'s; this module
//! reads the arguments, picks the destination tags and prints oras's lines.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use oci_model::{validate_tag, Digest};

use super::push::split_tags;
use super::remote::RemoteFlags;
use crate::copy::{self, CopyOptions, Target};
use crate::layout::Layout;

const DIFFERENCES: &str = "\
Differences from `oras cp`: one set of connection flags and credentials serves both sides (no \
--from-*/--to-* variants, no --platform); with -r the referrers of every copied manifest are \
copied, children of an index included; a destination without the referrers API gets the \
referrers tag schema (sha256-<hex> index) kept up to date. An OCI layout destination lists \
copied referrers in index.json without a tag, as oras does, so that `nv2 copy -r \
--from-oci-layout` finds them again.

Examples:
  nv2 copy -r localhost:5000/app:v1 registry.example/app:v1,stable
  nv2 copy -r localhost:5000/app:v1 --to-oci-layout ./app-layout:v1
  nv2 cp --from-oci-layout ./app-layout:v1 localhost:5000/app";

#[derive(Debug, Args)]
#[command(after_help = DIFFERENCES)]
pub struct CopyArgs {
    /// The source: REGISTRY/REPO[:TAG|@DIGEST], or DIR[:TAG|@DIGEST] with --from-oci-layout.
    pub source: String,
    /// The destination: REGISTRY/REPO[:TAG[,TAG…]], or DIR[:TAG[,TAG…]] with --to-oci-layout;
    /// without a tag the source's tag is used.
    pub destination: String,
    /// Also copy the referrers (signatures, SBoMs, …) of every copied manifest, recursively.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// The source is an OCI image layout folder.
    #[arg(long)]
    pub from_oci_layout: bool,
    /// The destination is an OCI image layout folder (created when missing).
    #[arg(long)]
    pub to_oci_layout: bool,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// One side of the copy, parsed (a layout is opened, or created, only by [`Side::open`]).
struct Side {
    place: Place,
    /// Tag or digest in the argument, as the source reads it.
    reference: Option<String>,
    tags: Vec<String>,
    digest: Option<Digest>,
    /// How it is shown: `[registry] host/repo:tag` or `[oci-layout] DIR:tag`.
    shown: String,
}

enum Place {
    Registry(crate::remote::Repository),
    Layout(PathBuf),
}

impl Side {
    /// A source layout must exist; a destination layout is created when missing.
    fn open(&self, source: bool) -> anyhow::Result<Target> {
        Ok(match &self.place {
            Place::Registry(r) => Target::Registry(r.clone()),
            Place::Layout(dir) if source => Target::Layout(Arc::new(Layout::open(dir)?)),
            Place::Layout(dir) => {
                Target::Layout(Arc::new(Layout::create(dir).with_context(|| {
                    format!("creating the OCI layout {}", dir.display())
                })?))
            }
        })
    }
}

/// `DIR`, `DIR:TAG[,TAG…]` or `DIR@DIGEST` (the last `:` starts tags when no `/` follows it).
fn split_layout_arg(arg: &str) -> anyhow::Result<(PathBuf, Vec<String>, Option<Digest>)> {
    if let Some((dir, d)) = arg.rsplit_once('@') {
        if let Ok(digest) = d.parse::<Digest>() {
            return Ok((PathBuf::from(dir), Vec::new(), Some(digest)));
        }
    }
    match arg.rsplit_once(':') {
        Some((dir, tags)) if !dir.is_empty() && !tags.contains('/') => {
            let tags: Vec<String> = tags.split(',').map(str::to_string).collect();
            for t in &tags {
                validate_tag(t).map_err(|e| anyhow::anyhow!("{arg:?}: tag {t:?}: {e}"))?;
            }
            Ok((PathBuf::from(dir), tags, None))
        }
        _ => Ok((PathBuf::from(arg), Vec::new(), None)),
    }
}

fn side(
    arg: &str,
    layout: bool,
    source: bool,
    client: &crate::remote::Client,
) -> anyhow::Result<Side> {
    let side = if layout {
        let (dir, tags, digest) = split_layout_arg(arg)?;
        Side {
            shown: format!("[oci-layout] {arg}"),
            place: Place::Layout(dir),
            reference: digest
                .as_ref()
                .map(Digest::to_string)
                .or_else(|| tags.first().cloned()),
            tags,
            digest,
        }
    } else {
        let (reference, tags) = split_tags(arg)?;
        let shown = match (reference.digest(), tags.is_empty()) {
            (Some(d), _) => format!("[registry] {}@{d}", reference.name()),
            (None, false) => format!("[registry] {}:{}", reference.name(), tags.join(",")),
            (None, true) if source => format!("[registry] {reference}"),
            (None, true) => format!("[registry] {}", reference.name()),
        };
        Side {
            place: Place::Registry(client.repository(&reference)),
            reference: Some(reference.manifest_ref()),
            // A source without tag or digest means `latest`, which the destination then gets.
            tags: match (source, reference.digest(), tags.is_empty()) {
                (true, None, true) => vec![reference.manifest_ref()],
                _ => tags,
            },
            digest: reference.digest().cloned(),
            shown,
        }
    };
    if source && side.tags.len() > 1 {
        bail!("{arg:?}: a source names one tag");
    }
    Ok(side)
}

pub fn run(args: CopyArgs) -> anyhow::Result<std::process::ExitCode> {
    let client = args.remote.client()?;
    let src = side(&args.source, args.from_oci_layout, true, &client)?;
    let dst = side(&args.destination, args.to_oci_layout, false, &client)?;
    // Without a tag or digest of its own the destination takes the source's tag.
    let (tags, shown_dst) = if dst.tags.is_empty() && dst.digest.is_none() && !src.tags.is_empty() {
        let shown = format!("{}:{}", dst.shown, src.tags.join(","));
        (src.tags.clone(), shown)
    } else {
        (dst.tags.clone(), dst.shown.clone())
    };
    let options = CopyOptions {
        recursive: args.recursive,
        concurrency: args.remote.concurrency as usize,
    };
    let progress = args.remote.progress();
    let progress = progress.as_ref();
    let what = format!("copy {} => {}", src.shown, shown_dst);
    super::remote::runtime()?.block_on(async {
        let from = src.open(true).with_context(|| what.clone())?;
        let root = from
            .fetch_root(src.reference.as_deref())
            .await
            .with_context(|| what.clone())?;
        if let Some(wanted) = &dst.digest {
            if wanted != &root.0.digest {
                bail!(
                    "{what}: the source is {}, not the destination's digest {wanted}; give the destination a tag or the source's digest",
                    root.0.digest
                );
            }
        }
        // Only now, with the source found, may a destination layout be created.
        let to = dst.open(false).with_context(|| what.clone())?;
        let plan = copy::plan(&from, root, &to, options.recursive, progress)
            .await
            .with_context(|| what.clone())?;
        copy::execute(&from, &to, &plan, &tags, &options, progress)
            .await
            .with_context(|| what.clone())?;
        let shown_dst = if tags.is_empty() && dst.digest.is_none() {
            format!("{shown_dst}@{}", plan.root.digest)
        } else {
            shown_dst
        };
        args.remote
            .say(format!("Copied  {} => {}", src.shown, shown_dst));
        println!("Digest: {}", plan.root.digest);
        Ok(std::process::ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_arguments_split_into_folder_tags_and_digest() {
        let (dir, tags, digest) = split_layout_arg("out/app:v1,latest").unwrap();
        assert_eq!(
            (dir, tags, digest),
            (
                PathBuf::from("out/app"),
                vec!["v1".into(), "latest".into()],
                None
            )
        );
        let d = Digest::sha256_of(b"x");
        let (dir, tags, digest) = split_layout_arg(&format!("out@{d}")).unwrap();
        assert_eq!((dir, tags, digest), (PathBuf::from("out"), vec![], Some(d)));
        let (dir, tags, _) = split_layout_arg("./a/b").unwrap();
        assert_eq!((dir, tags), (PathBuf::from("./a/b"), vec![]));
        // A colon followed by a path is part of the folder's name.
        let (dir, tags, _) = split_layout_arg("c:/x").unwrap();
        assert_eq!((dir, tags), (PathBuf::from("c:/x"), vec![]));
        assert!(split_layout_arg("out:-bad").is_err());
    }
}
