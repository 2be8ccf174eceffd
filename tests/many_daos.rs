//! One daemon, three DAOs on two chains: DLoop's AssetDAO twice on one anvil
//! (the devnet's test contract, set up twice by the real `govnode devnet
//! --setup-only`, the same node wallets voting in both) and an OpenZeppelin
//! Governor on a second anvil with another chain id. One `govnode round`
//! votes in all three side by side; the chains' own `VoteCast` logs show
//! each (proposal, voter) exactly once, per DAO. `--dao` runs one DAO only,
//! and a chain that is down fails its DAO's round while the other chain's
//! DAOs vote.

#[path = "support/chain_fixture.rs"]
mod chain_fixture;
#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::collections::HashMap;
use std::process::Command;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolValue};
use chain_fixture::{Chain, GovTokenApi, TestGovernorApi, build_governor, load_artifact};
use support::daemon::{ack_key, binary, free_port, govnode};
use support::round_env::RoundEnv;

/// `VoteCast(uint256 indexed proposalId, address indexed voter, bool support, uint256 power)`:
/// AssetDAO's event, counted per (proposal, voter).
async fn assetdao_votes(url: &str, dao: Address) -> HashMap<(U256, Address), usize> {
    let logs = logs(
        url,
        dao,
        keccak256("VoteCast(uint256,address,bool,uint256)"),
    )
    .await;
    let mut counts = HashMap::new();
    for log in logs {
        let t = log.topics();
        *counts
            .entry((U256::from_be_bytes(t[1].0), Address::from_word(t[2])))
            .or_insert(0) += 1;
    }
    counts
}

/// The Governor's `VoteCast(address indexed voter, uint256 proposalId, …)`.
async fn governor_votes(url: &str, governor: Address) -> HashMap<(U256, Address), usize> {
    let topic = keccak256("VoteCast(address,uint256,uint8,uint256,string)");
    let mut counts = HashMap::new();
    for log in logs(url, governor, topic).await {
        let voter = Address::from_word(log.topics()[1]);
        let proposal = U256::from_be_slice(&log.data().data[..32]);
        *counts.entry((proposal, voter)).or_insert(0) += 1;
    }
    counts
}

async fn logs(url: &str, address: Address, topic: B256) -> Vec<alloy::rpc::types::Log> {
    let provider = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    provider
        .get_logs(
            &Filter::new()
                .address(address)
                .event_signature(topic)
                .from_block(0),
        )
        .await
        .expect("eth_getLogs")
}

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10).pow(U256::from(18))
}

/// A second devnet AssetDAO on the chain of `env`, with the same nodes.
fn second_assetdao(env: &RoundEnv, proposals: u32) -> (Address, Vec<U256>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(binary())
        .args([
            "devnet",
            "--setup-only",
            "--rpc-url",
            &env.anvil.url(),
            "--dir",
        ])
        .arg(dir.path())
        .args(["--proposals", &proposals.to_string(), "--nodes", "2"])
        .output()
        .expect("run govnode devnet");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let devnet: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("devnet.json")).expect("devnet.json"),
    )
    .expect("JSON");
    let dao = devnet["asset_dao"]
        .as_str()
        .expect("asset_dao")
        .parse()
        .expect("address");
    let open = devnet["proposals"]["open"]
        .as_array()
        .expect("open proposals")
        .iter()
        .filter_map(|v| v.as_u64())
        .map(U256::from)
        .collect();
    (dao, open)
}

