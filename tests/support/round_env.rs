//! A devnet for round tests: a real anvil, the test AssetDAO and nodes set up
//! by the real `govnode devnet --setup-only`, the real daemon on top, and the
//! chain's own `VoteCast` logs to judge what happened.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use alloy::primitives::{Address, U256, keccak256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::Filter;

use super::anvil::Anvil;
use super::daemon::{DEV_KEY, Daemon, binary};

alloy::sol! {
    #[sol(rpc)]
    interface ProposalMaker {
        function createProposal(uint8 proposalType, address assetAddress, uint256 amount, string description) external returns (uint256);
        function getProposalCount() external view returns (uint256);
    }
}

pub struct RoundEnv {
    pub anvil: Anvil,
    pub dir: tempfile::TempDir,
    pub devnet: serde_json::Value,
}

impl RoundEnv {
    /// anvil plus `govnode devnet --setup-only` with `proposals` open proposals and `nodes` nodes.
    pub async fn new(proposals: u32, nodes: u32) -> RoundEnv {
        let anvil = Anvil::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(binary())
            .args(["devnet", "--setup-only", "--rpc-url", &anvil.url(), "--dir"])
            .arg(dir.path())
            .args([
                "--proposals",
                &proposals.to_string(),
                "--nodes",
                &nodes.to_string(),
            ])
            .output()
            .expect("run govnode devnet");
        assert!(
            out.status.success(),
            "devnet set-up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let devnet: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("devnet.json")).expect("devnet.json"),
        )
        .expect("devnet.json is JSON");
        RoundEnv { anvil, dir, devnet }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("control.sock")
    }

