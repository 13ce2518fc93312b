//! Pushing and pulling large artifacts with `nv2` beside the tools a user would pick instead, all
//! against the same `nv2-registry` (in this process, on loopback, a fresh store for every run):
//!
//! - `nv2 push` / `nv2 pull` (the release binary: the client library behind the CLI);
//! - `skopeo copy` from and to an OCI image layout holding the same blobs;
//! - PyPI `oras` (`OrasClient.push` / `.pull`);
//! - `curl`: one raw `PUT` (`-T`, streamed) or `GET` per blob, three at a time, with the upload
//!   sessions opened beforehand: the registry's own ceiling, no client logic at all.
//!
//! Two cases: one 1 GiB layer, and 20 layers of 16 MiB.
//!
//! ```text
//! cargo build --release -p nv2-client --bin nv2
//! cargo bench -p nv2-e2e --bench transfer
//! ```
//!
//! `NV2_BENCH_RUNS` (3), `NV2_BENCH_BIG_MIB` (1024), `NV2_BENCH_LAYERS` (20) and
//! `NV2_BENCH_LAYER_MIB` (16) change the sizes, `NV2_BENCH_TOOLS` (`nv2,curl`) picks the tools,
//! `NV2_BIN` names the `nv2` binary. Every row prints MB/s (10^6 bytes, median of the runs,
//! min-max), the ratio to `nv2`, the registry requests one transfer took (a count that repeats
//! exactly) and the client's peak RSS (`wait4`'s `ru_maxrss`). Every pull is checked: each file
//! present with its size (and, for `nv2`, its
//! digest) before the next run.
//!
//! Measured (session 8, 2-core VM with two builds running beside it, 3 runs, median MB/s):
//!
//! | case          | dir  | nv2 | skopeo | oras (PyPI) | curl (raw) | nv2 / curl | nv2 RSS MiB |
//! |---------------|------|----:|-------:|------------:|-----------:|-----------:|------------:|
//! | 1 x 1024 MiB  | push | 210 | 120    | 127         | 324        | 0.65       | 22.2        |
//! | 1 x 1024 MiB  | pull | 495 | 123    | 148         | 422        | 1.17       | 23.4        |
//! | 20 x 16 MiB   | push | 220 | 81     | 92          | 251        | 0.88       | 29.7        |
//! | 20 x 16 MiB   | pull | 510 | 147    | 110         | 325        | 1.57       | 35.7        |
//!
//! `nv2 push` reads each file twice: once to hash it (the digest names the blob before any byte
//! is sent, so a blob the registry has is skipped with one HEAD) and once to send it; curl's row
//! is given the digest for free. On the 1 GiB push that first read is most of the gap.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nv2_e2e::bench::Stats;
use nv2_e2e::registry::LocalRegistry;
use oci_model::{media_type, Digest};
use serde_json::json;

const TOOLS: [Tool; 4] = [Tool::Nv2, Tool::Skopeo, Tool::Oras, Tool::Curl];
const CURL_STREAMS: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Nv2,
    Skopeo,
    Oras,
    Curl,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Nv2 => "nv2",
            Tool::Skopeo => "skopeo copy",
            Tool::Oras => "oras (PyPI)",
            Tool::Curl => "curl, raw blobs",
        }
    }
}

/// One file of a case, as a layer.
struct Layer {
    name: String,
    path: PathBuf,
    digest: Digest,
    size: u64,
}

/// The artifact one case pushes: its files, and the same blobs as an OCI layout for skopeo.
struct Case {
    name: String,
    dir: PathBuf,
    layers: Vec<Layer>,
    layout: PathBuf,
}

impl Case {
    fn bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }

    fn repository(&self, registry: &LocalRegistry) -> String {
        format!("{}/bench/{}", registry.host(), self.name)
    }
}

