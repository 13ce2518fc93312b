//! The image reader on archives built here: each layout docker and skopeo write, links, and the
//! broken inputs, each refused with its own error.

use std::fs::File;
use std::path::{Path, PathBuf};

use oci_model::{media_type, Descriptor, Digest};
use serde_json::{json, Value};

use super::*;
use crate::layout::Layout;

fn header(size: usize, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h
}

/// A tar at `path` of `(name, entry)`.
enum E<'a> {
    File(&'a [u8]),
    Symlink(&'a str),
    HardLink(&'a str),
}

fn write_tar(path: &Path, entries: &[(&str, E)]) {
    let mut b = tar::Builder::new(File::create(path).unwrap());
    for (name, e) in entries {
        match e {
            E::File(data) => {
                let mut h = header(data.len(), tar::EntryType::Regular);
                b.append_data(&mut h, name, *data).unwrap();
            }
            E::Symlink(target) => {
                let mut h = header(0, tar::EntryType::Symlink);
                b.append_link(&mut h, name, target).unwrap();
            }
            E::HardLink(target) => {
                let mut h = header(0, tar::EntryType::Link);
                b.append_link(&mut h, name, target).unwrap();
            }
        }
    }
    b.finish().unwrap();
}

/// A layer: a tar of one file.
fn layer(content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(content.len(), tar::EntryType::Regular);
    b.append_data(&mut h, "hello.txt", content).unwrap();
    b.into_inner().unwrap()
}

const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

fn hex(bytes: &[u8]) -> String {
    Digest::sha256_of(bytes).hex().to_string()
}

fn manifest_json(config: &str, layers: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!([{"Config": config, "RepoTags": ["app:v1"], "Layers": layers}]))
        .unwrap()
}

fn read_file(path: &Path) -> Result<Image> {
    read(&Source::Archive(path.into()), &no_engine())
}

fn no_engine() -> Engine {
    Engine {
        host: "unix:///nonexistent/docker.sock".into(),
    }
}

/// The image's manifest names exactly its blobs, and each blob file holds `expected` bytes.
fn check_blobs(image: &Image, expected: &[&[u8]]) {
    let m: Value = serde_json::from_slice(&image.manifest).unwrap();
    assert_eq!(image.descriptor.digest, Digest::sha256_of(&image.manifest));
    assert_eq!(image.descriptor.size, image.manifest.len() as u64);
    assert_eq!(image.blobs.len(), expected.len());
    let named: Vec<Value> = std::iter::once(m["config"].clone())
        .chain(m["layers"].as_array().unwrap().iter().cloned())
        .collect();
    for ((blob, bytes), d) in image.blobs.iter().zip(expected).zip(&named) {
        assert_eq!(std::fs::read(&blob.path).unwrap(), *bytes);
        assert_eq!(blob.descriptor.digest, Digest::sha256_of(bytes));
        assert_eq!(d["digest"], blob.descriptor.digest.to_string());
        assert_eq!(d["size"], blob.descriptor.size);
        assert_eq!(d["mediaType"], blob.descriptor.media_type);
    }
}

#[test]
fn legacy_docker_save_archives_with_linked_layers_become_docker_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.tar");
    let plain = layer(b"one\n");
    // Not a real gzip stream: only the magic is looked at, and the bytes are pushed as they are.
    let gzip = [&[0x1f, 0x8b, 0x08][..], b"compressed bytes"].concat();
    let config_name = format!("{}.json", hex(CONFIG));
    write_tar(
        &path,
        &[
            ("aaa/layer.tar", E::File(&plain)),
            // skopeo: the legacy name is a symbolic link to the layer stored by digest.
            ("bbb.tar", E::File(&gzip)),
            ("ccc/layer.tar", E::Symlink("../bbb.tar")),
            // and a hard link (relative to the root) to the first layer.
            ("ddd/layer.tar", E::HardLink("aaa/layer.tar")),
            (&config_name, E::File(CONFIG)),
            (
                "manifest.json",
                E::File(&manifest_json(
                    &config_name,
                    &["aaa/layer.tar", "./ccc/layer.tar", "ddd/layer.tar"],
                )),
            ),
        ],
    );
    let image = read_file(&path).unwrap();
    assert_eq!(image.descriptor.media_type, media_type::DOCKER_MANIFEST);
    let m: Value = serde_json::from_slice(&image.manifest).unwrap();
    assert_eq!(m["config"]["mediaType"], DOCKER_CONFIG);
    let types: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(types, [DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_LAYER]);
    // The hard-linked layer is the first one again: listed twice, one blob.
    assert_eq!(m["layers"][0], m["layers"][2]);
    check_blobs(&image, &[CONFIG, &plain, &gzip]);
    assert!(std::str::from_utf8(&image.manifest)
        .unwrap()
        .starts_with("{\n   \"schemaVersion\": 2,"));
}

