//! The OCI error codes, their HTTP statuses, and the single place where an
//! error becomes a response (`{"errors":[{"code","message","detail"}]}`).
//! Internal failures are logged with their cause and answered with a bare
//! `UNKNOWN` so that file paths and OS errors never reach a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StorageError;

/// The distribution-spec error codes, plus `UNKNOWN` for internal errors and
/// `TAG_INVALID`, one of the legacy Docker codes the spec says clients may
/// encounter ("Legacy Docker support error codes"), for a malformed tag in a
/// write's URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    TagInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    Unknown,
}

impl Code {
    /// The code table: wire name and default status, as the spec gives them.
    pub fn table(self) -> (&'static str, StatusCode) {
        use Code::*;
        match self {
            BlobUnknown => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            BlobUploadInvalid => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            BlobUploadUnknown => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            DigestInvalid => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            ManifestBlobUnknown => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            ManifestInvalid => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            ManifestUnknown => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            NameInvalid => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            NameUnknown => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            SizeInvalid => ("SIZE_INVALID", StatusCode::BAD_REQUEST),
            TagInvalid => ("TAG_INVALID", StatusCode::BAD_REQUEST),
            Unauthorized => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            Denied => ("DENIED", StatusCode::FORBIDDEN),
            Unsupported => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            TooManyRequests => ("TOOMANYREQUESTS", StatusCode::TOO_MANY_REQUESTS),
            Unknown => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    /// Overrides the table's status (416 for bad ranges, 413 for big bodies).
    pub status: Option<StatusCode>,
    pub message: String,
    /// Extra headers, e.g. the `WWW-Authenticate` challenge or an upload's `Range`.
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status: None,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = Some(status);
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// An internal failure: logged here, answered as a bare 500.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(Code::Unknown, "internal server error")
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(self.code.table().1)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::UploadUnknown => {
                ApiError::new(Code::BlobUploadUnknown, "upload session unknown or expired")
            }
            StorageError::BlobUnknown => {
                ApiError::new(Code::BlobUnknown, "blob unknown to registry")
            }
            StorageError::DigestMismatch { expected, actual } => ApiError::new(
                Code::DigestInvalid,
                format!("content digest {actual} does not match {expected}"),
            ),
            StorageError::TooLarge { limit } => {
                ApiError::new(Code::SizeInvalid, format!("content exceeds {limit} bytes"))
                    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            StorageError::Body(e) => {
                ApiError::new(Code::BlobUploadInvalid, format!("request body failed: {e}"))
            }
            StorageError::Io(e) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (name, default_status) = self.code.table();
        let status = self.status.unwrap_or(default_status);
        if status.is_server_error() {
            tracing::warn!(code = name, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = name, message = %self.message, "request refused");
        }
        let body = json!({"errors": [{"code": name, "message": self.message, "detail": null}]});
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
