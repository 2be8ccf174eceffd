//! The measured scenarios: the seed's 49 proposals × 5 nodes (with the
//! devnet's strategies and with every node voting `for`) against the floor,
//! start-up time, and scaling over proposals × nodes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::Options;
use crate::daemon::{BenchDaemon, Timed};
use crate::fault_proxy::FaultProxy;
use crate::floor::{self, Floor};
use crate::net::{Mining, Net, Nudger, Strategies};
use crate::table::{Table, mb, ms, ratio, secs};

/// What one measurement runs on.
pub struct Case {
    pub proposals: u32,
    pub nodes: u32,
    pub mining: Mining,
    pub strategies: Strategies,
    /// `GOVNODE__…` overrides for the daemon.
    pub env: Vec<(&'static str, &'static str)>,
    /// The endpoint's `ws_url` set to anvil's WebSocket: rounds follow
    /// subscribed heads instead of polling `eth_blockNumber`.
    pub websocket: bool,
    pub floor: bool,
}

/// One daemon on one fresh chain: its first round, a round with nothing
/// new, and (optionally) the floor on the same chain.
pub struct Measured {
    pub pairs: u64,
    /// Fresh anvil + `govnode devnet --setup-only` (not part of any figure).
    pub setup: Duration,
    pub ready: Duration,
    pub idle_rss_kb: u64,
    pub idle_fds: usize,
    pub round: Timed,
    pub round_http: usize,
    pub round_calls: BTreeMap<String, usize>,
    /// The daemon's CPU time (user + system) during the round.
    pub round_cpu: Duration,
    pub peak_rss_kb: u64,
    pub quiet: Timed,
    pub quiet_http: usize,
    pub quiet_calls: BTreeMap<String, usize>,
    pub idle_after_kb: u64,
    /// Blocks from the round's head to its last vote's block.
    pub round_blocks: u64,
    pub floor: Option<Floor>,
    /// Blocks the bench had to ask anvil for (see [`Nudger`]).
    pub nudges: u64,
}

impl Measured {
    pub fn ratio(&self) -> String {
        self.floor
            .as_ref()
            .map(|f| ratio(self.round.wall, f.total))
            .unwrap_or_else(|| "–".into())
    }
}

/// Votes confirmed, and when the round left some, what became of them.
pub fn votes_cell(counts: &govnode::round::VoteCounts) -> String {
    if counts.confirmed == counts.decided {
        counts.confirmed.to_string()
    } else {
        format!(
            "{} of {} ({} pending, {} deferred at the round's end)",
            counts.confirmed, counts.decided, counts.pending, counts.deferred
        )
    }
}

pub fn calls(methods: &BTreeMap<String, usize>) -> usize {
    methods.values().sum()
}

