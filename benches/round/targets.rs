//! The RPC-cost targets, each printed next to what this run measured and,
//! for the round/floor ratios, the floor measured on the same chain in the
//! same run: JSON-RPC calls of a first 49 × 5 round (every node votes
//! `for`) and of a round with nothing new, round / floor with one-second
//! blocks and (median of several fresh chains) on auto-mining, and calls per
//! vote and peak RSS at 200 × 20. The first round and the one-second-block
//! ratio are measured again with the endpoint's `ws_url` set (heads from the
//! subscription, no `eth_blockNumber` polls). A target not met is printed as
//! not met.

use std::time::Duration;

use crate::Options;
use crate::net::{Mining, Strategies};
use crate::scenario::{Case, Measured, calls, measure};
use crate::table::{Table, mb, ms};

fn case(proposals: u32, nodes: u32, mining: Mining, floor: bool) -> Case {
    Case {
        proposals,
        nodes,
        mining,
        strategies: Strategies::AllFor,
        env: Vec::new(),
        websocket: false,
        floor,
    }
}

fn with_ws(case: Case) -> Case {
    Case {
        websocket: true,
        ..case
    }
}

fn head_reads(m: &Measured) -> usize {
    m.round_calls.get("eth_blockNumber").copied().unwrap_or(0)
}

fn ratio_of(m: &Measured) -> Option<f64> {
    m.floor
        .as_ref()
        .map(|f| m.round.wall.as_secs_f64() / f.total.as_secs_f64().max(1e-9))
}

