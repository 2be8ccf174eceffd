//! `govnode check-config --online`: after the offline checks, asks the chain
//! what the configuration assumes — every endpoint's chain id, code at the
//! DAO address and that it answers as the configured kind, each node's ETH
//! balance and voting power. Reads only; nothing is signed or sent.

use std::future::IntoFuture;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};

use crate::config::{DaoKind, Settings};

/// Each chain read gives up after this long.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the online checks found: `problems` fail the check (exit 78),
/// `warnings` are printed only.
#[derive(Debug, Default)]
pub struct Findings {
    pub ok: Vec<String>,
    pub warnings: Vec<String>,
    pub problems: Vec<String>,
}

async fn bounded<T, E: std::fmt::Display>(
    what: impl IntoFuture<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(READ_TIMEOUT, what).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", READ_TIMEOUT.as_secs())),
    }
}

pub async fn check(settings: &Settings) -> Findings {
    let mut f = Findings::default();
    let config = &settings.config;
    let redact = |text: &str| {
        let known: Vec<&str> = settings.rpc_urls.iter().map(|s| s.expose()).collect();
        crate::telemetry::redact::redact_text(text, &known).into_owned()
    };
    let mut usable: Option<DynProvider> = None;
    for (i, (endpoint, url)) in config
        .rpc
        .endpoints
        .iter()
        .zip(&settings.rpc_urls)
        .enumerate()
    {
        let at = format!("rpc.endpoints[{i}] ({})", endpoint.name);
        let parsed = match url.expose().parse() {
            Ok(u) => u,
            Err(e) => {
                f.problems
                    .push(format!("{at}: the URL does not parse: {e}"));
                continue;
            }
        };
        let provider = ProviderBuilder::new().connect_http(parsed).erased();
        match bounded(provider.get_chain_id()).await {
            Ok(id) if id == config.chain.id => {
                f.ok.push(format!("{at}: chain id {id}"));
                usable.get_or_insert(provider);
            }
            Ok(id) => f.problems.push(format!(
                "{at}: the endpoint serves chain id {id}, chain.id is {}",
                config.chain.id
            )),
            Err(e) => f
                .problems
                .push(format!("{at}: cannot read the chain id: {}", redact(&e))),
        }
    }
    let Some(provider) = usable else {
        f.problems.push(
            "no endpoint serves the configured chain: the DAO and nodes were not checked".into(),
        );
        return f;
    };

    let kind = match config.dao.kind {
        DaoKind::Assetdao => "assetdao",
        DaoKind::Governor => "governor",
    };
    let dao = match crate::dao::build(
        &config.dao,
        provider.clone(),
        config.round.concurrency,
        config.round.batch_size,
        crate::dao::MulticallProbe::default(),
    ) {
        Ok(d) => d,
        Err(e) => {
            f.problems.push(format!("dao: {e}"));
            return f;
        }
    };
    match bounded(provider.get_code_at(dao.address())).await {
        Ok(code) if code.is_empty() => {
            f.problems.push(format!(
                "dao.address {}: no contract code there on chain {}",
                config.dao.address, config.chain.id
            ));
            return f;
        }
        Ok(code) => f.ok.push(format!(
            "dao.address {}: contract code ({} bytes)",
            config.dao.address,
            code.len()
        )),
        Err(e) => {
            f.problems
                .push(format!("dao.address: cannot read the code: {}", redact(&e)));
            return f;
        }
    }
    let head = match bounded(crate::dao::head(&provider)).await {
        Ok(h) => h,
        Err(e) => {
            f.problems
                .push(format!("cannot read the latest block: {}", redact(&e)));
            return f;
        }
    };
    // The voting token and the listing use the kind's own ABI: a contract of
    // another kind fails the token read (a Governor listing scans events, and
    // finds none on another contract without failing).
    if let Err(e) = bounded(dao.voting_token()).await {
        f.problems.push(format!(
            "dao.kind {kind}: the contract at {} does not answer as {kind} (voting token): {}",
            config.dao.address,
            redact(&e)
        ));
        return f;
    }
    match bounded(dao.list(&head)).await {
        Ok(listing) => f.ok.push(format!(
            "dao.kind {kind}: answers as {kind} ({} proposal(s), {} listed as open{})",
            listing.total,
            listing.proposals.len(),
            if listing.paused { ", paused" } else { "" }
        )),
        Err(e) => {
            f.problems.push(format!(
                "dao.kind {kind}: the contract at {} does not answer as {kind}: {}",
                config.dao.address,
                redact(&e)
            ));
            return f;
        }
    }

    for key in &settings.node_keys {
        let address = key.signer.address();
        let at = format!("node {} ({})", key.name, address.to_checksum(None));
        match bounded(provider.get_balance(address)).await {
            Ok(b) if b.is_zero() => f
                .warnings
                .push(format!("{at}: ETH balance 0; it cannot pay for a vote")),
            Ok(b) => f.ok.push(format!(
                "{at}: ETH balance {}",
                alloy::primitives::utils::format_ether(b)
            )),
            Err(e) => f
                .problems
                .push(format!("{at}: cannot read the balance: {}", redact(&e))),
        }
        match bounded(dao.voting_power(address, &head)).await {
            Ok(p) if p == U256::ZERO => f.warnings.push(format!(
                "{at}: voting power 0; its votes are not sent (they would be burned)"
            )),
            Ok(p) => f.ok.push(format!("{at}: voting power {p}")),
            Err(e) => f.problems.push(format!(
                "{at}: cannot read the voting power: {}",
                redact(&e)
            )),
        }
    }
    f
}

/// Runs [`check`] and prints its findings; 0 without problems, 78 with.
pub fn run(settings: &Settings) -> i32 {
    let runtime = match super::runtime("check-config --online") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let f = runtime.block_on(check(settings));
    for line in &f.ok {
        println!("ok: {line}");
    }
    for line in &f.warnings {
        println!("warning: {line}");
    }
    for line in &f.problems {
        eprintln!("problem: {line}");
    }
    if f.problems.is_empty() {
        println!("online: OK ({} warning(s))", f.warnings.len());
        crate::exit::OK
    } else {
        eprintln!("online: {} problem(s)", f.problems.len());
        crate::exit::CONFIG
    }
}