pub async fn measure(case: &Case) -> Measured {
    let setup_started = Instant::now();
    let net = Net::new(case.proposals, case.nodes, case.mining, case.strategies).await;
    let setup = setup_started.elapsed();
    let proxy = FaultProxy::start(&net.anvil.url()).await;
    let nudger = (case.mining == Mining::Auto).then(|| Nudger::start(net.anvil.url()));
    // Straight to anvil: notifications are not calls, the proxy counts calls.
    let ws_url = net.anvil.url().replace("http://", "ws://");
    let mut env = case.env.clone();
    if case.websocket {
        env.push(("GOVNODE__RPC__ENDPOINTS__0__WS_URL", ws_url.as_str()));
    }
    let mut daemon = BenchDaemon::start(&net, &proxy.url(), &env);
    // Idle: after start-up, the first probes done, no round yet.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kb = daemon.rss_kb();
    let idle_fds = daemon.open_fds();

    let aligned = matches!(case.mining, Mining::Interval(_));
    if aligned {
        net.wait_next_block().await;
    }
    proxy.reset_counts();
    let peak_known = daemon.reset_peak();
    let cpu_before = daemon.cpu_time();
    let round = daemon.round().await;
    let round_cpu = daemon.cpu_time().saturating_sub(cpu_before);
    let peak_rss_kb = if peak_known {
        daemon.peak_rss_kb()
    } else {
        daemon.rss_kb()
    };
    let round_http = proxy.count();
    let round_calls = proxy.methods();
    let r = &round.report;
    // The floor is only comparable to a round that confirmed everything; a
    // scaling point reports a partial round as such instead.
    assert!(
        !case.floor || (r.is_success() && r.votes.confirmed == r.votes.decided),
        "every decided vote confirmed: {}",
        r.summary()
    );

    proxy.reset_counts();
    let quiet = daemon.round().await;
    let quiet_http = proxy.count();
    let quiet_calls = proxy.methods();
    let idle_after_kb = daemon.rss_kb();
    let ready = daemon.ready;
    daemon.stop();

    // Read from the SQLite ledger; a PostgreSQL one is left alone.
    let on_postgres = case
        .env
        .iter()
        .any(|&(k, v)| k == "GOVNODE__LEDGER__KIND" && v == "postgres");
    let round_blocks = if on_postgres {
        0
    } else {
        net.last_vote_block()
            .saturating_sub(round.report.head_block.unwrap_or_default())
    };
    let floor = if case.floor {
        let per_voter = net.confirmed_per_voter();
        let floor = floor::measure(&net, &per_voter, aligned).await;
        assert_eq!(
            floor.votes as u64, round.report.votes.confirmed,
            "the floor sends as many votes as the round confirmed"
        );
        Some(floor)
    } else {
        None
    };
    let nudges = nudger.map(Nudger::stop).unwrap_or(0);
    Measured {
        pairs: u64::from(case.proposals) * u64::from(case.nodes),
        setup,
        ready,
        idle_rss_kb,
        idle_fds,
        round,
        round_http,
        round_calls,
        round_cpu,
        peak_rss_kb,
        quiet,
        quiet_http,
        quiet_calls,
        idle_after_kb,
        round_blocks,
        floor,
        nudges,
    }
}

