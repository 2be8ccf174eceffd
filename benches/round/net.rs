//! A bench chain: a fresh anvil, the test AssetDAO with its proposals and
//! funded node wallets as the real `govnode devnet --setup-only` makes them,
//! and the configuration the daemon runs with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use govnode::devnet::chain::Chain;
use govnode::devnet::contracts::TestAssetDAO;
use govnode::devnet::tx::{Call, Sender};

use crate::anvil::{Anvil, AnvilOptions};

/// How anvil mines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// One block per transaction, at once.
    Auto,
    /// A block every N seconds (`--block-time N`).
    Interval(u64),
}

impl Mining {
    pub fn label(self) -> String {
        match self {
            Mining::Auto => "auto-mining".into(),
            Mining::Interval(s) => format!("--block-time {s}"),
        }
    }
}

/// Which strategies the nodes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategies {
    /// The devnet's mix (conservative, aggressive, rules): some pairs are skipped.
    Devnet,
    /// Every node uses a `rules` strategy that votes `for` on everything.
    AllFor,
}

impl Strategies {
    pub fn label(self) -> &'static str {
        match self {
            Strategies::Devnet => "devnet strategies",
            Strategies::AllFor => "all vote for",
        }
    }
}

/// The name of the bench's vote-everything strategy.
const ALL_FOR: &str = "bench-all-for";

pub struct Net {
    pub anvil: Anvil,
    pub dir: tempfile::TempDir,
    pub devnet: serde_json::Value,
    pub nodes: u32,
}

/// The release `govnode` binary cargo built for this bench.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_govnode")
}

impl Net {
    pub async fn new(proposals: u32, nodes: u32, mining: Mining, strategies: Strategies) -> Net {
        Net::on_chain(
            AnvilOptions::default().chain_id,
            proposals,
            nodes,
            mining,
            strategies,
        )
        .await
    }

