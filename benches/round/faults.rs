//! Round time under RPC faults, against the fault-free round measured in the
//! same run on the same shape: two endpoints (the primary at priority 0, a
//! fallback at priority 1), each behind its own fault proxy to one anvil, a
//! fresh chain per case. The faults are those the liveness tests prove: a
//! primary that answers after 2 s, every second `eth_sendRawTransaction`
//! failing on both endpoints, and both endpoints down for 3 s as the round
//! starts.

use std::sync::Arc;
use std::time::Duration;

use crate::Options;
use crate::daemon::BenchDaemon;
use crate::fault_proxy::{Fault, FaultProxy};
use crate::net::{Mining, Net, Nudger, Strategies};
use crate::table::{Table, ratio, secs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    None,
    SlowPrimary,
    HalfSendsFail,
    BothDownThenBack,
}

impl Case {
    fn label(self) -> &'static str {
        match self {
            Case::None => "none (both endpoints healthy)",
            Case::SlowPrimary => "primary answers after 2 s",
            Case::HalfSendsFail => "every 2nd eth_sendRawTransaction fails on both",
            Case::BothDownThenBack => "both endpoints down for the first 3 s",
        }
    }
}

const OUTAGE: Duration = Duration::from_secs(3);

struct Run {
    wall: Duration,
    confirmed: u64,
    decided: u64,
    outcome: String,
    primary_requests: usize,
    fallback_requests: usize,
}

pub async fn faults(options: &Options) {
    let (proposals, nodes) = if options.quick { (4, 5) } else { (20, 5) };
    let mut table = Table::new(
        format!(
            "Round under RPC faults ({proposals} proposals × {nodes} nodes, every node votes for, auto-mining, two endpoints)"
        ),
        &[
            "fault",
            "round",
            "× fault-free",
            "confirmed / decided",
            "outcome",
            "HTTP requests primary / fallback",
        ],
    );
    let base = run(proposals, nodes, Case::None).await;
    for case in [
        Case::None,
        Case::SlowPrimary,
        Case::HalfSendsFail,
        Case::BothDownThenBack,
    ] {
        let r = if case == Case::None {
            None
        } else {
            Some(run(proposals, nodes, case).await)
        };
        let r = r.as_ref().unwrap_or(&base);
        table.row(vec![
            case.label().to_owned(),
            secs(r.wall),
            ratio(r.wall, base.wall),
            format!("{} / {}", r.confirmed, r.decided),
            r.outcome.clone(),
            format!("{} / {}", r.primary_requests, r.fallback_requests),
        ]);
    }
    table.print();
}

async fn run(proposals: u32, nodes: u32, case: Case) -> Run {
    let net = Net::new(proposals, nodes, Mining::Auto, Strategies::AllFor).await;
    let primary = Arc::new(FaultProxy::start(&net.anvil.url()).await);
    let fallback = Arc::new(FaultProxy::start(&net.anvil.url()).await);
    add_fallback(&net, &fallback.url());
    let nudger = Nudger::start(net.anvil.url());
    let mut daemon = BenchDaemon::start(&net, &primary.url(), &[]);
    // The first probes of both endpoints, as a running daemon has them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut restore = None;
    match case {
        Case::None => {}
        Case::SlowPrimary => primary.set_fault(Fault::Delay(Duration::from_secs(2))),
        Case::HalfSendsFail => {
            primary.fail_every("eth_sendRawTransaction", 2);
            fallback.fail_every("eth_sendRawTransaction", 2);
        }
        Case::BothDownThenBack => {
            primary.set_fault(Fault::Http500);
            fallback.set_fault(Fault::Http500);
            let (p, f) = (primary.clone(), fallback.clone());
            restore = Some(tokio::spawn(async move {
                tokio::time::sleep(OUTAGE).await;
                p.set_fault(Fault::PassThrough);
                f.set_fault(Fault::PassThrough);
            }));
        }
    }
    primary.reset_counts();
    fallback.reset_counts();
    let round = daemon.round().await;
    if let Some(task) = restore {
        let _ = task.await;
    }
    daemon.stop();
    nudger.stop();
    let r = &round.report;
    Run {
        wall: round.wall,
        confirmed: r.votes.confirmed,
        decided: r.votes.decided,
        outcome: r
            .outcome
            .map(|o| format!("{o:?}").to_lowercase())
            .unwrap_or_else(|| "-".into()),
        primary_requests: primary.count(),
        fallback_requests: fallback.count(),
    }
}

/// The devnet's configuration names one endpoint; the fallback goes after it
/// (index 0 stays the one `BenchDaemon` points at the primary proxy), a copy
/// of it at priority 1.
fn add_fallback(net: &Net, url: &str) {
    use serde_norway::Value;
    let path = net.config();
    let text = std::fs::read_to_string(&path).expect("devnet config");
    let mut doc: Value = serde_norway::from_str(&text).expect("config YAML");
    let endpoints = doc
        .get_mut("rpc")
        .and_then(|r| r.get_mut("endpoints"))
        .and_then(Value::as_sequence_mut)
        .expect("rpc.endpoints");
    let mut fallback = endpoints.first().cloned().expect("the devnet's endpoint");
    let map = fallback.as_mapping_mut().expect("an endpoint is a mapping");
    map.insert("name".into(), "fallback".into());
    map.insert("url".into(), url.into());
    map.insert("priority".into(), 1.into());
    map.remove("url_file");
    endpoints.push(fallback);
    std::fs::write(&path, serde_norway::to_string(&doc).expect("YAML")).expect("write config");
}
