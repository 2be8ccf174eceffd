//! The HTTP API: health endpoints, Prometheus metrics, and (for the voting
//! round) the REST API and status page.

pub mod control;
mod cors;
mod handlers;
mod ratelimit;
mod response;
mod router;
mod server;

pub use server::Server;
