//! A wedged daemon stops petting the watchdog. The wedge is injected with
//! the `heartbeat-wedge` failpoint, which exists only in `--features
//! failpoints` builds.

#![cfg(feature = "failpoints")]

mod support {
    pub mod daemon;
    pub mod notify;
}

use std::time::Duration;

use support::daemon::{Daemon, Workdir, base_config, free_port};
use support::notify::NotifySocket;

/// A daemon whose supervisor loop answers three heartbeats and then blocks
/// for ten minutes; `envs` are added to its environment.
fn wedged_daemon(envs: &[(&str, &str)]) -> (Workdir, Daemon, NotifySocket, std::path::PathBuf) {
    let work = Workdir::new();
    let port = free_port();
    let config = work.write(
        "config.yaml",
        &base_config(
            port,
            "http://127.0.0.1:9",
            "api:\n  listen: 127.0.0.1:API_PORT\nwatchdog:\n  heartbeat_timeout: 150ms\n",
        ),
    );
    let notify = NotifySocket::new();
    let socket = notify.path.to_string_lossy().into_owned();
    let mut all = vec![
        ("NOTIFY_SOCKET", socket.as_str()),
        ("WATCHDOG_USEC", "400000"),
        // Three good heartbeats, then the supervisor loop blocks for 10 minutes.
        ("FAILPOINTS", "heartbeat-wedge=3*off->sleep(600000)"),
    ];
    all.extend_from_slice(envs);
    let daemon = Daemon::spawn(&config, ([127, 0, 0, 1], port).into(), &all);
    (work, daemon, notify, config)
}

#[test]
fn wedged_heartbeat_withholds_watchdog() {
    let (_work, mut daemon, notify, _config) = wedged_daemon(&[]);
    notify
        .until(Duration::from_secs(10), |m| m.contains("READY=1"))
        .unwrap_or_else(|seen| panic!("no READY=1: {seen:?}: {}", daemon.output()));

    let before = notify.drain(Duration::from_millis(1500));
    let pets_before = before.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!(
        (1..=3).contains(&pets_before),
        "only the 3 good heartbeats pet the watchdog, got {pets_before}: {before:?}"
    );
    assert!(
        before.iter().any(|m| m.contains("STATUS=unhealthy")),
        "STATUS reports the failing heartbeat: {before:?}"
    );

    // Ten watchdog periods without a single pet: systemd would have killed it.
    let after = notify.drain(Duration::from_secs(4));
    assert!(
        !after.iter().any(|m| m.contains("WATCHDOG=1")),
        "no WATCHDOG=1 once wedged: {after:?}"
    );
    assert!(
        daemon.child.try_wait().ok().flatten().is_none(),
        "still running, just wedged"
    );

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let ready = client
        .get(daemon.url("/health/ready"))
        .send()
        .expect("the HTTP API still answers while the supervisor is wedged");
    assert_eq!(ready.status().as_u16(), 503);
    let body = ready.text().unwrap_or_default();
    assert!(
        body.contains("runtime: the supervisor loop did not answer"),
        "{body}"
    );
    let log = daemon.output();
    assert!(
        log.contains("heartbeat failed"),
        "the wedge is logged: {log}"
    );
}

/// A round that finishes while the daemon is wedged does not make `STATUS=`
/// say ready: the line keeps the failing heartbeat first and names the round.
#[test]
fn a_round_finishing_during_a_wedge_keeps_status_unhealthy() {
    // The round fails fast: no chain, calls give up after a second, and the
    // round waits for an endpoint only until its short deadline.
    let (_work, daemon, notify, config) = wedged_daemon(&[
        ("GOVNODE__RPC__RETRY__CALL_DEADLINE", "1s"),
        ("GOVNODE__ROUND__DEADLINE", "5s"),
    ]);
    notify
        .until(Duration::from_secs(10), |m| m.contains("STATUS=unhealthy"))
        .unwrap_or_else(|seen| panic!("no unhealthy STATUS: {seen:?}: {}", daemon.output()));

    // The control socket is served outside the wedged loop: a round runs
    // (and fails, there is no chain) while the heartbeat fails.
    let round = std::process::Command::new(support::daemon::binary())
        .args(["round", "--config"])
        .arg(&config)
        .output()
        .expect("govnode round");
    let round_out = String::from_utf8_lossy(&round.stdout).into_owned()
        + &String::from_utf8_lossy(&round.stderr);
    assert!(round_out.contains("round 1"), "{round_out}");
    let after = notify.drain(Duration::from_millis(500));
    let statuses: Vec<&String> = after.iter().filter(|m| m.contains("STATUS=")).collect();
    let last = statuses
        .last()
        .unwrap_or_else(|| panic!("the round's end sends a STATUS line: {after:?}"));
    assert!(
        last.contains("STATUS=unhealthy: runtime: the supervisor loop did not answer")
            || last.contains("STATUS=unhealthy: the supervisor loop did not answer"),
        "{last}"
    );
    assert!(last.contains("; last round 1"), "{last}");
}
