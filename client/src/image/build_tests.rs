//! The image builder: sorted, time-fixed layers; the same inputs give the same digests; what it
//! writes (a layout, a docker-archive) reads back through this module's own readers.

use std::collections::BTreeMap;
use std::io::Read;

use oci_model::{media_type, Digest};
use serde_json::{json, Value};

use super::build::{build, gzip, Entry, ImageSpec, Rootfs};
use super::{read, Engine, ImageError, Source};
use crate::layout::Layout;

const CREATED: u64 = 1_764_633_600; // 2025-12-02T00:00:00Z

fn rootfs(text: &str) -> Rootfs {
    let mut r = Rootfs::new();
    r.insert("/hello.txt", Entry::file(text, 0o644)).unwrap();
    r.insert("/var/lib/app", Entry::dir(0o700).owned_by(65532, 65532))
        .unwrap();
    r.insert(
        "/etc/passwd",
        Entry::file("nonroot:x:65532:65532::/:/sbin/nologin\n", 0o644),
    )
    .unwrap();
    r
}

fn spec() -> ImageSpec {
    ImageSpec {
        architecture: "amd64".into(),
        os: "linux".into(),
        created: CREATED,
        config: json!({"Entrypoint": ["/app"], "User": "65532:65532"}),
        annotations: BTreeMap::from([(
            "org.opencontainers.image.version".to_string(),
            "1.0".to_string(),
        )]),
        created_by: "build_tests".into(),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn parents_are_added_and_paths_sorted() {
    let r = rootfs("hi");
    let paths: Vec<&str> = r.paths().collect();
    assert_eq!(
        paths,
        [
            "etc",
            "etc/passwd",
            "hello.txt",
            "var",
            "var/lib",
            "var/lib/app"
        ]
    );
    assert_eq!(r.get("/var").unwrap(), &Entry::dir(0o755));
    for bad in ["", "/", "a/../b", "a//b", "./a"] {
        assert!(
            matches!(
                Rootfs::new().insert(bad, Entry::dir(0o755)),
                Err(ImageError::RootfsPath { .. })
            ),
            "{bad:?} was accepted"
        );
    }
}

#[test]
fn tar_entries_are_sorted_time_fixed_and_numeric() {
    let tar = rootfs("hi").tar(CREATED).unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.mtime().unwrap(), CREATED);
        assert_eq!(h.username().unwrap(), Some(""));
        assert_eq!(h.groupname().unwrap(), Some(""));
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if path == "var/lib/app/" {
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (65532, 65532));
            assert_eq!(h.mode().unwrap(), 0o700);
            assert!(h.entry_type().is_dir());
        }
        seen.push(path);
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert!(seen.contains(&"etc/".to_string()));
}

#[test]
fn gzip_header_carries_no_time_or_name() {
    let gz = gzip(b"layer").unwrap();
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(gz[3], 0, "no FNAME or other flags");
    assert_eq!(&gz[4..8], &[0, 0, 0, 0], "mtime 0");
    assert_eq!(gunzip(&gz), b"layer");
}

#[test]
fn same_inputs_same_digest_whatever_the_insertion_order() {
    let a = build(&rootfs("hi"), &spec()).unwrap();
    let mut reversed = Rootfs::new();
    for path in ["/etc/passwd", "/var/lib/app", "/hello.txt"] {
        reversed
            .insert(path, rootfs("hi").get(path).unwrap().clone())
            .unwrap();
    }
    let b = build(&reversed, &spec()).unwrap();
    assert_eq!(a.manifest_descriptor, b.manifest_descriptor);
    assert_eq!(a.manifest, b.manifest);

    let other = build(&rootfs("bye"), &spec()).unwrap();
    assert_ne!(
        other.manifest_descriptor.digest,
        a.manifest_descriptor.digest
    );
    let mut later = spec();
    later.created += 1;
    let later = build(&rootfs("hi"), &later).unwrap();
    assert_ne!(later.layer_descriptor.digest, a.layer_descriptor.digest);
}

#[test]
fn config_and_manifest_say_what_the_spec_says() {
    let image = build(&rootfs("hi"), &spec()).unwrap();
    let config: Value = serde_json::from_slice(&image.config).unwrap();
    assert_eq!(config["created"], "2025-12-02T00:00:00Z");
    assert_eq!(config["config"]["Entrypoint"], json!(["/app"]));
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.version"],
        "1.0"
    );
    let tar = gunzip(&image.layer);
    assert_eq!(Digest::sha256_of(&tar), image.diff_id);
    assert_eq!(
        config["rootfs"]["diff_ids"],
        json!([image.diff_id.to_string()])
    );

    let manifest: Value = serde_json::from_slice(&image.manifest).unwrap();
    assert_eq!(manifest["mediaType"], media_type::OCI_MANIFEST);
    assert_eq!(
        manifest["config"]["mediaType"],
        media_type::OCI_IMAGE_CONFIG
    );
    assert_eq!(
        manifest["config"]["digest"],
        image.config_descriptor.digest.to_string()
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        media_type::OCI_LAYER_GZIP
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.version"],
        "1.0"
    );
    assert_eq!(
        image.manifest_descriptor.digest,
        Digest::sha256_of(&image.manifest)
    );
}

#[test]
fn layout_and_docker_archive_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let image = build(&rootfs("hi"), &spec()).unwrap();
    let layout = Layout::create(dir.path().join("layout")).unwrap();
    image.write_layout(&layout, &["1.0", "latest"]).unwrap();
    assert_eq!(layout.tags().unwrap(), ["1.0", "latest"]);
    let engine = Engine::locate(None);
    let from_layout = read(
        &Source::Layout {
            dir: dir.path().join("layout"),
            reference: Some("latest".into()),
        },
        &engine,
    )
    .unwrap();
    assert_eq!(
        from_layout.descriptor.digest,
        image.manifest_descriptor.digest
    );
    assert_eq!(from_layout.manifest.as_ref(), image.manifest.as_slice());

    let archive = dir.path().join("image.tar");
    let tags = ["app:1.0".to_string()];
    image
        .write_docker_archive(&archive, &tags, CREATED)
        .unwrap();
    let first = std::fs::read(&archive).unwrap();
    image
        .write_docker_archive(&archive, &tags, CREATED)
        .unwrap();
    assert_eq!(
        first,
        std::fs::read(&archive).unwrap(),
        "the archive is reproducible"
    );
    let from_archive = read(&Source::Archive(archive), &engine).unwrap();
    let digests: Vec<&Digest> = from_archive
        .blobs
        .iter()
        .map(|b| &b.descriptor.digest)
        .collect();
    assert_eq!(
        digests,
        [
            &image.config_descriptor.digest,
            &image.layer_descriptor.digest
        ]
    );
}
