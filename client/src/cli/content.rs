//! The smaller remote verbs: `login`/`logout` (docker's `config.json`, so `docker` and `nv2` see
//! each other's logins), `tag`, `manifest fetch|push|delete`, `blob fetch|push|delete`, and
//! `repo ls|tags`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Subcommand};
use oci_model::{Descriptor, Digest};

use super::remote::{parse_reference, RemoteFlags};
use crate::remote::{blob::digest_file, Credential};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry host[:port].
    pub registry: String,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    pub registry: String,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// The artifact: REGISTRY/REPO:TAG or @DIGEST.
    pub reference: String,
    /// New tags for it.
    #[arg(required = true)]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Print a manifest's exact bytes (or its descriptor).
    Fetch {
        reference: String,
        /// Print the descriptor instead of the manifest.
        #[arg(long)]
        descriptor: bool,
        /// Write to FILE instead of stdout.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        remote: RemoteFlags,
    },
    /// Push a manifest file as it is (by digest, then the tag of REF if any).
    Push {
        reference: String,
        file: PathBuf,
        /// The media type (default: the file's mediaType field).
        #[arg(long)]
        media_type: Option<String>,
        #[command(flatten)]
        remote: RemoteFlags,
    },
    /// Delete a manifest (a tag is resolved to its digest first).
    Delete {
        reference: String,
        #[command(flatten)]
        remote: RemoteFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlobCommand {
    /// Download a blob (checked against its digest) to FILE, or to stdout with `-o -`.
    Fetch {
        /// REGISTRY/REPO@DIGEST.
        reference: String,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        remote: RemoteFlags,
    },
    /// Upload a file as a blob; prints its descriptor.
    Push {
        reference: String,
        file: PathBuf,
        #[arg(long, default_value = "application/octet-stream")]
        media_type: String,
        #[command(flatten)]
        remote: RemoteFlags,
    },
    /// Delete a blob.
    Delete {
        reference: String,
        #[command(flatten)]
        remote: RemoteFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// The repositories of a registry.
    Ls {
        registry: String,
        #[command(flatten)]
        remote: RemoteFlags,
    },
    /// The tags of a repository.
    Tags {
        repository: String,
        /// Leave out the referrers tag schema's sha256-<hex> tags.
        #[arg(long)]
        exclude_digest_tags: bool,
        #[command(flatten)]
        remote: RemoteFlags,
    },
}

pub fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let Some(username) = args.remote.username.clone() else {
        bail!("login needs -u USER and -p PASSWORD (or --password-stdin)");
    };
    let Some(password) = args.remote.password()? else {
        bail!("login needs a password: -p or --password-stdin");
    };
    let credential = Credential { username, password };
    let mut remote = args.remote.clone();
    // Check the credential against the registry before storing it.
    remote.password = Some(credential.password.clone());
    remote.password_stdin = false;
    let client = remote.client()?;
    super::remote::runtime()?
        .block_on(client.ping(&args.registry))
        .map_err(|e| anyhow::anyhow!("the registry did not accept the login: {e}"))?;
    args.remote
        .docker_config()
        .store(&args.registry, &credential)?;
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

pub fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    if args.remote.docker_config().erase(&args.registry)? {
        println!("Removing login credentials for {}", args.registry);
    } else {
        println!("Not logged in to {}", args.registry);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tag(args: TagArgs) -> anyhow::Result<ExitCode> {
    let reference = parse_reference(&args.reference)?;
    for t in &args.tags {
        reference
            .with_tag(t)
            .map_err(|e| anyhow::anyhow!("tag {t:?}: {e}"))?;
    }
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    super::remote::runtime()?.block_on(async {
        let descriptor = repo.resolve(&reference.manifest_ref()).await?;
        for t in &args.tags {
            repo.tag(&descriptor.digest, t).await?;
            args.remote.say(format!("Tagged {t}"));
        }
        println!("Digest: {}", descriptor.digest);
        Ok(ExitCode::SUCCESS)
    })
}

fn write_out(output: Option<&PathBuf>, bytes: &[u8]) -> anyhow::Result<()> {
    match output {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))
        }
        _ => {
            std::io::stdout().write_all(bytes)?;
            Ok(())
        }
    }
}

