//! `docker generate`, run through the real docker CLI (the plug-in in a `cli-plugins` folder of
//! a `--config` of its own, no engine: `DOCKER_HOST` points nowhere), pushing a docker-archive
//! made by skopeo, an OCI layout made by umoci and an OCI archive into nv2-registry (referrers
//! API) and CNCF distribution (tag schema); then the registry is read back as a user would:
//! `nv2 discover -o tree` (the signature, the SBoM and the SBoM's signature) and `nv2 verify REF`
//! with a trust store and policy made by `nv2 cert add` / `nv2 policy init` (the plug-in and
//! `nv2` share one `NV2_CONFIG_DIR`, so the default signing key of `nv2 cert generate-test
//! NAME --default` signs a push without key flags).
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

const SIGNATURE: &str = "application/vnd.cncf.notary.signature";
const SBOM: &str = "application/spdx+json";

/// The docker CLI with the plug-in installed in a configuration folder of its own, a signing
/// key (files) whose certificate is in trust store `ca:e2e`, a trust policy trusting it for
/// every artifact, and `nv2` to read the registry back.
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
        let cert_arg = cert.display().to_string();
        nv2.ok(&["cert", "add", "--type", "ca", "--store", "e2e", &cert_arg]);
        nv2.ok(&[
            "policy", "init", "--name", "e2e", "--store", "ca:e2e", "--scope", "*",
        ]);
        Some(Setup {
            nv2,
            docker,
            config,
            key,
            cert,
        })
    }

    /// `docker --config DIR ARGS…`, with no engine anywhere, and `nv2`'s configuration.
    fn docker(&self, args: &[&str]) -> Output {
        Command::new(&self.docker)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.nv2.dir.path())
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("NV2_CONFIG_DIR", self.nv2.config_dir())
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

/// `nv2 discover -o tree` as (depth, text) per line: the depth is the column the text starts
/// at after the branches (`├── `, `│   `, `└── `), the first line (the subject) at 0.
fn tree_lines(tree: &str) -> Vec<(usize, &str)> {
    tree.lines()
        .map(|l| {
            let text = l.trim_start_matches(['│', '├', '└', '─', ' ']);
            (l.chars().count() - text.chars().count(), text)
        })
        .collect()
}

/// `nv2 verify REF`: exit 0 and notation's line, signed by `signer` under policy `e2e`.
fn verified(nv2: &Nv2, reference: &str, signer: &str) {
    let out = nv2.ok(&["verify", reference]);
    assert!(
        out.contains("Successfully verified signature for ")
            && out.contains(&format!("signed by:    CN={signer}"))
            && out.contains("trust policy: e2e (level strict)"),
        "{out}"
    );
}

/// The registry afterwards: the tag names the digest `manifest` printed, `discover -o tree`
/// shows the signature (and the SBoM with its own signature one level below it), and `verify`
/// of the image (by digest and by tag) and of the SBoM succeeds.
fn check_registry(s: &Setup, image: &str, tag: &str, digest: &str, with_sbom: bool) {
    let nv2 = &s.nv2;
    let bytes = nv2.ok(&["manifest", "fetch", &format!("{image}:{tag}")]);
    assert_eq!(
        sha256(bytes.as_bytes()),
        digest,
        "the tag points at the pushed digest"
    );
    let pinned = format!("{image}@{digest}");
    let tree = nv2.ok(&["discover", &pinned, "-o", "tree"]);
    let lines = tree_lines(&tree);
    assert_eq!(lines[0], (0, pinned.as_str()), "{tree}");
    let top = lines[1].0;
    let at = |depth: usize, text: &str| -> Vec<usize> {
        (0..lines.len())
            .filter(|&i| lines[i] == (depth, text))
            .collect()
    };
    let signatures = at(top, SIGNATURE);
    assert_eq!(
        signatures.len(),
        1,
        "one signature of the image:
{tree}"
    );
    let digest_below = |i: usize| lines[i + 1].1.to_string();
    let signature = digest_below(signatures[0]);
    assert!(signature.starts_with("sha256:"), "{tree}");
    let sboms = at(top, SBOM);
    let sbom = if with_sbom {
        assert_eq!(
            sboms.len(),
            1,
            "one SBoM:
{tree}"
        );
        let sbom = digest_below(sboms[0]);
        // Below the SBoM's digest line: its signature.
        let (depth, _) = lines[sboms[0] + 1];
        let deeper: Vec<usize> = at(depth + 4, SIGNATURE)
            .into_iter()
            .filter(|&i| i > sboms[0])
            .collect();
        assert_eq!(
            deeper.len(),
            1,
            "the SBoM is signed:
{tree}"
        );
        Some(sbom)
    } else {
        assert!(sboms.is_empty(), "{tree}");
        None
    };

    // notation's signature manifest.
    let sig: Value =
        serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{image}@{signature}")]))
            .unwrap();
    assert_eq!(sig["subject"]["digest"], digest);
    assert_eq!(sig["artifactType"], SIGNATURE);
    assert_eq!(
        sig["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert!(sig["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"].is_string());
    assert_eq!(sig["layers"][0]["mediaType"], "application/jose+json");

    verified(nv2, &pinned, "docker-generate-e2e");
    verified(nv2, &format!("{image}:{tag}"), "docker-generate-e2e");
    if let Some(sbom) = sbom {
        verified(nv2, &format!("{image}@{sbom}"), "docker-generate-e2e");
    }
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
    // No default key in the trust configuration: the error names the command that makes one.
    let out = s.docker(&[
        "generate",
        "push",
        &not_tar.display().to_string(),
        "127.0.0.1:1/app:v1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no default signing key")
            && stderr.contains("nv2 cert generate-test NAME --default"),
        "{stderr}"
    );
    let cert = s.cert.display().to_string();
    for (flags, message) in [
        (vec!["--cert", cert.as_str()], "--cert needs --key"),
        (vec!["--key", "nosuch"], "no signing key named \"nosuch\""),
    ] {
        let mut args = vec!["generate", "push", "app.tar", "127.0.0.1:1/app:v1"];
        args.extend(flags);
        let out = s.docker(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// `nv2 cert generate-test NAME --default` is what `docker generate push` signs with when given
/// no key flags, and `--key NAME` picks another key of signingkeys.json, as for `nv2 sign`.
#[test]
fn push_without_key_flags_signs_with_the_default_key() {
    let Some(s) = Setup::new() else { return };
    let Some(sources) = sources(&s) else { return };
    let reg = LocalRegistry::start();
    for name in ["alpha", "wabbit"] {
        let out = s.nv2.ok(&["cert", "generate-test", name, "--default"]);
        assert!(
            out.contains(&format!("to named store {name} of type ca")),
            "{out}"
        );
    }
    s.nv2.ok(&[
        "policy",
        "init",
        "--name",
        "e2e",
        "--store",
        "ca:alpha",
        "--store",
        "ca:wabbit",
        "--scope",
        "*",
        "--force",
    ]);
    let src = &sources[0].1;
    for (image, flags, signer) in [
        ("default-key", vec![], "wabbit"),
        ("named-key", vec!["--key", "alpha"], "alpha"),
    ] {
        let image = format!("{}/{image}", reg.host());
        let reference = format!("{image}:v1");
        let mut args = vec!["generate", "push", src, &reference];
        args.extend(flags);
        let out = s.docker_ok(&args);
        assert!(out.contains("[5/5] Tagged"), "{out}");
        let digest = digest_line(&out);
        verified(&s.nv2, &format!("{image}@{digest}"), signer);
    }
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
