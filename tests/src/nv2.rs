//! The `nv2` binary, run as a user would: from the target folder the tests were built into
//! (`cargo test --workspace` builds it), with a docker configuration and an nv2 configuration
//! (`NV2_CONFIG_DIR`: trust policy, trust stores, signing keys) of its own per test, so that
//! nothing of the machine leaks in.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::require;

/// `target/<profile>/nv2`, when built.
pub fn binary() -> Option<PathBuf> {
    crate::target_binary("nv2")
}

/// Runs `nv2` in a scratch folder with `DOCKER_CONFIG` pointing inside it.
pub struct Nv2 {
    binary: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Nv2 {
    /// `None` (skipped, or a failure with NV2_REQUIRE_PEERS=1) when the binary was not built.
    pub fn new() -> Option<Self> {
        let binary = require(
            binary(),
            "the nv2 binary is not built (cargo build -p nv2-client)",
        )?;
        Some(Nv2 {
            binary,
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the scratch folder and answers its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn docker_config(&self) -> PathBuf {
        self.path("docker")
    }

    /// The `NV2_CONFIG_DIR` the runs use.
    pub fn config_dir(&self) -> PathBuf {
        self.path("config")
    }

    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        Command::new(&self.binary)
            .args(args)
            .current_dir(self.dir.path())
            .env("DOCKER_CONFIG", self.docker_config())
            .env("NV2_CONFIG_DIR", self.config_dir())
            .env_remove("NO_COLOR")
            .output()
            .expect("run nv2")
    }

    /// Runs and requires exit 0; answers stdout.
    pub fn ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "nv2 {:?} exited {:?}\nstdout: {}\nstderr: {}",
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs and requires a failure with exit `code`; answers stderr.
    pub fn fails<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// The `Digest: sha256:…` line of a verb's output.
pub fn digest_line(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no Digest line in {out}"))
        .trim()
        .to_string()
}
