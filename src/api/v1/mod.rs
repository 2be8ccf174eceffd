//! The REST API under `/api/v1` (and its DLoop aliases): one file per
//! resource, and the value formats they share.
//!
//! Formats, the same everywhere: addresses EIP-55 checksummed; hashes 0x
//! lowercase hex; token amounts and proposal ids as decimal strings (they do
//! not fit a JSON number); times RFC 3339 in UTC.

pub mod daos;
pub mod index;
pub mod nodes;
pub mod proposals;
pub mod rounds;
pub mod status;
pub mod trigger;

use std::borrow::Cow;

use alloy::primitives::{Address, U256};
use serde::Serialize;

use crate::ledger::VoteRow;
use crate::service::Daemon;

/// A token amount: `raw` in base units, `formatted` with the token's decimals
/// applied (`null` when they are unknown).
#[derive(Debug, Clone, Serialize)]
pub struct Amount {
    pub raw: String,
    pub formatted: Option<String>,
}

impl Amount {
    pub fn new(raw: U256, decimals: Option<u8>) -> Amount {
        Amount {
            raw: raw.to_string(),
            formatted: decimals.map(|d| format_units(raw, d)),
        }
    }
}

/// `1234500` with 4 decimals → `123.45`; whole numbers keep no fraction.
pub fn format_units(value: U256, decimals: u8) -> String {
    let Some(scale) = U256::from(10u8).checked_pow(U256::from(decimals)) else {
        return value.to_string();
    };
    let (whole, frac) = value.div_rem(scale);
    if frac.is_zero() {
        return whole.to_string();
    }
    let frac = format!("{frac:0>width$}", width = usize::from(decimals));
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

pub fn checksum(a: Address) -> String {
    a.to_checksum(None)
}

/// Unix milliseconds (the ledger's times) as RFC 3339.
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Free text that may carry an RPC error (and so a URL or the token) is
/// redacted once more on its way out.
pub fn redacted<'a>(daemon: &Daemon, text: &'a str) -> Cow<'a, str> {
    let settings = daemon.settings();
    let mut known: Vec<&str> = settings.rpc_urls.iter().map(|s| s.expose()).collect();
    known.extend(settings.rpc_ws_urls.iter().flatten().map(|s| s.expose()));
    if let Some(t) = &settings.api_token {
        known.push(t.expose());
    }
    // The URLs are only masked where they appear whole; the regex pass in
    // `redact_text` already strips their credentials.
    Cow::Owned(crate::telemetry::redact::redact_text(text, &known).into_owned())
}

/// One row of the vote ledger as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VoteView {
    pub id: i64,
    pub node: String,
    pub voter: String,
    pub proposal_id: String,
    pub round_id: Option<i64>,
    /// `for`, `against`, `abstain` or `skip`.
    pub decision: &'static str,
    pub reason: String,
    pub strategy: String,
    pub rule: Option<String>,
    /// `intent`, `signed`, `sent`, `confirmed`, `reverted`, `failed`,
    /// `abandoned` or `confirmed_external`.
    pub state: &'static str,
    pub nonce: Option<u64>,
    pub tx_hash: Option<String>,
    pub block_number: Option<u64>,
    pub gas_used: Option<u64>,
    pub error: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub finished_at: Option<String>,
}

impl VoteView {
    pub fn new(daemon: &Daemon, row: &VoteRow) -> VoteView {
        VoteView {
            id: row.id,
            node: row.node.clone(),
            voter: checksum(row.voter),
            proposal_id: row.proposal_id.to_string(),
            round_id: row.round_id,
            decision: row.decision.as_str(),
            reason: row.reason.clone(),
            strategy: row.strategy.clone(),
            rule: row.rule.clone(),
            state: row.state.as_str(),
            nonce: row.nonce,
            tx_hash: row.tx_hash.map(|h| format!("{h:#x}")),
            block_number: row.block_number,
            gas_used: row.gas_used,
            error: row
                .error
                .as_deref()
                .map(|e| redacted(daemon, e).into_owned()),
            created_at: rfc3339_ms(row.created_at),
            updated_at: rfc3339_ms(row.updated_at),
            finished_at: row.finished_at.and_then(rfc3339_ms),
        }
    }
}

/// The value of `name` in a query string (the first one, percent-decoded).
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_units() {
        assert_eq!(format_units(U256::from(1_234_500u64), 4), "123.45");
        assert_eq!(
            format_units(U256::from(10u128.pow(19)), 18),
            "10",
            "whole amounts have no fraction"
        );
        assert_eq!(format_units(U256::from(5u8), 6), "0.000005");
        assert_eq!(format_units(U256::from(42u8), 0), "42");
        assert_eq!(format_units(U256::ZERO, 18), "0");
    }

    #[test]
    fn times_and_queries() {
        assert_eq!(
            rfc3339_ms(1_700_000_000_123).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(
            query_param(Some("limit=5&before=9"), "before").as_deref(),
            Some("9")
        );
        assert_eq!(query_param(Some("wait=true"), "limit"), None);
        assert_eq!(query_param(None, "limit"), None);
    }
}
