//! The measured scenarios: the seed's 49 proposals × 5 nodes (with the
//! devnet's strategies and with every node voting `for`), start-up time,
//! and scaling over proposals × nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::Options;
use crate::daemon::{BenchDaemon, Timed};
use crate::fault_proxy::FaultProxy;
use crate::floor::{self, Floor};
use crate::net::{Mining, Net, Strategies};
use crate::table::{Table, mb, ms, ratio, secs};

/// One daemon on one fresh chain: first round, a round with nothing new, and the floor.
pub struct Measured {
    pub pairs: u64,
    pub ready: Duration,
    pub idle_rss_kb: u64,
    pub idle_fds: usize,
    pub round: Timed,
    pub round_http: usize,
    pub round_calls: BTreeMap<String, usize>,
    pub peak_rss_kb: u64,
    pub quiet: Timed,
    pub quiet_http: usize,
    pub quiet_calls: BTreeMap<String, usize>,
    pub idle_after_kb: u64,
    /// Blocks from the round's head to its last vote's block.
    pub round_blocks: u64,
    pub floor: Floor,
}

impl Measured {
    pub fn ratio(&self) -> String {
        ratio(self.round.wall, self.floor.total)
    }
}

pub fn calls(methods: &BTreeMap<String, usize>) -> usize {
    methods.values().sum()
}

pub async fn measure(
    proposals: u32,
    nodes: u32,
    mining: Mining,
    strategies: Strategies,
) -> Measured {
    let net = Net::new(proposals, nodes, mining, strategies).await;
    let proxy = FaultProxy::start(&net.anvil.url()).await;
    let mut daemon = BenchDaemon::start(&net, &proxy.url());
    // Idle: after start-up, the first probes done, no round yet.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kb = daemon.rss_kb();
    let idle_fds = daemon.open_fds();

    let aligned = matches!(mining, Mining::Interval(_));
    if aligned {
        net.wait_next_block().await;
    }
    proxy.reset_counts();
    let peak_known = daemon.reset_peak();
    let round = daemon.round().await;
    let peak_rss_kb = if peak_known {
        daemon.peak_rss_kb()
    } else {
        daemon.rss_kb()
    };
    let round_http = proxy.count();
    let round_calls = proxy.methods();

    proxy.reset_counts();
    let quiet = daemon.round().await;
    let quiet_http = proxy.count();
    let quiet_calls = proxy.methods();
    let idle_after_kb = daemon.rss_kb();
    let ready = daemon.ready;
    daemon.stop();

    let round_blocks = net
        .last_vote_block()
        .saturating_sub(round.report.head_block.unwrap_or_default());
    let per_voter = net.confirmed_per_voter();
    let floor = floor::measure(&net, &per_voter, aligned).await;
    assert_eq!(
        floor.votes as u64, round.report.votes.confirmed,
        "the floor sends as many votes as the round confirmed"
    );
    Measured {
        pairs: u64::from(proposals) * u64::from(nodes),
        ready,
        idle_rss_kb,
        idle_fds,
        round,
        round_http,
        round_calls,
        peak_rss_kb,
        quiet,
        quiet_http,
        quiet_calls,
        idle_after_kb,
        round_blocks,
        floor,
    }
}

