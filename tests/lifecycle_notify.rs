//! The daemon speaks systemd's notify protocol: READY=1 once it serves,
//! WATCHDOG=1 repeatedly, STATUS= lines, RELOADING=1 + MONOTONIC_USEC then
//! READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM.

mod support {
    pub mod daemon;
    pub mod notify;
}

use std::time::Duration;

use support::daemon::{Daemon, Workdir, base_config, free_port};
use support::notify::NotifySocket;

#[test]
fn ready_watchdog_reload_and_stop() {
    let work = Workdir::new();
    let port = free_port();
    let config = work.write(
        "config.yaml",
        &base_config(
            port,
            "http://127.0.0.1:9",
            "api:\n  listen: 127.0.0.1:API_PORT\n",
        ),
    );
    let notify = NotifySocket::new();
    let socket = notify.path.to_string_lossy().into_owned();
    let mut daemon = Daemon::spawn(
        &config,
        ([127, 0, 0, 1], port).into(),
        &[("NOTIFY_SOCKET", &socket), ("WATCHDOG_USEC", "400000")],
    );

    let until_ready = notify
        .until(Duration::from_secs(10), |m| {
            m.lines().any(|l| l == "READY=1")
        })
        .unwrap_or_else(|seen| panic!("no READY=1; got {seen:?}; log: {}", daemon.output()));
    let ready_msg = until_ready.last().cloned().unwrap_or_default();
    assert!(
        ready_msg.contains("STATUS=ready: 1 node(s)"),
        "READY=1 carries a STATUS line: {ready_msg:?}"
    );
    // READY=1 promises a working listener.
    assert!(std::net::TcpStream::connect(daemon.api).is_ok());

    // 400 ms watchdog: pets every 200 ms.
    let pets = notify
        .drain(Duration::from_millis(1500))
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count();
    assert!(pets >= 4, "expected repeated WATCHDOG=1, got {pets}");

    daemon.signal(libc::SIGHUP);
    let reload = notify
        .until(Duration::from_secs(10), |m| {
            m.lines().any(|l| l == "READY=1")
        })
        .unwrap_or_else(|seen| panic!("no READY=1 after SIGHUP; got {seen:?}"));
    let reloading = reload
        .iter()
        .position(|m| m.lines().any(|l| l == "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 before READY=1: {reload:?}"));
    assert!(
        reload[reloading].contains("MONOTONIC_USEC="),
        "RELOADING=1 carries MONOTONIC_USEC: {:?}",
        reload[reloading]
    );

    daemon.signal(libc::SIGTERM);
    notify
        .until(Duration::from_secs(10), |m| {
            m.lines().any(|l| l == "STOPPING=1")
        })
        .unwrap_or_else(|seen| panic!("no STOPPING=1 after SIGTERM; got {seen:?}"));
    let status = daemon.wait_exit(Duration::from_secs(25));
    assert_eq!(
        status.code(),
        Some(0),
        "clean stop exits 0: {}",
        daemon.output()
    );
}

#[test]
fn invalid_config_on_reload_is_refused_and_old_one_stays() {
    let work = Workdir::new();
    let port = free_port();
    let good = base_config(
        port,
        "http://127.0.0.1:9",
        "api:\n  listen: 127.0.0.1:API_PORT\n",
    );
    let config = work.write("config.yaml", &good);
    let notify = NotifySocket::new();
    let socket = notify.path.to_string_lossy().into_owned();
    let mut daemon = Daemon::spawn(
        &config,
        ([127, 0, 0, 1], port).into(),
        &[("NOTIFY_SOCKET", &socket)],
    );
    notify
        .until(Duration::from_secs(10), |m| m.contains("READY=1"))
        .unwrap_or_else(|seen| panic!("no READY=1: {seen:?}"));

    work.write("config.yaml", &format!("{good}bogus_section: 1\n"));
    daemon.signal(libc::SIGHUP);
    let msgs = notify
        .until(Duration::from_secs(10), |m| {
            m.lines().any(|l| l == "READY=1")
        })
        .unwrap_or_else(|seen| panic!("no READY=1 after refused reload: {seen:?}"));
    assert!(
        msgs.iter().any(|m| m.contains("reload refused")),
        "STATUS tells the reload was refused: {msgs:?}"
    );
    // Still serving with the old configuration.
    assert!(std::net::TcpStream::connect(daemon.api).is_ok());
    // The log is read by a background thread: give it a moment to catch up.
    let logged = (0..100).any(|_| {
        let seen = daemon.output().contains("bogus_section");
        if !seen {
            std::thread::sleep(Duration::from_millis(50));
        }
        seen
    });
    assert!(logged, "the refused problem is logged: {}", daemon.output());

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(25)).code(), Some(0));
}

#[test]
fn runs_without_systemd() {
    let work = Workdir::new();
    let port = free_port();
    let config = work.write(
        "config.yaml",
        &base_config(
            port,
            "http://127.0.0.1:9",
            "api:\n  listen: 127.0.0.1:API_PORT\n",
        ),
    );
    let mut daemon = Daemon::spawn(&config, ([127, 0, 0, 1], port).into(), &[]);
    daemon.wait_live(Duration::from_secs(10));
    daemon.signal(libc::SIGINT);
    assert_eq!(daemon.wait_exit(Duration::from_secs(25)).code(), Some(0));
}