/// One timed transfer.
struct Sample {
    time: Duration,
    peak_rss_kib: u64,
    requests: usize,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the list; there is nothing to test here.
    }
    let nv2 = nv2_binary();
    if let Err(missing) = check_peers(&nv2) {
        eprintln!("transfer: {missing}");
        std::process::exit(2);
    }
    let runs = env_u64("NV2_BENCH_RUNS", 3) as usize;
    let work = tempfile::Builder::new()
        .prefix("nv2-bench-")
        .tempdir()
        .expect("work dir");
    let cases = [
        make_case(work.path(), "big", 1, env_u64("NV2_BENCH_BIG_MIB", 1024)),
        make_case(
            work.path(),
            "layers",
            env_u64("NV2_BENCH_LAYERS", 20) as usize,
            env_u64("NV2_BENCH_LAYER_MIB", 16),
        ),
    ];
    println!("{runs} runs each; MB/s median (min-max); requests per transfer; client peak RSS\n");
    println!("| case | direction | tool | MB/s | ratio to nv2 | requests | peak RSS MiB |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for case in &cases {
        let mut rows: Vec<(Tool, Vec<Sample>, Vec<Sample>)> = Vec::new();
        for tool in tools() {
            let (mut pushes, mut pulls) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let registry = LocalRegistry::start();
                pushes.push(push(tool, &nv2, &registry, case));
                let out = work.path().join("out");
                pulls.push(pull(tool, &nv2, &registry, case, &out));
                check_pulled(tool, case, &out);
                std::fs::remove_dir_all(&out).expect("remove the pulled copy");
            }
            rows.push((tool, pushes, pulls));
        }
        for direction in ["push", "pull"] {
            let pick = |r: &(Tool, Vec<Sample>, Vec<Sample>)| -> Vec<Duration> {
                let samples = if direction == "push" { &r.1 } else { &r.2 };
                samples.iter().map(|s| s.time).collect()
            };
            let nv2_median = Stats::of(pick(&rows[0])).median;
            for row in &rows {
                let stats = Stats::of(pick(row));
                let samples = if direction == "push" { &row.1 } else { &row.2 };
                let rate = |d: Duration| case.bytes() as f64 / d.as_secs_f64() / 1e6;
                let rss = samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
                println!(
                    "| {} ({}) | {direction} | {} | {:.0} ({:.0}-{:.0}) | {:.2} | {} | {} |",
                    case.name,
                    describe(case),
                    row.0.name(),
                    rate(stats.median),
                    rate(stats.max),
                    rate(stats.min),
                    nv2_median.as_secs_f64() / stats.median.as_secs_f64(),
                    samples[0].requests,
                    if row.0 == Tool::Curl {
                        "-".to_string()
                    } else {
                        format!("{:.1}", rss as f64 / 1024.0)
                    },
                );
            }
        }
    }
    println!("\nratio to nv2 = nv2's median time / the tool's (above 1: faster than nv2)");
}

/// `NV2_BENCH_TOOLS=nv2,curl` measures only those (nv2 always comes first: the ratios need it).
fn tools() -> Vec<Tool> {
    let Ok(only) = std::env::var("NV2_BENCH_TOOLS") else {
        return TOOLS.to_vec();
    };
    TOOLS
        .into_iter()
        .filter(|t| *t == Tool::Nv2 || only.split(',').any(|o| t.name().starts_with(o.trim())))
        .collect()
}

fn describe(case: &Case) -> String {
    let mib = case.layers[0].size >> 20;
    match case.layers.len() {
        1 => format!("1 x {mib} MiB"),
        n => format!("{n} x {mib} MiB"),
    }
}

fn nv2_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NV2_BIN") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| nv2_e2e::workspace_root().join("target"));
    target.join("release/nv2")
}

