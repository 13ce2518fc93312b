//! nv2-registry's OCI image (`cargo run -p xtask -- image`, `make image`): built twice from the
//! debug registry binary (so no musl release build is needed here; a dynamic binary takes the
//! xtask's glibc path, its libraries packed beside it), it is the same digest both times; skopeo
//! and umoci read the layout, skopeo the docker-archive; the config says what the issue asks;
//! the layer is sorted and time-fixed; and the binary, unpacked by umoci, serves `GET /v2/` from
//! the empty data folder as the non-root user. When `make image` has run, `dist/image` must hold
//! the static musl binary.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use nv2_client::layout::Layout;
use nv2_e2e::peers::on_path;
use nv2_e2e::{require, workspace_root};
use serde_json::Value;

const OCI: &str = "org.opencontainers.image.";

/// `target/<profile>/NAME`, beside the test binary's `deps/` folder.
fn target_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join(name)).filter(|p| p.is_file())
}

fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The version the image is tagged with: registry/Cargo.toml's.
fn version() -> String {
    let text = std::fs::read_to_string(workspace_root().join("registry/Cargo.toml")).unwrap();
    let line = text.lines().find(|l| l.starts_with("version")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// Runs the xtask's `image` verb; answers the manifest digest it wrote.
fn build_image(xtask: &Path, binary: &Path, layout: &Path, archive: &Path) -> String {
    let out = Command::new(xtask)
        .args(["image", "--binary"])
        .arg(binary)
        .arg("--out-layout")
        .arg(layout)
        .arg("--out-archive")
        .arg(archive)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    ok("xtask image", out);
    std::fs::read_to_string(layout.with_extension("digest"))
        .unwrap()
        .trim()
        .to_string()
}

/// The tar inside the (only) layer of the image `tag` names in `layout`.
fn layer_tar(layout: &Path, tag: &str) -> (Value, Vec<u8>) {
    let layout = Layout::open(layout).unwrap();
    let manifest = layout
        .read_manifest(&layout.resolve(Some(tag)).unwrap())
        .unwrap();
    let manifest = json(std::str::from_utf8(&manifest).unwrap());
    let digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let gz = std::fs::read(layout.blob_path(&digest)).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    (manifest, tar)
}

/// The bytes of `path` in a layer tar.
fn file_in(tar: &[u8], path: &str) -> Option<Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some(path) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            return Some(bytes);
        }
    }
    None
}

/// Whether a 64-bit little-endian ELF file has a `PT_INTERP` program header (is dynamic).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(
        &elf[..6],
        b"\x7fELF\x02\x01",
        "a 64-bit little-endian ELF file"
    );
    let n = |at: usize, len: usize| {
        elf[at..at + len]
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize)
    };
    let (phoff, size, count) = (n(0x20, 8), n(0x36, 2), n(0x38, 2));
    (0..count).any(|i| n(phoff + i * size, 4) == 3)
}

/// Kills the registry it holds when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The unpacked image's registry, as the image's user when this test runs as root (chroot into
/// the rootfs), else as a plain process on a scratch data folder.
fn serve(rootfs: &Path, env: &[String], scratch: &Path) -> (Running, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut command = if unsafe { libc::geteuid() } == 0 {
        // By its path: the child's environment is cleared, PATH included.
        let mut c = Command::new(on_path("chroot").expect("chroot (coreutils)"));
        c.arg("--userspec=65532:65532")
            .arg(rootfs)
            .arg("/nv2-registry");
        c
    } else {
        println!("not root: running the unpacked binary as a plain process");
        let mut c = Command::new(rootfs.join("nv2-registry"));
        c.env("NV2_REGISTRY_ROOT", scratch);
        c
    };
    command.env_clear();
    for pair in env {
        let (k, v) = pair.split_once('=').unwrap();
        command.env(k, v);
    }
    if unsafe { libc::geteuid() } != 0 {
        command.env("NV2_REGISTRY_ROOT", scratch);
    }
    let child = command.args(["serve", "--addr", &addr]).spawn().unwrap();
    (Running(child), format!("http://{addr}/v2/"))
}

