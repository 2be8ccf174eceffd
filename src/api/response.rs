//! Response builders and the error envelope every non-2xx answer uses:
//! `{"error": {"code": "not_found", "message": "..."}}`. JSON, errors
//! included, is pretty-printed, and every non-empty body ends with a newline
//! (so `curl` leaves the shell prompt on a line of its own).

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
    let bytes = serde_json::to_vec_pretty(&body).unwrap_or_default();
    with_type(status, bytes, "application/json")
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

fn with_type(status: StatusCode, mut bytes: Vec<u8>, content_type: &'static str) -> Response<Body> {
    if bytes.last().is_some_and(|b| *b != b'\n') {
        bytes.push(b'\n');
    }
    let mut r = Response::new(Body::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn body_of(r: Response<Body>) -> String {
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn bodies_are_pretty_and_end_with_a_newline() {
        let e = body_of(error(StatusCode::NOT_FOUND, "not_found", "no such path")).await;
        assert_eq!(
            e,
            "{\n  \"error\": {\n    \"code\": \"not_found\",\n    \"message\": \"no such path\"\n  }\n}\n"
        );
        let j = body_of(json(StatusCode::OK, &serde_json::json!({"a": 1}))).await;
        assert_eq!(j, "{\n  \"a\": 1\n}\n");
        let t = body_of(text(StatusCode::OK, "ok\n".into(), "text/plain")).await;
        assert_eq!(t, "ok\n", "an existing newline is not doubled");
        assert_eq!(body_of(empty(StatusCode::NO_CONTENT)).await, "");
    }
}
