//! Bearer-token check for the state-changing endpoints. The token comes from
//! `api.token_file` / `api.token_credential` (re-read on reload); without one
//! configured, state changes are refused outright rather than left open.

use alloy::primitives::keccak256;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use super::response::{self, Body};
use crate::config::Secret;

/// Why a request may not change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    NotConfigured,
    Missing,
    Wrong,
}

pub fn check(headers: &HeaderMap, token: Option<&Secret>) -> Result<(), Denied> {
    let Some(token) = token else {
        return Err(Denied::NotConfigured);
    };
    let Some(presented) = bearer(headers) else {
        return Err(Denied::Missing);
    };
    if same(presented.as_bytes(), token.expose().as_bytes()) {
        Ok(())
    } else {
        Err(Denied::Wrong)
    }
}

/// The credentials of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// Compares digests so that neither the content nor the length of the token
/// shows in the time taken; the fold does not stop at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (keccak256(a), keccak256(b));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

pub fn response(denied: Denied) -> Response<Body> {
    let (status, code, message, challenge) = match denied {
        Denied::NotConfigured => (
            StatusCode::FORBIDDEN,
            "token_not_configured",
            "state-changing endpoints are disabled until an API token is configured: \
             set api.token_file (or api.token_credential under systemd) and reload govnode",
            None,
        ),
        Denied::Missing => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs an 'Authorization: Bearer <token>' header",
            Some(r#"Bearer realm="govnode""#),
        ),
        Denied::Wrong => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the bearer token is not valid",
            Some(r#"Bearer realm="govnode", error="invalid_token""#),
        ),
    };
    let mut r = response::error(status, code, message);
    if let Some(c) = challenge {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn accepts_only_the_configured_token() {
        let t = Secret::new("s3cret-token");
        assert_eq!(check(&headers("Bearer s3cret-token"), Some(&t)), Ok(()));
        assert_eq!(check(&headers("bearer  s3cret-token "), Some(&t)), Ok(()));
        assert_eq!(
            check(&headers("Bearer s3cret-tokem"), Some(&t)),
            Err(Denied::Wrong)
        );
        assert_eq!(
            check(&headers("Bearer s3cret"), Some(&t)),
            Err(Denied::Wrong)
        );
        assert_eq!(
            check(&headers("Basic s3cret-token"), Some(&t)),
            Err(Denied::Missing)
        );
        assert_eq!(check(&HeaderMap::new(), Some(&t)), Err(Denied::Missing));
        assert_eq!(
            check(&headers("Bearer s3cret-token"), None),
            Err(Denied::NotConfigured)
        );
    }

    #[test]
    fn answers_carry_the_challenge() {
        let r = response(Denied::Missing);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            r.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(
            response(Denied::NotConfigured).status(),
            StatusCode::FORBIDDEN
        );
    }
}