fn met(ok: bool) -> String {
    if ok { "met" } else { "NOT met" }.into()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn calls_per_vote(m: &Measured) -> f64 {
    calls(&m.round_calls) as f64 / m.round.report.votes.confirmed.max(1) as f64
}

fn sends(m: &Measured) -> usize {
    m.round_calls
        .get("eth_sendRawTransaction")
        .copied()
        .unwrap_or(0)
}

/// The quiet round's calls without the key-in-use check's transaction
/// counts (one per node, in one batch), and those counts.
fn quiet_split(m: &Measured) -> (usize, usize) {
    let counts = m
        .quiet_calls
        .get("eth_getTransactionCount")
        .copied()
        .unwrap_or(0);
    (calls(&m.quiet_calls) - counts, counts)
}

pub async fn targets(options: &Options) {
    let repetitions = if options.quick { 3 } else { 5 };
    let mut auto = Vec::new();
    for i in 0..repetitions {
        let m = measure(&case(49, 5, Mining::Auto, true)).await;
        println!(
            "  targets: 49 × 5 auto-mining, repetition {}: round {}, floor {}, {} calls",
            i + 1,
            ms(m.round.wall),
            m.floor.as_ref().map(|f| ms(f.total)).unwrap_or_default(),
            calls(&m.round_calls)
        );
        auto.push(m);
    }
    let auto_ws = measure(&with_ws(case(49, 5, Mining::Auto, true))).await;
    println!(
        "  targets: 49 × 5 auto-mining, ws_url: round {}, floor {}, {} calls",
        ms(auto_ws.round.wall),
        auto_ws
            .floor
            .as_ref()
            .map(|f| ms(f.total))
            .unwrap_or_default(),
        calls(&auto_ws.round_calls)
    );
    let blocks = measure(&case(49, 5, Mining::Interval(1), true)).await;
    println!(
        "  targets: 49 × 5 --block-time 1: round {}, {} calls",
        ms(blocks.round.wall),
        calls(&blocks.round_calls)
    );
    let blocks_ws = measure(&with_ws(case(49, 5, Mining::Interval(1), true))).await;
    println!(
        "  targets: 49 × 5 --block-time 1, ws_url: round {}, {} calls",
        ms(blocks_ws.round.wall),
        calls(&blocks_ws.round_calls)
    );
    let big = if options.quick {
        None
    } else {
        let m = measure(&case(200, 20, Mining::Interval(1), false)).await;
        println!(
            "  targets: 200 × 20 --block-time 1: round {:.1} s, {} calls",
            m.round.wall.as_secs_f64(),
            calls(&m.round_calls)
        );
        Some(m)
    };

    let mut t = Table::new(
        "targets, measured side by side with the floor in this run",
        &["target", "measured", "floor (same run)", "met?"],
    );
    for (label, m) in [
        ("auto-mining (first repetition)", &auto[0]),
        ("auto-mining, ws_url", &auto_ws),
        ("--block-time 1", &blocks),
        ("--block-time 1, ws_url", &blocks_ws),
    ] {
        let total = calls(&m.round_calls);
        t.row(vec![
            format!("first round 49 × 5, all vote for, {label}: ≤ 300 calls, of which 245 sends"),
            format!(
                "{total} calls, {} sends, {} votes ({} eth_getBlockReceipts, {} eth_blockNumber)",
                sends(m),
                m.round.report.votes.confirmed,
                m.round_calls
                    .get("eth_getBlockReceipts")
                    .copied()
                    .unwrap_or(0),
                head_reads(m)
            ),
            "–".into(),
            met(total <= 300 && sends(m) == 245),
        ]);
    }
    let (quiet, key_checks) = quiet_split(&auto[0]);
    t.row(vec![
        "round with nothing new: ≤ 10 calls".into(),
        format!(
            "{} calls: {quiet} + {key_checks} eth_getTransactionCount of the key-in-use check (one batch)",
            calls(&auto[0].quiet_calls)
        ),
        "–".into(),
        format!(
            "{} (without the key check: {})",
            met(calls(&auto[0].quiet_calls) <= 10),
            met(quiet <= 10)
        ),
    ]);
    for (label, m) in [("", &blocks), (", ws_url", &blocks_ws)] {
        let one_second = ratio_of(m).unwrap_or(f64::NAN);
        t.row(vec![
            format!("round / floor ≤ 1.10, --block-time 1, default configuration{label}"),
            format!("{one_second:.2} (round {})", ms(m.round.wall)),
            m.floor.as_ref().map(|f| ms(f.total)).unwrap_or_default(),
            met(one_second <= 1.10),
        ]);
    }
    let ratios: Vec<f64> = auto.iter().filter_map(ratio_of).collect();
    let auto_median = median(ratios.clone());
    let floors: Vec<Duration> = auto
        .iter()
        .filter_map(|m| m.floor.as_ref().map(|f| f.total))
        .collect();
    t.row(vec![
        format!("round / floor ≤ 1.20, auto-mining, median of {repetitions}"),
        format!(
            "{auto_median:.2} (each: {})",
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        floors.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", "),
        met(auto_median <= 1.20),
    ]);
    let auto_ws_ratio = ratio_of(&auto_ws).unwrap_or(f64::NAN);
    t.row(vec![
        "round / floor ≤ 1.20, auto-mining, ws_url (one chain)".into(),
        format!("{auto_ws_ratio:.2} (round {})", ms(auto_ws.round.wall)),
        auto_ws
            .floor
            .as_ref()
            .map(|f| ms(f.total))
            .unwrap_or_default(),
        met(auto_ws_ratio <= 1.20),
    ]);
    let per_vote_49 = calls_per_vote(&auto[0]);
    if let Some(big) = &big {
        let per_vote = calls_per_vote(big);
        t.row(vec![
            "200 × 20: the same calls per vote as 49 × 5, peak RSS printed".into(),
            format!(
                "{per_vote:.2} calls per vote ({} calls, {} votes; 49 × 5 auto-mining: {per_vote_49:.2}, --block-time 1: {:.2}); peak RSS {}",
                calls(&big.round_calls),
                big.round.report.votes.confirmed,
                calls_per_vote(&blocks),
                mb(big.peak_rss_kb)
            ),
            "–".into(),
            met(per_vote <= calls_per_vote(&blocks) * 1.1),
        ]);
    }
    t.print();
}
