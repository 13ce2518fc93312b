//! Benchmark: `nv2-registry` against Debian's `docker-registry` (CNCF
//! distribution 2.8.2, filesystem storage), both on loopback, in one run.
//!
//! ```text
//! cargo bench -p nv2-registry --bench registry_bench
//! ```
//!
//! Measures blob upload and download throughput (one large blob), manifest
//! PUT and GET ops/s at concurrency 1 and 32, the servers' peak RSS over the
//! blob phase, and our referrers listing with many referrers on one subject
//! in a repository that also holds many other manifests (p50 / p99). Every
//! phase is bounded in count or time; all traffic goes to 127.0.0.1.
//!
//! Knobs (environment): `NV2_BENCH_BLOB_MIB` (1024), `NV2_BENCH_SECS` per ops
//! phase (3), `NV2_BENCH_OTHER_MANIFESTS` (100000), `NV2_BENCH_REFERRERS`
//! (10000), `NV2_BENCH_DIR` (a temp dir under the target directory).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_model::Digest;
use serde_json::json;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

struct Proc {
    child: Child,
    base: String,
    name: &'static str,
}

impl Proc {
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_ours(root: &std::path::Path, extra: &[&str], name: &'static str) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nv2-registry"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--max-uploads",
            "1024",
            "--root",
        ])
        .arg(root)
        .args(extra)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start nv2-registry");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    Proc { child, base, name }
}

fn start_distribution(root: &std::path::Path) -> Option<Proc> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    std::fs::create_dir_all(root).ok()?;
    let config = root.join("config.yml");
    let yaml = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        root.join("data").display()
    );
    std::fs::write(&config, yaml).ok()?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Proc {
        child,
        base: format!("http://127.0.0.1:{port}"),
        name: "distribution 2.8.2",
    })
}

