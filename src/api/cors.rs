//! CORS for configured origins only: no origin is allowed unless listed, and
//! there is no wildcard.

use hyper::header::{self, HeaderMap, HeaderValue};

/// The request's `Origin` if it is one of `allowed`.
pub fn allowed_origin<'a>(headers: &'a HeaderMap, allowed: &[String]) -> Option<&'a HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    allowed.iter().any(|a| a == text).then_some(origin)
}

pub fn decorate(response_headers: &mut HeaderMap, origin: &HeaderValue) {
    response_headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    response_headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

pub fn decorate_preflight(response_headers: &mut HeaderMap, origin: &HeaderValue, methods: &str) {
    decorate(response_headers, origin);
    if let Ok(v) = HeaderValue::from_str(methods) {
        response_headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    response_headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    response_headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}