/// A Governor on `chain` where `voters` hold delegated votes, with
/// `proposals` active proposals; returns it and their ids.
async fn governor_with_proposals(
    chain: &Chain,
    voters: &[alloy::signers::local::PrivateKeySigner],
    proposals: usize,
) -> (Address, Vec<U256>) {
    let artifacts = build_governor();
    let token_code = load_artifact(&artifacts.path().join("GovToken.json")).bytecode;
    let gov_code = load_artifact(&artifacts.path().join("TestGovernor.json")).bytecode;
    let token = chain
        .deploy(
            &token_code,
            &("Gov".to_string(), "GOV".to_string()).abi_encode_params(),
        )
        .await;
    // Voting delay 1 block, period 200 blocks, quorum 4 %.
    let governor = chain
        .deploy(
            &gov_code,
            &(token, U256::from(1), U256::from(200), U256::from(4)).abi_encode_params(),
        )
        .await;
    let t = GovTokenApi::new(token, &chain.provider);
    let mut wallet = EthereumWallet::new(chain.signers[0].clone());
    for v in voters {
        wallet.register_signer(v.clone());
    }
    let as_voters = ProviderBuilder::new()
        .wallet(wallet)
        .connect_http(chain.url.parse().expect("url"));
    for v in voters {
        let who = v.address();
        chain
            .provider
            .raw_request::<_, serde_json::Value>(
                "anvil_setBalance".into(),
                (who, U256::from(10).pow(U256::from(20))),
            )
            .await
            .expect("fund the node");
        t.mint(who, tokens(50))
            .from(chain.account(0))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        GovTokenApi::new(token, &as_voters)
            .delegate(who)
            .from(who)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let gov = TestGovernorApi::new(governor, &chain.provider);
    let mut ids = Vec::new();
    for i in 0..proposals {
        let description = format!("Proposal {i}");
        let (targets, values) = (vec![token], vec![U256::ZERO]);
        let calldatas = vec![Bytes::from(GovTokenApi::nameCall {}.abi_encode())];
        gov.propose(
            targets.clone(),
            values.clone(),
            calldatas.clone(),
            description.clone(),
        )
        .from(chain.account(0))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
        ids.push(
            gov.hashProposal(
                targets,
                values,
                calldatas,
                keccak256(description.as_bytes()),
            )
            .call()
            .await
            .unwrap(),
        );
    }
    chain.mine(2).await; // past the voting delay: Active
    (governor, ids)
}

/// Each of `voters` voted once on each of `proposals`, and on nothing else.
/// (The devnet's deployer votes too, on the proposal it executes: not ours.)
fn each_once(counts: &HashMap<(U256, Address), usize>, proposals: &[U256], voters: &[Address]) {
    let counts: HashMap<_, _> = counts
        .iter()
        .filter(|((_, v), _)| voters.contains(v))
        .map(|(k, n)| (*k, *n))
        .collect();
    for p in proposals {
        for v in voters {
            assert_eq!(
                counts.get(&(*p, *v)),
                Some(&1),
                "proposal {p} voter {v}: {counts:?}"
            );
        }
    }
    assert_eq!(counts.len(), proposals.len() * voters.len(), "{counts:?}");
}

/// Two chains, three DAOs, two nodes voting in all of them, and the
/// daemon's configuration.
struct Fixture {
    alpha_env: RoundEnv,
    alpha: Address,
    alpha_open: Vec<U256>,
    beta: Address,
    beta_open: Vec<U256>,
    l2: Chain,
    gov: Address,
    gov_open: Vec<U256>,
    voters: Vec<Address>,
    names: [String; 2],
    path: std::path::PathBuf,
    port: u16,
}

impl Fixture {
    fn socket(&self) -> std::path::PathBuf {
        self.alpha_env.dir.path().join("many.sock")
    }

    fn daemon(&self, envs: &[(&str, &str)]) -> support::daemon::Daemon {
        self.alpha_env.daemon_at(
            &self.path,
            &self.socket(),
            ([127, 0, 0, 1], self.port).into(),
            envs,
        )
    }

    /// Every DAO's votes, each pair once.
    async fn each_pair_once(&self) {
        let l1 = self.alpha_env.anvil.url();
        each_once(
            &assetdao_votes(&l1, self.alpha).await,
            &self.alpha_open,
            &self.voters,
        );
        each_once(
            &assetdao_votes(&l1, self.beta).await,
            &self.beta_open,
            &self.voters,
        );
        each_once(
            &governor_votes(&self.l2.url, self.gov).await,
            &self.gov_open,
            &self.voters,
        );
    }
}

async fn fixture() -> Fixture {
    let alpha_env = RoundEnv::new(3, 2).await;
    let alpha = alpha_env.dao();
    let alpha_open = alpha_env.proposal_ids("open");
    let (beta, beta_open) = second_assetdao(&alpha_env, 2);
    let l2 = Chain::start_with_chain_id(31338).await;
    let keys = [alpha_env.node_key(0), alpha_env.node_key(1)];
    let (gov, gov_open) = governor_with_proposals(&l2, &keys, 2).await;
    let voters: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let names = [alpha_env.node_name(0), alpha_env.node_name(1)];

    let port = free_port();
    let voter_list = names
        .iter()
        .map(|n| format!("      - {{ node: {n}, strategy: everything }}\n"))
        .collect::<String>();
    let node_list = names
        .iter()
        .map(|n| format!("  - {{ name: {n}, key_file: keys/{n} }}\n"))
        .collect::<String>();
    let config = format!(
        "chains:
  - name: l1
    id: 31337
    rpc:
      endpoints:
        - {{ name: l1-local, url: \"{l1}\", max_rps: 1000, burst: 2000 }}
      retry: {{ max_attempts: 2, call_deadline: 5s }}
  - name: l2
    id: 31338
    rpc:
      endpoints:
        - {{ name: l2-local, url: \"{l2}\", max_rps: 1000, burst: 2000, timeout: 2s }}
      retry: {{ max_attempts: 2, call_deadline: 5s }}
daos:
  - name: alpha
    chain: l1
    kind: assetdao
    address: \"{alpha}\"
    voters:
{voter_list}  - name: beta
    chain: l1
    kind: assetdao
    address: \"{beta}\"
    voters:
{voter_list}  - name: gov
    chain: l2
    kind: governor
    address: \"{gov}\"
    start_block: 0
    vote_margin_blocks: 2
    voters:
{voter_list}nodes:
{node_list}strategies:
  everything:
    rules: []
    default: {{ vote: for, reason: test votes on everything }}
api: {{ listen: \"127.0.0.1:{port}\" }}
control: {{ socket: many.sock }}
ledger: {{ path: many.sqlite }}
round: {{ receipt_poll: 100ms, deadline: 15s }}
log: {{ target: stderr }}
",
        l1 = alpha_env.anvil.url(),
        l2 = l2.url,
    );
    let path = alpha_env.dir.path().join("many.yaml");
    std::fs::write(&path, config).expect("write config");
    let (code, out) = govnode(&["check-config"], &path);
    assert_eq!(code, 0, "{out}");
    Fixture {
        alpha_env,
        alpha,
        alpha_open,
        beta,
        beta_open,
        l2,
        gov,
        gov_open,
        voters,
        names,
        path,
        port,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_daemon_votes_in_three_daos_on_two_chains_exactly_once() {
    let mut f = fixture().await;
    let mut daemon = f.daemon(&[]);
    // The devnet set-ups and the Governor's delegations sent from the node
    // wallets: transactions this new ledger never signed.
    for n in &f.names {
        let (code, out) = ack_key(&f.path, n);
        assert_eq!(code, 0, "{out}\n{}", daemon.output());
    }

    let (code, out) = govnode(&["round"], &f.path);
    assert_eq!(code, 0, "{out}\n{}", daemon.output());
    for dao in ["alpha", "beta", "gov"] {
        assert!(out.contains(&format!("DAO {dao}: ")), "{out}");
    }
    let l1 = f.alpha_env.anvil.url();
    f.each_pair_once().await;

    // Again: every vote is in the ledger, nothing is sent twice.
    let (code, out) = govnode(&["round"], &f.path);
    assert_eq!(code, 0, "{out}");
    f.each_pair_once().await;

    // `--dao` runs only the DAO named; an unknown name is refused.
    let (fresh, _) = f
        .alpha_env
        .create_proposal("Only alpha votes on this")
        .await;
    let (code, out) = govnode(&["round", "--dao", "beta", "--json"], &f.path);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("\"alpha\""), "{out}");
    each_once(
        &assetdao_votes(&l1, f.alpha).await,
        &f.alpha_open,
        &f.voters,
    );
    let (code, out) = govnode(&["round", "--dao", "nope"], &f.path);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("no DAO \"nope\""), "{out}");

    // Chain l2 goes down: its DAO's round fails, l1's DAOs still vote.
    f.l2.anvil.child_mut().kill().expect("kill the l2 anvil");
    let started = std::time::Instant::now();
    let (code, out) = govnode(&["round"], &f.path);
    let took = started.elapsed();
    assert_eq!(code, 1, "the gov round cannot succeed: {out}");
    let alpha_votes = assetdao_votes(&l1, f.alpha).await;
    for v in &f.voters {
        assert_eq!(alpha_votes.get(&(fresh, *v)), Some(&1), "{out}");
    }
    assert!(out.contains("DAO alpha: "), "{out}");
    eprintln!("round with one chain down took {took:?}: {out}");

    // The API: the DAOs, each one's routes under its name, and the
    // unprefixed DAO routes refused as ambiguous.
    let daos = http_get(f.port, "/api/v1/daos").await;
    for name in ["\"alpha\"", "\"beta\"", "\"gov\"", "31338"] {
        assert!(daos.contains(name), "{daos}");
    }
    let rounds = http_get(f.port, "/api/v1/daos/gov/rounds").await;
    assert!(rounds.starts_with("HTTP/1.1 200"), "{rounds}");
    let status = http_get(f.port, "/api/v1/daos/beta/status").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(
        status.to_lowercase().contains(&format!("{:#x}", f.beta)),
        "{status}"
    );
    let ambiguous = http_get(f.port, "/api/v1/rounds").await;
    assert!(ambiguous.starts_with("HTTP/1.1 404"), "{ambiguous}");
    assert!(ambiguous.contains("dao_required"), "{ambiguous}");
    let unknown = http_get(f.port, "/api/v1/daos/nope/status").await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");

    // The status page has a part per DAO, each with its own sections.
    let page = http_get(f.port, "/status").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for name in ["alpha", "beta", "gov"] {
        assert!(
            page.contains(&format!("<h2 id=\"dao-{name}\">DAO {name}</h2>")),
            "{page}"
        );
        assert!(page.contains(&format!("{name}: Recent rounds")), "{page}");
    }

    // The metrics carry each DAO's and chain's name.
    let metrics = http_get(f.port, "/metrics").await;
    for label in [
        "dao=\"alpha\"",
        "dao=\"beta\"",
        "dao=\"gov\"",
        "chain=\"l1\"",
        "chain=\"l2\"",
    ] {
        assert!(metrics.contains(label), "{label} missing from /metrics");
    }
    assert_eq!(metrics.matches("# TYPE govnode_rounds_total ").count(), 1);
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(std::time::Duration::from_secs(30));
    assert!(status.success(), "{}", daemon.output());
}

/// `GET path` over plain HTTP/1.1: the whole answer, status line first.
async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).await.expect("read");
    body
}

/// Rows of the daemon's ledger that are signed (sent or not) or beyond.
fn sent_rows(ledger: &std::path::Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(
        "SELECT count(*) FROM votes WHERE state IN ('signed', 'sent', 'confirmed')",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

/// SIGKILL while the three DAOs' rounds run side by side (the process's
/// third broadcast and every later one held, so the rounds stop with votes
/// signed but unsent, and one DAO waits for the shared wallets): after a
/// restart every DAO's votes land, each (proposal, voter) once, the nonces
/// the killed rounds used included.
#[tokio::test(flavor = "multi_thread")]
async fn a_kill_9_during_three_daos_rounds_loses_and_repeats_nothing() {
    let f = fixture().await;
    let mut daemon = f.daemon(&[("FAILPOINTS", "round-after-broadcast=2*off->sleep(600000)")]);
    for n in &f.names {
        let (code, out) = ack_key(&f.path, n);
        assert_eq!(code, 0, "{out}\n{}", daemon.output());
    }
    let trigger = Command::new(binary())
        .args(["round", "--config"])
        .arg(&f.path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn govnode round");
    let ledger = f.alpha_env.dir.path().join("many.sqlite");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sent_rows(&ledger) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no vote was sent: {}",
            daemon.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(std::time::Duration::from_secs(10));
    let mut trigger = trigger;
    let _ = trigger.wait();
    drop(daemon);

    let _daemon = f.daemon(&[]);
    let mut last = String::new();
    let mut ok = false;
    for _ in 0..3 {
        let (code, out) = govnode(&["round"], &f.path);
        last = out;
        if code == 0 {
            ok = true;
            break;
        }
    }
    assert!(ok, "after the kill, rounds of every DAO succeed: {last}");
    f.each_pair_once().await;
}
