//! CNCF distribution 2.8.2 (Debian's `docker-registry`) as a child process on loopback: a
//! registry without the referrers API, for the tag-schema fallback.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";

/// A running distribution registry; dropping it kills the process.
pub struct Distribution {
    pub addr: String,
    child: Child,
    _root: tempfile::TempDir,
}

impl Distribution {
    /// Starts one, or `None` when the binary is not installed.
    pub fn start() -> Option<Self> {
        if !Path::new(BINARY).exists() {
            return None;
        }
        let root = tempfile::tempdir().expect("temp dir");
        // A free port: bind, read it, release it for the child.
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = root.path().join("config.yml");
        let mut f = std::fs::File::create(&config).expect("config");
        write!(
            f,
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            root.path().join("data").display()
        )
        .expect("write config");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker-registry");
        let dist = Distribution {
            addr,
            child,
            _root: root,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::blocking::get(format!("http://{}/v2/", dist.addr)) {
                if r.status().is_success() {
                    return Some(dist);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("docker-registry did not come up on {}", dist.addr);
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
