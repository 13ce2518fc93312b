//! `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an image index of the
//! manifests whose `subject` is that digest. Never 404 for an unknown
//! subject (an empty index), 400 for a bad digest, `OCI-Filters-Applied`
//! when filtered, and `Link` only when the page is full.

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use oci_model::{media_type, Digest};
use serde_json::json;

use super::{path, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::services::referrers::page;

pub async fn list(ctx: Ctx, name: &str, subject: Digest) -> ApiResult<Response> {
    let after = match ctx.params.get("last") {
        Some(l) => Some(path::digest(l)?),
        None => None,
    };
    let filter = ctx
        .params
        .get("artifactType")
        .filter(|t| !t.is_empty())
        .cloned();
    let cfg = &ctx.state.config;
    let all = ctx.state.store.referrers(name, &subject).await?;
    let p = page(
        &all,
        filter.as_deref(),
        after.as_ref(),
        cfg.referrers_page_size,
        cfg.max_manifest_bytes,
    );
    let body = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": p.items,
    })
    .to_string();
    let len = body.len();
    let mut r = if ctx.method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type::OCI_INDEX),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if filter.is_some() {
        h.insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    if let Some(next) = p.next_after {
        let mut url = format!("/v2/{name}/referrers/{subject}?last={next}");
        if let Some(t) = &filter {
            url.push_str("&artifactType=");
            url.push_str(&encode_query(t));
        }
        let v =
            HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).map_err(ApiError::internal)?;
        h.insert(header::LINK, v);
    }
    Ok(r)
}

/// Percent-encodes a query value (media types carry `+` and `/`).
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
