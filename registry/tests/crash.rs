//! Crash safety: SIGKILL the server in the middle of a stream of pushes,
//! restart it on the same root, and check that everything acknowledged
//! before the kill is intact and that nothing half-written is visible.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{client, image_manifest, Server, OCI_MANIFEST};
use oci_model::Digest;

#[derive(Default)]
struct Acked {
    blobs: Vec<(Digest, usize)>,
    manifests: Vec<(Digest, String)>,
}

fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x2545F4914F6CDD1D) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// One pusher: blobs (monolithic and two-chunk) then a tagged manifest over
/// them, recording only what the server acknowledged.
async fn pusher(base: String, worker: u64, acked: Arc<Mutex<Acked>>) {
    let c = client();
    let _ = c
        .post(format!(
            "{base}/v2/crash/blobs/uploads/?digest={}",
            Digest::sha256_of(b"{}")
        ))
        .body("{}")
        .send()
        .await;
    for i in 0.. {
        let seed = worker * 1_000_000 + i;
        let data = payload(seed, 20_000 + (seed as usize * 7919) % 400_000);
        let d = Digest::sha256_of(&data);
        let ok = if i % 2 == 0 {
            match c
                .post(format!("{base}/v2/crash/blobs/uploads/?digest={d}"))
                .body(data.clone())
                .send()
                .await
            {
                Ok(r) => r.status() == 201,
                Err(_) => return,
            }
        } else {
            let Ok(r) = c
                .post(format!("{base}/v2/crash/blobs/uploads/"))
                .send()
                .await
            else {
                return;
            };
            let Some(loc) = r
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string)
            else {
                return;
            };
            let half = data.len() / 2;
            let Ok(r) = c
                .patch(format!("{base}{loc}"))
                .body(data[..half].to_vec())
                .send()
                .await
            else {
                return;
            };
            if r.status() != 202 {
                return;
            }
            match c
                .put(format!("{base}{loc}?digest={d}"))
                .body(data[half..].to_vec())
                .send()
                .await
            {
                Ok(r) => r.status() == 201,
                Err(_) => return,
            }
        };
        if !ok {
            return;
        }
        acked.lock().unwrap().blobs.push((d.clone(), data.len()));
        let m = image_manifest(&[(&d, data.len())], None, None);
        let md = Digest::sha256_of(&m);
        let tag = format!("w{worker}-{i}");
        match c
            .put(format!("{base}/v2/crash/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(m)
            .send()
            .await
        {
            Ok(r) if r.status() == 201 => acked.lock().unwrap().manifests.push((md, tag)),
            _ => return,
        }
    }
}

/// Every published blob and manifest file must hash to its name.
fn check_no_partial_files(root: &Path) {
    fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, f)
            } else {
                f(&p)
            }
        }
    }
    let mut blobs = 0;
    walk(&root.join("blobs/sha256"), &mut |p| {
        let name = p.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(p).unwrap();
        assert_eq!(
            Digest::sha256_of(&bytes).hex(),
            name,
            "partial blob visible at {}",
            p.display()
        );
        blobs += 1;
    });
    let mut manifests = 0;
    walk(
        &root.join("repositories/crash/_manifests/revisions/sha256"),
        &mut |p| {
            let raw = std::fs::read(p).unwrap();
            let nl = raw
                .iter()
                .position(|&b| b == b'\n')
                .expect("media type line");
            let name = p.file_name().unwrap().to_str().unwrap();
            assert_eq!(
                Digest::sha256_of(&raw[nl + 1..]).hex(),
                name,
                "partial manifest at {}",
                p.display()
            );
            manifests += 1;
        },
    );
    assert!(blobs > 0 && manifests > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_pushes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let workers: Vec<_> = (0..6)
        .map(|w| tokio::spawn(pusher(server.base.clone(), w, acked.clone())))
        .collect();
    // Let the pushes get going (up to 15 s on a loaded machine), then kill
    // without warning (SIGKILL).
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if acked.lock().unwrap().manifests.len() >= 40 {
            break;
        }
    }
    server.kill();
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.manifests.len() >= 5,
        "too few pushes before the kill: {}",
        acked.manifests.len()
    );

    let server = Server::start(dir.path(), &[]);
    check_no_partial_files(dir.path());
    assert!(
        !dir.path().join("tmp").read_dir().unwrap().any(|_| true),
        "temp files survive a restart"
    );
    let c = client();
    for (d, len) in &acked.blobs {
        let r = c
            .get(format!("{}/v2/crash/blobs/{d}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged blob {d} lost");
        let got = r.bytes().await.unwrap();
        assert_eq!((Digest::sha256_of(&got), got.len()), (d.clone(), *len));
    }
    for (d, tag) in &acked.manifests {
        for reference in [tag.clone(), d.to_string()] {
            let r = c
                .get(format!("{}/v2/crash/manifests/{reference}", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "acknowledged manifest {reference} lost");
            assert_eq!(&Digest::sha256_of(&r.bytes().await.unwrap()), d);
        }
    }
    // The registry still takes writes after the restart.
    let r = c
        .post(format!(
            "{}/v2/crash/blobs/uploads/?digest={}",
            server.base,
            Digest::sha256_of(b"after")
        ))
        .body("after")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    eprintln!(
        "crash test: {} blobs and {} manifests acknowledged before SIGKILL, all intact",
        acked.blobs.len(),
        acked.manifests.len()
    );
}
