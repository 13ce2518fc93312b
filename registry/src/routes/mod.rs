//! Route areas. Everything under `/v2/<name>/…` arrives at [`dispatch`],
//! which parses the path once (`path.rs`) and hands the request to its area
//! with the path's digest or manifest reference already typed.

mod blobs;
pub mod catalog;
pub mod links;
mod manifests;
mod paging;
mod path;
mod referrers;
mod tags;
mod uploads;

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Code};
use crate::storage::ByteStream;
use path::{digest, reference_for_read, reference_for_write, Target};

/// Query parameters of a request (last value wins).
pub type Params = HashMap<String, String>;

/// What an area handler gets.
pub struct Ctx {
    pub state: AppState,
    pub method: Method,
    pub headers: HeaderMap,
    pub params: Params,
    pub body: axum::body::Body,
}

impl Ctx {
    /// The request body as a byte stream for storage.
    pub fn body_stream(self) -> ByteStream {
        Box::pin(self.body.into_data_stream().map_err(std::io::Error::other))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn params(uri: &Uri) -> Params {
    Query::<Params>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// The catch-all handler under `/v2/`.
pub async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let rest = parts
        .uri
        .path()
        .strip_prefix("/v2/")
        .unwrap_or("")
        .to_string();
    let ctx = Ctx {
        state,
        method: parts.method,
        headers: parts.headers,
        params: params(&parts.uri),
        body,
    };
    match route(&rest, ctx).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn route(rest: &str, ctx: Ctx) -> ApiResult<Response> {
    let target = path::parse(rest)?.ok_or_else(|| {
        ApiError::new(Code::Unsupported, "no such API endpoint")
            .with_status(axum::http::StatusCode::NOT_FOUND)
    })?;
    if ctx.method == Method::DELETE && ctx.state.config.disable_delete {
        return Err(ApiError::new(
            Code::Unsupported,
            "deletes are disabled on this registry",
        ));
    }
    let m = ctx.method.clone();
    match (target, m) {
        (Target::Blob { name, digest: d }, Method::GET | Method::HEAD) => {
            blobs::get(ctx, name, digest(d)?).await
        }
        (Target::Blob { name, digest: d }, Method::DELETE) => {
            blobs::delete(ctx, name, digest(d)?).await
        }
        (Target::UploadStart { name }, Method::POST) => uploads::start(ctx, name).await,
        (Target::Upload { name, id }, Method::PATCH) => uploads::patch(ctx, name, id).await,
        (Target::Upload { name, id }, Method::PUT) => uploads::close(ctx, name, id).await,
        (Target::Upload { name, id }, Method::GET) => uploads::status(ctx, name, id).await,
        (Target::Upload { name, id }, Method::DELETE) => uploads::cancel(ctx, name, id).await,
        (Target::Manifest { name, reference }, Method::GET | Method::HEAD) => {
            manifests::get(ctx, name, reference_for_read(name, reference)?).await
        }
        (Target::Manifest { name, reference }, Method::PUT) => {
            manifests::put(ctx, name, reference_for_write(reference)?).await
        }
        (Target::Manifest { name, reference }, Method::DELETE) => {
            manifests::delete(ctx, name, reference_for_write(reference)?).await
        }
        (Target::Tags { name }, Method::GET | Method::HEAD) => tags::list(ctx, name).await,
        (Target::Referrers { name, digest: d }, Method::GET | Method::HEAD) => {
            referrers::list(ctx, name, digest(d)?).await
        }
        _ => Err(ApiError::new(
            Code::Unsupported,
            "method not allowed on this endpoint",
        )),
    }
}
