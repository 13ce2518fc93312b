//! `nv2`'s registry verbs against tools nobody here wrote, on both loopback registries (ours,
//! with the referrers API, and CNCF distribution 2.8.2, without it): skopeo and the PyPI `oras`
//! SDK read what `nv2` pushes byte for byte, `nv2 discover` finds what oras-py pushes with a
//! `subject`, logins pass both ways between `docker` and `nv2`, and `--format json` reports what
//! the registry holds.

use nv2_e2e::distribution::Distribution;
use nv2_e2e::nv2::{digest_line, Nv2};
use nv2_e2e::peers::{Docker, OrasPy, Skopeo};
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::require;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON value ({e}): {text}"))
}

fn distribution() -> Option<Distribution> {
    require(
        Distribution::start(),
        "docker-registry (CNCF distribution) is not installed (scripts/registry-peers.sh)",
    )
}

/// What every push shape writes, skopeo reads unchanged (by tag and by digest).
fn skopeo_reads_what_nv2_pushes(host: &str, has_api: bool) {
    let Some(skopeo) = require(Skopeo::find(), "skopeo is not installed") else {
        return;
    };
    let Some(nv2) = Nv2::new() else { return };
    let file = nv2.write("in/readme.txt", b"read me\n");
    nv2.write("site/index.html", b"<p>hi</p>");
    let file = file.to_str().unwrap();
    let repo = format!("{host}/interop/skopeo");
    let same_bytes = |reference: &str, digest: &str| {
        let raw = skopeo.raw(reference);
        assert_eq!(sha256(&raw), digest, "skopeo's bytes of {reference}");
    };

    let image = digest_line(&nv2.ok(&["push", &format!("{repo}:image"), file]));
    same_bytes(&format!("{repo}:image"), &image);
    same_bytes(&format!("{repo}@{image}"), &image);
    let v10 = digest_line(&nv2.ok(&[
        "push",
        &format!("{repo}:v10"),
        file,
        "--image-spec",
        "v1.0",
        "--artifact-type",
        "application/vnd.example.config",
    ]));
    same_bytes(&format!("{repo}:v10"), &v10);
    let tar = digest_line(&nv2.ok(&["push", &format!("{repo}:tar"), "site", "--tar"]));
    same_bytes(&format!("{repo}:tar"), &tar);
    let attached = digest_line(&nv2.ok(&[
        "attach",
        &format!("{repo}:image"),
        file,
        "--artifact-type",
        "application/vnd.example.note",
    ]));
    same_bytes(&format!("{repo}@{attached}"), &attached);
    assert_ne!(attached, image);

    if !has_api {
        // The referrers tag-schema index nv2 keeps is an OCI index skopeo reads as one.
        let tag = format!("sha256-{}", image.trim_start_matches("sha256:"));
        let index = json(&String::from_utf8(skopeo.raw(&format!("{repo}:{tag}"))).unwrap());
        assert_eq!(
            index["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(index["manifests"][0]["digest"], attached, "{index}");
    }

    // The prototype's artifact manifest: distribution refuses the type (nv2 says what to do
    // instead); ours stores it, and skopeo 1.9 does not ask for it. Either skopeo reads the
    // bytes unchanged or it is refused for the type, never served something else.
    let out = nv2.run(&[
        "push",
        &format!("{repo}:artifact"),
        file,
        "--artifact-manifest",
    ]);
    if has_api {
        assert!(out.status.success(), "{out:?}");
        let artifact = digest_line(&String::from_utf8_lossy(&out.stdout));
        let read = skopeo.inspect_raw(&format!("{repo}:artifact"));
        if read.status.success() {
            assert_eq!(sha256(&read.stdout), artifact);
        } else {
            let err = String::from_utf8_lossy(&read.stderr);
            assert!(
                err.contains("application/vnd.oci.artifact.manifest.v1+json"),
                "{err}"
            );
        }
    } else {
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("refuses the prototype's artifact manifest")
                && err.contains("without --artifact-manifest"),
            "{err}"
        );
    }
}

#[test]
fn skopeo_reads_nv2_pushes_from_nv2_registry() {
    let reg = LocalRegistry::start();
    skopeo_reads_what_nv2_pushes(&reg.host(), true);
}

#[test]
fn skopeo_reads_nv2_pushes_from_distribution() {
    let Some(dist) = distribution() else { return };
    skopeo_reads_what_nv2_pushes(&dist.addr, false);
}

/// oras-py pulls what nv2 pushed (same files, same manifest digest); nv2 discovers what oras-py
/// pushes with a `subject` where the registry indexes it.
fn oras_py_and_nv2(host: &str, has_api: bool) {
    let Some(oras) = require(
        OrasPy::find(),
        "the oras Python SDK is not installed (pip install oras)",
    ) else {
        return;
    };
    let Some(nv2) = Nv2::new() else { return };
    let readme = nv2.write("in/readme.txt", b"hello oras\n");
    let data = nv2.write("in/data.json", br#"{"n": 2}"#);
    let repo = "interop/oras";
    let image = format!("{host}/{repo}");
    let digest = digest_line(&nv2.ok(&[
        "push",
        &format!("{image}:v1"),
        &format!("{}:text/plain", readme.display()),
        data.to_str().unwrap(),
    ]));
    let manifest = json(&nv2.ok(&["manifest", "fetch", &format!("{image}:v1")]));

    let out_dir = nv2.path("oras-out");
    let pulled = oras.pull(host, repo, "v1", &out_dir);
    assert_eq!(
        pulled["digest"], digest,
        "oras-py's manifest bytes: {pulled}"
    );
    assert_eq!(pulled["dockerContentDigest"], digest, "{pulled}");
    let layers: Vec<&Value> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["digest"])
        .collect();
    assert_eq!(
        pulled["layers"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        layers
    );
    assert_eq!(pulled["files"].as_array().unwrap().len(), 2, "{pulled}");
    assert_eq!(
        std::fs::read(out_dir.join("readme.txt")).unwrap(),
        b"hello oras\n"
    );
    assert_eq!(
        std::fs::read(out_dir.join("data.json")).unwrap(),
        br#"{"n": 2}"#
    );

    // oras-py pushes a referrer of the image (its own manifest and config).
    let note = nv2.write("oras-in/note.txt", b"from oras-py\n");
    let pushed = oras.push_referrer(host, repo, "v1", "oras-note", &note);
    assert_eq!(pushed["subject"], digest, "{pushed}");
    let referrer = pushed["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no Docker-Content-Digest: {pushed}"))
        .to_string();
    let stored = nv2.ok(&["manifest", "fetch", &format!("{image}@{referrer}")]);
    assert_eq!(sha256(stored.as_bytes()), referrer);
    assert_eq!(json(&stored)["subject"]["digest"], digest, "{stored}");
    assert_eq!(pushed["ociSubject"].as_str() == Some(&digest), has_api);

    // nv2 adds its own referrer beside it.
    let own = digest_line(&nv2.ok(&[
        "attach",
        &format!("{image}:v1"),
        readme.to_str().unwrap(),
        "--artifact-type",
        "application/vnd.example.note",
    ]));
    let tree = json(&nv2.ok(&["discover", &format!("{image}:v1"), "-o", "json"]));
    let found: Vec<&str> = tree["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["digest"].as_str().unwrap())
        .collect();
    assert!(found.contains(&own.as_str()), "{tree}");
    if has_api {
        // The registry indexed it by its subject: the artifact type is its config's media type.
        let entry = tree["referrers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["digest"] == referrer.as_str())
            .unwrap_or_else(|| panic!("oras-py's referrer is not discovered: {tree}"));
        assert_eq!(
            entry["artifactType"], "application/vnd.unknown.config.v1+json",
            "{entry}"
        );
        assert_eq!(found.len(), 2, "{tree}");
    } else {
        // oras-py does not keep the referrers tag schema, and distribution 2.8 has no API: the
        // referrer exists (above) but nothing indexes it, so discover cannot list it.
        assert_eq!(found, [own.as_str()], "{tree}");
    }
}

#[test]
fn oras_py_and_nv2_on_nv2_registry() {
    let reg = LocalRegistry::start();
    oras_py_and_nv2(&reg.host(), true);
}

#[test]
fn oras_py_and_nv2_on_distribution() {
    let Some(dist) = distribution() else { return };
    oras_py_and_nv2(&dist.addr, false);
}

/// `docker login` (client-side, no daemon) writes a config.json that `nv2` authenticates with.
#[test]
fn docker_login_is_used_by_nv2() {
    let reg = LocalRegistry::with_users(nv2_registry::Config::default(), &[("alice", "wonder")]);
    let Some(docker) = require(Docker::find(), "the docker CLI is not installed") else {
        return;
    };
    let Some(nv2) = Nv2::new() else { return };
    let host = reg.host();
    let dir = nv2.docker_config();
    let file = nv2.write("f.txt", b"pushed with docker's login\n");
    let target = format!("{host}/interop/docker:v1");
    nv2.fails(&["push", &target, file.to_str().unwrap()], 2);

    // docker checks the password against the registry before it stores anything.
    let bad = docker.run(
        &dir,
        &["login", "-u", "alice", "--password-stdin", &host],
        b"nope\n",
    );
    assert!(!bad.status.success(), "{bad:?}");
    assert!(!dir.join("config.json").is_file() || !read_auths(&dir).contains_key(&host));
    let out = docker.ok(
        &dir,
        &["login", "-u", "alice", "--password-stdin", &host],
        b"wonder\n",
    );
    assert!(out.contains("Login Succeeded"), "{out}");

    let digest = digest_line(&nv2.ok(&["push", &target, file.to_str().unwrap()]));
    let pulled = nv2.path("pulled");
    nv2.ok(&["pull", &target, "-o", pulled.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(pulled.join("f.txt")).unwrap(),
        b"pushed with docker's login\n"
    );
    let descriptor = json(&nv2.ok(&["manifest", "fetch", &target, "--descriptor"]));
    assert_eq!(descriptor["digest"], digest);
}

/// `nv2 login` writes what docker reads: `docker manifest inspect` (the CLI's own registry
/// client, no daemon) authenticates with it, `docker logout` finds it, and docker's own login
/// writes the same document.
#[test]
fn nv2_login_is_used_by_docker() {
    let reg = LocalRegistry::with_users(nv2_registry::Config::default(), &[("alice", "wonder")]);
    let Some(docker) = require(Docker::find(), "the docker CLI is not installed") else {
        return;
    };
    let Some(nv2) = Nv2::new() else { return };
    let host = reg.host();
    let dir = nv2.docker_config();
    let file = nv2.write("f.txt", b"x");
    let target = format!("{host}/interop/docker:v1");
    let digest = digest_line(&nv2.ok(&[
        "push",
        &target,
        file.to_str().unwrap(),
        "-u",
        "alice",
        "-p",
        "wonder",
    ]));
    let inspect = ["manifest", "inspect", "--insecure", "-v", target.as_str()];

    // Without a login docker is refused, so what follows is nv2's stored login at work.
    let anonymous = nv2.path("anonymous");
    std::fs::create_dir_all(&anonymous).unwrap();
    let refused = docker.run(&anonymous, &inspect, b"");
    assert!(!refused.status.success(), "{refused:?}");

    assert!(nv2
        .ok(&["login", &host, "-u", "alice", "-p", "wonder"])
        .contains("Login Succeeded"));
    let shown = docker.run(&dir, &inspect, b"");
    assert!(shown.status.success(), "{shown:?}");
    let shown = json(&String::from_utf8_lossy(&shown.stdout));
    assert_eq!(shown["Descriptor"]["digest"], digest, "{shown}");

    // docker's own login of the same user writes the same document.
    let by_docker = nv2.path("by-docker");
    docker.ok(
        &by_docker,
        &["login", "-u", "alice", "--password-stdin", &host],
        b"wonder\n",
    );
    let ours = json(&std::fs::read_to_string(dir.join("config.json")).unwrap());
    let theirs = json(&std::fs::read_to_string(by_docker.join("config.json")).unwrap());
    assert_eq!(ours, theirs);

    // docker logout finds nv2's entry and removes it; nv2 then has no login.
    let out = docker.ok(&dir, &["logout", &host], b"");
    assert!(out.contains("Removing login credentials"), "{out}");
    assert!(!read_auths(&dir).contains_key(&host));
    nv2.fails(&["pull", &target, "-o", nv2.path("o").to_str().unwrap()], 2);
}

fn read_auths(dir: &std::path::Path) -> serde_json::Map<String, Value> {
    let config = json(&std::fs::read_to_string(dir.join("config.json")).unwrap());
    config["auths"].as_object().cloned().unwrap_or_default()
}

/// `--format json` of push, attach and pull: stdout is one JSON object (oras 1.2's fields) that
/// agrees with what the registry holds.
#[test]
fn format_json_reports_what_the_registry_holds() {
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let host = reg.host();
    let repo = format!("{host}/interop/json");
    let readme = nv2.write("in/readme.txt", b"json me\n");

    let pushed = json(&nv2.ok(&[
        "push",
        &format!("{repo}:v1,latest"),
        &format!("{}:text/plain", readme.display()),
        "--artifact-type",
        "application/vnd.example.bundle",
        "-a",
        "org.example.k=v",
        "--format",
        "json",
    ]));
    let manifest = nv2.ok(&["manifest", "fetch", &format!("{repo}:latest")]);
    let digest = sha256(manifest.as_bytes());
    assert_eq!(pushed["digest"], digest, "{pushed}");
    assert_eq!(pushed["size"], manifest.len(), "{pushed}");
    assert_eq!(pushed["reference"], format!("{repo}@{digest}"));
    assert_eq!(
        pushed["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(pushed["artifactType"], "application/vnd.example.bundle");
    assert_eq!(pushed["annotations"]["org.example.k"], "v");
    assert_eq!(
        pushed["referenceAsTags"],
        serde_json::json!([format!("{repo}:v1"), format!("{repo}:latest")])
    );

    let note = nv2.write("in/note.txt", b"a note\n");
    let attached = json(&nv2.ok(&[
        "attach",
        &format!("{repo}:v1"),
        note.to_str().unwrap(),
        "--artifact-type",
        "application/vnd.example.note",
        "--format",
        "json",
    ]));
    let attached_digest = attached["digest"].as_str().unwrap().to_string();
    let stored = nv2.ok(&["manifest", "fetch", &format!("{repo}@{attached_digest}")]);
    assert_eq!(sha256(stored.as_bytes()), attached_digest);
    assert_eq!(attached["size"], stored.len());
    assert_eq!(attached["reference"], format!("{repo}@{attached_digest}"));
    assert_eq!(attached["artifactType"], "application/vnd.example.note");
    assert!(attached.get("annotations").is_none(), "{attached}");
    let tree = json(&nv2.ok(&["discover", &format!("{repo}:v1"), "-o", "json"]));
    assert_eq!(tree["referrers"][0]["digest"], attached_digest.as_str());

    // pull: one entry per file written, by absolute path, with the layer's descriptor.
    let out_dir = nv2.path("pulled");
    let pulled = json(&nv2.ok(&[
        "pull",
        &format!("{repo}@{attached_digest}"),
        "-o",
        out_dir.to_str().unwrap(),
        "--include-subject",
        "--format",
        "json",
    ]));
    assert_eq!(pulled["reference"], format!("{repo}@{attached_digest}"));
    let files = pulled["files"].as_array().unwrap();
    assert_eq!(
        files.len(),
        2,
        "the referrer's file and the subject's: {pulled}"
    );
    for f in files {
        let path = std::path::Path::new(f["path"].as_str().unwrap());
        assert!(path.is_absolute(), "{f}");
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(f["digest"], sha256(&bytes), "{f}");
        assert_eq!(f["size"], bytes.len(), "{f}");
        assert_eq!(f["reference"], format!("{repo}@{}", sha256(&bytes)));
        let title = f["annotations"]["org.opencontainers.image.title"].as_str();
        assert_eq!(path.file_name().unwrap().to_str(), title, "{f}");
    }
    assert_eq!(
        files[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    assert_eq!(files[1]["mediaType"], "text/plain");

    // A tar layer is unpacked into the folder: the folder is the path, as oras shows folders.
    nv2.write("site/index.html", b"<p>hi</p>");
    let tar = json(&nv2.ok(&[
        "push",
        &format!("{repo}:site"),
        "site",
        "--tar",
        "--format",
        "json",
    ]));
    assert_eq!(
        tar["referenceAsTags"],
        serde_json::json!([format!("{repo}:site")])
    );
    let site_dir = nv2.path("site-out");
    let pulled = json(&nv2.ok(&[
        "pull",
        &format!("{repo}:site"),
        "-o",
        site_dir.to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(
        pulled["reference"],
        format!("{repo}@{}", tar["digest"].as_str().unwrap())
    );
    let path = pulled["files"][0]["path"].as_str().unwrap();
    assert!(path.ends_with('/'), "{pulled}");
    assert_eq!(
        std::fs::read(std::path::Path::new(path).join("index.html")).unwrap(),
        b"<p>hi</p>"
    );

    // Without a tag: no tags reported; text stays the default.
    let untagged = json(&nv2.ok(&["push", &repo, readme.to_str().unwrap(), "--format", "json"]));
    assert_eq!(untagged["referenceAsTags"], serde_json::json!([]));
    let text = nv2.ok(&["push", &repo, readme.to_str().unwrap()]);
    assert_eq!(digest_line(&text), untagged["digest"].as_str().unwrap());
}

/// A referrer that carries the same file as its subject (same title, same bytes) is pulled with
/// `--include-subject` as one file; the same title with other bytes is refused, not raced.
#[test]
fn pull_with_subject_writes_a_shared_file_once() {
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let repo = format!("{}/interop/shared", reg.host());
    let readme = nv2.write("in/readme.txt", b"shared\n");
    let readme = readme.to_str().unwrap();
    nv2.ok(&["push", &format!("{repo}:v1"), readme]);
    let same = digest_line(&nv2.ok(&[
        "attach",
        &format!("{repo}:v1"),
        readme,
        "--artifact-type",
        "application/vnd.example.copy",
    ]));
    let out_dir = nv2.path("out");
    let pulled = json(&nv2.ok(&[
        "pull",
        &format!("{repo}@{same}"),
        "-o",
        out_dir.to_str().unwrap(),
        "--include-subject",
        "--format",
        "json",
    ]));
    assert_eq!(pulled["files"].as_array().unwrap().len(), 1, "{pulled}");
    assert_eq!(
        std::fs::read(out_dir.join("readme.txt")).unwrap(),
        b"shared\n"
    );

    let other = nv2.write("other/readme.txt", b"different\n");
    let differs = digest_line(&nv2.ok(&[
        "attach",
        &format!("{repo}:v1"),
        other.to_str().unwrap(),
        "--artifact-type",
        "application/vnd.example.other",
    ]));
    let err = nv2.fails(
        &[
            "pull",
            &format!("{repo}@{differs}"),
            "-o",
            nv2.path("out2").to_str().unwrap(),
            "--include-subject",
        ],
        2,
    );
    assert!(
        err.contains("two layers are titled \"readme.txt\""),
        "{err}"
    );
}
