//! The soak: one daemon, many consecutive rounds on the 49 × 5 devnet, most
//! with nothing new to vote (every 100th round has a new proposal to vote
//! on). Memory and open descriptors must stay flat; printed at checkpoints
//! and as first / last / max.

use std::time::{Duration, Instant};

use crate::Options;
use crate::daemon::BenchDaemon;
use crate::fault_proxy::FaultProxy;
use crate::net::{Mining, Net, Nudger, Strategies};
use crate::table::{Table, mb, ms, secs};

/// A new proposal arrives before every this many rounds.
const NEW_EVERY: usize = 100;

struct Sample {
    round: usize,
    rss_kb: u64,
    fds: usize,
    wall: Duration,
    http: usize,
    decided: u64,
}

pub async fn soak(options: &Options) {
    let rounds = options.soak_rounds;
    let net = Net::new(49, 5, Mining::Auto, Strategies::Devnet).await;
    let proxy = FaultProxy::start(&net.anvil.url()).await;
    let nudger = Nudger::start(net.anvil.url());
    let mut daemon = BenchDaemon::start(&net, &proxy.url(), &[]);
    let first = daemon.round().await;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(rounds);
    let mut new_votes = 0;
    for i in 1..=rounds {
        if i % NEW_EVERY == 0 {
            net.create_proposals(1).await;
        }
        proxy.reset_counts();
        let timed = daemon.round().await;
        assert!(
            timed.report.is_success(),
            "soak round {i} failed: {}",
            timed.report.summary()
        );
        new_votes += timed.report.votes.decided;
        samples.push(Sample {
            round: i,
            rss_kb: daemon.rss_kb(),
            fds: daemon.open_fds(),
            wall: timed.wall,
            http: proxy.count(),
            decided: timed.report.votes.decided,
        });
    }
    let elapsed = started.elapsed();
    let peak = daemon.peak_rss_kb();
    daemon.stop();
    let nudges = nudger.stop();

    let mut t = Table::new(
        format!(
            "soak: {rounds} consecutive rounds after a first round of {} votes (49 × 5, devnet strategies, auto-mining)",
            first.report.votes.confirmed
        ),
        &[
            "after round",
            "RSS",
            "open fds",
            "round",
            "HTTP requests",
            "votes",
        ],
    );
    for s in samples
        .iter()
        .filter(|s| s.round == 1 || s.round % (rounds / 10).max(1) == 0 || s.round % NEW_EVERY == 0)
    {
        t.row(vec![
            s.round.to_string(),
            mb(s.rss_kb),
            s.fds.to_string(),
            ms(s.wall),
            s.http.to_string(),
            s.decided.to_string(),
        ]);
    }
    t.print();

    let Some((head, tail)) = samples.first().zip(samples.last()) else {
        return;
    };
    let max_rss = samples.iter().map(|s| s.rss_kb).max().unwrap_or(0);
    let max_fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    let quiet: Vec<&Sample> = samples.iter().filter(|s| s.decided == 0).collect();
    let mut walls: Vec<Duration> = quiet.iter().map(|s| s.wall).collect();
    walls.sort();
    let mut s = Table::new("soak summary", &["", "first", "last", "max"]);
    s.row(vec![
        "RSS".into(),
        mb(head.rss_kb),
        mb(tail.rss_kb),
        format!("{} (VmHWM {})", mb(max_rss), mb(peak)),
    ]);
    s.row(vec![
        "open fds".into(),
        head.fds.to_string(),
        tail.fds.to_string(),
        max_fds.to_string(),
    ]);
    if let (Some(lo), Some(hi)) = (walls.first(), walls.last()) {
        s.row(vec![
            "quiet round (min / median / max)".into(),
            ms(*lo),
            ms(walls[walls.len() / 2]),
            ms(*hi),
        ]);
    }
    s.print();
    println!(
        "  {rounds} rounds in {} ({} new votes along the way; anvil nudged {nudges} time(s))",
        secs(elapsed),
        new_votes
    );
}
