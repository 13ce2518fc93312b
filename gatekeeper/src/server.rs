//! `nv2-gatekeeper serve`: the provider over HTTPS, as Gatekeeper calls it.
//!
//! ```text
//! POST /validate  POST /mutate     Contract 3 (protocol.rs), answered by the Provider
//! GET  /healthz                    the process answers
//! GET  /readyz                     200 only with a loaded bundle and a valid trust policy
//! GET  /metrics                    Prometheus text (metrics.rs)
//! ```
//!
//! TLS 1.3 only (Gatekeeper speaks it; nothing older is offered). The certificate and key are
//! read again whenever their files change (cert-manager rotates them in place): each handshake
//! looks at their modification times, a stat per file, and a pair that does not load keeps the
//! old one in service. With a client CA, a client without a certificate it issued is refused in
//! the handshake (Gatekeeper's mTLS).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rustls::crypto::ring::default_provider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::protocol::{ProviderRequest, ProviderResponse, API_VERSION, REQUEST_KIND};
use crate::provider::Provider;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The routes, over `provider` (no socket: tests call it directly too).
pub fn app(provider: Provider) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(provider)
}

#[derive(Clone, Copy)]
enum Endpoint {
    Validate,
    Mutate,
}

async fn validate(State(p): State<Provider>, body: Bytes) -> Response {
    answer(p, Endpoint::Validate, body).await
}

async fn mutate(State(p): State<Provider>, body: Bytes) -> Response {
    answer(p, Endpoint::Mutate, body).await
}

/// One request, logged and counted; a body that is not a `ProviderRequest` is a `systemError`
/// (with 400, so that it shows in Gatekeeper's logs as the caller's fault).
async fn answer(provider: Provider, endpoint: Endpoint, body: Bytes) -> Response {
    let name = match endpoint {
        Endpoint::Validate => "validate",
        Endpoint::Mutate => "mutate",
    };
    let started = Instant::now();
    let request = match parse_request(&body) {
        Ok(r) => r,
        Err(e) => {
            provider.metrics().request(name, "bad_request");
            tracing::warn!(endpoint = name, error = %e, "refused a request");
            let body = ProviderResponse::system_error(e);
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let keys = &request.request.keys;
    let response = match endpoint {
        Endpoint::Validate => provider.validate(keys).await,
        Endpoint::Mutate => provider.mutate(keys).await,
    };
    let failed = response
        .response
        .items
        .iter()
        .filter(|i| !i.error.is_empty())
        .count();
    let outcome = if !response.response.system_error.is_empty() {
        "system_error"
    } else if failed > 0 {
        "item_error"
    } else {
        "ok"
    };
    provider.metrics().request(name, outcome);
    tracing::info!(
        endpoint = name,
        keys = keys.len(),
        failed,
        outcome,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        system_error = %response.response.system_error,
        "answered"
    );
    Json(response).into_response()
}

fn parse_request(body: &[u8]) -> Result<ProviderRequest, String> {
    let request: ProviderRequest =
        serde_json::from_slice(body).map_err(|e| format!("not a ProviderRequest: {e}"))?;
    if request.api_version != API_VERSION || request.kind != REQUEST_KIND {
        return Err(format!(
            "expected apiVersion {API_VERSION} and kind {REQUEST_KIND}, got {} and {}",
            request.api_version, request.kind
        ));
    }
    Ok(request)
}

async fn readyz(State(p): State<Provider>) -> Response {
    match p.ready() {
        Ok(()) => "ready".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

async fn metrics(State(p): State<Provider>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        p.metrics().render(),
    )
        .into_response()
}

/// The rustls configuration: TLS 1.3 only, the certificate from `cert`/`key` (reloaded when
/// they change), and client certificates required when `client_ca` is given.
pub fn tls_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = Arc::new(default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match client_ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(path)? {
                roots.add(cert)?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let resolver = ReloadingCert::new(cert.to_path_buf(), key.to_path_buf())?;
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{}: no certificate", path.display());
    Ok(certs)
}

fn load_pair(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = read_certs(cert)?;
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let signing = default_provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    // A key that is not the certificate's must not replace a working pair.
    certified
        .keys_match()
        .map_err(|e| anyhow::anyhow!("{} and {}: {e}", cert.display(), key.display()))?;
    Ok(Arc::new(certified))
}

type Stamp = [(Option<SystemTime>, u64); 2];

/// The serving certificate, read again when its files change.
#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<(Stamp, Arc<CertifiedKey>)>,
}

fn stamp(paths: [&Path; 2]) -> Stamp {
    paths.map(|p| {
        let meta = std::fs::metadata(p).ok();
        (
            meta.as_ref().and_then(|m| m.modified().ok()),
            meta.map_or(0, |m| m.len()),
        )
    })
}

impl ReloadingCert {
    fn new(cert: PathBuf, key: PathBuf) -> anyhow::Result<Self> {
        let now = stamp([&cert, &key]);
        let pair = load_pair(&cert, &key)?;
        Ok(ReloadingCert {
            cert,
            key,
            current: Mutex::new((now, pair)),
        })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let now = stamp([&self.cert, &self.key]);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.0 != now {
            // Remembered either way: a broken pair is not re-read on every handshake.
            current.0 = now;
            match load_pair(&self.cert, &self.key) {
                Ok(pair) => {
                    tracing::info!(cert = %self.cert.display(), "serving certificate reloaded");
                    current.1 = pair;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "new serving certificate refused; keeping the old one")
                }
            }
        }
        Some(current.1.clone())
    }
}

/// Accepts TLS connections on `listener` and serves `app` on each, until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |request| {
                tower::ServiceExt::oneshot(app.clone(), request)
            });
            let connection =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            if let Err(e) = connection {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Reloads the provider's trust configuration and bundle every `interval` when files changed.
pub fn spawn_reloader(provider: Provider, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let p = provider.clone();
            // Compiling a new policy.wasm takes a while: not on an async worker.
            let _ = tokio::task::spawn_blocking(move || p.reload_if_changed()).await;
        }
    })
}