fn check_peers(nv2: &Path) -> Result<(), String> {
    if !nv2.is_file() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p nv2-client --bin nv2` first",
            nv2.display()
        ));
    }
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    for (program, args, install) in [
        ("skopeo", &["--version"][..], "apt-get install skopeo"),
        ("curl", &["--version"][..], "apt-get install curl"),
        (
            "python3",
            &["-c", "import oras.client"][..],
            "pip install oras",
        ),
    ] {
        if !works(program, args) {
            return Err(format!(
                "{program} {args:?} fails: {install} (or `make setup`)"
            ));
        }
    }
    Ok(())
}

/// Writes `count` files of `mib` MiB of pseudo-random bytes (nothing compresses or
/// de-duplicates them), and an OCI layout whose blobs are hard links to them.
fn make_case(work: &Path, name: &str, count: usize, mib: u64) -> Case {
    let dir = work.join(name);
    std::fs::create_dir_all(&dir).expect("case dir");
    let layers: Vec<Layer> = (0..count)
        .map(|i| {
            let file = if count == 1 {
                format!("{name}.bin")
            } else {
                format!("{name}-{i:02}.bin")
            };
            let path = dir.join(&file);
            let seed = (name.len() as u64) << 32 | i as u64;
            write_random(&path, mib << 20, seed);
            let (digest, size) = nv2_client::remote::digest_file(&path).expect("digest");
            Layer {
                name: file,
                path,
                digest,
                size,
            }
        })
        .collect();
    let layout = dir.join("layout");
    write_layout(&layout, &layers);
    Case {
        name: name.to_string(),
        dir,
        layers,
        layout,
    }
}

fn write_random(path: &Path, size: u64, seed: u64) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..size >> 20 {
        for word in block.chunks_exact_mut(8) {
            // xorshift64*: fast, and far from anything a compressor could shrink.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        file.write_all(&block).expect("write");
    }
    file.flush().expect("flush");
}

/// The OCI layout `skopeo copy oci:DIR:v1 …` reads: the same layers under an image manifest of
/// the artifact shape `nv2 push` writes (empty config, `artifactType`, titles).
fn write_layout(dir: &Path, layers: &[Layer]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("layout dir");
    let blob = |digest: &Digest| blobs.join(digest.hex());
    for layer in layers {
        std::fs::hard_link(&layer.path, blob(&layer.digest)).expect("link a layer");
    }
    let config = b"{}";
    let config_digest = Digest::sha256_of(config);
    std::fs::write(blob(&config_digest), config).expect("config");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": "application/vnd.nv2.bench",
        "config": {"mediaType": media_type::OCI_EMPTY, "digest": config_digest, "size": 2},
        "layers": layers.iter().map(|l| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": l.digest,
            "size": l.size,
            "annotations": {"org.opencontainers.image.title": l.name},
        })).collect::<Vec<_>>(),
    }))
    .expect("manifest");
    let manifest_digest = Digest::sha256_of(&manifest);
    std::fs::write(blob(&manifest_digest), &manifest).expect("manifest");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [{
            "mediaType": media_type::OCI_MANIFEST,
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index");
}

const ORAS_PUSH: &str = "import sys, oras.client
c = oras.client.OrasClient(hostname=sys.argv[1], insecure=True)
c.push(target=sys.argv[2], files=sys.argv[3:], quiet=True)";
const ORAS_PULL: &str = "import sys, oras.client
c = oras.client.OrasClient(hostname=sys.argv[1], insecure=True)
c.pull(target=sys.argv[2], outdir=sys.argv[3])";

fn push(tool: Tool, nv2: &Path, registry: &LocalRegistry, case: &Case) -> Sample {
    let target = format!("{}:v1", case.repository(registry));
    let before = registry.requests();
    let (time, peak_rss_kib) = match tool {
        Tool::Nv2 => {
            let mut cmd = Command::new(nv2);
            cmd.arg("push").arg(&target).arg("--quiet");
            cmd.args(case.layers.iter().map(|l| &l.name));
            run(cmd.current_dir(&case.dir), "nv2 push")
        }
        Tool::Skopeo => {
            let mut cmd = Command::new("skopeo");
            cmd.args(["copy", "--quiet", "--dest-tls-verify=false"])
                .arg(format!("oci:{}:v1", case.layout.display()))
                .arg(format!("docker://{target}"));
            run(&mut cmd, "skopeo copy (push)")
        }
        Tool::Oras => {
            let mut cmd = Command::new("python3");
            cmd.args(["-c", ORAS_PUSH, &registry.host(), &target]);
            cmd.args(case.layers.iter().map(|l| &l.name));
            run(cmd.current_dir(&case.dir), "oras push")
        }
        Tool::Curl => curl_push(registry, case),
    };
    Sample {
        time,
        peak_rss_kib,
        requests: registry.requests() - before,
    }
}

fn pull(tool: Tool, nv2: &Path, registry: &LocalRegistry, case: &Case, out: &Path) -> Sample {
    std::fs::create_dir_all(out).expect("out dir");
    let target = format!("{}:v1", case.repository(registry));
    let before = registry.requests();
    let (time, peak_rss_kib) = match tool {
        Tool::Nv2 => {
            let mut cmd = Command::new(nv2);
            cmd.args(["pull", &target, "--quiet", "-o"]).arg(out);
            run(&mut cmd, "nv2 pull")
        }
        Tool::Skopeo => {
            let mut cmd = Command::new("skopeo");
            cmd.args(["copy", "--quiet", "--src-tls-verify=false"])
                .arg(format!("docker://{target}"))
                .arg(format!("oci:{}:v1", out.display()));
            run(&mut cmd, "skopeo copy (pull)")
        }
        Tool::Oras => {
            let mut cmd = Command::new("python3");
            cmd.args(["-c", ORAS_PULL, &registry.host(), &target])
                .arg(out);
            run(&mut cmd, "oras pull")
        }
        Tool::Curl => {
            let base = format!("{}/v2/bench/{}/blobs", registry.url(), case.name);
            let jobs = case
                .layers
                .iter()
                .map(|l| {
                    let mut cmd = Command::new("curl");
                    cmd.args(["-sS", "-f", "-o"])
                        .arg(out.join(&l.name))
                        .arg(format!("{base}/{}", l.digest));
                    cmd
                })
                .collect();
            (run_streams(jobs, "curl GET"), 0)
        }
    };
    Sample {
        time,
        peak_rss_kib,
        requests: registry.requests() - before,
    }
}

/// Opens one upload session per layer (untimed), then times the raw `PUT`s.
fn curl_push(registry: &LocalRegistry, case: &Case) -> (Duration, u64) {
    let http = reqwest::blocking::Client::new();
    let uploads = format!("{}/v2/bench/{}/blobs/uploads/", registry.url(), case.name);
    let jobs = case
        .layers
        .iter()
        .map(|l| {
            let started = http.post(&uploads).send().expect("open an upload");
            assert_eq!(started.status().as_u16(), 202, "open an upload");
            let location = started.headers()["location"].to_str().expect("location");
            let location = if location.starts_with('/') {
                format!("{}{location}", registry.url())
            } else {
                location.to_string()
            };
            let sep = if location.contains('?') { '&' } else { '?' };
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "-f", "-X", "PUT", "-H"])
                .arg("Content-Type: application/octet-stream")
                .arg("-T")
                .arg(&l.path)
                .arg(format!("{location}{sep}digest={}", l.digest));
            cmd
        })
        .collect();
    (run_streams(jobs, "curl PUT"), 0)
}

/// Runs the commands with at most [`CURL_STREAMS`] at once; the wall time of all of them.
fn run_streams(jobs: Vec<Command>, what: &str) -> Duration {
    let start = Instant::now();
    let mut jobs = jobs.into_iter();
    let mut running = Vec::new();
    loop {
        while running.len() < CURL_STREAMS {
            let Some(mut cmd) = jobs.next() else { break };
            running.push(cmd.stdout(Stdio::null()).spawn().expect(what));
        }
        if running.is_empty() {
            return start.elapsed();
        }
        let status = running.remove(0).wait().expect(what);
        assert!(status.success(), "{what}: {status}");
    }
}

/// Runs `cmd` to the end; its wall time and peak RSS (KiB). Panics with its output on failure.
fn run(cmd: &mut Command, what: &str) -> (Duration, u64) {
    let log = tempfile::tempfile().expect("log file");
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log.try_clone().expect("log"));
    let start = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 rather than Child::wait: it also reports the child's peak resident set.
    // SAFETY: the pid is our own unreaped child; both pointers outlive the call.
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let time = start.elapsed();
    assert_eq!(reaped, child.id() as libc::pid_t, "{what}: wait4 failed");
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut log = log;
        let mut output = String::new();
        use std::io::{Read, Seek};
        let _ = log.seek(std::io::SeekFrom::Start(0));
        let _ = log.read_to_string(&mut output);
        panic!("{what} failed (wait status {status}):\n{output}");
    }
    (time, usage.ru_maxrss as u64)
}

/// Every layer arrived whole: by title for nv2, oras and curl; as layout blobs for skopeo.
fn check_pulled(tool: Tool, case: &Case, out: &Path) {
    for layer in &case.layers {
        let path = match tool {
            Tool::Skopeo => out.join("blobs/sha256").join(layer.digest.hex()),
            _ => out.join(&layer.name),
        };
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {} not pulled: {e}", tool.name(), path.display()))
            .len();
        assert_eq!(size, layer.size, "{}: {}", tool.name(), path.display());
        if tool == Tool::Nv2 {
            let (digest, _) = nv2_client::remote::digest_file(&path).expect("digest");
            assert_eq!(digest, layer.digest, "{}", path.display());
        }
    }
}
