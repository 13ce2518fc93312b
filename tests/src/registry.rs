//! `nv2-registry` in-process on a loopback port, for as long as the value lives.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::serve::ListenerExt;
use nv2_registry::{app, AppState, Config, FsStorage};

/// A running registry; dropping it stops the server.
pub struct LocalRegistry {
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
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
        Self::with_users(config, &[])
    }

    /// Starts a registry that requires HTTP basic auth of one of `users` (name, password).
    pub fn with_users(config: Config, users: &[(&str, &str)]) -> Self {
        Self::start_with(config, users, true)
    }

    /// Starts a registry that does not fsync (benchmarks: what the client costs, apart from the
    /// disk's flush latency).
    pub fn without_fsync() -> Self {
        Self::start_with(Config::default(), &[], false)
    }

    fn start_with(config: Config, users: &[(&str, &str)], fsync: bool) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let options = nv2_registry::FsOptions {
            max_blob_bytes: config.max_blob_bytes,
            fsync,
        };
        let store = FsStorage::open_with(root.path(), options).expect("storage");
        let mut state = AppState::new(Arc::new(store), config);
        if !users.is_empty() {
            let text: String = users
                .iter()
                .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 4).expect("bcrypt")))
                .collect();
            state = state.with_htpasswd(nv2_registry::Htpasswd::parse(&text).expect("htpasswd"));
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let app = app(state).layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                counter.fetch_add(1, Ordering::Relaxed);
                next.run(request)
            },
        ));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                // TCP_NODELAY, as `nv2-registry serve` sets it (Go clients stall without it).
                let listener = tokio::net::TcpListener::from_std(listener)
                    .expect("listener")
                    .tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        LocalRegistry {
            addr,
            requests,
            stop: Some(stop),
            thread: Some(thread),
            _root: root,
        }
    }

    /// `host:port`, as a reference's registry part.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// How many HTTP requests the registry has answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
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
