//! `docker generate`, run through the real docker CLI (the plug-in in a `cli-plugins` folder of
//! a `--config` of its own, no engine: `DOCKER_HOST` points nowhere), pushing a docker-archive
//! made by skopeo, an OCI layout made by umoci and an OCI archive into nv2-registry (referrers
//! API) and CNCF distribution (tag schema); then the registry is read back with `nv2`.
//!
//! Needs `cargo build -p nv2-client --bins` first (the plug-in and `nv2` binaries).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use axum::http::Method;
use nv2_e2e::distribution::Distribution;
use nv2_e2e::front::{Fault, FaultKind, Front};
use nv2_e2e::nv2::{digest_line, Nv2};
use nv2_e2e::peers::on_path;
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::require;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use verifier_core::sign::{generate_test_certificate, KeyType};
use verifier_core::{SignatureVerification, TrustPolicyDocument, TrustPolicyStatement};

const SIGNATURE: &str = "application/vnd.cncf.notary.signature";
const SBOM: &str = "application/spdx+json";

/// The docker CLI with the plug-in installed in a configuration folder of its own, a signing
/// key, and `nv2` to read the registry back.
struct Setup {
    nv2: Nv2,
    docker: PathBuf,
    config: PathBuf,
    key: PathBuf,
    cert: PathBuf,
}

impl Setup {
    fn new() -> Option<Setup> {
        let nv2 = Nv2::new()?;
        let plugin = require(
            nv2_e2e::nv2::binary()
                .map(|p| p.with_file_name("docker-generate"))
                .filter(|p| p.is_file()),
            "docker-generate is not built (cargo build -p nv2-client --bins)",
        )?;
        let docker = require(
            on_path("docker"),
            "no docker CLI (scripts/registry-peers.sh)",
        )?;
        let config = nv2.path("docker-config");
        std::fs::create_dir_all(config.join("cli-plugins")).unwrap();
        std::os::unix::fs::symlink(&plugin, config.join("cli-plugins/docker-generate")).unwrap();
        let (key_pem, cert_pem) = generate_test_certificate(
            "docker-generate-e2e",
            KeyType::EcP256,
            SystemTime::now() - Duration::from_secs(60),
        )
        .unwrap();
        let key = nv2.write("key.pem", key_pem.as_bytes());
        let cert = nv2.write("cert.pem", cert_pem.as_bytes());
        Some(Setup {
            nv2,
            docker,
            config,
            key,
            cert,
        })
    }

