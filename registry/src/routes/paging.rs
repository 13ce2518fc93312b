//! `n` / `last` paging with a `Link: <…>; rel="next"` header, shared by the
//! tags list and the catalog.

use axum::http::HeaderValue;

use super::Params;
use crate::error::{ApiError, ApiResult, Code};

/// One page of a sorted list, and the `Link` value if another page follows.
pub fn page(
    items: &[String],
    params: &Params,
    max: usize,
    base: &str,
) -> ApiResult<(Vec<String>, Option<HeaderValue>)> {
    let n = match params.get("n") {
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::new(Code::Unsupported, "n must be a number")
                .with_status(axum::http::StatusCode::BAD_REQUEST)
        })?),
        None => None,
    };
    let start = match params.get("last") {
        // Sorted input: the page starts after the first item greater than `last`.
        Some(last) => items.partition_point(|t| t.as_str() <= last.as_str()),
        None => 0,
    };
    let limit = n.unwrap_or(max).min(max);
    let end = (start + limit).min(items.len());
    let page = items[start..end].to_vec();
    let link = if end < items.len() && !page.is_empty() {
        let last = page.last().unwrap();
        let v = format!("<{base}?n={limit}&last={last}>; rel=\"next\"");
        Some(HeaderValue::from_str(&v).map_err(ApiError::internal)?)
    } else {
        None
    };
    Ok((page, link))
}
