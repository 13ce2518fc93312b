//! `GET /v2/_catalog[?n=&last=]`: the repository list, paged like tags.

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{paging, params};
use crate::app::AppState;
use crate::error::ApiResult;

pub fn router() -> Router<AppState> {
    Router::new().route("/v2/_catalog", get(catalog))
}

async fn catalog(State(state): State<AppState>, req: Request) -> Response {
    match list(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn list(state: AppState, req: Request) -> ApiResult<Response> {
    let repos = state.store.repositories().await?;
    let p = params(req.uri());
    let (page, link) = paging::page(&repos, &p, state.config.list_page_max, "/v2/_catalog")?;
    let mut resp = Json(json!({"repositories": page})).into_response();
    if let Some(l) = link {
        resp.headers_mut().insert(header::LINK, l);
    }
    Ok(resp)
}