    /// [`Net::new`] on an anvil with EIP-155 chain id `chain_id`.
    pub async fn on_chain(
        chain_id: u64,
        proposals: u32,
        nodes: u32,
        mining: Mining,
        strategies: Strategies,
    ) -> Net {
        let anvil = Anvil::start_with(AnvilOptions {
            chain_id,
            block_time: match mining {
                Mining::Auto => None,
                Mining::Interval(s) => Some(s),
            },
            ..AnvilOptions::default()
        })
        .await;
        // On the same file system as a daemon's state directory would be
        // (not tmpfs): the ledger's fsyncs are part of the cost.
        let mut dir = tempfile::Builder::new()
            .prefix("govnode-bench-")
            .tempdir_in(bench_root())
            .expect("bench directory");
        // GOVNODE_BENCH_KEEP=1 keeps each directory (config, ledger, daemon.log).
        if std::env::var_os("GOVNODE_BENCH_KEEP").is_some() {
            dir.disable_cleanup(true);
            println!("  keeping {}", dir.path().display());
        }
        let out = Command::new(binary())
            .args(["devnet", "--setup-only", "--rpc-url", &anvil.url(), "--dir"])
            .arg(dir.path())
            .args(["--proposals", &proposals.to_string()])
            .args(["--nodes", &nodes.to_string()])
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
        let net = Net {
            anvil,
            dir,
            devnet,
            nodes,
        };
        if strategies == Strategies::AllFor {
            net.vote_for_everything();
        }
        net
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

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn dao(&self) -> Address {
        self.address("asset_dao")
    }

    pub fn asset(&self, symbol: &str) -> Address {
        self.devnet["assets"][symbol]
            .as_str()
            .expect("asset in devnet.json")
            .parse()
            .expect("asset address")
    }

    fn address(&self, key: &str) -> Address {
        self.devnet[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in devnet.json"))
            .parse()
            .expect("address")
    }

    /// The node wallets' keys, in node order.
    pub fn node_signers(&self) -> Vec<PrivateKeySigner> {
        (1..=self.nodes as usize)
            .map(govnode::devnet::keys::node_signer)
            .collect()
    }

    /// Rewrites config.yaml so that every node votes `for` on every proposal.
    fn vote_for_everything(&self) {
        let path = self.config();
        let text = std::fs::read_to_string(&path).expect("read config.yaml");
        let mut doc: serde_norway::Value = serde_norway::from_str(&text).expect("config YAML");
        let strategy: serde_norway::Value = serde_norway::from_str(
            "rules: []\ndefault:\n  vote: for\n  reason: the benchmark votes on everything\n",
        )
        .expect("strategy YAML");
        let map = doc.as_mapping_mut().expect("config is a mapping");
        let strategies = map
            .entry("strategies".into())
            .or_insert_with(|| serde_norway::Value::Mapping(Default::default()));
        strategies
            .as_mapping_mut()
            .expect("strategies is a mapping")
            .insert(ALL_FOR.into(), strategy);
        for node in map
            .get_mut("nodes")
            .and_then(|n| n.as_sequence_mut())
            .expect("nodes")
        {
            node.as_mapping_mut()
                .expect("node is a mapping")
                .insert("strategy".into(), ALL_FOR.into());
        }
        std::fs::write(&path, serde_norway::to_string(&doc).expect("YAML")).expect("write config");
    }

    /// Confirmed votes in the ledger per voter (the daemon must be stopped or idle).
    pub fn confirmed_per_voter(&self) -> BTreeMap<Address, usize> {
        let conn = rusqlite::Connection::open_with_flags(
            self.ledger(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open ledger read-only");
        let mut stmt = conn
            .prepare("SELECT voter, count(*) FROM votes WHERE state = 'confirmed' GROUP BY voter")
            .expect("query votes");
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .expect("rows")
            .map(|r| {
                let (voter, n) = r.expect("row");
                (voter.parse().expect("voter address"), n as usize)
            })
            .collect()
    }

    /// Returns right after the chain mines its next block, so that a round
    /// and the floor start at the same point of the block clock.
    pub async fn wait_next_block(&self) {
        let head = |v: serde_json::Value| {
            u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)
                .unwrap_or(0)
        };
        let start = head(
            self.anvil
                .rpc("eth_blockNumber", serde_json::json!([]))
                .await,
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while head(
            self.anvil
                .rpc("eth_blockNumber", serde_json::json!([]))
                .await,
        ) == start
        {
            assert!(std::time::Instant::now() < deadline, "no new block in 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// The highest block any confirmed vote of the ledger landed in.
    pub fn last_vote_block(&self) -> u64 {
        let conn = rusqlite::Connection::open_with_flags(
            self.ledger(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open ledger read-only");
        conn.query_row(
            "SELECT COALESCE(MAX(block_number), 0) FROM votes WHERE state = 'confirmed'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .expect("max block") as u64
    }

    /// Creates `count` more open investment proposals from the deployer; their ids.
    pub async fn create_proposals(&self, count: usize) -> Vec<U256> {
        if count == 0 {
            return Vec::new();
        }
        let chain = Chain::connect(&self.anvil.url()).expect("chain");
        let deployer = govnode::devnet::keys::deployer().expect("deployer key");
        let dao = self.dao();
        let before = govnode::devnet::seed::proposal_count(&chain, dao)
            .await
            .expect("proposal count");
        let usdc = self.asset("USDC");
        let calls = (0..count)
            .map(|i| {
                let input = TestAssetDAO::createProposalCall {
                    proposalType: 0,
                    assetAddress: usdc,
                    amount: U256::from(1_000_000u64 * (i as u64 + 1)),
                    description: format!("bench proposal {i}"),
                };
                Call::new(
                    format!("create bench proposal {i}"),
                    dao,
                    input.abi_encode(),
                )
            })
            .collect();
        let mut sender = Sender::new(chain, deployer).await.expect("sender");
        sender.run(calls).await.expect("create proposals");
        (before + 1..=before + count as u64)
            .map(U256::from)
            .collect()
    }
}

/// Where bench directories go: `GOVNODE_BENCH_DIR`, else `target/bench`
/// (a disk, like a state directory; /tmp may be tmpfs elsewhere).
fn bench_root() -> PathBuf {
    let root = std::env::var_os("GOVNODE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench"));
    std::fs::create_dir_all(&root).expect("create bench root");
    root
}

/// anvil's auto-mining can leave ready transactions in its pool with no block
/// coming (foundry-rs/foundry#10122): seen here with 4,000 votes from 20
/// wallets, where `txpool_status` showed 3,160 pending and the head stood
/// still until the round deadline. While a `Nudger` runs, a pool that holds
/// transactions while no block came for `QUIET` gets one `evm_mine`; how
/// often is printed with the figures. Interval mining needs none.
pub struct Nudger {
    task: tokio::task::JoinHandle<()>,
    nudges: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Nudger {
    const QUIET: std::time::Duration = std::time::Duration::from_millis(250);

    pub fn start(url: String) -> Nudger {
        let nudges = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = nudges.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let rpc = |method: &'static str| {
                let client = client.clone();
                let url = url.clone();
                async move {
                    let reply: serde_json::Value = client
                        .post(&url)
                        .json(&serde_json::json!({"jsonrpc":"2.0","id":1,"method":method,"params":[]}))
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()?;
                    reply.get("result").cloned()
                }
            };
            let mut last_head = None;
            loop {
                tokio::time::sleep(Self::QUIET).await;
                let head = rpc("eth_blockNumber").await;
                let pending = rpc("txpool_status")
                    .await
                    .and_then(|s| s["pending"].as_str().map(str::to_owned))
                    .is_some_and(|p| p != "0x0");
                if pending && head.is_some() && head == last_head {
                    rpc("evm_mine").await;
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                last_head = head;
            }
        });
        Nudger { task, nudges }
    }

    /// Stops it; how many blocks it had to ask for.
    pub fn stop(self) -> u64 {
        self.task.abort();
        self.nudges.load(std::sync::atomic::Ordering::Relaxed)
    }
}