/// 49 proposals × 5 nodes on one mining mode: both strategy sets, and with
/// interval mining also a shorter receipt poll.
pub async fn headline(options: &Options, mining: Mining) {
    let interval = matches!(mining, Mining::Interval(_));
    let mut cases: Vec<(String, Case)> = Vec::new();
    let strategies: &[Strategies] = if options.quick && interval {
        &[Strategies::AllFor]
    } else {
        &[Strategies::Devnet, Strategies::AllFor]
    };
    for &s in strategies {
        cases.push((
            s.label().into(),
            Case {
                proposals: 49,
                nodes: 5,
                mining,
                strategies: s,
                env: Vec::new(),
                websocket: false,
                floor: true,
            },
        ));
    }
    if interval && !options.quick {
        cases.push((
            "all vote for, receipt_poll 100ms".into(),
            Case {
                proposals: 49,
                nodes: 5,
                mining,
                strategies: Strategies::AllFor,
                env: vec![("GOVNODE__ROUND__RECEIPT_POLL", "100ms")],
                websocket: false,
                floor: true,
            },
        ));
    }
    let mut results = Vec::new();
    for (label, case) in cases {
        let m = measure(&case).await;
        println!(
            "  measured 49 × 5, {}, {label}: round {} (set-up {}, anvil nudged {} time(s))",
            mining.label(),
            ms(m.round.wall),
            secs(m.setup),
            m.nudges
        );
        results.push((label, m));
    }

    let mut t = Table::new(
        format!(
            "49 proposals × 5 nodes, {} — round vs floor{}",
            mining.label(),
            if interval {
                " (both start right after a block)"
            } else {
                ""
            }
        ),
        &[
            "case",
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
    for (label, m) in &results {
        let r = &m.round.report;
        let f = m.floor.as_ref();
        t.row(vec![
            label.clone(),
            format!("{} ({})", r.votes.confirmed, m.pairs),
            ms(m.round.wall),
            format!("{} ms", r.duration_ms.unwrap_or_default()),
            f.map(|f| ms(f.sent)).unwrap_or_default(),
            f.map(|f| ms(f.total)).unwrap_or_default(),
            m.ratio(),
            match (interval, f) {
                (true, Some(f)) => format!("{} / {}", m.round_blocks, f.blocks),
                _ => "– (a block per transaction)".into(),
            },
            m.round_http.to_string(),
            calls(&m.round_calls).to_string(),
            ms(m.quiet.wall),
            format!("{} / {}", m.quiet_http, calls(&m.quiet_calls)),
        ]);
    }
    t.print();

    let mut mem = Table::new(
        format!("49 × 5, {} — daemon process", mining.label()),
        &[
            "case",
            "start → READY=1",
            "idle RSS",
            "peak RSS in the round",
            "RSS after",
            "open fds idle",
            "daemon CPU in the round",
        ],
    );
    for (label, m) in &results {
        mem.row(vec![
            label.clone(),
            ms(m.ready),
            mb(m.idle_rss_kb),
            mb(m.peak_rss_kb),
            mb(m.idle_after_kb),
            m.idle_fds.to_string(),
            ms(m.round_cpu),
        ]);
    }
    mem.print();

    for (label, m) in &results {
        let mut by = Table::new(
            format!(
                "JSON-RPC calls by method, 49 × 5, {}, {label}",
                mining.label()
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
        let mut d = BenchDaemon::start(&net, &proxy.url(), &[]);
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

/// Above this many votes a scaling point runs with `--block-time 1`: anvil's
/// auto-mining, given thousands of queued transactions, ends up mining empty
/// blocks while ready transactions (right nonce, funded) sit in its pool
/// (see docs/benchmarks.md), and a round there measures anvil, not govnode.
const AUTO_MINING_MAX_VOTES: u32 = 1_000;

/// Time and requests as proposals and nodes grow (every node votes `for`).
/// No floor here: flooding anvil's pool with thousands of transactions
/// slows anvil itself down (see docs/benchmarks.md), so it stops being a floor.
pub async fn scaling(options: &Options) {
    let grid: &[(u32, u32)] = if let Some(grid) = &options.grid {
        grid
    } else if options.quick {
        &[(10, 1), (200, 5)]
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
        "scaling, every node votes for",
        &[
            "proposals × nodes",
            "mining",
            "votes",
            "round",
            "ms per vote",
            "daemon CPU",
            "HTTP requests",
            "JSON-RPC calls",
            "quiet round",
            "quiet HTTP / calls",
            "peak RSS",
            "anvil nudges",
        ],
    );
    for &(p, n) in grid {
        let mining = if p * n > AUTO_MINING_MAX_VOTES {
            Mining::Interval(1)
        } else {
            Mining::Auto
        };
        let m = measure(&Case {
            proposals: p,
            nodes: n,
            mining,
            strategies: Strategies::AllFor,
            env: Vec::new(),
            websocket: false,
            floor: false,
        })
        .await;
        let counts = &m.round.report.votes;
        let votes = counts.confirmed;
        t.row(vec![
            format!("{p} × {n}"),
            mining.label(),
            votes_cell(counts),
            secs(m.round.wall),
            format!(
                "{:.2}",
                m.round.wall.as_secs_f64() * 1000.0 / votes.max(1) as f64
            ),
            ms(m.round_cpu),
            m.round_http.to_string(),
            calls(&m.round_calls).to_string(),
            ms(m.quiet.wall),
            format!("{} / {}", m.quiet_http, calls(&m.quiet_calls)),
            mb(m.peak_rss_kb),
            m.nudges.to_string(),
        ]);
        println!(
            "  measured {p} × {n}: round {} (set-up {}, anvil nudged {} time(s))",
            secs(m.round.wall),
            secs(m.setup),
            m.nudges
        );
    }
    t.print();
}
