//! Tools nobody here wrote, run as their users would, to check that what `nv2` writes they read
//! unchanged and the other way round: skopeo, the `oras` Python SDK (PyPI), and the docker CLI
//! (without a daemon). `scripts/registry-peers.sh` installs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The first `name` on `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Runs a command with `stdin` fed in; answers its output.
fn run(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `skopeo` (containers/image: its own registry client and manifest handling).
pub struct Skopeo(PathBuf);

impl Skopeo {
    pub fn find() -> Option<Self> {
        on_path("skopeo").map(Skopeo)
    }

    /// `skopeo inspect --raw` of `reference` (`HOST/REPO:TAG` or `@DIGEST`) over plain HTTP.
    pub fn inspect_raw(&self, reference: &str) -> Output {
        let mut c = Command::new(&self.0);
        c.args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{reference}"));
        run(c, b"")
    }

    /// The bytes `skopeo inspect --raw` prints; panics when it fails.
    pub fn raw(&self, reference: &str) -> Vec<u8> {
        let out = self.inspect_raw(reference);
        assert!(
            out.status.success(),
            "{}",
            describe(&format!("skopeo inspect --raw {reference}"), &out)
        );
        out.stdout
    }
}

/// The `oras` SDK from PyPI (0.2.x), driven by a small script: `pull` and `push-referrer`.
pub struct OrasPy {
    python: String,
    script: PathBuf,
    _dir: tempfile::TempDir,
}

/// The script: each command prints one JSON object. Only oras-py's own API does the registry
/// work; `do_request` (its authenticated session) fetches the raw manifest so that its digest is
/// of the bytes served, not of a re-serialisation.
const ORAS_SCRIPT: &str = r#"
import hashlib, json, os, sys
import oras.oci, oras.provider

def raw_manifest(reg, host, repo, ref):
    url = f"{reg.prefix}://{host}/v2/{repo}/manifests/{ref}"
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    r = reg.do_request(url, "GET", headers={"Accept": accept})
    r.raise_for_status()
    return r

cmd, host, repo = sys.argv[1], sys.argv[2], sys.argv[3]
reg = oras.provider.Registry(hostname=host, insecure=True)
if cmd == "pull":
    tag, outdir = sys.argv[4], sys.argv[5]
    files = reg.pull(target=f"{host}/{repo}:{tag}", outdir=outdir)
    manifest = reg.get_manifest(f"{host}/{repo}:{tag}")
    r = raw_manifest(reg, host, repo, tag)
    print(json.dumps({
        "files": files,
        "layers": [l["digest"] for l in manifest["layers"]],
        "digest": "sha256:" + hashlib.sha256(r.content).hexdigest(),
        "dockerContentDigest": r.headers.get("Docker-Content-Digest"),
    }))
elif cmd == "push-referrer":
    subject_tag, tag, path = sys.argv[4], sys.argv[5], sys.argv[6]
    r = raw_manifest(reg, host, repo, subject_tag)
    subject = oras.oci.Subject(
        mediaType=r.headers["Content-Type"].split(";")[0].strip(),
        digest="sha256:" + hashlib.sha256(r.content).hexdigest(),
        size=len(r.content),
    )
    os.chdir(os.path.dirname(path))
    resp = reg.push(target=f"{host}/{repo}:{tag}", files=[os.path.basename(path)],
                    subject=subject)
    print(json.dumps({
        "status": resp.status_code,
        "digest": resp.headers.get("Docker-Content-Digest"),
        "ociSubject": resp.headers.get("OCI-Subject"),
        "subject": subject.digest,
    }))
else:
    sys.exit(f"unknown command {cmd}")
"#;

impl OrasPy {
    /// `None` when `python3` cannot import `oras.provider`.
    pub fn find() -> Option<Self> {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let ok = Command::new(&python)
            .args(["-c", "import oras.provider, oras.oci"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("oras_peer.py");
        std::fs::write(&script, ORAS_SCRIPT).expect("write script");
        Some(OrasPy {
            python,
            script,
            _dir: dir,
        })
    }

    fn call(&self, args: &[&str]) -> Value {
        let mut c = Command::new(&self.python);
        c.arg(&self.script).args(args);
        let out = run(c, b"");
        assert!(
            out.status.success(),
            "{}",
            describe(&format!("oras-py {args:?}"), &out)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("oras-py printed {text:?}: {e}"))
    }

    /// `Registry.pull` of `HOST/REPO:TAG` into `outdir`: the files written, the manifest's layer
    /// digests, the digest of the manifest bytes served and the registry's digest header.
    pub fn pull(&self, host: &str, repo: &str, tag: &str, outdir: &Path) -> Value {
        self.call(&["pull", host, repo, tag, outdir.to_str().unwrap()])
    }

    /// `Registry.push` of `file` to `HOST/REPO:TAG` with `subject` set to the manifest that
    /// `subject_tag` names (as oras-py computes it: the digest of the bytes served).
    pub fn push_referrer(
        &self,
        host: &str,
        repo: &str,
        subject_tag: &str,
        tag: &str,
        file: &Path,
    ) -> Value {
        self.call(&[
            "push-referrer",
            host,
            repo,
            subject_tag,
            tag,
            file.to_str().unwrap(),
        ])
    }
}

/// The docker CLI, never allowed to reach a daemon: `DOCKER_HOST` names a socket that does not
/// exist, so `login` takes its client-side path (as it does on a machine without a daemon) and
/// the test is the same on a machine that runs one.
pub struct Docker {
    binary: PathBuf,
    no_daemon: tempfile::TempDir,
}

impl Docker {
    pub fn find() -> Option<Self> {
        Some(Docker {
            binary: on_path("docker")?,
            no_daemon: tempfile::tempdir().expect("temp dir"),
        })
    }

    /// `docker --config CONFIG_DIR ARGS…` with `stdin` fed in.
    pub fn run(&self, config_dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = Command::new(&self.binary);
        c.arg("--config")
            .arg(config_dir)
            .args(args)
            .env(
                "DOCKER_HOST",
                format!(
                    "unix://{}",
                    self.no_daemon.path().join("none.sock").display()
                ),
            )
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_CONFIG");
        run(c, stdin)
    }

    /// Like [`Docker::run`], and requires exit 0; answers stdout and stderr together.
    pub fn ok(&self, config_dir: &Path, args: &[&str], stdin: &[u8]) -> String {
        let out = self.run(config_dir, args, stdin);
        assert!(
            out.status.success(),
            "{}",
            describe(&format!("docker {args:?}"), &out)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}