#[test]
fn docker_25_archives_are_read_through_manifest_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d25.tar");
    let l = layer(b"docker 25\n");
    let (lc, ll) = (
        format!("blobs/sha256/{}", hex(CONFIG)),
        format!("blobs/sha256/{}", hex(&l)),
    );
    let index = json!({"schemaVersion": 2, "manifests": []}).to_string();
    write_tar(
        &path,
        &[
            ("oci-layout", E::File(br#"{"imageLayoutVersion":"1.0.0"}"#)),
            ("index.json", E::File(index.as_bytes())),
            (&lc, E::File(CONFIG)),
            (&ll, E::File(&l)),
            ("manifest.json", E::File(&manifest_json(&lc, &[&ll]))),
        ],
    );
    let image = read_file(&path).unwrap();
    assert_eq!(image.descriptor.media_type, media_type::DOCKER_MANIFEST);
    assert!(image.source.starts_with("docker-archive"));
    check_blobs(&image, &[CONFIG, &l]);
}

/// An OCI layout with one image manifest tagged `v1`: (layout dir, manifest digest, layer).
fn oci_layout(dir: &Path) -> (PathBuf, Descriptor, Vec<u8>) {
    let root = dir.join("layout");
    let layout = Layout::create(&root).unwrap();
    let l = layer(b"oci\n");
    let config = Descriptor::new(
        "application/vnd.oci.image.config.v1+json",
        Digest::sha256_of(CONFIG),
        CONFIG.len() as u64,
    );
    let ld = Descriptor::new(
        "application/vnd.oci.image.layer.v1.tar",
        Digest::sha256_of(&l),
        l.len() as u64,
    );
    layout.write_blob_bytes(&config, CONFIG).unwrap();
    layout.write_blob_bytes(&ld, &l).unwrap();
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": [ld],
    }))
    .unwrap();
    let md = Descriptor::new(
        media_type::OCI_MANIFEST,
        Digest::sha256_of(&m),
        m.len() as u64,
    );
    layout.write_blob_bytes(&md, &m).unwrap();
    layout.tag(&md, "v1").unwrap();
    (root, md, l)
}

#[test]
fn oci_layouts_and_archives_keep_their_manifest_and_check_every_blob() {
    let dir = tempfile::tempdir().unwrap();
    let (root, md, l) = oci_layout(dir.path());
    let arg = format!("oci:{}:v1", root.display());
    let image = read(&Source::parse(&arg).unwrap(), &no_engine()).unwrap();
    assert_eq!(image.descriptor, md);
    check_blobs(&image, &[CONFIG, &l]);
    // A folder holding oci-layout is a layout too; its only manifest is the image.
    let by_dir = read(
        &Source::parse(&root.display().to_string()).unwrap(),
        &no_engine(),
    )
    .unwrap();
    assert_eq!(by_dir.descriptor.digest, md.digest);

    // The same layout as a tar: an OCI archive, the same digest.
    let tar_path = dir.path().join("oci.tar");
    let mut b = tar::Builder::new(File::create(&tar_path).unwrap());
    b.append_dir_all(".", &root).unwrap();
    b.finish().unwrap();
    drop(b);
    let archived = read_file(&tar_path).unwrap();
    assert_eq!(archived.descriptor, md);
    assert!(archived.source.starts_with("oci-archive"));

    // A blob changed on disk is refused with both digests; a missing one names its path.
    let blob = Layout::open(&root)
        .unwrap()
        .blob_path(&Digest::sha256_of(&l));
    let mut changed = l.clone();
    changed[600] ^= 1;
    std::fs::write(&blob, &changed).unwrap();
    let e = read(&Source::parse(&arg).unwrap(), &no_engine()).unwrap_err();
    assert!(
        matches!(&e, ImageError::DigestMismatch { expected, .. } if *expected == Digest::sha256_of(&l)),
        "{e}"
    );
    std::fs::remove_file(&blob).unwrap();
    let e = read(&Source::parse(&arg).unwrap(), &no_engine()).unwrap_err();
    assert!(matches!(e, ImageError::MissingBlob { .. }), "{e}");
}

