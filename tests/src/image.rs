//! nv2-registry's image, as the tests read it: the xtask's
//! `image` verb, an image's layer tar and the files in it, ELF linkage, and the unpacked
//! registry run as the image's user.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output};

use nv2_client::layout::Layout;
use serde_json::Value;

use crate::peers::on_path;
use crate::workspace_root;

pub fn ok(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The version the image is tagged with: registry/Cargo.toml's.
pub fn version() -> String {
    let text = std::fs::read_to_string(workspace_root().join("registry/Cargo.toml")).unwrap();
    let line = text.lines().find(|l| l.starts_with("version")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// Runs the xtask's `image` verb; answers the manifest digest it wrote.
pub fn build_image(xtask: &Path, binary: &Path, layout: &Path, archive: &Path) -> String {
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
pub fn layer_tar(layout: &Path, tag: &str) -> (Value, Vec<u8>) {
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
pub fn file_in(tar: &[u8], path: &str) -> Option<Vec<u8>> {
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
pub fn has_interpreter(elf: &[u8]) -> bool {
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
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The unpacked image's registry, as the image's user when this test runs as root (chroot into
/// the rootfs), else as a plain process on a scratch data folder.
pub fn serve(rootfs: &Path, env: &[String], scratch: &Path) -> (Running, String) {
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