#[test]
fn the_registry_image_is_reproducible_readable_and_serves() {
    let Some(xtask) = require(
        target_binary("xtask"),
        "xtask is not built (cargo build -p xtask)",
    ) else {
        return;
    };
    let Some(registry) = require(
        target_binary("nv2-registry"),
        "nv2-registry is not built (cargo build -p nv2-registry)",
    ) else {
        return;
    };
    let (Some(skopeo), Some(umoci)) = (
        require(
            on_path("skopeo"),
            "skopeo is not installed (scripts/registry-peers.sh)",
        ),
        require(
            on_path("umoci"),
            "umoci is not installed (scripts/registry-peers.sh)",
        ),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let digest = build_image(&xtask, &registry, &a, &a.with_extension("tar"));
    let again = build_image(&xtask, &registry, &b, &b.with_extension("tar"));
    assert_eq!(digest, again, "two builds, two digests");
    assert_eq!(
        std::fs::read(a.with_extension("tar")).unwrap(),
        std::fs::read(b.with_extension("tar")).unwrap(),
        "two builds, two docker-archives"
    );

    // skopeo reads the layout under both tags and the archive.
    let version = version();
    let reference = format!("oci:{}:{version}", a.display());
    let inspect = json(&ok(
        "skopeo inspect",
        Command::new(&skopeo)
            .args(["inspect", &reference])
            .output()
            .unwrap(),
    ));
    assert_eq!(inspect["Digest"], digest.as_str());
    let config = json(&ok(
        "skopeo inspect --config",
        Command::new(&skopeo)
            .args([
                "inspect",
                "--config",
                &format!("oci:{}:latest", a.display()),
            ])
            .output()
            .unwrap(),
    ));
    let c = &config["config"];
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/nv2-registry", "serve"])
    );
    assert_eq!(c["ExposedPorts"], serde_json::json!({"5000/tcp": {}}));
    assert_eq!(
        c["Volumes"],
        serde_json::json!({"/var/lib/nv2-registry": {}})
    );
    assert_eq!(c["User"], "65532:65532");
    let env: Vec<String> = serde_json::from_value(c["Env"].clone()).unwrap();
    assert!(
        env.contains(&"NV2_REGISTRY_ADDR=0.0.0.0:5000".to_string()),
        "{env:?}"
    );
    assert!(
        env.contains(&"NV2_REGISTRY_ROOT=/var/lib/nv2-registry".to_string()),
        "{env:?}"
    );
    let archive = format!("docker-archive:{}", a.with_extension("tar").display());
    let from_archive = json(&ok(
        "skopeo inspect docker-archive",
        Command::new(&skopeo)
            .args(["inspect", &archive])
            .output()
            .unwrap(),
    ));
    assert_eq!(from_archive["Labels"], c["Labels"]);

    // The annotations, on the manifest and as labels.
    let (manifest, tar) = layer_tar(&a, "latest");
    let annotations = &manifest["annotations"];
    assert_eq!(annotations, &c["Labels"]);
    assert_eq!(annotations[format!("{OCI}version")], version.as_str());
    assert_eq!(annotations[format!("{OCI}licenses")], "Apache-2.0");
    assert_eq!(annotations[format!("{OCI}created")], config["created"]);
    assert!(annotations[format!("{OCI}source")]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let head = Command::new("git")
        .arg("-C")
        .arg(workspace_root())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let revision = if head.status.success() {
        String::from_utf8_lossy(&head.stdout).trim().to_string()
    } else {
        "unknown".into()
    };
    assert_eq!(annotations[format!("{OCI}revision")], revision.as_str());

    // The layer: sorted, every mtime the one fixed time, numeric owners only.
    let created = tar::Archive::new(tar.as_slice())
        .entries()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .header()
        .mtime()
        .unwrap();
    let mut paths = Vec::new();
    for entry in tar::Archive::new(tar.as_slice()).entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.mtime().unwrap(), created);
        assert_eq!(h.username().unwrap(), Some(""));
        paths.push(entry.path().unwrap().to_string_lossy().into_owned());
    }
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    for wanted in [
        "nv2-registry",
        "etc/passwd",
        "etc/group",
        "var/lib/nv2-registry/",
        "tmp/",
    ] {
        assert!(
            paths.iter().any(|p| p == wanted),
            "{wanted} missing from {paths:?}"
        );
    }
    assert!(
        !paths.iter().any(|p| p.ends_with("bin/sh")),
        "no shell: {paths:?}"
    );
    assert!(String::from_utf8(file_in(&tar, "etc/passwd").unwrap())
        .unwrap()
        .contains(":65532:65532:"));

    // umoci unpacks it; its registry serves the empty volume as uid 65532.
    let bundle = dir.path().join("bundle");
    let mut unpack = Command::new(&umoci);
    unpack.arg("unpack");
    if unsafe { libc::geteuid() } != 0 {
        unpack.arg("--rootless");
    }
    ok(
        "umoci unpack",
        unpack
            .arg("--image")
            .arg(format!("{}:latest", a.display()))
            .arg(&bundle)
            .output()
            .unwrap(),
    );
    let rootfs = bundle.join("rootfs");
    let scratch = dir.path().join("data");
    let (mut running, url) = serve(&rootfs, &env, &scratch);
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            panic!("the image's registry exited with {status} before it served {url}");
        }
        match client.get(&url).send() {
            Ok(r) => {
                assert_eq!(r.status().as_u16(), 200, "GET {url}");
                break;
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("GET {url}: {e}"),
        }
    }
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::fs::MetadataExt;
        let data = std::fs::metadata(rootfs.join("var/lib/nv2-registry")).unwrap();
        assert_eq!((data.uid(), data.gid()), (65532, 65532));
    }
}

#[test]
fn dist_image_holds_the_static_binary() {
    // Only when `make image` has run (`make test` runs it first): a missing dist/image is no
    // missing peer, but one built there must be the musl path's.
    let dist = workspace_root().join("dist/image");
    if !dist.join("oci-layout").is_file() {
        println!("SKIPPED: dist/image is not built (make image)");
        return;
    }
    let (_, tar) = layer_tar(&dist, "latest");
    let binary = file_in(&tar, "nv2-registry").expect("dist/image holds /nv2-registry");
    assert!(
        !has_interpreter(&binary),
        "dist/image's nv2-registry is dynamically linked: make image packs the musl static binary"
    );
}