#[test]
fn broken_archives_are_refused_with_their_own_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("text"), b"not an archive at all").unwrap();
    assert!(matches!(
        read_file(&p("text")),
        Err(ImageError::NotATar { .. })
    ));
    std::fs::write(p("gz"), [0x1f, 0x8b, 0x08, 0]).unwrap();
    assert!(matches!(
        read_file(&p("gz")),
        Err(ImageError::Compressed { .. })
    ));
    write_tar(&p("other.tar"), &[("README", E::File(b"hi"))]);
    assert!(matches!(
        read_file(&p("other.tar")),
        Err(ImageError::UnknownArchive { .. })
    ));

    let config_name = format!("{}.json", hex(CONFIG));
    write_tar(
        &p("missing.tar"),
        &[
            (&config_name, E::File(CONFIG)),
            (
                "manifest.json",
                E::File(&manifest_json(&config_name, &["gone/layer.tar"])),
            ),
        ],
    );
    let e = read_file(&p("missing.tar")).unwrap_err();
    assert!(
        matches!(&e, ImageError::MissingEntry { entry, .. } if entry == "gone/layer.tar"),
        "{e}"
    );

    write_tar(
        &p("loop.tar"),
        &[
            ("a.tar", E::Symlink("b.tar")),
            ("b.tar", E::Symlink("a.tar")),
            ("out.tar", E::Symlink("../../etc/passwd")),
            (&config_name, E::File(CONFIG)),
            (
                "manifest.json",
                E::File(&manifest_json(&config_name, &["a.tar"])),
            ),
        ],
    );
    assert!(matches!(
        read_file(&p("loop.tar")),
        Err(ImageError::BadLink { .. })
    ));

    write_tar(
        &p("bad.tar"),
        &[("manifest.json", E::File(b"{\"not\": \"a list\"}"))],
    );
    let e = read_file(&p("bad.tar")).unwrap_err();
    assert!(
        matches!(&e, ImageError::BadArchive { entry, .. } if entry == "manifest.json"),
        "{e}"
    );
}

#[test]
fn sources_parse_into_their_forms() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Source::parse("oci:/x/y:v2").unwrap(),
        Source::Layout {
            dir: "/x/y".into(),
            reference: Some("v2".into())
        }
    );
    assert_eq!(
        Source::parse("oci:dir").unwrap(),
        Source::Layout {
            dir: "dir".into(),
            reference: None
        }
    );
    let d = Digest::sha256_of(b"x");
    assert_eq!(
        Source::parse(&format!("oci:dir@{d}")).unwrap(),
        Source::Layout {
            dir: "dir".into(),
            reference: Some(d.to_string())
        }
    );
    let file = dir.path().join("image.tar");
    std::fs::write(&file, b"").unwrap();
    assert_eq!(
        Source::parse(file.to_str().unwrap()).unwrap(),
        Source::Archive(file)
    );
    assert!(matches!(
        Source::parse(dir.path().to_str().unwrap()),
        Err(ImageError::NotALayout { .. })
    ));
    assert_eq!(
        Source::parse("registry.example/app:v1").unwrap(),
        Source::Engine("registry.example/app:v1".into())
    );
}
