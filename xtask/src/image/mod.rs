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
//! /home/nonroot/                      nonroot's home (what /etc/passwd names)
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

mod elf;
mod metadata;

use nv2_client::image::{build, BuiltImage, Entry, Rootfs};
use nv2_client::layout::Layout;
use serde_json::json;

use crate::workspace_root;
use elf::{elf_interpreter, shared_libraries};
use metadata::Metadata;

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

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from)
}
