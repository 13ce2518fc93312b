//! `nv2 copy` between our registry (referrers API), CNCF distribution 2.8.2 (tag schema only),
//! two repositories of one registry (cross-repository mount) and OCI image layouts, which
//! skopeo reads and writes on the other side.

use std::path::Path;
use std::process::Command;

use nv2_e2e::distribution::Distribution;
use nv2_e2e::nv2::{digest_line, Nv2};
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::require;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const SBOM: &str = "application/spdx+json";
const SIGNATURE: &str = "application/vnd.cncf.notary.signature";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn hex_of(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// The digests of an artifact and its referrers: a signature of it, an SBoM of it, and a
/// signature of the SBoM.
struct Graph {
    artifact: String,
    signature: String,
    sbom: String,
    sbom_signature: String,
    layer: String,
}

/// Pushes the graph to `image` (`host/repo`), tagged `v1`, with the existing verbs.
fn build_graph(nv2: &Nv2, image: &str) -> Graph {
    let readme = nv2.write("in/readme.txt", b"copy me\n");
    let artifact = digest_line(&nv2.ok(&[
        "push",
        &format!("{image}:v1"),
        &format!("{}:text/plain", readme.display()),
        "--artifact-type",
        "application/vnd.example.bundle",
    ]));
    let manifest: Value =
        serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{image}@{artifact}")]))
            .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let attach = |subject: &str, file: &str, bytes: &[u8], media: &str| {
        let path = nv2.write(file, bytes);
        digest_line(&nv2.ok(&[
            "attach",
            &format!("{image}@{subject}"),
            &format!("{}:{media}", path.display()),
            "--artifact-type",
            media,
        ]))
    };
    let signature = attach(&artifact, "sig.jws", br#"{"payload":"a"}"#, SIGNATURE);
    let sbom = attach(
        &artifact,
        "sbom.json",
        br#"{"spdxVersion":"SPDX-2.3"}"#,
        SBOM,
    );
    let sbom_signature = attach(&sbom, "sbom-sig.jws", br#"{"payload":"s"}"#, SIGNATURE);
    Graph {
        artifact,
        signature,
        sbom,
        sbom_signature,
        layer,
    }
}

/// Every manifest of the graph arrived as the same bytes, and the layer too.
fn assert_same_content(nv2: &Nv2, image: &str, g: &Graph) {
    for digest in [&g.artifact, &g.signature, &g.sbom, &g.sbom_signature] {
        let fetched = nv2.ok(&["manifest", "fetch", &format!("{image}@{digest}")]);
        assert_eq!(&sha256(fetched.as_bytes()), digest, "{image}@{digest}");
    }
    let out = nv2.path("layer.out");
    nv2.ok(&[
        "blob",
        "fetch",
        &format!("{image}@{}", g.layer),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), b"copy me\n");
}

/// `nv2 discover -o json` on `image:v1` shows both levels of referrers.
fn assert_discovered(nv2: &Nv2, image: &str, g: &Graph) {
    let out = nv2.ok(&["discover", &format!("{image}:v1"), "-o", "json"]);
    let tree: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tree["digest"], g.artifact.as_str());
    let mut first: Vec<&str> = tree["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["digest"].as_str().unwrap())
        .collect();
    first.sort();
    let mut want = vec![g.signature.as_str(), g.sbom.as_str()];
    want.sort();
    assert_eq!(first, want, "{out}");
    let sbom = tree["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["digest"] == g.sbom.as_str())
        .unwrap();
    assert_eq!(sbom["artifactType"], SBOM);
    let nested = sbom["referrers"].as_array().expect("the SBoM's referrers");
    assert_eq!(nested.len(), 1, "{out}");
    assert_eq!(nested[0]["digest"], g.sbom_signature.as_str());
}

/// The digests listed by the tag-schema index of `subject` in `image`.
fn tag_schema(nv2: &Nv2, image: &str, subject: &str) -> Vec<String> {
    let index: Value = serde_json::from_str(&nv2.ok(&[
        "manifest",
        "fetch",
        &format!("{image}:sha256-{}", hex_of(subject)),
    ]))
    .unwrap();
    let mut digests: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_string())
        .collect();
    digests.sort();
    digests
}

/// The referrers API's answer for `subject` in `repo` of `registry`.
fn api_referrers(registry: &str, repo: &str, subject: &str) -> Vec<String> {
    let url = format!("http://{registry}/v2/{repo}/referrers/{subject}");
    let index: Value =
        serde_json::from_slice(&reqwest::blocking::get(&url).unwrap().bytes().unwrap()).unwrap();
    let mut digests: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_string())
        .collect();
    digests.sort();
    digests
}

/// The tags of a repository straight from the registry (none when it does not exist).
fn registry_tags(registry: &str, repo: &str) -> Vec<String> {
    let response =
        reqwest::blocking::get(format!("http://{registry}/v2/{repo}/tags/list")).unwrap();
    if response.status() == 404 {
        return Vec::new();
    }
    let body: Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
    body["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn copy_r_to_distribution_keeps_digests_and_writes_the_tag_schema_once() {
    let Some(dist) = require(
        Distribution::start(),
        "docker-registry (CNCF distribution) is not installed",
    ) else {
        return;
    };
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let src = format!("{}/src/app", reg.host());
    let dst = format!("{}/dst/app", dist.addr);
    let g = build_graph(&nv2, &src);

    // No tag on the destination: the source's.
    let out = nv2.ok(&["copy", "-r", &format!("{src}:v1"), &dst]);
    assert!(
        out.contains(&format!(
            "Copied  [registry] {src}:v1 => [registry] {dst}:v1"
        )),
        "{out}"
    );
    assert_eq!(digest_line(&out), g.artifact);
    assert_same_content(&nv2, &dst, &g);
    let want = sorted(vec![g.signature.clone(), g.sbom.clone()]);
    assert_eq!(tag_schema(&nv2, &dst, &g.artifact), want);
    assert_eq!(tag_schema(&nv2, &dst, &g.sbom), [g.sbom_signature.clone()]);
    assert_discovered(&nv2, &dst, &g);

    // Again (as `cp`): nothing is listed twice.
    let out = nv2.run(&["cp", "-r", &format!("{src}:v1"), &dst]);
    assert!(out.status.success());
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("Exists") && !progress.contains("Copying"),
        "{progress}"
    );
    assert_eq!(tag_schema(&nv2, &dst, &g.artifact), want);
    assert_eq!(tag_schema(&nv2, &dst, &g.sbom), [g.sbom_signature.clone()]);
}

#[test]
fn copy_r_from_distribution_is_listed_by_the_referrers_api() {
    let Some(dist) = require(
        Distribution::start(),
        "docker-registry (CNCF distribution) is not installed",
    ) else {
        return;
    };
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let src = format!("{}/src/app", dist.addr);
    let dst = format!("{}/dst/app", reg.host());
    let g = build_graph(&nv2, &src);

    let out = nv2.ok(&[
        "copy",
        "-r",
        &format!("{src}:v1"),
        &format!("{dst}:v1,stable"),
    ]);
    assert_eq!(digest_line(&out), g.artifact);
    assert_same_content(&nv2, &dst, &g);
    assert_eq!(
        api_referrers(&reg.host(), "dst/app", &g.artifact),
        sorted(vec![g.signature.clone(), g.sbom.clone()])
    );
    assert_eq!(
        api_referrers(&reg.host(), "dst/app", &g.sbom),
        [g.sbom_signature.clone()]
    );
    // The API lists them: no tag schema on our registry, and both tags set.
    assert_eq!(
        sorted(registry_tags(&reg.host(), "dst/app")),
        ["stable", "v1"]
    );
    assert_discovered(&nv2, &dst, &g);
}

#[test]
fn a_copy_within_one_registry_mounts_every_blob() {
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let src = format!("{}/team-a/app", reg.host());
    let big = nv2.write("big.bin", &vec![7u8; 3 * 1024 * 1024]);
    let digest = digest_line(&nv2.ok(&["push", &format!("{src}:v1"), big.to_str().unwrap()]));
    let dst = format!("{}/team-b/app", reg.host());
    let before = reg.requests();
    let out = nv2.run(&["copy", &format!("{src}:v1"), &format!("{dst}:v2")]);
    assert!(out.status.success(), "{out:?}");
    let requests = reg.requests() - before;
    let progress = String::from_utf8_lossy(&out.stderr);
    // Both blobs (the empty config and the file) mounted, none streamed.
    assert_eq!(
        progress
            .lines()
            .filter(|l| l.starts_with("Mounted"))
            .count(),
        2,
        "{progress}"
    );
    assert!(
        !progress
            .lines()
            .any(|l| l.starts_with("Copied ") && l.contains("big.bin")),
        "{progress}"
    );
    // A download and an upload of 3 MiB would take more round trips than this.
    assert!(requests < 20, "{requests} requests: {progress}");
    assert_eq!(digest_line(&String::from_utf8_lossy(&out.stdout)), digest);
    let fetched = nv2.path("big.out");
    let layer: Value =
        serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{dst}:v2")])).unwrap();
    nv2.ok(&[
        "blob",
        "fetch",
        &format!("{dst}@{}", layer["layers"][0]["digest"].as_str().unwrap()),
        "-o",
        fetched.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(fetched).unwrap().len(), 3 * 1024 * 1024);
    // --quiet: the result only.
    let quiet = nv2.run(&["copy", "-q", &format!("{src}:v1"), &format!("{dst}:v3")]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&quiet.stdout).trim(),
        format!("Digest: {digest}")
    );
}

/// skopeo, or `None` (skipped) when it is not installed.
fn skopeo() -> Option<&'static str> {
    require(
        Path::new("/usr/bin/skopeo")
            .exists()
            .then_some("/usr/bin/skopeo"),
        "skopeo is not installed",
    )
}

fn run_skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A small container image (image config, one uncompressed tar layer), pushed to `image:v1`
/// with the manifest and blob verbs; answers its digest.
fn push_image(nv2: &Nv2, image: &str) -> String {
    nv2.write("rootfs/hello.txt", b"hello\n");
    let tar_path = nv2.path("layer.tar");
    let status = Command::new("tar")
        .args(["-cf", tar_path.to_str().unwrap(), "-C"])
        .arg(nv2.path("rootfs"))
        .arg("hello.txt")
        .status()
        .expect("run tar");
    assert!(status.success());
    let layer: Value = serde_json::from_str(
        nv2.ok(&["blob", "push", image, tar_path.to_str().unwrap()])
            .trim(),
    )
    .unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        "config": {},
    });
    let config_path = nv2.write("config.json", config.to_string().as_bytes());
    let config: Value = serde_json::from_str(
        nv2.ok(&["blob", "push", image, config_path.to_str().unwrap()])
            .trim(),
    )
    .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config["digest"], "size": config["size"]},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer["digest"], "size": layer["size"]}],
    });
    let manifest_path = nv2.write("manifest.json", manifest.to_string().as_bytes());
    nv2.ok(&[
        "manifest",
        "push",
        &format!("{image}:v1"),
        manifest_path.to_str().unwrap(),
    ]);
    sha256(manifest.to_string().as_bytes())
}

