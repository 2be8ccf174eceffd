//! A whole round against an OpenZeppelin Governor (compiled from the repo's
//! fixtures for this run), through the real daemon and `govnode round`: a
//! `rules` strategy votes For, Against and Abstain by description; the votes
//! land with their reasons, `hasVoted` is true, the tallies carry each
//! node's delegated weight, and a second round sends nothing.

#[path = "support/chain_fixture.rs"]
mod chain_fixture;
#[allow(dead_code)]
mod support {
    pub mod daemon;
}

use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use chain_fixture::{Chain, GovTokenApi, TestGovernorApi, build_governor, load_artifact};
use support::daemon::{Daemon, ack_key, binary, free_port};

alloy::sol! {
    #[sol(rpc)]
    interface GovernorReads {
        function hasVoted(uint256 proposalId, address account) external view returns (bool);
    }
    event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason);
}

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10).pow(U256::from(18))
}

#[tokio::test(flavor = "multi_thread")]
async fn governor_round_votes_for_against_and_abstain_with_reasons() {
    let artifacts = build_governor();
    let chain = Chain::start().await;
    let token_code = load_artifact(&artifacts.path().join("GovToken.json")).bytecode;
    let gov_code = load_artifact(&artifacts.path().join("TestGovernor.json")).bytecode;
    let token = chain
        .deploy(
            &token_code,
            &("Gov".to_string(), "GOV".to_string()).abi_encode_params(),
        )
        .await;
    // Voting delay 1 block, period 50 blocks, quorum 4 %.
    let governor = chain
        .deploy(
            &gov_code,
            &(token, U256::from(1), U256::from(50), U256::from(4)).abi_encode_params(),
        )
        .await;
    let t = GovTokenApi::new(token, &chain.provider);
    let weights = [(1usize, 100u64), (2, 60), (3, 30)];
    for (i, amount) in weights {
        let who = chain.account(i);
        t.mint(who, tokens(amount))
            .from(chain.account(0))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        t.delegate(who)
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
    for description in ["Fund the audit A", "Fund the party B", "Fund the study C"] {
        let targets = vec![token];
        let values = vec![U256::ZERO];
        let calldatas = vec![Bytes::from(GovTokenApi::nameCall {}.abi_encode())];
        gov.propose(
            targets.clone(),
            values.clone(),
            calldatas.clone(),
            description.into(),
        )
        .from(chain.account(1))
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

    let work = tempfile::tempdir().unwrap();
    let mut nodes = String::new();
    for (i, _) in weights {
        let key = format!(
            "0x{}",
            alloy::primitives::hex::encode(chain.signers[i].to_bytes())
        );
        std::fs::write(work.path().join(format!("node{i}.key")), key).unwrap();
        nodes.push_str(&format!(
            "  - name: node-{i}\n    key_file: node{i}.key\n    strategy: by-letter\n"
        ));
    }
    let port = free_port();
    let config = format!(
        r#"chain: {{ id: 31337 }}
rpc:
  endpoints:
    - name: local
      url: {url}
dao:
  kind: governor
  address: "{governor}"
  start_block: 0
  vote_margin_blocks: 2
nodes:
{nodes}strategies:
  by-letter:
    rules:
      - name: audits
        match: {{ description_regex: "A$" }}
        vote: for
        reason: audits protect the treasury
      - name: parties
        match: {{ description_regex: "B$" }}
        vote: against
        reason: not a treasury matter
    default:
      vote: abstain
      reason: no opinion on studies
api: {{ listen: "127.0.0.1:{port}" }}
control: {{ socket: control.sock }}
ledger: {{ path: ledger.sqlite }}
log: {{ target: stderr }}
"#,
        url = chain.url
    );
    let config_path = work.path().join("config.yaml");
    std::fs::write(&config_path, config).unwrap();
    let mut daemon = Daemon::spawn(&config_path, ([127, 0, 0, 1], port).into(), &[]);
    daemon.wait_live(std::time::Duration::from_secs(10));
    while !work.path().join("control.sock").exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let round = || {
        let out = std::process::Command::new(binary())
            .args(["round", "--config"])
            .arg(&config_path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // The nodes delegated (and node 1 proposed) from their own addresses
    // before the daemon ran: transactions its ledger never signed, which the
    // operator acknowledges, or the nodes stay paused.
    for (i, _) in weights {
        let (code, out) = ack_key(&config_path, &format!("node-{i}"));
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("resumes"), "node-{i} was paused: {out}");
    }
    let (code, out) = round();
    assert_eq!(code, Some(0), "{out}\n{}", daemon.output());
    assert!(
        out.contains("3 open proposal(s), 9 decided, 9 confirmed"),
        "{out}"
    );

    // hasVoted for every (node, proposal); tallies carry the delegated weights.
    let reads = GovernorReads::new(governor, &chain.provider);
    for id in &ids {
        for (i, _) in weights {
            assert!(reads.hasVoted(*id, chain.account(i)).call().await.unwrap());
        }
    }
    let total = tokens(190);
    let tally = |id: U256| {
        let gov = TestGovernorApi::new(governor, &chain.provider);
        async move { gov.proposalVotes(id).call().await.unwrap() }
    };
    let a = tally(ids[0]).await;
    assert_eq!(
        (a.forVotes, a.againstVotes, a.abstainVotes),
        (total, U256::ZERO, U256::ZERO)
    );
    let b = tally(ids[1]).await;
    assert_eq!(
        (b.forVotes, b.againstVotes, b.abstainVotes),
        (U256::ZERO, total, U256::ZERO)
    );
    let c = tally(ids[2]).await;
    assert_eq!(
        (c.forVotes, c.againstVotes, c.abstainVotes),
        (U256::ZERO, U256::ZERO, total)
    );

    // The reasons are on chain, in the VoteCast events.
    let vote_casts = || async {
        chain
            .provider
            .get_logs(
                &Filter::new()
                    .address(governor)
                    .event_signature(VoteCast::SIGNATURE_HASH)
                    .from_block(0),
            )
            .await
            .unwrap()
    };
    let logs = vote_casts().await;
    assert_eq!(logs.len(), 9);
    let mut reasons: Vec<(Address, String)> = logs
        .iter()
        .map(|l| {
            let ev = l.log_decode::<VoteCast>().unwrap();
            (ev.inner.voter, ev.inner.reason.clone())
        })
        .collect();
    reasons.sort();
    for reason in [
        "audits protect the treasury",
        "not a treasury matter",
        "no opinion on studies",
    ] {
        assert_eq!(
            reasons.iter().filter(|(_, r)| r == reason).count(),
            3,
            "{reasons:?}"
        );
    }

    // Nothing new: nothing sent.
    let (code, out) = round();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("0 decided"), "{out}");
    let again = vote_casts().await;
    assert_eq!(again.len(), 9, "no second vote");
    // One spelling of the node in every line, so one grep finds them all.
    let log = daemon.output();
    let named: Vec<&str> = log.lines().filter(|l| l.contains("NODE=")).collect();
    assert!(named.iter().any(|l| l.contains("vote confirmed")), "{log}");
    for line in named {
        assert!(!line.contains("NODE=\""), "NODE= quoted: {line}");
    }
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.wait_exit(std::time::Duration::from_secs(25)).code(),
        Some(0)
    );
}
