//! Response builders and the error envelope every non-2xx answer uses:
//! `{"error": {"code": "not_found", "message": "..."}}`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

pub type Body = Full<Bytes>;

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => with_type(status, bytes, "application/json"),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &format!("cannot encode response: {e}"),
        ),
    }
}

pub fn text(status: StatusCode, body: String, content_type: &'static str) -> Response<Body> {
    with_type(status, body.into_bytes(), content_type)
}

pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    with_type(status, bytes, "application/json")
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

fn with_type(status: StatusCode, bytes: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
