//! `govnode devnet` without `--once` keeps its anvil and the daemon running
//! until it is told to stop, then stops both; and when it is killed outright,
//! its children do not outlive it.

#[path = "support/devnet.rs"]
mod devnet_support;

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use devnet_support::*;

const DEADLINE: Duration = Duration::from_secs(60);

fn start_devnet(dir: &Path) -> Child {
    Command::new(GOVNODE)
        .args(["devnet", "--proposals", "2", "--nodes", "2", "--dir"])
        .arg(dir)
        .env("GOVNODE_ANVIL", anvil_path())
        .env_remove("GOVNODE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start govnode devnet")
}

/// Answers at all (any HTTP status)?
async fn answers(http: &reqwest::Client, url: &str) -> bool {
    http.get(url).send().await.is_ok()
}

/// Waits until the daemon's API answers /health; returns (rpc_url, api).
async fn wait_serving(devnet: &mut Child, dir: &Path, http: &reqwest::Client) -> (String, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = devnet.try_wait().expect("try_wait") {
            panic!("govnode devnet exited early: {status}");
        }
        if dir.join("devnet.json").exists() {
            let d = devnet_json(dir);
            let api = d["api"].as_str().expect("api").to_owned();
            let ok = http
                .get(format!("{api}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return (d["rpc_url"].as_str().expect("rpc_url").to_owned(), api);
            }
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the daemon never answered /health"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_exit(child: &mut Child) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(started.elapsed() < DEADLINE, "govnode devnet did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_silent(http: &reqwest::Client, url: &str, what: &str) {
    let started = Instant::now();
    while answers(http, url).await {
        assert!(
            started.elapsed() < DEADLINE,
            "{what} still answers at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal(child: &Child, sig: i32) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) on our own, not yet reaped child.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {pid}");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_daemon_and_anvil() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = client();
    let mut devnet = start_devnet(dir.path());
    let (rpc, api) = wait_serving(&mut devnet, dir.path(), &http).await;
    assert!(answers(&http, &rpc).await, "anvil does not answer at {rpc}");

    signal(&devnet, libc::SIGTERM);
    let status = wait_exit(&mut devnet).await;
    assert!(
        status.success(),
        "stopping on SIGTERM is the normal end: {status}"
    );
    // Both children were stopped before the command returned.
    assert!(
        !answers(&http, &format!("{api}/health")).await,
        "the daemon survived"
    );
    assert!(!answers(&http, &rpc).await, "anvil survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_die_with_a_killed_devnet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = client();
    let mut devnet = start_devnet(dir.path());
    let (rpc, api) = wait_serving(&mut devnet, dir.path(), &http).await;

    signal(&devnet, libc::SIGKILL);
    wait_exit(&mut devnet).await;
    wait_silent(&http, &format!("{api}/health"), "the daemon").await;
    wait_silent(&http, &rpc, "anvil").await;
}
