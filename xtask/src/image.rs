//! `image` and `demo-image`: OCI images built without a Docker engine, through the client
//! library's builder (`nv2_client::image::build`).
//!
//! `image` packs the `nv2-registry` binary into a shell-less root filesystem:
//!
//! ```text
//! /nv2-registry                       the binary (static musl; or glibc plus the libraries
//!                                     `ldd` names, the dynamic loader at its own path)
//! /etc/passwd, /etc/group             nonroot, uid/gid 65532
//! /var/lib/nv2-registry/              the data volume, owned by nonroot
//! /tmp/                               1777
//! ```
//!
//! with `Entrypoint ["/nv2-registry", "serve"]`, the serve flags' environment variables, port
//! 5000, the data volume, `User 65532:65532` and the OCI annotations (source, version, revision,
//! created, licenses) on the manifest and as labels. `created` (and every file's mtime) is
//! `SOURCE_DATE_EPOCH` when set, else the commit time of HEAD, never the clock: two builds of
//! one commit give one digest. `demo-image` makes a one-file image (`/hello.txt`) for the demo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use nv2_client::image::{build, BuiltImage, Entry, ImageSpec, Rootfs};
use nv2_client::layout::Layout;
use serde_json::json;

use crate::workspace_root;

/// Where the image says its source lives (override: `NV2_IMAGE_SOURCE`).
const SOURCE: &str = "https://github.com/notaryproject/nv2";
/// The unprivileged user the registry runs as (distroless's `nonroot`).
const UID: u64 = 65532;
const DATA_DIR: &str = "/var/lib/nv2-registry";
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";

/// Flags: `--name VALUE` pairs only.
fn flags(args: &[&str], known: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if !known.contains(flag) {
            return Err(format!(
                "unknown flag {flag:?} (known: {})",
                known.join(" ")
            ));
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        out.insert(flag.trim_start_matches('-').to_string(), value.to_string());
    }
    Ok(out)
}

