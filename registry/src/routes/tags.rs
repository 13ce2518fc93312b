//! `GET /v2/<name>/tags/list[?n=&last=]`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{paging, Ctx};
use crate::error::{ApiError, ApiResult, Code};

pub async fn list(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let tags = ctx.state.store.tags(name).await?.ok_or_else(|| {
        ApiError::new(Code::NameUnknown, format!("repository {name} is not known"))
    })?;
    let base = format!("/v2/{name}/tags/list");
    let (page, link) = paging::page(&tags, &ctx.params, ctx.state.config.list_page_max, &base)?;
    let mut resp = Json(json!({"name": name, "tags": page})).into_response();
    if let Some(l) = link {
        resp.headers_mut().insert(header::LINK, l);
    }
    Ok(resp)
}
