//! The local Docker engine, only for reading a local image by name: whether one answers
//! (`GET /_ping` on `DOCKER_HOST`, `-H`, or `/var/run/docker.sock`), and `docker save` of the
//! image into a scratch tar. Everything else works without an engine.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use super::error::{ImageError, Result};

/// The socket docker uses when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Where the engine would be.
#[derive(Debug, Clone)]
pub struct Engine {
    /// `unix:///path`, `tcp://host:port`, …
    pub host: String,
}

impl Engine {
    /// `-H` when given, else `DOCKER_HOST`, else the default socket.
    pub fn locate(flag: Option<&str>) -> Engine {
        let host = flag
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        Engine { host }
    }

    /// Pings the engine: `Ok` when it answers `GET /_ping`, else why not.
    pub fn ping(&self) -> std::result::Result<(), String> {
        let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
        let timeout = Duration::from_secs(3);
        let mut answer = Vec::new();
        if let Some(path) = self.host.strip_prefix("unix://") {
            let mut s = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(timeout))
                .map_err(|e| e.to_string())?;
            s.write_all(request).map_err(|e| e.to_string())?;
            s.take(4096)
                .read_to_end(&mut answer)
                .map_err(|e| e.to_string())?;
        } else if let Some(addr) = self.host.strip_prefix("tcp://") {
            let addr = std::net::ToSocketAddrs::to_socket_addrs(addr.trim_end_matches('/'))
                .map_err(|e| e.to_string())?
                .next()
                .ok_or("no address")?;
            let mut s =
                std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(timeout))
                .map_err(|e| e.to_string())?;
            s.write_all(request).map_err(|e| e.to_string())?;
            s.take(4096)
                .read_to_end(&mut answer)
                .map_err(|e| e.to_string())?;
        } else {
            return Err(format!(
                "{} is not a unix:// or tcp:// address this tool can check",
                self.host
            ));
        }
        let status = String::from_utf8_lossy(&answer);
        if status.starts_with("HTTP/1.0 200") || status.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!(
                "it answered {:?}, not a Docker engine's ping",
                status.lines().next().unwrap_or("")
            ))
        }
    }

    /// `docker save NAME` into a scratch tar, handed to `read`; the tar goes afterwards.
    pub fn save<T>(&self, name: &str, read: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        self.ping().map_err(|cause| ImageError::NoEngine {
            name: name.into(),
            endpoint: self.host.clone(),
            cause,
        })?;
        let scratch = tempfile::Builder::new()
            .prefix("docker-generate-save-")
            .tempdir()
            .map_err(|e| ImageError::io(std::env::temp_dir(), e))?;
        let tar = scratch.path().join("image.tar");
        let out = std::process::Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .arg("save")
            .arg("-o")
            .arg(&tar)
            .arg(name)
            .output()
            .map_err(|e| ImageError::DockerSave {
                name: name.into(),
                problem: format!("running docker: {e}"),
            })?;
        if !out.status.success() {
            return Err(ImageError::DockerSave {
                name: name.into(),
                problem: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        read(&tar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_socket_is_no_engine() {
        let e = Engine {
            host: "unix:///nonexistent/docker.sock".into(),
        };
        let err = e.save("app:v1", |_| Ok(())).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ImageError::NoEngine { .. }), "{text}");
        assert!(
            text.contains("no Docker engine is reachable at unix:///nonexistent/docker.sock")
                && text.contains("oci:DIR"),
            "{text}"
        );
    }
}
