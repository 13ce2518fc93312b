//! What an operator reads from `nv2-registry serve`: plain text without escape codes when stderr
//! is a file, one JSON object per line with `--log-format json`, RUST_LOG levels, and a first
//! line that says where it listens.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts the registry with stderr into `log`; returns it and the address from stdout.
fn start(root: &Path, log: &Path, extra: &[&str], rust_log: Option<&str>) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nv2-registry"));
    command
        .arg("serve")
        .arg("--root")
        .arg(root)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .env_remove("RUST_LOG")
        .env_remove("NV2_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(level) = rust_log {
        command.env("RUST_LOG", level);
    }
    let mut child = command.spawn().expect("spawn nv2-registry");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://"), "{line:?}");
    (child, base)
}

/// Stops the registry, once it answers `GET /v2/` (so everything it logs at start is written),
/// and returns what it logged.
fn stop(mut child: Child, base: &str, log: &Path) -> String {
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let _ = child.kill();
    let _ = child.wait();
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn text_logs_in_a_file_are_plain_and_start_with_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("registry.log");
    let (child, base) = start(&dir.path().join("data"), &log, &["--unsafe-no-fsync"], None);
    let text = stop(child, &base, &log);
    assert!(!text.contains('\x1b'), "escape codes in a file: {text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(" INFO "), "{text}");
    assert!(lines[0].contains(&format!("serving on {base}")), "{text}");
    // The setup's warnings come after it.
    assert!(lines[1..]
        .iter()
        .any(|l| l.contains("WARN") && l.contains("--unsafe-no-fsync")));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("registry.log");
    let (child, base) = start(
        &dir.path().join("data"),
        &log,
        &["--log-format", "json", "--unsafe-no-fsync"],
        None,
    );
    let text = stop(child, &base, &log);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0]["level"], "INFO", "{text}");
    let message = lines[0]["fields"]["message"].as_str().unwrap();
    assert_eq!(message, format!("serving on {base}"));
    assert!(lines.iter().any(|l| l["level"] == "WARN"), "{text}");
}

#[test]
fn rust_log_sets_the_level() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("registry.log");
    let (child, base) = start(
        &dir.path().join("data"),
        &log,
        &["--unsafe-no-fsync"],
        Some("error"),
    );
    let text = stop(child, &base, &log);
    assert_eq!(text, "", "RUST_LOG=error hides info and warnings");
}
