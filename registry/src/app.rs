//! The router: shared state, the route areas merged in one place, and the
//! layers every request passes (auth, the API-version header, tracing).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::auth::{self, Htpasswd};
use crate::config::Config;
use crate::routes;
use crate::storage::Storage;

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Storage>,
    pub config: Arc<Config>,
    /// Basic-auth users; `None` serves everyone.
    pub htpasswd: Option<Arc<Htpasswd>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Storage>, config: Config) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            htpasswd: None,
        }
    }

    pub fn with_htpasswd(mut self, h: Htpasswd) -> AppState {
        self.htpasswd = Some(Arc::new(h));
        self
    }
}

/// The whole HTTP API; tests call it without a socket.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v2/", get(base))
        .route("/v2", get(base))
        .merge(routes::catalog::router())
        // Every other /v2/ path goes through one parser that reads the path
        // from the right, so repository names may have any number of segments.
        .route("/v2/{*path}", axum::routing::any(routes::dispatch))
        .merge(routes::links::router())
        .layer(middleware::from_fn_with_state(state.clone(), auth::require))
        .layer(middleware::from_fn(api_version_header))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /v2/`: the API version check.
async fn base(State(_): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response()
}

/// Docker-era clients look for this header to recognise a v2 registry.
async fn api_version_header(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}
