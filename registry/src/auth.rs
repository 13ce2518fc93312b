//! Basic authentication from an htpasswd file (bcrypt entries only), with an
//! optional anonymous-read mode, and the read-only switch.
//!
//! bcrypt is deliberately slow, so a successful check is remembered by the
//! SHA-256 of the credentials: later requests with the same credentials cost
//! one hash, not one bcrypt.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::app::AppState;
use crate::error::{ApiError, Code};

/// Most remembered credential hashes (a bound against memory growth).
const VERIFIED_CACHE_MAX: usize = 10_000;

/// Users and their bcrypt hashes.
pub struct Htpasswd {
    users: HashMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl Htpasswd {
    /// Parses `user:$2y$…` lines; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Htpasswd, String> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or(format!("line {}: expected user:hash", i + 1))?;
            if !hash.starts_with("$2") {
                return Err(format!(
                    "line {}: only bcrypt hashes are supported (htpasswd -B)",
                    i + 1
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    pub fn load(path: &Path) -> Result<Htpasswd, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Htpasswd::parse(&text)
    }

    /// Whether `user` / `password` match an entry.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        if self.verified.lock().unwrap().contains(&key) {
            return true;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            let mut v = self.verified.lock().unwrap();
            if v.len() >= VERIFIED_CACHE_MAX {
                v.clear();
            }
            v.insert(key);
        }
        ok
    }
}

fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The auth and read-only layer in front of every route.
pub async fn require(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    if state.config.read_only && !read {
        return ApiError::new(Code::Denied, "this registry is read-only").into_response();
    }
    let Some(htpasswd) = state.htpasswd.clone() else {
        return next.run(req).await;
    };
    if read && state.config.anonymous_read {
        return next.run(req).await;
    }
    let ok = match basic_credentials(&req) {
        Some((u, p)) => tokio::task::spawn_blocking(move || htpasswd.verify(&u, &p))
            .await
            .unwrap_or(false),
        None => false,
    };
    if ok {
        next.run(req).await
    } else {
        ApiError::new(Code::Unauthorized, "authentication required")
            .with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"nv2-registry\""),
            )
            .into_response()
    }
}
