//! The prototype-2 links endpoint,
//! `GET /oras/artifacts/v1/<name>/manifests/<digest>/referrers[?artifactType=]`,
//! answering `{"references": [descriptor, …]}` from the same referrers index.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use oci_model::validate_repository_name;
use serde_json::json;

use super::{params, path};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Code};

pub fn router() -> Router<AppState> {
    Router::new().route("/oras/artifacts/v1/{*path}", get(handle))
}

async fn handle(State(state): State<AppState>, req: Request) -> Response {
    match references(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// `<name>/manifests/<digest>/referrers`, read from the right.
fn parse(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.strip_suffix("/referrers")?;
    let (head, digest) = rest.rsplit_once('/')?;
    let name = head.strip_suffix("/manifests")?;
    Some((name, digest))
}

async fn references(state: AppState, req: Request) -> ApiResult<Response> {
    let path = req
        .uri()
        .path()
        .strip_prefix("/oras/artifacts/v1/")
        .unwrap_or("");
    let (name, digest) = parse(path).ok_or_else(|| {
        ApiError::new(Code::Unsupported, "no such API endpoint").with_status(StatusCode::NOT_FOUND)
    })?;
    validate_repository_name(name).map_err(|e| ApiError::new(Code::NameInvalid, e.to_string()))?;
    let subject = path::digest(digest)?;
    let p = params(req.uri());
    let filter = p.get("artifactType").filter(|t| !t.is_empty());
    let all = state.store.referrers(name, &subject).await?;
    let refs: Vec<_> = all
        .values()
        .filter(|d| filter.is_none_or(|t| d.artifact_type.as_deref() == Some(t.as_str())))
        .collect();
    Ok(Json(json!({ "references": refs })).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse() {
        assert_eq!(
            super::parse("a/b/manifests/sha256:x/referrers"),
            Some(("a/b", "sha256:x"))
        );
        assert_eq!(super::parse("a/manifests/sha256:x"), None);
    }
}