#[test]
fn layouts_written_by_nv2_are_read_by_skopeo_and_the_other_way_round() {
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    if skopeo().is_none() {
        return;
    }
    let host = reg.host();
    let image = format!("{host}/src/img");
    let digest = push_image(&nv2, &image);

    // nv2 → layout → skopeo.
    let dir = nv2.path("nv2-layout");
    let out = nv2.ok(&[
        "copy",
        &format!("{image}:v1"),
        "--to-oci-layout",
        &format!("{}:v1", dir.display()),
    ]);
    assert!(out.contains("=> [oci-layout]"), "{out}");
    assert_eq!(digest_line(&out), digest);
    let raw = run_skopeo(&["inspect", "--raw", &format!("oci:{}:v1", dir.display())]);
    assert_eq!(sha256(&raw), digest);
    // skopeo re-serialises manifests unless told to keep their digests.
    run_skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", dir.display()),
        &format!("docker://{host}/by-skopeo/img:v1"),
    ]);
    let pushed = nv2.ok(&["manifest", "fetch", &format!("{host}/by-skopeo/img:v1")]);
    assert_eq!(
        sha256(pushed.as_bytes()),
        digest,
        "skopeo kept the manifest"
    );

    // skopeo → layout → nv2.
    let theirs = nv2.path("skopeo-layout");
    run_skopeo(&[
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("docker://{image}:v1"),
        &format!("oci:{}:v1", theirs.display()),
    ]);
    let raw = run_skopeo(&["inspect", "--raw", &format!("oci:{}:v1", theirs.display())]);
    assert_eq!(sha256(&raw), digest, "skopeo wrote the manifest as it is");
    let out = nv2.ok(&[
        "copy",
        "--from-oci-layout",
        &format!("{}:v1", theirs.display()),
        &format!("{host}/from-skopeo/img"),
    ]);
    assert!(
        out.contains(&format!(
            "Copied  [oci-layout] {}:v1 => [registry] {host}/from-skopeo/img:v1",
            theirs.display()
        )),
        "{out}"
    );
    assert_eq!(digest_line(&out), digest);
    let fetched = nv2.ok(&["manifest", "fetch", &format!("{host}/from-skopeo/img:v1")]);
    assert_eq!(sha256(fetched.as_bytes()), digest);
}