/// 49 proposals × 5 nodes, both strategy sets, on one mining mode.
pub async fn headline(_options: &Options, mining: Mining) {
    let mut results = Vec::new();
    for strategies in [Strategies::Devnet, Strategies::AllFor] {
        let m = measure(49, 5, mining, strategies).await;
        results.push((strategies, m));
    }
    let mut t = Table::new(
        format!(
            "49 proposals × 5 nodes, {} — round vs floor",
            mining.label()
        ),
        &[
            "strategies",
            "votes (of pairs)",
            "round (bench clock)",
            "round (duration_ms)",
            "floor: sent",
            "floor: all receipts",
            "round / floor",
            "blocks: round / floor",
            "HTTP requests",
            "JSON-RPC calls",
            "quiet round",
            "quiet HTTP / calls",
        ],
    );
    for (s, m) in &results {
        let r = &m.round.report;
        t.row(vec![
            s.label().into(),
            format!("{} ({})", r.votes.confirmed, m.pairs),
            ms(m.round.wall),
            format!("{} ms", r.duration_ms.unwrap_or_default()),
            ms(m.floor.sent),
            ms(m.floor.total),
            m.ratio(),
            format!("{} / {}", m.round_blocks, m.floor.blocks),
            m.round_http.to_string(),
            calls(&m.round_calls).to_string(),
            ms(m.quiet.wall),
            format!("{} / {}", m.quiet_http, calls(&m.quiet_calls)),
        ]);
        assert_eq!(
            r.votes.confirmed,
            r.votes.decided,
            "every decided vote confirmed: {}",
            r.summary()
        );
    }
    t.print();

    let mut mem = Table::new(
        format!("49 × 5, {} — daemon process", mining.label()),
        &[
            "strategies",
            "start → READY=1",
            "idle RSS",
            "peak RSS in the round",
            "RSS after",
            "open fds idle",
        ],
    );
    for (s, m) in &results {
        mem.row(vec![
            s.label().into(),
            ms(m.ready),
            mb(m.idle_rss_kb),
            mb(m.peak_rss_kb),
            mb(m.idle_after_kb),
            m.idle_fds.to_string(),
        ]);
    }
    mem.print();

    for (s, m) in &results {
        let mut by = Table::new(
            format!(
                "JSON-RPC calls by method, 49 × 5, {}, {}",
                mining.label(),
                s.label()
            ),
            &["method", "first round", "round with nothing new"],
        );
        let mut methods: Vec<&String> = m.round_calls.keys().collect();
        methods.extend(m.quiet_calls.keys());
        methods.sort();
        methods.dedup();
        for method in methods {
            by.row(vec![
                method.clone(),
                m.round_calls.get(method).copied().unwrap_or(0).to_string(),
                m.quiet_calls.get(method).copied().unwrap_or(0).to_string(),
            ]);
        }
        by.row(vec![
            "HTTP requests (a batch is one)".into(),
            m.round_http.to_string(),
            m.quiet_http.to_string(),
        ]);
        by.print();
    }
}

/// Start → `READY=1`, several starts of the same daemon on one chain.
pub async fn ready(options: &Options) {
    let net = Net::new(49, 5, Mining::Auto, Strategies::Devnet).await;
    let proxy = FaultProxy::start(&net.anvil.url()).await;
    let starts = if options.quick { 5 } else { 15 };
    let mut times = Vec::with_capacity(starts);
    let mut rss = Vec::with_capacity(starts);
    for _ in 0..starts {
        let mut d = BenchDaemon::start(&net, &proxy.url());
        times.push(d.ready);
        tokio::time::sleep(Duration::from_millis(300)).await;
        rss.push(d.rss_kb());
        d.stop();
    }
    times.sort();
    rss.sort();
    let mut t = Table::new(
        format!("start → READY=1 over {starts} starts (49 × 5 config, ledger on disk)"),
        &["min", "median", "max", "RSS right after start (median)"],
    );
    t.row(vec![
        ms(times[0]),
        ms(times[starts / 2]),
        ms(times[starts - 1]),
        mb(rss[starts / 2]),
    ]);
    t.print();
}

/// Time and requests as proposals and nodes grow (every node votes `for`).
pub async fn scaling(options: &Options) {
    let grid: &[(u32, u32)] = if options.quick {
        &[(10, 1), (49, 5), (49, 20)]
    } else {
        &[
            (10, 1),
            (10, 5),
            (10, 20),
            (49, 1),
            (49, 5),
            (49, 20),
            (200, 1),
            (200, 5),
            (200, 20),
        ]
    };
    let mut t = Table::new(
        "scaling, auto-mining, every node votes for",
        &[
            "proposals × nodes",
            "votes",
            "round",
            "floor",
            "round / floor",
            "ms per vote",
            "HTTP requests",
            "JSON-RPC calls",
            "quiet round",
            "quiet HTTP / calls",
            "peak RSS",
        ],
    );
    for &(p, n) in grid {
        let m = measure(p, n, Mining::Auto, Strategies::AllFor).await;
        let votes = m.round.report.votes.confirmed;
        t.row(vec![
            format!("{p} × {n}"),
            votes.to_string(),
            secs(m.round.wall),
            secs(m.floor.total),
            m.ratio(),
            format!(
                "{:.2}",
                m.round.wall.as_secs_f64() * 1000.0 / votes.max(1) as f64
            ),
            m.round_http.to_string(),
            calls(&m.round_calls).to_string(),
            ms(m.quiet.wall),
            format!("{} / {}", m.quiet_http, calls(&m.quiet_calls)),
            mb(m.peak_rss_kb),
        ]);
        println!(
            "  measured {p} × {n}: round {} (floor {})",
            secs(m.round.wall),
            secs(m.floor.total)
        );
    }
    t.print();
}
