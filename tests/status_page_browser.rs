//! The status page as a browser shows it: the real daemon on a devnet, one
//! round voted, then headless Chromium (Debian's `chromium`, installed by
//! scripts/test.sh's set-up) loads `/status`, dumps the DOM it rendered and
//! takes a screenshot. The page works without JavaScript: it carries no
//! script and its CSP forbids any (chromium's own switch that turns scripts
//! off also stops `--dump-dom` and `--screenshot`, so it cannot be used). The page must name every open
//! proposal, every node, each node's decision on each proposal and its vote
//! history, and the DAO's paused state.
//!
//! Without chromium on PATH the test says so and passes: that can only
//! happen on a machine the set-up did not run on.

mod support {
    #[allow(dead_code)]
    pub mod anvil;
    pub mod daemon;
    pub mod devnet_chain;
    pub mod http_recorder;
}

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::devnet_chain::Devnet;
use support::http_recorder::Recorder;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// Runs headless chromium on `url` with `mode` (`--dump-dom` or
/// `--screenshot=PATH`); its stdout.
fn browse(chromium: &Path, profile: &Path, mode: &str, url: &str) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            // Root in a container: chromium's sandbox needs user namespaces.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1400,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromium.display()));
    assert!(
        out.status.success(),
        "chromium {mode} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page's visible text: the DOM without its tags, entities decoded
/// for the few the page uses.
fn text_of(dom: &str) -> String {
    let mut out = String::with_capacity(dom.len());
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_proposals_decisions_and_history_in_a_browser() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED status_page_browser: no `chromium` on PATH \
             (scripts/test.sh's set-up installs it; run it or `apt-get install chromium`)"
        );
        return;
    };
    let net = Devnet::start(4, 2).await;
    let http = Recorder::default();
    let round = http
        .post(&net.url("/api/v1/rounds?wait=true"), Some(&net.token))
        .await;
    assert_eq!(round.status, 200, "{}", round.text);

    // What the API says is what the page must show.
    let api = http.get(&net.url("/api/v1/proposals")).await.json();
    let proposals = api["proposals"].as_array().expect("proposals");
    assert!(
        !proposals.is_empty(),
        "the devnet left proposals open: {api}"
    );

    let page = http.get(&net.url("/status")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-security-policy")
            .starts_with("default-src 'none'"),
        "scripts are forbidden"
    );

    let profile = tempfile::tempdir().expect("profile dir");
    let dom = browse(&chromium, profile.path(), "--dump-dom", &net.url("/status"));
    assert!(dom.contains("<h2>Open proposals</h2>"), "{dom}");
    assert!(
        !dom.contains("<script"),
        "the page carries no script: {dom}"
    );
    let text = text_of(&dom);
    assert!(text.contains("DAO paused no"), "{text}");

    let mut decisions = 0;
    for p in proposals {
        let id = p["id"].as_str().expect("id");
        for n in p["nodes"].as_array().expect("nodes") {
            let name = n["name"].as_str().expect("name");
            let Some(decision) = n["decision"].as_str() else {
                continue;
            };
            let reason = n["reason"].as_str().expect("a decided row has a reason");
            // One row of the decisions table: proposal, node, decision, state.
            let row = format!("{id} {name} {decision} {}", n["state"].as_str().unwrap());
            assert!(text.contains(&row), "no decision row {row:?} in: {text}");
            assert!(text.contains(reason), "no reason {reason:?} in: {text}");
            decisions += 1;
        }
    }
    assert!(decisions > 0, "the round decided something: {api}");

    // Each node's history heading and at least one of its votes.
    let nodes: Value = http.get(&net.url("/api/v1/nodes")).await.json();
    for n in nodes["nodes"].as_array().expect("nodes") {
        let name = n["name"].as_str().expect("name");
        assert!(
            dom.contains(&format!("<h3 id=\"history-{name}\">{name}</h3>")),
            "no history for {name}: {dom}"
        );
        if let Some(last) = n["last_vote"].as_object() {
            let tx = last["tx_hash"].as_str().unwrap_or_default();
            assert!(
                dom.contains(tx),
                "{name}'s last vote {tx} is not on the page"
            );
        }
    }

    // The screenshot is a real PNG of a laid-out page.
    let shot = profile.path().join("status.png");
    browse(
        &chromium,
        profile.path(),
        &format!("--screenshot={}", shot.display()),
        &net.url("/status"),
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "a blank screenshot: {} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("GOVNODE_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep the screenshot");
    }
}
