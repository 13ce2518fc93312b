//! A misbehaving front for a registry, on its own loopback port: it forwards every request to
//! the registry behind it (ours or distribution) and, as a test asks, demands bearer tokens from
//! a token endpoint of its own, fails chosen requests (a status with `Retry-After`, a connection
//! cut mid-body, corrupted blob bytes), and logs every request it saw.
//!
//! ```text
//! nv2 ──► Front (127.0.0.1:F) ──► registry (127.0.0.1:R)
//!           ├─ /token            basic credentials → token for the scopes asked
//!           ├─ 401 + challenge   unless a token covering the repository is presented
//!           ├─ faults            the Nth request matching method + path
//!           └─ log               (method, path+query, status, Location)
//! ```
//!
//! Every upload `Location` it passes back gets a `front_seq=N` query parameter (stripped before
//! forwarding), so a client that does not follow the latest `Location` shows in the log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use base64ct::{Base64, Encoding};
use tokio::net::TcpListener;

/// The `service` the front names in its challenge.
pub const SERVICE: &str = "nv2-front";

/// One request as the front saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as the client sent them.
    pub path: String,
    /// The status answered (0: the connection was cut).
    pub status: u16,
    /// The `Location` answered (path and query), if any.
    pub location: Option<String>,
}

/// One request to the token endpoint.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub service: Option<String>,
    pub scopes: Vec<String>,
    /// Whether the credentials were right (a token was issued).
    pub granted: bool,
}

/// What a fault does to a matching request.
#[derive(Debug, Clone, Copy)]
pub enum FaultKind {
    /// Answer this status (with `Retry-After: secs` when given) instead of forwarding.
    Status {
        status: u16,
        retry_after: Option<u32>,
    },
    /// Read the start of the request body, then cut the connection without answering.
    Cut,
    /// Forward, then flip a byte of a non-empty successful response body.
    Corrupt,
}

/// A fault for requests whose method is `method` and whose path contains `path`: the first
/// `skip` matches pass, the next `times` get `kind`, later ones pass again.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Method,
    pub path: String,
    pub skip: usize,
    pub times: usize,
    pub kind: FaultKind,
}

impl Fault {
    /// Every matching request, forever.
    pub fn always(method: Method, path: &str, kind: FaultKind) -> Fault {
        Fault::nth(method, path, 1, usize::MAX, kind)
    }

    /// `times` matches from the `n`th on (1-based).
    pub fn nth(method: Method, path: &str, n: usize, times: usize, kind: FaultKind) -> Fault {
        Fault {
            method,
            path: path.into(),
            skip: n.saturating_sub(1),
            times,
            kind,
        }
    }
}

struct Tokens {
    username: String,
    password: String,
    expires_in: u64,
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    token_requests: Vec<TokenRequest>,
    /// Per fault: how many requests matched it so far.
    faults: Vec<(Fault, usize)>,
    /// Valid tokens and the scopes they grant.
    issued: HashMap<String, Vec<String>>,
    counter: u64,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    tokens: Option<Tokens>,
    realm: String,
    log: Mutex<Log>,
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The socket of a connection, so that a handler can cut it.
#[derive(Clone, Copy)]
struct Socket(RawFd);

impl Connected<IncomingStream<'_, TcpListener>> for Socket {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Socket(stream.io().as_raw_fd())
    }
}

/// Marks the answer of a request whose connection was cut (for the log).
#[derive(Clone, Copy)]
struct WasCut;

/// A running front; dropping it stops the server.
pub struct Front {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Front {
    /// A plain forwarding front for the registry at `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Front {
        Front::launch(upstream, None)
    }

    /// A front that demands bearer tokens; its token endpoint grants any scope asked to
    /// `username`/`password`, for `expires_in` seconds.
    pub fn with_tokens(upstream: &str, username: &str, password: &str, expires_in: u64) -> Front {
        let tokens = Tokens {
            username: username.into(),
            password: password.into(),
            expires_in,
        };
        Front::launch(upstream, Some(tokens))
    }

