//! The short human summary `govnode devnet` prints once the chain is set up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use alloy::primitives::{Address, U256};

use super::deploy::Contracts;
use super::scenario::{Fate, Kind, Planned, VOTING_TOKEN, display_amount};

pub struct NodeLine {
    pub name: String,
    pub address: Address,
    pub strategy: String,
    pub eth: U256,
    pub dloop: U256,
}

/// How long each setup step took.
pub struct Timings {
    pub chain: Duration,
    pub contracts: Duration,
    pub proposals: Duration,
    pub total: Duration,
}

pub struct Summary<'a> {
    pub endpoint: &'a str,
    pub chain_id: u64,
    pub started_anvil: bool,
    pub contracts: &'a Contracts,
    pub nodes: &'a [NodeLine],
    pub proposals: &'a [(u64, Planned)],
    pub dir: &'a Path,
    pub config: &'a Path,
    pub api: &'a str,
    /// How to call this binary again (for the `govnode round` hint).
    pub govnode: &'a str,
    pub timings: Timings,
}

fn fate_name(f: Fate) -> &'static str {
    match f {
        Fate::Open => "open",
        Fate::Expired => "expired",
        Fate::Executed => "executed",
        Fate::Canceled => "canceled",
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Investment => "investment",
        Kind::Divestment => "divestment",
        Kind::ParameterChange => "parameter change",
        Kind::Other => "other",
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl Summary<'_> {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let origin = if self.started_anvil {
            "anvil started by govnode devnet"
        } else {
            "existing chain"
        };
        // Writing to a String cannot fail.
        let _ = writeln!(s, "\ndevnet ready in {}", self.dir.display());
        let _ = writeln!(
            s,
            "  chain     {} (chain id {}, {origin})",
            self.endpoint, self.chain_id
        );
        let _ = writeln!(s, "  AssetDAO  {}", self.contracts.dao);
        let _ = writeln!(
            s,
            "  DLOOP     {} (voting token)",
            self.contracts.voting_token
        );
        for (t, a) in &self.contracts.assets {
            let _ = writeln!(s, "  {:<9} {a} ({} decimals)", t.symbol, t.decimals);
        }
        let _ = writeln!(s, "\nnodes");
        for n in self.nodes {
            let _ = writeln!(
                s,
                "  {:<10} {}  {:>4} ETH  {:>9} DLOOP  {}",
                n.name,
                n.address,
                display_amount(n.eth, 18),
                display_amount(n.dloop, VOTING_TOKEN.decimals),
                n.strategy
            );
        }
        let mut by_fate: BTreeMap<Fate, Vec<u64>> = BTreeMap::new();
        let mut open_kinds: BTreeMap<Kind, usize> = BTreeMap::new();
        for (id, p) in self.proposals {
            by_fate.entry(p.fate).or_default().push(*id);
            if p.fate == Fate::Open {
                *open_kinds.entry(p.kind).or_default() += 1;
            }
        }
        let _ = writeln!(s, "\nproposals ({} in all)", self.proposals.len());
        for (fate, ids) in &by_fate {
            let _ = write!(s, "  {:<9} {:>3}", fate_name(*fate), ids.len());
            if *fate == Fate::Open {
                let kinds: Vec<String> = open_kinds
                    .iter()
                    .map(|(k, n)| format!("{n} {}", kind_name(*k)))
                    .collect();
                let _ = write!(s, "  ({})", kinds.join(", "));
            } else {
                let list: Vec<String> = ids.iter().map(u64::to_string).collect();
                let _ = write!(s, "  (id {}; not to be voted)", list.join(", "));
            }
            let _ = writeln!(s);
        }
        let t = &self.timings;
        let _ = writeln!(
            s,
            "\nsetup took {} (chain {}, contracts and wallets {}, proposals {})",
            secs(t.total),
            secs(t.chain),
            secs(t.contracts),
            secs(t.proposals)
        );
        let _ = writeln!(s, "\nconfig      {}", self.config.display());
        let _ = writeln!(s, "deployment  {}", self.dir.join("devnet.json").display());
        let _ = writeln!(s, "\nlook at the daemon:");
        let _ = writeln!(s, "  curl -s {}/health", self.api);
        let _ = writeln!(s, "  curl -s {}/api/v1/proposals", self.api);
        let _ = writeln!(s, "run another round:");
        let _ = writeln!(
            s,
            "  {} round --config {}",
            self.govnode,
            self.config.display()
        );
        s
    }
}