#[test]
fn a_recursive_round_trip_through_a_layout_keeps_the_referrers() {
    let reg = LocalRegistry::start();
    let other = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let src = format!("{}/src/app", reg.host());
    let g = build_graph(&nv2, &src);
    let dir = nv2.path("layout");
    nv2.ok(&[
        "copy",
        "-r",
        &format!("{src}:v1"),
        "--to-oci-layout",
        dir.to_str().unwrap(),
    ]);
    // The tag once, the three referrers untagged.
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{index}");
    let tagged: Vec<&Value> = entries
        .iter()
        .filter(|e| e["annotations"]["org.opencontainers.image.ref.name"].is_string())
        .collect();
    assert_eq!(tagged.len(), 1, "{index}");
    assert_eq!(tagged[0]["digest"], g.artifact.as_str());
    assert_eq!(
        tagged[0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );

    let dst = format!("{}/back/app", other.host());
    let out = nv2.ok(&[
        "copy",
        "-r",
        "--from-oci-layout",
        &format!("{}:v1", dir.display()),
        &dst,
    ]);
    assert_eq!(digest_line(&out), g.artifact);
    assert_same_content(&nv2, &dst, &g);
    assert_discovered(&nv2, &dst, &g);
    // Without -r only the artifact travels.
    let plain = format!("{}/plain/app", other.host());
    nv2.ok(&[
        "copy",
        "--from-oci-layout",
        &format!("{}:v1", dir.display()),
        &plain,
    ]);
    assert!(api_referrers(&other.host(), "plain/app", &g.artifact).is_empty());
}

#[test]
fn bad_input_is_a_clear_error_and_tags_nothing() {
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let host = reg.host();
    let src = format!("{host}/src/app");
    let g = build_graph(&nv2, &src);
    let dst = format!("{host}/dst/app");

    // A layout that is not there.
    let missing = nv2.path("no-such-layout");
    let err = nv2.fails(
        &[
            "copy",
            "--from-oci-layout",
            &format!("{}:v1", missing.display()),
            &format!("{dst}:v1"),
        ],
        2,
    );
    assert!(
        err.contains("not an OCI image layout") && err.contains(missing.to_str().unwrap()),
        "{err}"
    );

    // A tag the layout does not have: the message lists the tags it has.
    let dir = nv2.path("layout");
    nv2.ok(&[
        "copy",
        &format!("{src}:v1"),
        "--to-oci-layout",
        dir.to_str().unwrap(),
    ]);
    let err = nv2.fails(
        &[
            "copy",
            "--from-oci-layout",
            &format!("{}:v9", dir.display()),
            &format!("{dst}:v1"),
        ],
        2,
    );
    assert!(
        err.contains("no tag \"v9\"") && err.contains("tags: v1"),
        "{err}"
    );

    // An unknown tag on the source registry: its answer and what to do.
    let err = nv2.fails(&["copy", &format!("{src}:nope"), &format!("{dst}:v1")], 2);
    assert!(
        err.contains(&format!("{src}:nope"))
            && err.contains("404")
            && err.contains("check the repository"),
        "{err}"
    );
    assert!(registry_tags(&host, "dst/app").is_empty());
    // Nor is a destination layout created for a source that is not there.
    let never = nv2.path("never");
    nv2.fails(
        &[
            "copy",
            &format!("{src}:nope"),
            "--to-oci-layout",
            never.to_str().unwrap(),
        ],
        2,
    );
    assert!(!never.exists());

    // A destination digest that is not the source's.
    let err = nv2.fails(
        &["copy", &format!("{src}:v1"), &format!("{dst}@{}", g.sbom)],
        2,
    );
    assert!(err.contains("not the destination's digest"), "{err}");
    assert!(registry_tags(&host, "dst/app").is_empty());

    // Usage: no subcommand, a missing argument.
    let err = nv2.fails::<&str>(&[], 2);
    assert!(err.contains("Usage"), "{err}");
    let err = nv2.fails(&["copy", &format!("{src}:v1")], 2);
    assert!(
        err.contains("Usage") && err.contains("DESTINATION"),
        "{err}"
    );
}
