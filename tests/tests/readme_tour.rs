//! The README's commands as written: every `sh` block of README.md, in order, run as one bash
//! script (`set -euo pipefail`) from the workspace root, so a command that stops working, or a
//! step whose output changes, fails here. Three things differ from a user's shell, each checked
//! to apply exactly once so that an edit of the README cannot silently bypass them:
//! - `cargo build …` and `make …` lines are left out: this test run built the same binaries
//!   (debug, in its own target folder), and CI runs `make test` and `make demo` themselves;
//! - `$PWD/target/release` is that target folder;
//! - the registry and provider listen on free ports instead of 5000 and 8443.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nv2_e2e::peers::on_path;
use nv2_e2e::{require, target_binary, target_dir, workspace_root};

const PORTS_LINE: &str = "export REGISTRY=localhost:5000 PROVIDER=127.0.0.1:8443";
const RELEASE_DIR: &str = "$PWD/target/release";

/// The bodies of the ```sh fenced blocks, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

/// The script the test runs: the blocks, with the three differences of the module doc.
fn script(blocks: &[String], bin: &Path, registry: u16, provider: u16) -> String {
    let mut out = String::new();
    let (mut ports, mut release) = (0, 0);
    for line in blocks.iter().flat_map(|b| b.lines()) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("make ") || trimmed.starts_with("cargo build ") {
            continue;
        }
        let mut line = line.to_string();
        if line.trim_end() == PORTS_LINE {
            ports += 1;
            line = format!("export REGISTRY=localhost:{registry} PROVIDER=127.0.0.1:{provider}");
        }
        if line.contains(RELEASE_DIR) {
            release += 1;
            line = line.replace(RELEASE_DIR, bin.to_str().unwrap());
        }
        out.push_str(&line);
        out.push('\n');
    }
    assert_eq!((ports, release), (1, 1), "the README's setup lines changed");
    out
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn sh_blocks_are_found_in_order_and_other_fences_ignored() {
    let md = "x\n```sh\na\nb\n```\n```text\nc\n```\n```sh\nd\n```\n";
    assert_eq!(sh_blocks(md), ["a\nb\n", "d\n"]);
}

#[test]
fn the_readme_runs_as_written() {
    let bin = target_dir();
    for tool in ["nv2", "docker-generate", "nv2-registry", "nv2-gatekeeper"] {
        if require(
            target_binary(tool),
            &format!("{tool} is not built (cargo build --workspace --bins)"),
        )
        .is_none()
        {
            return;
        }
    }
    for peer in ["umoci", "skopeo", "docker", "curl"] {
        if require(
            on_path(peer),
            &format!("{peer} is not installed (scripts/registry-peers.sh)"),
        )
        .is_none()
        {
            return;
        }
    }
    let root = workspace_root();
    if require(
        root.join("dist/bundle.tar.gz").is_file().then_some(()),
        "dist/bundle.tar.gz is missing (make bundle)",
    )
    .is_none()
    {
        return;
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    let script = script(&blocks, &bin, free_port(), free_port());

    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("tour.log");
    let errors = scratch.path().join("tour.err");
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&root)
        .env("TMPDIR", scratch.path())
        .env("HOME", scratch.path())
        .env_remove("NV2_CONFIG_DIR")
        .env_remove("DOCKER_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(&errors).unwrap())
        // Its own process group: whatever it left running is stopped with it.
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(&errors).unwrap();
    let stdout = std::fs::read_to_string(&log).unwrap();
    let shown = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    let status = status.unwrap_or_else(|| panic!("the tour took over 300 s\n{shown}"));
    assert!(status.success(), "the tour failed ({status})\n{shown}");

    // What each step says it shows.
    for expected in [
        "application/vnd.cncf.notary.signature",
        "application/spdx+json",
        "Successfully verified signature for",
        "\ntrue\n",
        "allowed",
        "denied (exit 1)",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing\n{shown}");
    }
    // The deny reasons name the image, after the tag moved to the unsigned one.
    assert!(stdout.contains("/app:v1: "), "{shown}");
}