async fn wait_ready(c: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(r) = c.get(format!("{base}/v2/")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not come up");
}

/// Writes a pseudo-random blob of `mib` MiB to `path`; returns its digest.
fn make_blob(mib: u64, path: &std::path::Path) -> Digest {
    let bytes = blob_bytes(mib);
    std::fs::write(path, &bytes).unwrap();
    Digest::sha256_of(&bytes)
}

fn blob_bytes(mib: u64) -> Vec<u8> {
    let mut v = vec![0u8; (mib as usize) << 20];
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for chunk in v.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    v
}

/// Runs curl and returns its `-w` output split on spaces.
fn curl(args: &[&str]) -> Vec<String> {
    let out = Command::new("curl")
        .args(["-s", "-S", "-o", "/dev/null"])
        .args(args)
        .output()
        .expect("curl (scripts/registry-peers.sh installs it)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Session upload (POST, then one streamed PUT of the whole file, as both
/// servers support), sent by curl: a lean client, so that the servers and
/// not the client set the pace. Returns MB/s.
async fn upload(
    c: &reqwest::Client,
    base: &str,
    file: &std::path::Path,
    len: usize,
    digest: &Digest,
) -> f64 {
    let r = c
        .post(format!("{base}/v2/bench/blob/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let url = if loc.starts_with("http") {
        loc
    } else {
        format!("{base}{loc}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}digest={digest}");
    let file = file.to_str().unwrap().to_string();
    let w = tokio::task::spawn_blocking(move || {
        curl(&[
            "-X",
            "PUT",
            "-H",
            "Expect:",
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            &file,
            "-w",
            "%{http_code} %{time_total}",
            &url,
        ])
    })
    .await
    .unwrap();
    assert_eq!(w[0], "201", "upload to {base}");
    len as f64 / w[1].parse::<f64>().unwrap() / 1e6
}

async fn download(base: &str, digest: &Digest, len: usize) -> f64 {
    let url = format!("{base}/v2/bench/blob/blobs/{digest}");
    let w = tokio::task::spawn_blocking(move || {
        curl(&["-w", "%{http_code} %{time_total} %{size_download}", &url])
    })
    .await
    .unwrap();
    assert_eq!(
        (w[0].as_str(), w[2].parse::<usize>().unwrap()),
        ("200", len)
    );
    len as f64 / w[1].parse::<f64>().unwrap() / 1e6
}

fn manifest(i: u64, subject: Option<&Digest>) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::sha256_of(b"{}").to_string(), "size": 2},
        "layers": [],
        "annotations": {"org.example.n": i.to_string()}
    });
    if let Some(s) = subject {
        m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": s.to_string(), "size": 100});
        m["artifactType"] = json!(if i % 2 == 0 {
            "application/vnd.cncf.notary.signature"
        } else {
            "application/spdx+json"
        });
    }
    serde_json::to_vec(&m).unwrap()
}

async fn push_empty_config(c: &reqwest::Client, base: &str, repo: &str) {
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let url = if loc.starts_with("http") {
        loc
    } else {
        format!("{base}{loc}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{url}{sep}digest={}", Digest::sha256_of(b"{}")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Runs `op(i)` from `conc` tasks until `secs` pass (or `max_ops` are
/// done); returns ops/s and the number done. Fails loudly on any error.
async fn ops<F, Fut>(conc: usize, secs: f64, max_ops: u64, op: F) -> (f64, u64)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let deadline = t + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..conc)
        .map(|_| {
            let (op, next, done) = (op.clone(), next.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= max_ops {
                        break;
                    }
                    assert!(op(i).await, "operation {i} failed");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    (n as f64 / t.elapsed().as_secs_f64(), n)
}

struct Row {
    upload: f64,
    download: f64,
    rss: f64,
    put1: f64,
    put32: f64,
    get1: f64,
    get32: f64,
}

async fn measure(p: &Proc, blob: &std::path::Path, len: usize, digest: &Digest, secs: f64) -> Row {
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    wait_ready(&c, &p.base).await;
    eprintln!("[{}] blob upload/download ({} MiB)…", p.name, len >> 20);
    // Three times each, keeping the best run: the machine is shared.
    let (mut upload_best, mut download_best) = (0f64, 0f64);
    for _ in 0..3 {
        upload_best = upload_best.max(upload(&c, &p.base, blob, len, digest).await);
        download_best = download_best.max(download(&p.base, digest, len).await);
    }
    let (upload, download) = (upload_best, download_best);
    let rss = p.peak_rss_mib();

    push_empty_config(&c, &p.base, "bench/m").await;
    let put = |offset: u64| {
        let (c, base) = (c.clone(), p.base.clone());
        move |i: u64| {
            let (c, base) = (c.clone(), base.clone());
            async move {
                let body = manifest(offset + i, None);
                let r = c
                    .put(format!("{base}/v2/bench/m/manifests/t{}", offset + i))
                    .header("content-type", OCI_MANIFEST)
                    .body(body)
                    .send()
                    .await;
                r.is_ok_and(|r| r.status() == 201)
            }
        }
    };
    eprintln!("[{}] manifest PUT…", p.name);
    let (put1, tagged) = ops(1, secs, u64::MAX, put(0)).await;
    let (put32, _) = ops(32, secs, u64::MAX, put(10_000_000)).await;
    // GETs cycle over tags the c=1 phase created (t0, t1, …).
    let cycle = tagged.clamp(1, 100);
    let get = {
        let (c, base) = (c.clone(), p.base.clone());
        move |i: u64| {
            let (c, base) = (c.clone(), base.clone());
            async move {
                let r = c
                    .get(format!("{base}/v2/bench/m/manifests/t{}", i % cycle))
                    .header("accept", OCI_MANIFEST)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        }
    };
    eprintln!("[{}] manifest GET…", p.name);
    let (get1, _) = ops(1, secs, u64::MAX, get.clone()).await;
    let (get32, _) = ops(32, secs, u64::MAX, get).await;
    Row {
        upload,
        download,
        rss,
        put1,
        put32,
        get1,
        get32,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Seeds a repository with `referrers` referrers of one subject and `others`
/// other manifests (through a no-fsync instance, to keep the run short on a
/// shared disk), restarts the default durable server on the same root, and
/// times the listings, the first of which reads the entries from disk.
async fn referrers_bench(
    root: &std::path::Path,
    others: u64,
    referrers: u64,
) -> (f64, f64, f64, f64, f64, f64) {
    let seeder = start_ours(root, &["--unsafe-no-fsync"], "nv2-registry (seeding)");
    let p = &seeder;
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    push_empty_config(&c, &p.base, "bench/refs").await;
    let subject = Digest::sha256_of(b"the subject");
    let t = Instant::now();
    let push = {
        let (c, base, subject) = (c.clone(), p.base.clone(), subject.clone());
        move |i: u64| {
            let (c, base, subject) = (c.clone(), base.clone(), subject.clone());
            async move {
                let body = if i < referrers {
                    manifest(i, Some(&subject))
                } else {
                    manifest(i, None)
                };
                let d = Digest::sha256_of(&body);
                let r = c
                    .put(format!("{base}/v2/bench/refs/manifests/{d}"))
                    .header("content-type", OCI_MANIFEST)
                    .body(body)
                    .send()
                    .await;
                r.is_ok_and(|r| r.status() == 201)
            }
        }
    };
    eprintln!(
        "[{}] seeding {referrers} referrers + {others} other manifests…",
        p.name
    );
    let (rate, _) = ops(32, 3600.0, referrers + others, push).await;
    let seeded_in = t.elapsed().as_secs_f64();
    eprintln!("[{}] seeded in {seeded_in:.1}s ({rate:.0} PUT/s)", p.name);
    drop(seeder);
    let server = start_ours(root, &[], "nv2-registry");
    let p = &server;
    wait_ready(&c, &p.base).await;

    let url = format!("{}/v2/bench/refs/referrers/{subject}", p.base);
    // The first listing reads the subject's entries from disk.
    let t = Instant::now();
    let first = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    let cold_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(first.len() > 100);
    let mut page = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        page.push(t.elapsed().as_secs_f64() * 1e3);
    }
    page.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // The whole listing, following Link headers.
    let mut full = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let mut next = Some(url.clone());
        let mut count = 0;
        while let Some(u) = next.take() {
            let r = c.get(&u).send().await.unwrap();
            next = r.headers().get("link").map(|l| {
                let l = l.to_str().unwrap();
                format!(
                    "{}{}",
                    p.base,
                    l.trim_start_matches('<').split('>').next().unwrap()
                )
            });
            let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            count += v["manifests"].as_array().unwrap().len() as u64;
        }
        assert_eq!(count, referrers);
        full.push(t.elapsed().as_secs_f64() * 1e3);
    }
    full.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        cold_ms,
        percentile(&page, 0.5),
        percentile(&page, 0.99),
        percentile(&full, 0.5),
        percentile(&full, 0.99),
        seeded_in,
    )
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && b.is_finite() {
        format!("{:.2}x", a / b)
    } else {
        "n/a".into()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let mib = env_num("NV2_BENCH_BLOB_MIB", 1024);
    let secs = env_num("NV2_BENCH_SECS", 3) as f64;
    let others = env_num("NV2_BENCH_OTHER_MANIFESTS", 100_000);
    let referrers = env_num("NV2_BENCH_REFERRERS", 10_000);
    let base_dir = std::env::var("NV2_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("registry-bench")
        });
    let _ = std::fs::remove_dir_all(&base_dir);
    std::fs::create_dir_all(&base_dir).unwrap();

    eprintln!("generating a {mib} MiB blob…");
    // The blob file lives in memory when /dev/shm exists, so reading it does
    // not compete with the servers for the disk.
    let shm = std::path::Path::new("/dev/shm");
    let blob = if shm.is_dir() {
        shm.join(format!("nv2-bench-blob-{}", std::process::id()))
    } else {
        base_dir.join("blob")
    };
    let digest = make_blob(mib, &blob);
    let len = (mib as usize) << 20;

    let ours = start_ours(&base_dir.join("nv2"), &[], "nv2-registry");
    let ours_row = measure(&ours, &blob, len, &digest, secs).await;
    drop(ours);
    let _ = std::fs::remove_dir_all(base_dir.join("nv2"));
    // The same server without fsync: the durability distribution offers.
    let nosync = start_ours(
        &base_dir.join("nv2-nosync"),
        &["--unsafe-no-fsync"],
        "nv2-registry --unsafe-no-fsync",
    );
    let nosync_row = measure(&nosync, &blob, len, &digest, secs).await;
    drop(nosync);
    let _ = std::fs::remove_dir_all(base_dir.join("nv2-nosync"));
    let theirs = start_distribution(&base_dir.join("distribution"));
    let theirs_row = match &theirs {
        Some(p) => Some(measure(p, &blob, len, &digest, secs).await),
        None => {
            eprintln!("docker-registry not found: run scripts/registry-peers.sh to compare with distribution");
            None
        }
    };
    drop(theirs);
    let _ = std::fs::remove_file(&blob);
    let _ = std::fs::remove_dir_all(base_dir.join("distribution"));
    let (cold, p50, p99, full50, full99, seeded) =
        referrers_bench(&base_dir.join("refs"), others, referrers).await;
    let _ = std::fs::remove_dir_all(&base_dir);

    let t = theirs_row.as_ref();
    let cell = |f: &dyn Fn(&Row) -> f64| t.map(|r| format!("{:.0}", f(r))).unwrap_or("—".into());
    let rat = |mine: &Row, f: &dyn Fn(&Row) -> f64, higher_better: bool| {
        t.map(|r| {
            if higher_better {
                ratio(f(mine), f(r))
            } else {
                ratio(f(r), f(mine))
            }
        })
        .unwrap_or("—".into())
    };
    println!("\n| metric | nv2-registry (fsync, default) | nv2-registry --unsafe-no-fsync | distribution 2.8.2 (no fsync) | ratio, default | ratio, no-fsync |");
    println!("|---|---:|---:|---:|---:|---:|");
    type Metric = (&'static str, fn(&Row) -> f64, bool);
    let rows: [Metric; 7] = [
        ("blob upload, MB/s", |r| r.upload, true),
        ("blob download, MB/s", |r| r.download, true),
        ("manifest PUT ops/s, c=1", |r| r.put1, true),
        ("manifest PUT ops/s, c=32", |r| r.put32, true),
        ("manifest GET ops/s, c=1", |r| r.get1, true),
        ("manifest GET ops/s, c=32", |r| r.get32, true),
        (
            "peak RSS over the blob phase, MiB (ratio: theirs / ours)",
            |r| r.rss,
            false,
        ),
    ];
    for (name, f, hb) in rows {
        println!(
            "| {name} | {:.0} | {:.0} | {} | {} | {} |",
            f(&ours_row),
            f(&nosync_row),
            cell(&f),
            rat(&ours_row, &f, hb),
            rat(&nosync_row, &f, hb)
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nblob: {mib} MiB, sent and fetched with curl, best of 3; ops phases: {secs} s each; 2 cores shared by client and server; load average at the end: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!(
        "\nreferrers ({referrers} on one subject, {others} other manifests in the same repository, seeded in {seeded:.0} s, listed by a freshly started default server):\n\
         | listing | p50 ms | p99 ms |\n|---|---:|---:|\n\
         | first page (500 descriptors) | {p50:.2} | {p99:.2} |\n\
         | all {referrers}, following Link | {full50:.1} | {full99:.1} |\n\
         first (cold, from disk) listing: {cold:.1} ms"
    );
}