    /// `docker --config DIR ARGS…`, with no engine anywhere.
    fn docker(&self, args: &[&str]) -> Output {
        Command::new(&self.docker)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.nv2.dir.path())
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .expect("run docker")
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} exited {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `docker generate push SRC REF --key --cert [--sbom]`, answering stdout.
    fn push(&self, src: &str, reference: &str, sbom: Option<&Path>) -> String {
        let (key, cert) = (
            self.key.display().to_string(),
            self.cert.display().to_string(),
        );
        let mut args = vec![
            "generate", "push", src, reference, "--key", &key, "--cert", &cert,
        ];
        let sbom = sbom.map(|p| p.display().to_string());
        if let Some(s) = &sbom {
            args.extend(["--sbom", s]);
        }
        self.docker_ok(&args)
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    require(
        on_path(name),
        &format!("{name} is not installed (scripts/registry-peers.sh)"),
    )
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An OCI layout made by umoci (`DIR/layout`, tag `v1`) with one layer holding `hello.txt`.
fn umoci_layout(dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci")
        .args(["new", "--image"])
        .arg(format!("{}:v1", layout.display())));
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&bundle));
    std::fs::write(bundle.join("rootfs/hello.txt"), b"hello from umoci\n").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&bundle));
    layout
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The registry afterwards: the tag names the digest `manifest` printed, the signature (and the
/// SBoM with its own signature) are found two levels deep, and the image's signature verifies.
fn check_registry(s: &Setup, image: &str, tag: &str, digest: &str, with_sbom: bool) {
    let nv2 = &s.nv2;
    let bytes = nv2.ok(&["manifest", "fetch", &format!("{image}:{tag}")]);
    assert_eq!(
        sha256(bytes.as_bytes()),
        digest,
        "the tag points at the pushed digest"
    );
    let tree: Value =
        serde_json::from_str(&nv2.ok(&["discover", &format!("{image}@{digest}"), "-o", "json"]))
            .unwrap();
    let referrers = tree["referrers"].as_array().expect("referrers");
    let of_type = |list: &[Value], t: &str| -> Vec<Value> {
        list.iter()
            .filter(|r| r["artifactType"] == t)
            .cloned()
            .collect()
    };
    let signatures = of_type(referrers, SIGNATURE);
    assert_eq!(signatures.len(), 1, "{tree:#}");
    let sboms = of_type(referrers, SBOM);
    if with_sbom {
        assert_eq!(sboms.len(), 1, "{tree:#}");
        let below = sboms[0]["referrers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            of_type(&below, SIGNATURE).len(),
            1,
            "the SBoM is signed: {tree:#}"
        );
    } else {
        assert!(sboms.is_empty(), "{tree:#}");
    }

    // The signature envelope verifies for the image's descriptor under a policy trusting the key.
    let sig_digest = signatures[0]["digest"].as_str().unwrap();
    let sig: Value =
        serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{image}@{sig_digest}")]))
            .unwrap();
    assert_eq!(sig["subject"]["digest"], digest);
    assert_eq!(
        sig["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert!(sig["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"].is_string());
    let layer = sig["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(sig["layers"][0]["mediaType"], "application/jose+json");
    let envelope = nv2.path(&format!("envelope-{}.jws", &layer[7..19]));
    nv2.ok(&[
        "blob",
        "fetch",
        &format!("{image}@{layer}"),
        "-o",
        &envelope.display().to_string(),
    ]);
    let subject = nv2.write(
        "subject.json",
        serde_json::to_string(&sig["subject"]).unwrap().as_bytes(),
    );
    let policy = TrustPolicyDocument::new(vec![TrustPolicyStatement::new(
        "e2e",
        vec!["*".into()],
        SignatureVerification::new("strict"),
    )
    .with_trust_stores(vec!["ca:e2e".into()])
    .with_trusted_identities(vec!["*".into()])]);
    let policy = nv2.write(
        "policy.json",
        serde_json::to_string(&policy).unwrap().as_bytes(),
    );
    let report: Value = serde_json::from_str(&nv2.ok(&[
        "verify",
        "--envelope",
        &envelope.display().to_string(),
        "--subject",
        &subject.display().to_string(),
        "--trust-policy",
        &policy.display().to_string(),
        "--trust-store",
        &format!("ca:e2e={}", s.cert.display()),
        "--reference",
        &format!("{image}@{digest}"),
    ]))
    .unwrap();
    assert_eq!(report["verified"], true, "{report:#}");
}

/// Pushes `src` as `image:tag`, and checks the printed steps, the digest and the registry.
fn push_and_check(s: &Setup, src: &str, image: &str, tag: &str, sbom: bool) {
    let planned = digest_line(&s.docker_ok(&["generate", "manifest", src]));
    let sbom_file = s.nv2.write(
        "sbom.spdx.json",
        br#"{"spdxVersion":"SPDX-2.3","name":"e2e"}"#,
    );
    let out = s.push(
        src,
        &format!("{image}:{tag}"),
        sbom.then_some(sbom_file.as_path()),
    );
    assert_eq!(
        digest_line(&out),
        planned,
        "push pushes what manifest printed:\n{out}"
    );
    let steps: Vec<usize> = [
        "[1/5] Uploaded",
        "[2/5] Pushed manifest",
        "[3/5] Signed",
        "[4/5]",
        "[5/5] Tagged",
    ]
    .iter()
    .map(|step| {
        out.find(step)
            .unwrap_or_else(|| panic!("no {step:?} in\n{out}"))
    })
    .collect();
    assert!(
        steps.windows(2).all(|w| w[0] < w[1]),
        "steps out of order:\n{out}"
    );
    check_registry(s, image, tag, &planned, sbom);
}

fn sources(s: &Setup) -> Option<Vec<(&'static str, String)>> {
    tool("umoci")?;
    tool("skopeo")?;
    let dir = s.nv2.path("src");
    let layout = umoci_layout(&dir);
    let archive = dir.join("image.tar");
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker-archive:{}:app:v1", archive.display())));
    let oci_archive = dir.join("oci.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&oci_archive)
        .arg("."));
    Some(vec![
        ("docker-archive", archive.display().to_string()),
        ("oci-layout", format!("oci:{}:v1", layout.display())),
        ("oci-archive", oci_archive.display().to_string()),
    ])
}

#[test]
fn the_docker_cli_lists_the_plugin_and_its_verbs() {
    let Some(s) = Setup::new() else { return };
    let help = String::from_utf8(s.docker(&["--help"]).stdout).unwrap();
    assert!(
        help.lines()
            .any(|l| l.trim_start().starts_with("generate*")),
        "{help}"
    );
    let help = s.docker_ok(&["generate", "--help"]);
    assert!(help.contains("manifest") && help.contains("push"), "{help}");
    let help = s.docker_ok(&["generate", "push", "--help"]);
    assert!(
        help.contains("--sbom") && help.contains("--signature-manifest"),
        "{help}"
    );
}

#[test]
fn pushes_every_source_form_into_nv2_registry_signed_with_its_sbom() {
    let Some(s) = Setup::new() else { return };
    let Some(sources) = sources(&s) else { return };
    let reg = LocalRegistry::start();
    for (i, (kind, src)) in sources.iter().enumerate() {
        let image = format!("{}/{kind}", reg.host());
        push_and_check(&s, src, &image, "v1", i != 1);
    }
}

#[test]
fn pushes_every_source_form_into_distribution_through_the_tag_schema() {
    let Some(s) = Setup::new() else { return };
    let Some(sources) = sources(&s) else { return };
    let Some(dist) = require(Distribution::start(), "no /usr/bin/docker-registry") else {
        return;
    };
    for (kind, src) in &sources {
        let image = format!("{}/{kind}", dist.addr);
        push_and_check(&s, src, &image, "v1", true);
    }
}

#[test]
fn a_refused_signature_leaves_the_tag_unmoved_and_says_what_was_left() {
    let Some(s) = Setup::new() else { return };
    let Some(sources) = sources(&s) else { return };
    let reg = LocalRegistry::start();
    let front = Front::start(&reg.host());
    // The image manifest (the first manifest PUT) passes; the signature's is refused.
    front.fail(Fault::nth(
        Method::PUT,
        "/manifests/",
        2,
        usize::MAX,
        FaultKind::Status {
            status: 403,
            retry_after: None,
        },
    ));
    let src = &sources[0].1;
    let planned = digest_line(&s.docker_ok(&["generate", "manifest", src]));
    let image = format!("{}/app", front.host());
    let (key, cert) = (s.key.display().to_string(), s.cert.display().to_string());
    let out = s.docker(&[
        "generate",
        "push",
        src,
        &format!("{image}:v1"),
        "--key",
        &key,
        "--cert",
        &cert,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("[2/5] Pushed manifest") && !stdout.contains("[5/5]"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("the tag {image}:v1 was not moved"))
            && stderr.contains(&format!("the manifest {image}@{planned} (untagged)"))
            && stderr.contains("step 3/5")
            && stderr.contains("403"),
        "{stderr}"
    );
    // Before the manifest, exactly the manifest's blobs were uploaded (each closing PUT names
    // its digest).
    let seen = front.seen();
    let first_manifest = seen
        .iter()
        .position(|r| r.method == "PUT" && r.path.contains("/manifests/"))
        .expect("a manifest PUT");
    let mut uploaded: Vec<String> = seen[..first_manifest]
        .iter()
        .filter(|r| r.method == "PUT")
        .filter_map(|r| r.path.split_once("digest=").map(|(_, d)| d))
        .map(|d| d.split('&').next().unwrap().replace("%3A", ":"))
        .collect();
    uploaded.sort();
    let manifest: Value = serde_json::from_str(
        s.docker_ok(&["generate", "manifest", src])
            .split("\nMediaType:")
            .next()
            .unwrap(),
    )
    .unwrap();
    let mut named: Vec<String> = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().unwrap())
        .map(|d| d["digest"].as_str().unwrap().to_string())
        .collect();
    named.sort();
    assert_eq!(uploaded, named, "{seen:?}");
    // No request ever named the tag, and the registry has the manifest by digest only.
    assert!(
        front
            .seen()
            .iter()
            .all(|r| !r.path.ends_with("/manifests/v1")),
        "{:?}",
        front.seen()
    );
    let direct = format!("{}/app", reg.host());
    s.nv2
        .fails(&["manifest", "fetch", &format!("{direct}:v1")], 2);
    let bytes = s
        .nv2
        .ok(&["manifest", "fetch", &format!("{direct}@{planned}")]);
    assert_eq!(sha256(bytes.as_bytes()), planned);
}

#[test]
fn bad_sources_and_missing_keys_fail_with_exit_2_and_say_why() {
    let Some(s) = Setup::new() else { return };
    let not_tar = s
        .nv2
        .write("notes.txt", b"just some text, not an archive\n");
    let no_manifest = s.nv2.path("empty.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&no_manifest).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_cksum();
        b.append_data(&mut h, "README", &b"hi\n"[..]).unwrap();
        b.finish().unwrap();
    }
    let cases = [
        (not_tar.display().to_string(), "not a tar archive"),
        (no_manifest.display().to_string(), "without manifest.json"),
        ("app:v1".to_string(), "no Docker engine is reachable"),
    ];
    for (src, message) in &cases {
        let out = s.docker(&["generate", "manifest", src]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{src}: {stderr}");
        assert!(stderr.contains(message), "{src}: {stderr}");
    }
    let out = s.docker(&[
        "generate",
        "push",
        &not_tar.display().to_string(),
        "127.0.0.1:1/app:v1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key FILE --cert FILE"));
}

/// A stand-in engine: a socket that answers every request `200 OK` (the ping is all the plug-in
/// asks the engine itself), and a `docker` on PATH that "saves" a prepared tar.
struct FakeEngine {
    socket: PathBuf,
    bin: PathBuf,
    _thread: std::thread::JoinHandle<()>,
}

impl FakeEngine {
    fn start(dir: &Path, tar: &Path) -> FakeEngine {
        let socket = dir.join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let thread = std::thread::spawn(move || {
            use std::io::{Read, Write};
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
            }
        });
        let bin = dir.join("fakebin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = save ] && [ \"$2\" = -o ] || exit 9\necho \"$DOCKER_HOST $4\" > {log}\ncp {tar} \"$3\"\n",
            log = dir.join("saved.log").display(),
            tar = tar.display()
        );
        let docker = bin.join("docker");
        std::fs::write(&docker, script).unwrap();
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&docker, executable).unwrap();
        FakeEngine {
            socket,
            bin,
            _thread: thread,
        }
    }
}

#[test]
fn an_image_name_is_read_through_docker_save_when_an_engine_answers_on_h() {
    let Some(s) = Setup::new() else { return };
    let Some(sources) = sources(&s) else { return };
    let archive = PathBuf::from(&sources[0].1);
    let planned = digest_line(&s.docker_ok(&["generate", "manifest", &sources[0].1]));
    let engine = FakeEngine::start(s.nv2.dir.path(), &archive);
    let host = format!("unix://{}", engine.socket.display());
    let path = format!(
        "{}:{}",
        engine.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // docker passes -H on in front of `generate`; the plug-in asks that engine.
    let out = Command::new(&s.docker)
        .arg("--config")
        .arg(&s.config)
        .args(["-H", &host, "generate", "manifest", "app:v1"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(digest_line(&String::from_utf8_lossy(&out.stdout)), planned);
    let log = std::fs::read_to_string(s.nv2.path("saved.log")).unwrap();
    assert_eq!(log.trim(), format!("{host} app:v1"));
}

#[test]
fn logins_come_from_docker_s_config_folder() {
    let Some(s) = Setup::new() else { return };
    let Some(sources) = sources(&s) else { return };
    let reg = LocalRegistry::with_users(Default::default(), &[("alice", "secret")]);
    let image = format!("{}/private", reg.host());
    let (key, cert) = (s.key.display().to_string(), s.cert.display().to_string());
    let args = [
        "generate",
        "push",
        &sources[1].1,
        &format!("{image}:v1"),
        "--key",
        &key,
        "--cert",
        &cert,
    ];
    // No login in the config folder: refused, nothing tagged.
    let out = s.docker(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // docker's own config.json in --config DIR holds the login.
    use base64ct::{Base64, Encoding};
    let auth = Base64::encode_string(b"alice:secret");
    let config = serde_json::json!({"auths": {reg.host(): {"auth": auth}}});
    std::fs::write(s.config.join("config.json"), config.to_string()).unwrap();
    let out = s.docker_ok(&args);
    assert!(out.contains("[5/5] Tagged"), "{out}");
}

#[test]
fn the_signature_may_be_the_prototype_s_artifact_manifest() {
    let Some(s) = Setup::new() else { return };
    let Some(sources) = sources(&s) else { return };
    let reg = LocalRegistry::start();
    let image = format!("{}/artifact-sig", reg.host());
    let (key, cert) = (s.key.display().to_string(), s.cert.display().to_string());
    let out = s.docker_ok(&[
        "generate",
        "push",
        &sources[2].1,
        &format!("{image}:v1"),
        "--key",
        &key,
        "--cert",
        &cert,
        "--signature-manifest",
        "artifact",
    ]);
    let digest = digest_line(&out);
    let tree: Value =
        serde_json::from_str(
            &s.nv2
                .ok(&["discover", &format!("{image}@{digest}"), "-o", "json"]),
        )
        .unwrap();
    let sig = &tree["referrers"][0];
    assert_eq!(sig["artifactType"], SIGNATURE, "{tree:#}");
    assert_eq!(
        sig["mediaType"], "application/vnd.oci.artifact.manifest.v1+json",
        "{tree:#}"
    );
}
