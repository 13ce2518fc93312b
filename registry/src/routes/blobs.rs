//! Blobs: `GET`/`HEAD` (with `Range`: 206 or 416) and `DELETE`.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use oci_model::Digest;

use super::Ctx;
use crate::error::{ApiError, ApiResult, Code};

pub async fn get(ctx: Ctx, name: &str, digest: Digest) -> ApiResult<Response> {
    let store = &ctx.state.store;
    let size = store.blob_size(name, &digest).await?.ok_or_else(|| {
        ApiError::new(
            Code::BlobUnknown,
            format!("blob {digest} unknown to {name}"),
        )
    })?;
    let range = match ctx.header("range") {
        Some(r) => Some(parse_range(r, size).ok_or_else(|| {
            ApiError::new(
                Code::BlobUnknown,
                format!("range {r:?} not satisfiable for {size} bytes"),
            )
            .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
            .with_header(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).unwrap(),
            )
        })?),
        None => None,
    };
    let (status, len) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, size),
    };
    let body = if ctx.method == Method::HEAD {
        Body::empty()
    } else {
        Body::from_stream(store.blob_read(name, &digest, range.clone()).await?)
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(&digest.to_string()).unwrap(),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{digest}\"")).unwrap(),
    );
    if let Some(r) = range {
        let v = format!("bytes {}-{}/{size}", r.start, r.end - 1);
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&v).unwrap());
    }
    Ok(resp)
}

/// One `bytes=` range (RFC 9110), clamped to the blob; `None` if unsatisfiable
/// or malformed. Several ranges are not supported and count as malformed.
fn parse_range(v: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix: the last N bytes.
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return None;
        }
        return Some(size.saturating_sub(n)..size);
    }
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
        size - 1
    } else {
        b.parse::<u64>().ok()?.min(size.saturating_sub(1))
    };
    if start >= size || end < start {
        return None;
    }
    Some(start..end + 1)
}

pub async fn delete(ctx: Ctx, name: &str, digest: Digest) -> ApiResult<Response> {
    if ctx.state.store.blob_delete(name, &digest).await? {
        Ok(StatusCode::ACCEPTED.into_response())
    } else {
        Err(ApiError::new(
            Code::BlobUnknown,
            format!("blob {digest} unknown to {name}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-10", 100), Some(90..100));
        assert_eq!(parse_range("bytes=95-200", 100), Some(95..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
    }
}
