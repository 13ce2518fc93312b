//! `nv2 pull`: an artifact's layers into a folder, each under its title annotation, streamed and
//! checked against its digest; `--tar` layers (a tar layer without a title) are unpacked. A title
//! or tar entry that would land outside the folder (absolute, `..`, through a symlink) is refused
//! unless `--allow-path-traversal`.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use futures_util::{StreamExt, TryStreamExt};
use oci_model::{Descriptor, Manifest};

use super::push::{descriptor_json, FormatFlag, DEFAULT_LAYER, TITLE};
use super::remote::{parse_reference, RemoteFlags};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The artifact: REGISTRY/REPO:TAG or @DIGEST.
    pub reference: String,
    /// The folder to write to.
    #[arg(short = 'o', long, default_value = ".")]
    pub output: PathBuf,
    /// Also pull the artifact's subject (into the same folder).
    #[arg(long)]
    pub include_subject: bool,
    /// Do not overwrite existing files.
    #[arg(short = 'k', long)]
    pub keep_old_files: bool,
    /// Allow titles and tar entries outside the output folder.
    #[arg(long)]
    pub allow_path_traversal: bool,
    #[command(flatten)]
    pub format: FormatFlag,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// Where a layer titled `title` goes under `root`, or why it may not.
pub fn safe_destination(
    root: &Path,
    title: &str,
    allow_traversal: bool,
) -> anyhow::Result<PathBuf> {
    let relative = Path::new(title);
    if allow_traversal {
        return Ok(root.join(relative));
    }
    if title.is_empty() || relative.is_absolute() {
        bail!("refusing {title:?}: it is not a path inside the output folder (--allow-path-traversal overrides)");
    }
    for c in relative.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => bail!("refusing {title:?}: it leaves the output folder (--allow-path-traversal overrides)"),
        }
    }
    // No symlink on the way may lead out.
    let mut at = root.to_path_buf();
    for c in relative.components() {
        at.push(c);
        if at
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            bail!(
                "refusing {title:?}: {} is a symlink (--allow-path-traversal overrides)",
                at.display()
            );
        }
    }
    Ok(root.join(relative))
}

/// Unpacks a tar with the same guard for every entry.
fn unpack(
    tar_path: &Path,
    root: &Path,
    allow_traversal: bool,
    keep_old: bool,
) -> anyhow::Result<usize> {
    let file = std::fs::File::open(tar_path)?;
    let mut archive = tar::Archive::new(file);
    let mut count = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()?
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
            safe_destination(root, &dir.join(&target).to_string_lossy(), allow_traversal)
                .with_context(|| format!("link {name} -> {target}"))?;
        }
        let dest = safe_destination(root, &name, allow_traversal)?;
        if keep_old && dest.exists() && !kind.is_dir() {
            bail!("{} exists (--keep-old-files)", dest.display());
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        entry
            .unpack(&dest)
            .with_context(|| format!("unpacking {name}"))?;
        count += 1;
    }
    Ok(count)
}