    fn launch(upstream: &str, tokens: Option<Tokens>) -> Front {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            upstream: format!("http://{upstream}"),
            http: reqwest::Client::new(),
            tokens,
            realm: format!("http://{addr}/token"),
            log: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                let service = app.into_make_service_with_connect_info::<Socket>();
                axum::serve(listener, service)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        Front {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `host:port`, as a reference's registry part.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Adds a fault (the first fault that matches a request decides).
    pub fn fail(&self, fault: Fault) {
        self.shared.log().faults.push((fault, 0));
    }

    /// Removes every fault.
    pub fn heal(&self) {
        self.shared.log().faults.clear();
    }

    /// The requests seen so far (token requests included, as `GET /token?…`).
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.log().seen.clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear(&self) {
        let mut log = self.shared.log();
        log.seen.clear();
        log.token_requests.clear();
    }

    /// The token requests so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared.log().token_requests.clone()
    }

    /// Every token issued so far stops being accepted, as if it had expired.
    pub fn expire_tokens(&self) {
        self.shared.log().issued.clear();
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(socket): ConnectInfo<Socket>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    let response = if request.uri().path() == "/token" {
        token(&shared, &request)
    } else {
        registry(&shared, socket, request, &path).await
    };
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    shared.log().seen.push(Seen {
        method: method.to_string(),
        path,
        status: match response.extensions().get::<WasCut>() {
            Some(WasCut) => 0,
            None => response.status().as_u16(),
        },
        location,
    });
    response
}

/// `GET /token?service=…&scope=…`: a token for the scopes asked, if the basic credentials match.
fn token(shared: &Shared, request: &Request) -> Response {
    let Some(tokens) = &shared.tokens else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let query: Vec<(String, String)> = Query::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let service = query
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone());
    let scopes: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string))
        .collect();
    let expected = format!("{}:{}", tokens.username, tokens.password);
    let granted = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| Base64::decode_vec(b.trim()).ok())
        .is_some_and(|pair| pair == expected.as_bytes());
    let mut log = shared.log();
    log.token_requests.push(TokenRequest {
        service,
        scopes: scopes.clone(),
        granted,
    });
    if !granted {
        return oci_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "bad credentials");
    }
    log.counter += 1;
    let token = format!("token-{}", log.counter);
    log.issued.insert(token.clone(), scopes);
    let body = serde_json::json!({"token": token, "expires_in": tokens.expires_in});
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The scope a registry request needs: (`repository:NAME`, action), or `None` for `/v2/`.
fn needed_scope(method: &Method, path: &str) -> Option<(String, &'static str)> {
    let rest = path.strip_prefix("/v2/")?;
    if rest.starts_with("_catalog") {
        return Some(("registry:catalog".into(), "*"));
    }
    let name = ["/blobs/", "/manifests/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|m| rest.rfind(m))
        .max()
        .map(|i| &rest[..i])?;
    let action = if *method == Method::GET || *method == Method::HEAD {
        "pull"
    } else {
        "push"
    };
    Some((format!("repository:{name}"), action))
}

/// Whether `granted` (scopes of a token) covers `resource` with `action`.
fn covers(granted: &[String], resource: &str, action: &str) -> bool {
    granted.iter().any(|g| {
        g.rsplit_once(':').is_some_and(|(r, actions)| {
            r == resource && actions.split(',').any(|a| a == action || a == "*")
        })
    })
}

/// `None` when the request may pass, else the 401 to answer.
fn check_token(
    shared: &Shared,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
) -> Option<Response> {
    shared.tokens.as_ref()?;
    let needed = needed_scope(method, path.split('?').next().unwrap_or(path));
    // A mount also reads the repository it mounts from.
    let from = path
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("from=")))
        .map(|from| format!("repository:{from}"));
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let granted = presented.and_then(|t| shared.log().issued.get(t).cloned());
    let allowed = granted.as_ref().is_some_and(|g| match &needed {
        None => true,
        Some((resource, action)) => {
            covers(g, resource, action) && from.as_ref().is_none_or(|f| covers(g, f, "pull"))
        }
    });
    if allowed {
        return None;
    }
    let mut challenge = format!("Bearer realm=\"{}\",service=\"{SERVICE}\"", shared.realm);
    if let Some((resource, action)) = &needed {
        let actions = if *action == "pull" {
            "pull"
        } else {
            "pull,push"
        };
        challenge.push_str(&format!(",scope=\"{resource}:{actions}\""));
    }
    let mut response = oci_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "token required");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("a header value"),
    );
    Some(response)
}