/// `image [--out-layout DIR] [--out-archive FILE] [--binary FILE]`.
pub fn image_command(args: &[&str]) -> Result<(), String> {
    let f = flags(args, &["--out-layout", "--out-archive", "--binary"])?;
    let root = workspace_root();
    let layout_dir = f
        .get("out-layout")
        .map_or(root.join("dist/image"), PathBuf::from);
    let archive = f
        .get("out-archive")
        .map_or(root.join("dist/nv2-registry.tar"), PathBuf::from);
    let binary = match f.get("binary") {
        Some(b) => PathBuf::from(b),
        None => target_dir(&root).join("x86_64-unknown-linux-musl/release/nv2-registry"),
    };
    let meta = Metadata::read(&root)?;
    let bytes = std::fs::read(&binary)
        .map_err(|e| format!("{}: {e} (build it first: make image)", binary.display()))?;

    let mut rootfs = Rootfs::new();
    let libraries = match elf_interpreter(&bytes)? {
        None => Vec::new(),
        Some(loader) => shared_libraries(&binary, &loader)?,
    };
    for lib in &libraries {
        let content = std::fs::read(lib).map_err(|e| format!("{}: {e}", lib.display()))?;
        insert(
            &mut rootfs,
            &lib.to_string_lossy(),
            Entry::file(content, 0o755),
        )?;
    }
    insert(&mut rootfs, "/nv2-registry", Entry::file(bytes, 0o755))?;
    insert(&mut rootfs, "/etc/passwd", Entry::file(PASSWD, 0o644))?;
    insert(&mut rootfs, "/etc/group", Entry::file(GROUP, 0o644))?;
    insert(&mut rootfs, DATA_DIR, Entry::dir(0o755).owned_by(UID, UID))?;
    insert(
        &mut rootfs,
        "/home/nonroot",
        Entry::dir(0o755).owned_by(UID, UID),
    )?;
    insert(&mut rootfs, "/tmp", Entry::dir(0o1777))?;

    let config = json!({
        "User": format!("{UID}:{UID}"),
        "Entrypoint": ["/nv2-registry", "serve"],
        "Env": [
            "NV2_REGISTRY_ADDR=0.0.0.0:5000",
            format!("NV2_REGISTRY_ROOT={DATA_DIR}"),
        ],
        "ExposedPorts": {"5000/tcp": {}},
        "Volumes": {DATA_DIR: {}},
        "WorkingDir": "/",
    });
    let spec = meta.spec(config, "xtask image: nv2-registry");
    let image = build(&rootfs, &spec).map_err(|e| e.to_string())?;
    let tags = [meta.version.as_str(), "latest"];
    write(
        &image,
        &layout_dir,
        true,
        &tags,
        &archive,
        "nv2-registry",
        meta.created,
    )?;
    match libraries.is_empty() {
        true => println!("xtask: binary {} (statically linked)", binary.display()),
        false => println!(
            "xtask: binary {} (dynamically linked; added {})",
            binary.display(),
            libraries
                .iter()
                .map(|l| l.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    Ok(())
}

/// `demo-image --out-layout DIR --out-archive FILE --message TEXT [--tag T]`: adds to an existing
/// layout (so one layout can hold a signed and an unsigned image under two tags).
pub fn demo_image_command(args: &[&str]) -> Result<(), String> {
    let f = flags(
        args,
        &["--out-layout", "--out-archive", "--message", "--tag"],
    )?;
    let need = |k: &str| f.get(k).cloned().ok_or(format!("demo-image needs --{k}"));
    let (layout_dir, archive, message) =
        (need("out-layout")?, need("out-archive")?, need("message")?);
    let tag = f.get("tag").cloned().unwrap_or_else(|| "latest".into());
    let meta = Metadata::read(&workspace_root())?;
    let mut rootfs = Rootfs::new();
    insert(
        &mut rootfs,
        "/hello.txt",
        Entry::file(format!("{message}\n"), 0o644),
    )?;
    let spec = meta.spec(json!({}), "xtask demo-image");
    let image = build(&rootfs, &spec).map_err(|e| e.to_string())?;
    write(
        &image,
        Path::new(&layout_dir),
        false,
        &[&tag],
        Path::new(&archive),
        "nv2-demo",
        meta.created,
    )
}

fn insert(rootfs: &mut Rootfs, path: &str, entry: Entry) -> Result<(), String> {
    rootfs
        .insert(path, entry)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Writes the layout (afresh when `fresh`: a previous layout there goes, so that `index.json`
/// and `blobs/` hold this build only), the docker-archive and `<layout>.digest`.
fn write(
    image: &BuiltImage,
    layout_dir: &Path,
    fresh: bool,
    tags: &[&str],
    archive: &Path,
    name: &str,
    mtime: u64,
) -> Result<(), String> {
    if fresh && layout_dir.join("oci-layout").is_file() {
        std::fs::remove_dir_all(layout_dir)
            .map_err(|e| format!("{}: {e}", layout_dir.display()))?;
    }
    let layout = Layout::create(layout_dir).map_err(|e| e.to_string())?;
    image
        .write_layout(&layout, tags)
        .map_err(|e| e.to_string())?;
    let repo_tags: Vec<String> = tags.iter().map(|t| format!("{name}:{t}")).collect();
    image
        .write_docker_archive(archive, &repo_tags, mtime)
        .map_err(|e| e.to_string())?;
    let digest = image.manifest_descriptor.digest.to_string();
    let digest_file = layout_dir.with_extension("digest");
    std::fs::write(&digest_file, format!("{digest}\n"))
        .map_err(|e| format!("{}: {e}", digest_file.display()))?;
    println!("xtask: image {digest}");
    println!(
        "xtask: OCI layout {} (tags {})",
        layout_dir.display(),
        tags.join(", ")
    );
    println!(
        "xtask: docker-archive {} ({})",
        archive.display(),
        repo_tags.join(", ")
    );
    Ok(())
}

/// What the annotations say, read from the workspace and git.
struct Metadata {
    version: String,
    revision: String,
    license: String,
    created: u64,
}

impl Metadata {
    fn read(root: &Path) -> Result<Metadata, String> {
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

    fn spec(&self, config: serde_json::Value, created_by: &str) -> ImageSpec {
        let created = verifier_time(self.created);
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
fn verifier_time(secs: u64) -> String {
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

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from)
}

/// The image platform's name for this machine's architecture (the binary is built for it).
fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The `PT_INTERP` path of a 64-bit little-endian ELF file: `None` for a static binary.
pub fn elf_interpreter(bytes: &[u8]) -> Result<Option<String>, String> {
    let u = |at: usize, n: usize| -> Result<u64, String> {
        let b = bytes.get(at..at + n).ok_or("truncated ELF file")?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    };
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let (phoff, phentsize, phnum) = (
        u(0x20, 8)? as usize,
        u(0x36, 2)? as usize,
        u(0x38, 2)? as usize,
    );
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u(ph, 4)? == 3 {
            let (off, size) = (u(ph + 8, 8)? as usize, u(ph + 32, 8)? as usize);
            let raw = bytes
                .get(off..off + size)
                .ok_or("PT_INTERP outside the file")?;
            return Ok(Some(
                String::from_utf8_lossy(raw)
                    .trim_end_matches('\0')
                    .to_string(),
            ));
        }
    }
    Ok(None)
}

/// The glibc fallback: the libraries `ldd` resolves, and the loader at the path the binary
/// names (files are copied, links followed, so that the image holds no dangling link).
fn shared_libraries(binary: &Path, loader: &str) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ldd {}: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut libs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split("=>")
                .nth(1)?
                .split_whitespace()
                .next()
                .map(PathBuf::from)
        })
        .filter(|p| p.is_absolute())
        .collect();
    libs.push(PathBuf::from(loader));
    libs.sort();
    libs.dedup();
    Ok(libs)
}
