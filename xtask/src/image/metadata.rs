//! What an image says about where it comes from: the workspace's version and license, the git
//! revision, and the one fixed time (`SOURCE_DATE_EPOCH`, else the commit time of HEAD).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use nv2_client::image::ImageSpec;

/// Where the image says its source lives (override: `NV2_IMAGE_SOURCE`).
const SOURCE: &str = "https://github.com/notaryproject/nv2";

/// What the annotations say, read from the workspace and git.
pub struct Metadata {
    pub version: String,
    revision: String,
    license: String,
    pub created: u64,
}

impl Metadata {
    pub fn read(root: &Path) -> Result<Metadata, String> {
        let text = |p: &str| std::fs::read_to_string(root.join(p)).map_err(|e| format!("{p}: {e}"));
        let version = toml_string(&text("registry/Cargo.toml")?, "version")
            .ok_or("registry/Cargo.toml has no version")?;
        let license =
            toml_string(&text("Cargo.toml")?, "license").ok_or("Cargo.toml has no license")?;
        let revision = git(root, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
        let created = match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={s:?} is not a number"))?,
            // Outside git and without SOURCE_DATE_EPOCH: the epoch, still fixed.
            Err(_) => git(root, &["log", "-1", "--format=%ct", "HEAD"])
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        };
        Ok(Metadata {
            version,
            revision,
            license,
            created,
        })
    }

    pub fn spec(&self, config: serde_json::Value, created_by: &str) -> ImageSpec {
        let created = rfc3339(self.created);
        let oci = |k: &str| format!("org.opencontainers.image.{k}");
        let source = std::env::var("NV2_IMAGE_SOURCE").unwrap_or_else(|_| SOURCE.into());
        ImageSpec {
            architecture: goarch().into(),
            os: "linux".into(),
            created: self.created,
            config,
            annotations: BTreeMap::from([
                (oci("source"), source),
                (oci("version"), self.version.clone()),
                (oci("revision"), self.revision.clone()),
                (oci("created"), created),
                (oci("licenses"), self.license.clone()),
            ]),
            created_by: created_by.into(),
        }
    }
}

/// The RFC 3339 spelling the builder also writes into the config.
fn rfc3339(secs: u64) -> String {
    nv2_client::image::build::rfc3339(secs).unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// The first `key = "value"` line (the package's, or `[workspace.package]`'s).
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The image platform's name for this machine's architecture (the binary is built for it).
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
