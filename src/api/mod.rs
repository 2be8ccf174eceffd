//! The HTTP API: health endpoints, Prometheus metrics, and (for the voting
//! round) the REST API and status page.

mod auth;
mod cache;
pub mod control;
mod cors;
mod dloop;
mod handlers;
mod html;
mod ratelimit;
mod response;
mod router;
mod server;
mod state;
mod status_page;
mod status_votes;
mod v1;

pub use router::{Route, RouteSpec, TABLE as ROUTES};
pub use server::Server;