pub fn run(args: PullArgs) -> anyhow::Result<std::process::ExitCode> {
    let reference = parse_reference(&args.reference)?;
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    let progress = args.remote.progress();
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    super::remote::runtime()?.block_on(async {
        let mut manifests = vec![repo.fetch_manifest(&reference.manifest_ref()).await?];
        let parsed = Manifest::parse(
            &manifests[0].bytes,
            Some(&manifests[0].descriptor.media_type),
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.reference))?;
        if args.include_subject {
            if let Some(subject) = &parsed.subject {
                manifests.push(repo.fetch_manifest(&subject.digest.to_string()).await?);
            }
        }
        let mut jobs: Vec<(Descriptor, PathBuf, String, bool)> = Vec::new();
        for m in &manifests {
            let parsed = Manifest::parse(&m.bytes, Some(&m.descriptor.media_type))
                .map_err(|e| anyhow::anyhow!("{}: {e}", m.descriptor.digest))?;
            for layer in parsed.layers.iter().chain(parsed.blobs.iter()).flatten() {
                let title = layer.annotations.as_ref().and_then(|a| a.get(TITLE));
                match title {
                    Some(title) => {
                        let dest =
                            safe_destination(&args.output, title, args.allow_path_traversal)?;
                        if args.keep_old_files && dest.exists() {
                            bail!("{} exists (--keep-old-files)", dest.display());
                        }
                        // The same file in the artifact and its subject (a signature of
                        // a file beside it) is written once; two downloads to one path race.
                        match jobs.iter().find(|j| j.1 == dest) {
                            Some(j) if j.0.digest == layer.digest => {}
                            Some(j) => bail!(
                                "two layers are titled {title:?} ({} and {}): they cannot both be written",
                                j.0.digest,
                                layer.digest
                            ),
                            None => jobs.push((layer.clone(), dest, title.clone(), false)),
                        }
                    }
                    None if layer.media_type == DEFAULT_LAYER => {
                        let dest = args.output.join(format!(".{}.tar", layer.digest.hex()));
                        if !jobs.iter().any(|j| j.1 == dest) {
                            jobs.push((layer.clone(), dest, layer.digest.to_string(), true));
                        }
                    }
                    None => {
                        progress.end(layer, "(no title)", "Skipped");
                    }
                }
            }
        }
        let progress = progress.as_ref();
        let repo = &repo;
        futures_util::stream::iter(jobs.iter().map(|(d, dest, name, _)| async move {
            repo.fetch_blob_to(d, dest, name, progress).await
        }))
        .buffer_unordered(args.remote.concurrency as usize)
        .try_collect::<Vec<_>>()
        .await?;
        for (_, dest, _, is_tar) in &jobs {
            if *is_tar {
                let outcome = unpack(
                    dest,
                    &args.output,
                    args.allow_path_traversal,
                    args.keep_old_files,
                );
                let _ = std::fs::remove_file(dest);
                outcome?;
            }
        }
        if args.format.json() {
            let repository = format!("{}/{}", repo.registry(), repo.name());
            let out = pulled_json(&repository, &manifests[0].descriptor, &jobs, &args.output)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(std::process::ExitCode::SUCCESS);
        }
        args.remote.say(format!("Pulled [registry] {reference}"));
        println!("Digest: {}", manifests[0].descriptor.digest);
        Ok(std::process::ExitCode::SUCCESS)
    })
}

/// oras's `pull --format json`: the manifest's digest reference and each file written, by
/// absolute path (an unpacked tar is the output folder, with a trailing separator, as oras shows
/// a folder).
fn pulled_json(
    repository: &str,
    manifest: &Descriptor,
    jobs: &[(Descriptor, PathBuf, String, bool)],
    output: &Path,
) -> anyhow::Result<serde_json::Value> {
    let root = std::path::absolute(output)
        .with_context(|| format!("the absolute path of {}", output.display()))?;
    let mut files = Vec::new();
    for (layer, dest, _, is_tar) in jobs {
        let path = if *is_tar {
            format!("{}{}", root.display(), std::path::MAIN_SEPARATOR)
        } else {
            std::path::absolute(dest)?.display().to_string()
        };
        let mut file = descriptor_json(repository, layer);
        file["path"] = serde_json::json!(path);
        files.push(file);
    }
    Ok(serde_json::json!({
        "reference": format!("{repository}@{}", manifest.digest),
        "files": files,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_that_leave_the_folder_are_refused() {
        let root = std::env::temp_dir().join(format!("nv2-pull-guard-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        assert!(safe_destination(&root, "a/b.txt", false).is_ok());
        for bad in ["/etc/passwd", "../x", "a/../../x", ""] {
            let e = safe_destination(&root, bad, false).unwrap_err();
            assert!(e.to_string().contains("refusing"), "{bad}: {e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/tmp", root.join("link")).unwrap();
            assert!(safe_destination(&root, "link/x", false).is_err());
        }
        assert!(safe_destination(&root, "../x", true).is_ok());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
