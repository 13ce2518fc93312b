//! Blob uploads: `POST` (session, monolithic `?digest=`, or `?mount=&from=`),
//! `PATCH` chunks checked against `Content-Range`, `PUT ?digest=` to close,
//! `GET` for status and `DELETE` to cancel.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oci_model::{validate_repository_name, Digest};

use super::{path, Ctx};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Code};

fn session_url(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// `0-<last byte>`, as distribution writes it (`0-0` when empty).
fn range_value(size: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("0-{}", size.saturating_sub(1))).unwrap()
}

/// A 202 / 204 answer describing a session's state.
fn session_answer(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    let mut r = status.into_response();
    let h = r.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&session_url(name, id)).unwrap(),
    );
    h.insert(header::RANGE, range_value(size));
    h.insert("docker-upload-uuid", HeaderValue::from_str(id).unwrap());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    r
}

/// The 201 answer for a blob that is now stored.
fn created(name: &str, digest: &Digest) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    let h = r.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/v2/{name}/blobs/{digest}")).unwrap(),
    );
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(&digest.to_string()).unwrap(),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    r
}

pub async fn start(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let store = ctx.state.store.clone();
    if let Some(mount) = ctx.params.get("mount") {
        let digest = path::digest(mount)?;
        if let Some(from) = ctx.params.get("from") {
            validate_repository_name(from)
                .map_err(|e| ApiError::new(Code::NameInvalid, e.to_string()))?;
            if store.blob_mount(name, from, &digest).await? {
                return Ok(created(name, &digest));
            }
        }
        // Not mountable: the spec says to fall back to an upload session.
    }
    if store.upload_count() >= ctx.state.config.max_upload_sessions {
        return Err(ApiError::new(
            Code::TooManyRequests,
            "too many upload sessions open; retry later",
        ));
    }
    let monolithic = match ctx.params.get("digest") {
        Some(d) => Some(path::digest(d)?),
        None => None,
    };
    let id = store.upload_create(name).await?;
    let Some(digest) = monolithic else {
        return Ok(session_answer(StatusCode::ACCEPTED, name, &id, 0));
    };
    let result = async {
        store.upload_append(name, &id, ctx.body_stream()).await?;
        store.upload_commit(name, &id, &digest).await
    }
    .await;
    match result {
        Ok(_) => Ok(created(name, &digest)),
        Err(e) => {
            // A failed single-request upload leaves nothing behind.
            let _ = store.upload_cancel(name, &id).await;
            Err(e.into())
        }
    }
}

/// `Content-Range: <start>-<end>` (a `bytes ` or `bytes=` prefix tolerated).
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes")
        .map(|s| s.trim_start_matches([' ', '=']))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (b >= a).then_some((a, b))
}

/// Checks a chunk's `Content-Range` against the session; 416 if it does not
/// start where the session ends (an out-of-order chunk).
async fn check_chunk(state: &AppState, headers: &HeaderMap, name: &str, id: &str) -> ApiResult<()> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let Some(cr) = header("content-range") else {
        return Ok(());
    };
    let status = state.store.upload_status(name, id).await?;
    let bad = || {
        ApiError::new(
            Code::BlobUploadInvalid,
            format!(
                "chunk range {cr:?} does not continue at offset {}",
                status.size
            ),
        )
        .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
        .with_header(
            header::LOCATION,
            HeaderValue::from_str(&session_url(name, id)).unwrap(),
        )
        .with_header(header::RANGE, range_value(status.size))
    };
    let (start, end) = parse_content_range(cr).ok_or_else(bad)?;
    if start != status.size {
        return Err(bad());
    }
    if let Some(len) = header("content-length").and_then(|l| l.parse::<u64>().ok()) {
        if len != end - start + 1 {
            return Err(bad());
        }
    }
    Ok(())
}

pub async fn patch(ctx: Ctx, name: &str, id: &str) -> ApiResult<Response> {
    check_chunk(&ctx.state, &ctx.headers, name, id).await?;
    let store = ctx.state.store.clone();
    let status = store.upload_append(name, id, ctx.body_stream()).await?;
    Ok(session_answer(StatusCode::ACCEPTED, name, id, status.size))
}

pub async fn close(ctx: Ctx, name: &str, id: &str) -> ApiResult<Response> {
    let digest = match ctx.params.get("digest") {
        Some(d) => path::digest(d)?,
        None => {
            return Err(ApiError::new(
                Code::DigestInvalid,
                "closing an upload needs ?digest=",
            ))
        }
    };
    check_chunk(&ctx.state, &ctx.headers, name, id).await?;
    let store = ctx.state.store.clone();
    // Make sure the session exists before reading a (possibly large) body.
    store.upload_status(name, id).await?;
    store.upload_append(name, id, ctx.body_stream()).await?;
    // On a digest mismatch the session stays open, so the client may retry.
    store.upload_commit(name, id, &digest).await?;
    Ok(created(name, &digest))
}

pub async fn status(ctx: Ctx, name: &str, id: &str) -> ApiResult<Response> {
    let s = ctx.state.store.upload_status(name, id).await?;
    Ok(session_answer(StatusCode::NO_CONTENT, name, id, s.size))
}

pub async fn cancel(ctx: Ctx, name: &str, id: &str) -> ApiResult<Response> {
    ctx.state.store.upload_cancel(name, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("bytes=5-5"), Some((5, 5)));
        assert_eq!(parse_content_range("9-1"), None);
        assert_eq!(parse_content_range("x"), None);
    }
}
