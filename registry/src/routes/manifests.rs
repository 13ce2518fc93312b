//! Manifests: `PUT`/`GET`/`HEAD`/`DELETE` by tag or digest, with
//! `Docker-Content-Digest`, the stored `Content-Type`, `Accept` negotiation,
//! `OCI-Subject`, and 413 for bodies over the manifest limit.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use oci_model::ManifestRef;

use super::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::services::manifests;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(Code::SizeInvalid, format!("manifest exceeds {limit} bytes"))
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

pub async fn put(ctx: Ctx, name: &str, reference: ManifestRef) -> ApiResult<Response> {
    let limit = ctx.state.config.max_manifest_bytes;
    if ctx
        .header("content-length")
        .and_then(|l| l.parse::<u64>().ok())
        .is_some_and(|l| l > limit as u64)
    {
        return Err(too_large(limit));
    }
    let content_type = ctx.header("content-type").map(str::to_string);
    let state = ctx.state.clone();
    // Read at most the limit, whatever Content-Length claimed.
    let bytes = match Limited::new(ctx.body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large(limit)),
        Err(e) => {
            return Err(ApiError::new(
                Code::ManifestInvalid,
                format!("reading the body failed: {e}"),
            ))
        }
    };
    let out = manifests::put(&state, name, &reference, content_type.as_deref(), bytes).await?;
    let mut r = StatusCode::CREATED.into_response();
    let h = r.headers_mut();
    let loc = format!("/v2/{name}/manifests/{}", out.digest);
    h.insert(header::LOCATION, HeaderValue::from_str(&loc).unwrap());
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(&out.digest.to_string()).unwrap(),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    if let Some(s) = out.subject {
        h.insert(
            "oci-subject",
            HeaderValue::from_str(&s.to_string()).unwrap(),
        );
    }
    Ok(r)
}

/// Whether an `Accept` header admits `media_type`. No header, `*/*`,
/// `application/*` or `application/json` admit anything: negotiation only
/// refuses clients that list manifest types and not this one.
fn accepts(accept: &[&str], media_type: &str) -> bool {
    let mut listed = false;
    for value in accept {
        for item in value.split(',') {
            let t = item.split(';').next().unwrap_or("").trim();
            if t.is_empty() {
                continue;
            }
            listed = true;
            if t == media_type || t == "*/*" || t == "application/*" || t == "application/json" {
                return true;
            }
        }
    }
    !listed
}

/// `GET` and `HEAD` (without a body).
pub async fn get(ctx: Ctx, name: &str, reference: ManifestRef) -> ApiResult<Response> {
    let (digest, m) = manifests::resolve(&ctx.state, name, &reference).await?;
    let accept: Vec<&str> = ctx
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !accepts(&accept, &m.media_type) {
        return Err(ApiError::new(
            Code::ManifestUnknown,
            format!(
                "manifest {digest} is {}, which the Accept header does not list",
                m.media_type
            ),
        ));
    }
    let len = m.bytes.len();
    let body = if ctx.method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(m.bytes)
    };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&m.media_type).map_err(ApiError::internal)?,
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(&digest.to_string()).unwrap(),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{digest}\"")).unwrap(),
    );
    Ok(r)
}

pub async fn delete(ctx: Ctx, name: &str, reference: ManifestRef) -> ApiResult<Response> {
    manifests::delete(&ctx.state, name, &reference).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn negotiation() {
        let oci = "application/vnd.oci.image.manifest.v1+json";
        assert!(accepts(&[], oci));
        assert!(accepts(&["application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json;q=0.9"], oci));
        assert!(accepts(&["*/*"], oci));
        assert!(!accepts(
            &["application/vnd.docker.distribution.manifest.v2+json"],
            oci
        ));
    }
}
