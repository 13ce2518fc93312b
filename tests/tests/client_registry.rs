//! The `nv2` artifact verbs against both registries the tests start on loopback: ours (with the
//! referrers API) and CNCF distribution 2.8.2 (without it: the referrers tag schema is written,
//! de-duplicated and read back by the client).

use nv2_e2e::distribution::Distribution;
use nv2_e2e::nv2::{digest_line, Nv2};
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::require;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The whole artifact flow against one registry at `host`; `has_api` says whether it has the
/// referrers API.
fn artifact_flow(host: &str, has_api: bool) {
    let Some(nv2) = Nv2::new() else { return };
    let readme = nv2.write("in/readme.txt", b"hello registry\n");
    let data = nv2.write("in/data.json", br#"{"k": 1}"#);
    let image = format!("{host}/apps/web");

    // push: two layers, two tags, pushed by digest first.
    let out = nv2.ok(&[
        "push",
        &format!("{image}:v1,latest"),
        &format!("{}:text/plain", readme.display()),
        data.to_str().unwrap(),
        "--artifact-type",
        "application/vnd.example.bundle",
        "-a",
        "org.example.k=v",
    ]);
    assert!(
        out.contains(&format!("Pushed [registry] {image}:v1,latest")),
        "{out}"
    );
    let digest = digest_line(&out);
    let manifest = nv2.ok(&["manifest", "fetch", &format!("{image}:v1")]);
    assert_eq!(
        sha256(manifest.as_bytes()),
        digest,
        "the manifest's bytes hash to the Digest line"
    );
    let parsed: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(parsed["artifactType"], "application/vnd.example.bundle");
    assert_eq!(
        parsed["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(parsed["layers"][0]["mediaType"], "text/plain");
    assert_eq!(
        parsed["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "readme.txt"
    );
    assert_eq!(parsed["annotations"]["org.example.k"], "v");
    let tags = nv2.ok(&["repo", "tags", &image]);
    assert!(
        tags.lines().any(|t| t == "v1") && tags.lines().any(|t| t == "latest"),
        "{tags}"
    );

    // attach an SBoM to the image, and a signature to the SBoM.
    let sbom = nv2.write("sbom.spdx.json", br#"{"spdxVersion": "SPDX-2.3"}"#);
    let out = nv2.ok(&[
        "attach",
        &format!("{image}:v1"),
        &format!("{}:application/spdx+json", sbom.display()),
        "--artifact-type",
        "application/spdx+json",
    ]);
    assert!(
        out.contains(&format!("Attached to [registry] {image}@{digest}")),
        "{out}"
    );
    let sbom_digest = digest_line(&out);
    let sig = nv2.write("sig.jws", br#"{"payload":"x"}"#);
    let attach_sig = [
        "attach".to_string(),
        format!("{image}@{sbom_digest}"),
        format!("{}:application/jose+json", sig.display()),
        "--artifact-type".into(),
        "application/vnd.cncf.notary.signature".into(),
    ];
    let sig_digest = digest_line(&nv2.ok(&attach_sig));
    // The same attach again: the same manifest, listed once.
    assert_eq!(digest_line(&nv2.ok(&attach_sig)), sig_digest);

    // discover: two levels, as JSON and as a tree.
    let out = nv2.ok(&["discover", &format!("{image}:v1"), "-o", "json"]);
    let tree: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tree["digest"], digest);
    let referrers = tree["referrers"].as_array().unwrap();
    assert_eq!(referrers.len(), 1, "{out}");
    assert_eq!(referrers[0]["digest"], sbom_digest);
    assert_eq!(referrers[0]["artifactType"], "application/spdx+json");
    let nested = referrers[0]["referrers"].as_array().unwrap();
    assert_eq!(nested.len(), 1, "{out}");
    assert_eq!(nested[0]["digest"], sig_digest);
    let out = nv2.ok(&["discover", &format!("{image}:v1")]);
    assert!(
        out.contains("application/spdx+json")
            && out.contains("application/vnd.cncf.notary.signature"),
        "{out}"
    );
    let filtered = nv2.ok(&[
        "discover",
        &format!("{image}:v1"),
        "-o",
        "json",
        "--artifact-type",
        "application/vnd.cncf.notary.signature",
    ]);
    let filtered: Value = serde_json::from_str(&filtered).unwrap();
    assert!(
        filtered["referrers"].as_array().unwrap().is_empty(),
        "{filtered}"
    );

    // Without the API the tag-schema index holds the referrer, once.
    let subject_hex = digest.trim_start_matches("sha256:");
    let index_tag = format!("sha256-{subject_hex}");
    let tags = nv2.ok(&["repo", "tags", &image]);
    assert_eq!(tags.lines().any(|t| t == index_tag), !has_api, "{tags}");
    if !has_api {
        let index: Value =
            serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{image}:{index_tag}")]))
                .unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
        assert_eq!(
            index["manifests"][0]["artifactType"],
            "application/spdx+json"
        );
        let sbom_index = format!("sha256-{}", sbom_digest.trim_start_matches("sha256:"));
        let index: Value =
            serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{image}:{sbom_index}")]))
                .unwrap();
        assert_eq!(
            index["manifests"].as_array().unwrap().len(),
            1,
            "de-duplicated: {index}"
        );
        let shown = nv2.ok(&["repo", "tags", &image, "--exclude-digest-tags"]);
        assert!(!shown.contains("sha256-"), "{shown}");
    }

    // pull: the files by title, checked; --include-subject brings the image's files too.
    let out_dir = nv2.path("out");
    nv2.ok(&[
        "pull",
        &format!("{image}:v1"),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(out_dir.join("readme.txt")).unwrap(),
        b"hello registry\n"
    );
    assert_eq!(
        std::fs::read(out_dir.join("data.json")).unwrap(),
        br#"{"k": 1}"#
    );
    let with_subject = nv2.path("with-subject");
    nv2.ok(&[
        "pull",
        &format!("{image}@{sbom_digest}"),
        "-o",
        with_subject.to_str().unwrap(),
        "--include-subject",
    ]);
    assert!(with_subject.join("sbom.spdx.json").is_file());
    assert!(with_subject.join("readme.txt").is_file());
    let err = nv2.fails(
        &[
            "pull",
            &format!("{image}:v1"),
            "-o",
            out_dir.to_str().unwrap(),
            "-k",
        ],
        2,
    );
    assert!(err.contains("exists"), "{err}");

    // tag, and blob fetch by digest.
    nv2.ok(&["tag", &format!("{image}:v1"), "stable"]);
    assert_eq!(
        digest_line(&nv2.ok(&["tag", &format!("{image}:stable"), "again"])),
        digest
    );
    let layer = parsed["layers"][1]["digest"].as_str().unwrap();
    let fetched = nv2.path("blob.json");
    nv2.ok(&[
        "blob",
        "fetch",
        &format!("{image}@{layer}"),
        "-o",
        fetched.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&fetched).unwrap(), br#"{"k": 1}"#);
    let repos = nv2.ok(&["repo", "ls", host]);
    assert!(repos.lines().any(|r| r == "apps/web"), "{repos}");
}

#[test]
fn artifacts_flow_through_nv2_registry() {
    let reg = LocalRegistry::start();
    artifact_flow(&reg.host(), true);
}

#[test]
fn artifacts_flow_through_distribution_with_the_tag_schema() {
    let Some(dist) = require(
        Distribution::start(),
        "docker-registry (CNCF distribution) is not installed",
    ) else {
        return;
    };
    artifact_flow(&dist.addr, false);
}

#[test]
fn tar_layers_round_trip_and_escaping_titles_are_refused() {
    let reg = LocalRegistry::start();
    let Some(nv2) = Nv2::new() else { return };
    let host = reg.host();
    nv2.write("site/index.html", b"<h1>hi</h1>");
    nv2.write("site/css/a.css", b"h1{}");
    let out = nv2.ok(&["push", &format!("{host}/apps/site:v1"), "site", "--tar"]);
    let digest = digest_line(&out);
    let manifest: Value = serde_json::from_str(&nv2.ok(&[
        "manifest",
        "fetch",
        &format!("{host}/apps/site@{digest}"),
    ]))
    .unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    assert!(
        manifest["layers"][0].get("annotations").is_none(),
        "{manifest}"
    );
    let out_dir = nv2.path("unpacked");
    nv2.ok(&[
        "pull",
        &format!("{host}/apps/site:v1"),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(out_dir.join("index.html")).unwrap(),
        b"<h1>hi</h1>"
    );
    assert_eq!(std::fs::read(out_dir.join("css/a.css")).unwrap(), b"h1{}");

    // A manifest whose title leaves the folder (pushed as it is).
    let evil_blob = nv2.write("evil.txt", b"owned");
    let blob_out = nv2.ok(&[
        "blob",
        "push",
        &format!("{host}/apps/evil"),
        evil_blob.to_str().unwrap(),
    ]);
    let blob: Value = serde_json::from_str(blob_out.trim()).unwrap();
    let evil = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": blob["digest"], "size": blob["size"],
                    "annotations": {"org.opencontainers.image.title": "../escaped.txt"}}],
    });
    nv2.ok(&[
        "blob",
        "push",
        &format!("{host}/apps/evil"),
        nv2.write("empty.json", b"{}").to_str().unwrap(),
    ]);
    let evil_file = nv2.write("evil.json", evil.to_string().as_bytes());
    nv2.ok(&[
        "manifest",
        "push",
        &format!("{host}/apps/evil:v1"),
        evil_file.to_str().unwrap(),
    ]);
    let target = nv2.path("target");
    let err = nv2.fails(
        &[
            "pull",
            &format!("{host}/apps/evil:v1"),
            "-o",
            target.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains("refusing") && err.contains("../escaped.txt"),
        "{err}"
    );
    assert!(!nv2.path("escaped.txt").exists(), "nothing written outside");
}

#[test]
fn logins_are_docker_s_and_bad_input_is_a_clear_error() {
    let reg = LocalRegistry::with_users(nv2_registry::Config::default(), &[("alice", "wonder")]);
    let Some(nv2) = Nv2::new() else { return };
    let host = reg.host();
    let file = nv2.write("f.txt", b"x");
    // Without credentials: 401, and the way out.
    let err = nv2.fails(
        &["push", &format!("{host}/apps/a:v1"), file.to_str().unwrap()],
        2,
    );
    assert!(err.contains("401") && err.contains("nv2 login"), "{err}");
    // A wrong password is refused and stores nothing.
    let err = nv2.fails(&["login", &host, "-u", "alice", "-p", "nope"], 2);
    assert!(err.contains("did not accept"), "{err}");
    assert!(!nv2.docker_config().join("config.json").exists());
    // docker's file format.
    assert!(nv2
        .ok(&["login", &host, "-u", "alice", "-p", "wonder"])
        .contains("Login Succeeded"));
    let config: Value =
        serde_json::from_slice(&std::fs::read(nv2.docker_config().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["auths"][&host]["auth"], "YWxpY2U6d29uZGVy");
    nv2.ok(&["push", &format!("{host}/apps/a:v1"), file.to_str().unwrap()]);
    assert!(nv2
        .ok(&["logout", &host])
        .contains("Removing login credentials"));
    nv2.fails(&["pull", &format!("{host}/apps/a:v1")], 2);
    // -u/-p without a stored login.
    nv2.ok(&[
        "repo",
        "tags",
        &format!("{host}/apps/a"),
        "-u",
        "alice",
        "-p",
        "wonder",
    ]);

    // Malformed references, missing files, a registry that is down.
    let err = nv2.fails(&["push", "Bad/Ref:v1", file.to_str().unwrap()], 2);
    assert!(err.contains("not a reference"), "{err}");
    let err = nv2.fails(
        &[
            "push",
            &format!("{host}/apps/a:v1"),
            "missing.txt",
            "-u",
            "alice",
            "-p",
            "wonder",
        ],
        2,
    );
    assert!(err.contains("missing.txt"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = nv2.fails(&["repo", "tags", &format!("127.0.0.1:{port}/apps/a")], 2);
    assert!(err.contains("cannot reach"), "{err}");
}