pub fn manifest(command: ManifestCommand) -> anyhow::Result<ExitCode> {
    match command {
        ManifestCommand::Fetch {
            reference,
            descriptor,
            output,
            remote,
        } => {
            let reference = parse_reference(&reference)?;
            let repo = remote.client()?.repository(&reference);
            super::remote::runtime()?.block_on(async {
                let m = repo.fetch_manifest(&reference.manifest_ref()).await?;
                if descriptor {
                    write_out(
                        output.as_ref(),
                        format!("{}\n", serde_json::to_string(&m.descriptor)?).as_bytes(),
                    )?;
                } else {
                    write_out(output.as_ref(), &m.bytes)?;
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        ManifestCommand::Push {
            reference,
            file,
            media_type,
            remote,
        } => {
            let reference = parse_reference(&reference)?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let media = match media_type {
                Some(m) => m,
                None => serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["mediaType"].as_str().map(str::to_string))
                    .with_context(|| {
                        format!(
                            "{} has no mediaType field: pass --media-type",
                            file.display()
                        )
                    })?,
            };
            let repo = remote.client()?.repository(&reference);
            super::remote::runtime()?.block_on(async {
                let digest = Digest::sha256_of(&bytes);
                let bytes = Bytes::from(bytes);
                repo.push_manifest(&media, bytes.clone(), &digest.to_string())
                    .await?;
                if let Some(t) = reference.tag() {
                    repo.push_manifest(&media, bytes, t).await?;
                }
                remote.say(format!("Pushed [registry] {reference}"));
                println!("Digest: {digest}");
                Ok(ExitCode::SUCCESS)
            })
        }
        ManifestCommand::Delete { reference, remote } => {
            let reference = parse_reference(&reference)?;
            let repo = remote.client()?.repository(&reference);
            super::remote::runtime()?.block_on(async {
                let d = repo.resolve(&reference.manifest_ref()).await?;
                repo.delete_manifest(&d.digest).await?;
                remote.say(format!("Deleted [registry] {reference}"));
                println!("Digest: {}", d.digest);
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

fn digest_of(reference: &oci_model::Reference) -> anyhow::Result<Digest> {
    reference
        .digest()
        .cloned()
        .with_context(|| format!("{reference}: a blob is named by digest (REGISTRY/REPO@sha256:…)"))
}

pub fn blob(command: BlobCommand) -> anyhow::Result<ExitCode> {
    match command {
        BlobCommand::Fetch {
            reference,
            output,
            remote,
        } => {
            let reference = parse_reference(&reference)?;
            let digest = digest_of(&reference)?;
            let repo = remote.client()?.repository(&reference);
            super::remote::runtime()?.block_on(async {
                if output.as_os_str() == "-" {
                    let bytes = repo.fetch_blob_bytes(&digest, 64 * 1024 * 1024).await?;
                    std::io::stdout().write_all(&bytes)?;
                } else {
                    // The size is learnt from HEAD-less fetch: the descriptor's size bounds it.
                    let size = blob_size(&repo, &digest).await?;
                    let d = Descriptor::new("application/octet-stream", digest.clone(), size);
                    repo.fetch_blob_to(
                        &d,
                        &output,
                        &output.display().to_string(),
                        remote.progress().as_ref(),
                    )
                    .await?;
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        BlobCommand::Push {
            reference,
            file,
            media_type,
            remote,
        } => {
            let reference = parse_reference(&reference)?;
            let (digest, size) = digest_file(&file)?;
            let d = Descriptor::new(media_type, digest, size);
            let repo = remote.client()?.repository(&reference);
            super::remote::runtime()?.block_on(async {
                let name = file.display().to_string();
                repo.push_blob_file(&d, &file, &name, None, remote.progress().as_ref())
                    .await?;
                println!("{}", serde_json::to_string(&d)?);
                Ok(ExitCode::SUCCESS)
            })
        }
        BlobCommand::Delete { reference, remote } => {
            let reference = parse_reference(&reference)?;
            let digest = digest_of(&reference)?;
            let repo = remote.client()?.repository(&reference);
            super::remote::runtime()?.block_on(async {
                repo.delete_blob(&digest).await?;
                remote.say(format!("Deleted {reference}"));
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

async fn blob_size(repo: &crate::remote::Repository, digest: &Digest) -> anyhow::Result<u64> {
    repo.blob_size(digest).await?.with_context(|| {
        format!(
            "{digest}: no such blob in {}/{}",
            repo.registry(),
            repo.name()
        )
    })
}

pub fn repo(command: RepoCommand) -> anyhow::Result<ExitCode> {
    match command {
        RepoCommand::Ls { registry, remote } => {
            let client = remote.client()?;
            super::remote::runtime()?.block_on(async {
                for name in client.catalog(&registry).await? {
                    println!("{name}");
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        RepoCommand::Tags {
            repository,
            exclude_digest_tags,
            remote,
        } => {
            let reference = parse_reference(&repository)?;
            let repo = remote.client()?.repository(&reference);
            super::remote::runtime()?.block_on(async {
                for t in repo.tags().await? {
                    let digest_tag = t.starts_with("sha256-") && t.len() == 71;
                    if !(exclude_digest_tags && digest_tag) {
                        println!("{t}");
                    }
                }
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}
