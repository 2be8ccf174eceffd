//! govnode: an autonomous DAO governance node.
//!
//! One daemon holds the keys of several voters, reads the open proposals of a
//! DAO over Ethereum JSON-RPC, decides each vote with an explainable strategy
//! and casts it exactly once. See `docs/architecture.md` for how the modules fit.

pub mod api;
pub mod chain;
pub mod cli;
pub mod config;
pub mod dao;
pub mod devnet;
pub mod exit;
pub mod follow;
pub mod ha;
pub mod ledger;
pub mod preview;
pub mod round;
pub mod service;
pub mod signer;
pub mod state;
pub mod strategy;
pub mod telemetry;
pub mod webhook;
