//! `GET /`: a small JSON index of the API, generated from the routing table
//! so it always lists what the server serves.

use hyper::{Method, Response, StatusCode};
use serde::Serialize;

use super::super::response::{self, Body};
use super::super::router::TABLE;

#[derive(Serialize)]
struct Index {
    name: &'static str,
    version: &'static str,
    endpoints: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    path: &'static str,
    methods: Vec<&'static str>,
    /// Methods that need `Authorization: Bearer <token>`.
    auth: Vec<&'static str>,
    summary: &'static str,
}

pub fn get() -> Response<Body> {
    let endpoints = TABLE
        .iter()
        .map(|s| Entry {
            path: s.path,
            methods: s.methods.iter().map(Method::as_str).collect(),
            auth: s.auth.iter().map(Method::as_str).collect(),
            summary: s.summary,
        })
        .collect();
    response::json(
        StatusCode::OK,
        &Index {
            name: "govnode",
            version: env!("CARGO_PKG_VERSION"),
            endpoints,
        },
    )
}