/// Which fault, if any, applies to this request (counting the match).
fn fault_for(shared: &Shared, method: &Method, path: &str) -> Option<FaultKind> {
    let mut log = shared.log();
    let (fault, count) = log
        .faults
        .iter_mut()
        .find(|(f, _)| f.method == *method && path.contains(&f.path))?;
    *count += 1;
    (*count > fault.skip && *count - fault.skip <= fault.times).then_some(fault.kind)
}

async fn registry(shared: &Shared, socket: Socket, request: Request, path: &str) -> Response {
    let method = request.method().clone();
    if let Some(denied) = check_token(shared, request.headers(), &method, path) {
        return denied;
    }
    let fault = fault_for(shared, &method, path);
    match fault {
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).expect("a status");
            let mut response = oci_error(status, "UNAVAILABLE", "injected by the test front");
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return response;
        }
        Some(FaultKind::Cut) => {
            // Wait for the first bytes of the body (a limit of 1 stops after one frame), so the
            // cut lands mid-upload, then shut the socket: the client gets no answer at all.
            let _ = axum::body::to_bytes(request.into_body(), 1).await;
            // SAFETY: the connection (and so its socket) is alive while its handler runs.
            unsafe { libc::shutdown(socket.0, libc::SHUT_RDWR) };
            let mut never_sent = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            never_sent.extensions_mut().insert(WasCut);
            return never_sent;
        }
        _ => {}
    }
    let mut response = forward(shared, request, path).await;
    if matches!(fault, Some(FaultKind::Corrupt)) && response.status().is_success() {
        let body = std::mem::take(response.body_mut());
        let mut bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default()
            .to_vec();
        if let Some(b) = bytes.first_mut() {
            *b ^= 0xff;
        }
        *response.body_mut() = Body::from(bytes);
    }
    response
}

/// Sends the request on to the registry and its answer back, `Location` made relative (and
/// numbered for uploads).
async fn forward(shared: &Shared, request: Request, path: &str) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut upstream = shared
        .http
        .request(
            parts.method.clone(),
            format!("{}{}", shared.upstream, strip_seq(path)),
        )
        .body(body);
    for (name, value) in &parts.headers {
        if ![header::HOST, header::AUTHORIZATION, header::CONTENT_LENGTH].contains(name) {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    headers.remove(header::TRANSFER_ENCODING);
    if parts.method != Method::HEAD {
        headers.remove(header::CONTENT_LENGTH);
    }
    if let Some(location) = headers.get(header::LOCATION).and_then(|l| l.to_str().ok()) {
        let mut location = location
            .strip_prefix(&shared.upstream)
            .unwrap_or(location)
            .to_string();
        if status == StatusCode::ACCEPTED && location.contains("/blobs/uploads/") {
            let mut log = shared.log();
            log.counter += 1;
            let separator = if location.contains('?') { '&' } else { '?' };
            location = format!("{location}{separator}front_seq={}", log.counter);
        }
        headers.insert(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("a header value"),
        );
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The path and query without the front's own `front_seq` parameter.
fn strip_seq(path: &str) -> String {
    let Some((p, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|q| !q.starts_with("front_seq="))
        .collect();
    if kept.is_empty() {
        p.to_string()
    } else {
        format!("{p}?{}", kept.join("&"))
    }
}

fn oci_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