    pub fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.sqlite")
    }

    pub fn dao(&self) -> Address {
        self.devnet["asset_dao"]
            .as_str()
            .expect("asset_dao")
            .parse()
            .expect("address")
    }

    pub fn node_addresses(&self) -> Vec<Address> {
        self.devnet["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                n["address"]
                    .as_str()
                    .expect("address")
                    .parse()
                    .expect("address")
            })
            .collect()
    }

    /// The name of node `i` (0-based), as the devnet configured it.
    pub fn node_name(&self, i: usize) -> String {
        self.devnet["nodes"][i]["name"]
            .as_str()
            .expect("node name")
            .to_owned()
    }

    /// The devnet's key of node `i` (0-based).
    pub fn node_key(&self, i: usize) -> alloy::signers::local::PrivateKeySigner {
        let name = self.node_name(i);
        std::fs::read_to_string(self.dir.path().join("keys").join(name))
            .expect("devnet key")
            .trim()
            .parse()
            .expect("key")
    }

    /// Replaces node `name`'s devnet `key_file` line in `config` with
    /// `signer` (YAML lines indented under the node, without the name).
    pub fn with_signer(config: &str, name: &str, signer: &str) -> String {
        let old = format!("  - name: {name}\n    key_file: keys/{name}\n");
        assert!(
            config.contains(&old),
            "the configuration names {name}'s key file"
        );
        config.replace(&old, &format!("  - name: {name}\n{signer}"))
    }

    /// Writes `conninfo` to `ledger-url` beside the configuration.
    pub fn write_ledger_url(&self, conninfo: &str) -> PathBuf {
        let file = self.dir.path().join("ledger-url");
        std::fs::write(&file, format!("{conninfo}\n")).expect("write ledger-url");
        file
    }

    /// Switches the devnet's configuration from its SQLite ledger to the
    /// PostgreSQL one named by `ledger-url`, with `more` (further sections)
    /// after it; returns the new configuration's text.
    pub fn use_postgres_ledger(&self, more: &str) -> String {
        let path = self.config();
        let text = std::fs::read_to_string(&path).expect("config");
        let sqlite = "ledger:\n  path: ledger.sqlite\n";
        assert!(text.contains(sqlite), "the devnet names its SQLite ledger");
        let text = text.replace(
            sqlite,
            &format!("ledger:\n  kind: postgres\n  url_file: ledger-url\n{more}"),
        );
        std::fs::write(&path, &text).expect("write config");
        text
    }

    /// Adds a strategy `everything` that votes `for` on every proposal;
    /// nodes use it through `GOVNODE__NODES__<i>__STRATEGY=everything`.
    pub fn add_everything_strategy(&self) {
        let path = self.config();
        let text = std::fs::read_to_string(&path).expect("config");
        let everything = "  everything:\n    rules: []\n    default:\n      vote: for\n      reason: test votes on everything\n";
        // The devnet writes a section of its own for five nodes and more.
        let text = if text.contains("\nstrategies:\n") {
            text.replacen(
                "\nstrategies:\n",
                &format!("\nstrategies:\n{everything}"),
                1,
            )
        } else {
            format!("{text}\nstrategies:\n{everything}")
        };
        std::fs::write(&path, text).expect("write config");
    }

    /// Creates a proposal from the chain's first account; returns its id and
    /// the block that mined it.
    pub async fn create_proposal(&self, description: &str) -> (U256, u64) {
        let deployer: alloy::signers::local::PrivateKeySigner = DEV_KEY.parse().expect("dev key");
        let provider = ProviderBuilder::new()
            .wallet(alloy::network::EthereumWallet::from(deployer))
            .connect_http(self.anvil.url().parse().expect("anvil url"));
        let dao = ProposalMaker::new(self.dao(), &provider);
        let receipt = dao
            .createProposal(0, Address::ZERO, U256::from(1), description.into())
            .send()
            .await
            .expect("createProposal")
            .get_receipt()
            .await
            .expect("receipt");
        let id = dao.getProposalCount().call().await.expect("count");
        (id, receipt.block_number.expect("mined"))
    }

    /// [`RoundEnv::add_everything_strategy`] for the first `nodes` nodes,
    /// with receipts polled fast: the daemon's environment for it.
    pub fn vote_on_everything(&self, nodes: u32) -> Vec<(String, String)> {
        self.add_everything_strategy();
        let mut envs: Vec<(String, String)> = (0..nodes)
            .map(|i| {
                (
                    format!("GOVNODE__NODES__{i}__STRATEGY"),
                    "everything".to_owned(),
                )
            })
            .collect();
        envs.push(("GOVNODE__ROUND__RECEIPT_POLL".into(), "100ms".into()));
        envs
    }

    /// [`RoundEnv::daemon`] with owned environment pairs.
    pub fn daemon_with(&self, envs: &[(String, String)]) -> Daemon {
        let pairs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.daemon(&pairs)
    }

    /// `govnode round --json`: the exit code and the report.
    pub fn round_json(&self) -> (i32, serde_json::Value) {
        let out = Command::new(binary())
            .args(["round", "--json", "--config"])
            .arg(self.config())
            .output()
            .expect("run govnode round");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let report = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "round report is not JSON ({e}): {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }

    /// The API address the devnet configured.
    pub fn api(&self) -> std::net::SocketAddr {
        self.devnet["api"]
            .as_str()
            .and_then(|s| {
                s.trim_start_matches("http://")
                    .trim_end_matches('/')
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| ([127, 0, 0, 1], 9).into())
    }

    /// Starts the daemon without a round on start (tests trigger rounds themselves).
    pub fn daemon(&self, envs: &[(&str, &str)]) -> Daemon {
        self.daemon_at(&self.config(), &self.socket(), self.api(), envs)
    }

    /// [`RoundEnv::daemon`] with another configuration file, whose control
    /// socket and API address are `socket` and `api`.
    pub fn daemon_at(
        &self,
        config: &Path,
        socket: &Path,
        api: std::net::SocketAddr,
        envs: &[(&str, &str)],
    ) -> Daemon {
        let mut all: Vec<(&str, &str)> = vec![
            ("GOVNODE__ROUND__ON_START", "false"),
            ("GOVNODE__LOG__TARGET", "stderr"),
        ];
        all.extend_from_slice(envs);
        let mut d = Daemon::spawn(config, api, &all);
        wait_for(socket, Duration::from_secs(20), &d);
        d.wait_live(Duration::from_secs(10));
        d
    }

    /// Runs `govnode round` against the daemon: (exit code, stdout + stderr).
    pub fn round(&self) -> (i32, String) {
        self.round_at(&self.config())
    }

    /// [`RoundEnv::round`] against the daemon of another configuration file.
    pub fn round_at(&self, config: &Path) -> (i32, String) {
        super::daemon::govnode(&["round"], config)
    }

    /// `VoteCast` events on the chain, counted per (proposal, voter).
    pub async fn vote_casts(&self) -> HashMap<(U256, Address), usize> {
        self.vote_casts_of(&self.node_addresses()).await
    }

    /// [`RoundEnv::vote_casts`] for `voters` (e.g. a node's new address).
    pub async fn vote_casts_of(&self, voters: &[Address]) -> HashMap<(U256, Address), usize> {
        let mut counts = HashMap::new();
        for (proposal, voter, _) in self.vote_cast_events_of(voters).await {
            *counts.entry((proposal, voter)).or_insert(0) += 1;
        }
        counts
    }

    /// Votes `voter` cast, from [`RoundEnv::vote_casts`].
    pub fn votes_by(counts: &HashMap<(U256, Address), usize>, voter: Address) -> usize {
        counts
            .iter()
            .filter(|((_, v), _)| *v == voter)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Every `VoteCast` event of the devnet's nodes: (proposal, voter, support).
    /// The devnet's deployer votes too, on the proposal it executes; that is not ours.
    pub async fn vote_cast_events(&self) -> Vec<(U256, Address, bool)> {
        self.vote_cast_events_of(&self.node_addresses()).await
    }

    /// The DAO's `VoteCast` logs, every voter's.
    async fn vote_cast_logs(&self) -> Vec<alloy::rpc::types::Log> {
        let provider = ProviderBuilder::new().connect_http(self.anvil.url().parse().expect("url"));
        let topic = keccak256("VoteCast(uint256,address,bool,uint256)");
        provider
            .get_logs(
                &Filter::new()
                    .address(self.dao())
                    .event_signature(topic)
                    .from_block(0),
            )
            .await
            .expect("eth_getLogs")
    }

    /// Hashes of the transactions behind the devnet's nodes' `VoteCast` logs.
    pub async fn vote_cast_tx_hashes(&self) -> Vec<alloy::primitives::B256> {
        let nodes = self.node_addresses();
        self.vote_cast_logs()
            .await
            .iter()
            .filter(|l| nodes.contains(&Address::from_word(l.topics()[2])))
            .filter_map(|l| l.transaction_hash)
            .collect()
    }

    async fn vote_cast_events_of(&self, nodes: &[Address]) -> Vec<(U256, Address, bool)> {
        let logs = self.vote_cast_logs().await;
        logs.iter()
            .map(|log| {
                let topics = log.topics();
                let proposal = U256::from_be_bytes(topics[1].0);
                let voter = Address::from_word(topics[2]);
                let support = log.data().data.get(31).copied() == Some(1);
                (proposal, voter, support)
            })
            .filter(|(_, voter, _)| nodes.contains(voter))
            .collect()
    }

    /// Ids of the devnet's proposals in one category (`open`, `expired`, `executed`, `canceled`).
    pub fn proposal_ids(&self, category: &str) -> Vec<U256> {
        self.devnet["proposals"][category]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64())
                    .map(U256::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Confirmed ledger rows with their decision: (proposal, voter) → decision.
    pub fn confirmed_decisions(&self) -> HashMap<(U256, Address), String> {
        let conn = rusqlite::Connection::open_with_flags(
            self.ledger(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open ledger read-only");
        let mut stmt = conn
            .prepare("SELECT proposal_id, voter, decision FROM votes WHERE state = 'confirmed'")
            .expect("query votes");
        stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .expect("rows")
        .map(|r| {
            let (p, v, d) = r.expect("row");
            (
                (p.parse().expect("proposal id"), v.parse().expect("voter")),
                d,
            )
        })
        .collect()
    }

    /// Rows of the ledger as (proposal id, voter, state).
    pub fn ledger_rows(&self) -> Vec<(String, String, String)> {
        let conn = rusqlite::Connection::open_with_flags(
            self.ledger(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open ledger read-only");
        let mut stmt = conn
            .prepare("SELECT proposal_id, voter, state FROM votes ORDER BY id")
            .expect("query votes");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("rows")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows")
    }

    pub fn count_in_state(&self, state: &str) -> usize {
        self.ledger_rows().iter().filter(|r| r.2 == state).count()
    }
}

fn wait_for(path: &Path, within: Duration, d: &Daemon) {
    let deadline = std::time::Instant::now() + within;
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "control socket {} did not appear: {}",
            path.display(),
            d.output()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}
