//! Many DAOs in one daemon: 3 DAOs × 49 proposals × 5 nodes, each DAO on a
//! chain of its own (three anvils, chain ids 31337–31339), voted in one
//! `govnode round` of one daemon, against the same votes cast by three
//! single-DAO daemons whose rounds are started at the same moment. Each
//! chain is snapshotted before and reverted between the two, so both cast
//! the same 735 votes on the same state.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Options;
use crate::daemon::BenchDaemon;
use crate::net::{Mining, Net, Strategies, binary};
use crate::table::{Table, mb, ms, ratio};

const PROPOSALS: u32 = 49;
const NODES: u32 = 5;

pub async fn many(options: &Options) {
    let daos = if options.quick { 2 } else { 3 };
    let mut nets = Vec::new();
    for i in 0..daos {
        nets.push(
            Net::on_chain(
                31337 + i as u64,
                PROPOSALS,
                NODES,
                Mining::Auto,
                Strategies::AllFor,
            )
            .await,
        );
    }
    let mut snapshots = Vec::new();
    for net in &nets {
        snapshots.push(net.anvil.rpc("evm_snapshot", serde_json::json!([])).await);
    }

    // One daemon, every DAO.
    let config = write_many_config(&nets);
    let mut one = spawn_many(&nets[0], &config);
    for n in 0..NODES as usize {
        let name = nets[0].devnet["nodes"][n]["name"]
            .as_str()
            .expect("node name")
            .to_owned();
        let _ = govnode::api::control::request_ack(&nets[0].path().join("many.sock"), &name).await;
    }
    let started = Instant::now();
    let answers =
        govnode::api::control::request_round(&nets[0].path().join("many.sock"), &[], |_| {})
            .await
            .expect("round of every DAO");
    let one_wall = started.elapsed();
    let one_confirmed: u64 = answers.iter().map(|a| a.report.votes.confirmed).sum();
    let slowest_dao = answers
        .iter()
        .filter_map(|a| a.report.duration_ms)
        .max()
        .unwrap_or_default();
    let one_peak = crate::daemon::status_kb(one.id(), "VmHWM:");
    stop(&mut one);

    for (net, snapshot) in nets.iter().zip(&snapshots) {
        net.anvil
            .rpc("evm_revert", serde_json::json!([snapshot]))
            .await;
    }

    // Three daemons, one DAO each, started together.
    let mut daemons: Vec<BenchDaemon> = nets
        .iter()
        .map(|net| BenchDaemon::start(net, &net.anvil.url(), &[]))
        .collect();
    let started = Instant::now();
    let rounds = futures::future::join_all(daemons.iter().map(|d| d.round())).await;
    let three_wall = started.elapsed();
    let three_confirmed: u64 = rounds.iter().map(|t| t.report.votes.confirmed).sum();
    let slowest_single = rounds.iter().map(|t| t.wall).max().unwrap_or_default();
    let three_peak: u64 = daemons.iter().map(|d| d.peak_rss_kb()).sum();
    for d in &mut daemons {
        d.stop();
    }

    let mut t = Table::new(
        format!(
            "{daos} DAOs × {PROPOSALS} proposals × {NODES} nodes, one chain each, auto-mining — one daemon vs {daos} daemons"
        ),
        &[
            "case",
            "votes confirmed",
            "wall",
            "ratio to the daemons",
            "peak RSS",
        ],
    );
    t.row(vec![
        format!("one daemon, {daos} DAOs, one `govnode round`"),
        one_confirmed.to_string(),
        format!("{} (slowest DAO {} ms)", ms(one_wall), slowest_dao),
        ratio(one_wall, three_wall),
        mb(one_peak),
    ]);
    t.row(vec![
        format!("{daos} single-DAO daemons, rounds started together"),
        three_confirmed.to_string(),
        format!("{} (slowest {})", ms(three_wall), ms(slowest_single)),
        "1.00".into(),
        format!("{} (sum)", mb(three_peak)),
    ]);
    t.print();
}

/// The many-DAO configuration beside the first net's: its nodes, keys and
/// strategies, every net's chain and DAO.
fn write_many_config(nets: &[Net]) -> std::path::PathBuf {
    let text = std::fs::read_to_string(nets[0].config()).expect("config");
    let mut doc: serde_norway::Value = serde_norway::from_str(&text).expect("YAML");
    let map = doc.as_mapping_mut().expect("mapping");
    for key in ["chain", "rpc", "dao", "api"] {
        map.remove(key);
    }
    let chains: Vec<serde_json::Value> = nets
        .iter()
        .enumerate()
        .map(|(i, net)| {
            serde_json::json!({
                "name": format!("chain-{i}"),
                "id": 31337 + i as u64,
                "rpc": { "endpoints": [{
                    "name": format!("anvil-{i}"),
                    "url": net.anvil.url(),
                    "max_rps": 100000,
                    "burst": 100000,
                }] },
            })
        })
        .collect();
    let daos: Vec<serde_json::Value> = nets
        .iter()
        .enumerate()
        .map(|(i, net)| {
            serde_json::json!({
                "name": format!("dao-{i}"),
                "chain": format!("chain-{i}"),
                "kind": "assetdao",
                "address": format!("{:#x}", net.dao()),
            })
        })
        .collect();
    let as_yaml = |v: serde_json::Value| -> serde_norway::Value {
        serde_norway::from_str(&serde_json::to_string(&v).expect("JSON")).expect("YAML")
    };
    map.insert("chains".into(), as_yaml(serde_json::Value::Array(chains)));
    map.insert("daos".into(), as_yaml(serde_json::Value::Array(daos)));
    map.insert(
        "api".into(),
        as_yaml(serde_json::json!({ "enabled": false })),
    );
    map.insert(
        "control".into(),
        as_yaml(serde_json::json!({ "socket": "many.sock" })),
    );
    map.insert(
        "ledger".into(),
        as_yaml(serde_json::json!({ "path": "many.sqlite" })),
    );
    let path = nets[0].path().join("many.yaml");
    std::fs::write(&path, serde_norway::to_string(&doc).expect("YAML")).expect("write config");
    path
}

fn spawn_many(net: &Net, config: &std::path::Path) -> Child {
    let log = std::fs::File::create(net.path().join("many.log")).expect("log");
    let child = Command::new(binary())
        .args(["run", "--config"])
        .arg(config)
        .env("GOVNODE__ROUND__ON_START", "false")
        .env("GOVNODE__LOG__TARGET", "stderr")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn govnode");
    let socket = net.path().join("many.sock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "the many-DAO daemon never opened its control socket: {}",
            std::fs::read_to_string(net.path().join("many.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = tokio::task::block_in_place(|| child.wait());
}
