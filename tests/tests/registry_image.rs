//! nv2-registry's OCI image (`cargo run -p xtask -- image`, `make image`): built twice from the
//! debug registry binary (so no musl release build is needed here; a dynamic binary takes the
//! xtask's glibc path, its libraries packed beside it), it is the same digest both times; skopeo
//! and umoci read the layout, skopeo the docker-archive; the config says what the issue asks;
//! the layer is sorted and time-fixed; and the binary, unpacked by umoci, serves `GET /v2/` from
//! the empty data folder as the non-root user. When `make image` has run, `dist/image` must hold
//! the static musl binary.

use std::process::Command;
use std::time::{Duration, Instant};

use nv2_e2e::image::{build_image, file_in, has_interpreter, json, layer_tar, ok, serve, version};
use nv2_e2e::peers::on_path;
use nv2_e2e::{require, target_binary, workspace_root};

const OCI: &str = "org.opencontainers.image.";

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

#[test]
fn demo_images_differ_by_message_and_share_a_layout() {
    let Some(xtask) = require(
        target_binary("xtask"),
        "xtask is not built (cargo build -p xtask)",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("demo");
    let demo = |message: &str, tag: &str| {
        let archive = dir.path().join(format!("{tag}.tar"));
        let out = Command::new(&xtask)
            .args(["demo-image", "--out-layout"])
            .arg(&layout)
            .arg("--out-archive")
            .arg(&archive)
            .args(["--message", message, "--tag", tag])
            .output()
            .unwrap();
        ok("xtask demo-image", out);
        std::fs::read_to_string(layout.with_extension("digest")).unwrap()
    };
    let signed = demo("to be signed", "signed");
    let unsigned = demo("left unsigned", "unsigned");
    assert_ne!(signed, unsigned);
    assert_eq!(
        demo("to be signed", "signed"),
        signed,
        "the same text, the same digest"
    );
    let (_, tar) = layer_tar(&layout, "unsigned");
    assert_eq!(file_in(&tar, "hello.txt").unwrap(), b"left unsigned\n");
    let tags = nv2_client::layout::Layout::open(&layout)
        .unwrap()
        .tags()
        .unwrap();
    assert_eq!(tags, ["unsigned", "signed"]);
}
