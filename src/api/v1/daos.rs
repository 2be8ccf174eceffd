//! `GET /api/v1/daos`: every DAO the daemon votes in, with its chain, its
//! contract, its voters and whether a round of it runs. Answers from memory.

use hyper::{Response, StatusCode};
use serde::Serialize;

use super::super::response::{self, Body};
use super::super::state::ApiState;

#[derive(Serialize)]
struct DaoView {
    name: String,
    chain: String,
    chain_id: u64,
    kind: crate::config::DaoKind,
    address: String,
    /// Node names, in `voters` order (every node when `voters` is unset).
    voters: Vec<String>,
    round_running: bool,
    /// Its routes: `{path}/status`, `/nodes`, `/proposals`, `/rounds`.
    path: String,
}

#[derive(Serialize)]
struct DaosBody {
    daos: Vec<DaoView>,
}

pub fn get(state: &ApiState) -> Response<Body> {
    let daos = state
        .daemon
        .each_dao()
        .into_iter()
        .map(|dao| {
            let settings = dao.settings();
            let c = &settings.config;
            DaoView {
                name: dao.dao_name().to_owned(),
                chain: dao.chain_name().to_owned(),
                chain_id: c.chain.id,
                kind: c.dao.kind,
                address: c.dao.address.clone(),
                voters: c.nodes.iter().map(|n| n.name.clone()).collect(),
                round_running: dao.rounds().running_for().is_some(),
                path: format!("{}{}", super::super::router::DAO_PREFIX, dao.dao_name()),
            }
        })
        .collect();
    response::json(StatusCode::OK, &DaosBody { daos })
}
