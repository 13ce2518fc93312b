//! `nv2-registry` in-process on a loopback port, for as long as the value lives.

use std::net::SocketAddr;
use std::sync::Arc;

use nv2_registry::{app, AppState, Config, FsStorage};

/// A running registry; dropping it stops the server.
pub struct LocalRegistry {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _root: tempfile::TempDir,
}

impl LocalRegistry {
    /// Starts a registry with default limits.
    pub fn start() -> Self {
        Self::with_config(Config::default())
    }

    /// Starts a registry with `config` over a fresh temporary root.
    pub fn with_config(config: Config) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let store = FsStorage::open(root.path(), config.max_blob_bytes).expect("storage");
        let state = AppState::new(Arc::new(store), config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app(state))
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        LocalRegistry {
            addr,
            stop: Some(stop),
            thread: Some(thread),
            _root: root,
        }
    }

    /// `host:port`, as a reference's registry part.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
