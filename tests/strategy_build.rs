//! Strategies built from configuration files: every node of the example
//! config gets its strategy, the example's declarative rules decide as
//! written, and bad rules are reported by `check-config` with their paths.

use alloy::primitives::{Address, U256};
use govnode::config::{Config, Issues, LoadEnv, Validate, parse};
use govnode::dao::{Proposal, ProposalKind, ProposalStatus, Timepoint, TokenInfo};
use govnode::strategy::{ProposalView, StrategyError, VoteChoice, build};

fn config(text: &str) -> Config {
    let mut issues = Issues::default();
    let c = parse(text, &LoadEnv::default(), &mut issues);
    assert!(issues.is_empty(), "{:?}", issues.into_vec());
    c.expect("config parses")
}

fn example() -> Config {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.yaml");
    config(&std::fs::read_to_string(path).unwrap())
}

/// An AssetDAO proposal of `amount` whole tokens of a `symbol` with 6 decimals.
fn view(kind: ProposalKind, symbol: &str, amount: u64) -> ProposalView {
    let asset = Address::repeat_byte(7);
    let p = Proposal {
        id: U256::from(1),
        kind,
        asset: Some(asset),
        amount: U256::from(amount) * U256::from(1_000_000),
        description: "from the test".into(),
        proposer: Address::ZERO,
        created_at: Timepoint::Timestamp(0),
        deadline: Timepoint::Timestamp(1),
        yes_votes: U256::ZERO,
        no_votes: U256::ZERO,
        abstain_votes: U256::ZERO,
        status: ProposalStatus::Active,
        executed: false,
    };
    let token = TokenInfo {
        address: asset,
        symbol: Some(symbol.into()),
        decimals: Some(6),
    };
    ProposalView::new(&p, Some(&token))
}

#[test]
fn every_example_node_gets_its_strategy() {
    let c = example();
    for node in &c.nodes {
        let s = build(&node.strategy, &c).unwrap();
        assert_eq!(s.name(), node.strategy);
    }
}

#[test]
fn the_example_rules_decide_as_written() {
    let c = example();
    let s = build("stable-only", &c).unwrap();
    let table = [
        (
            ProposalKind::Investment,
            "USDC",
            100_000,
            VoteChoice::For,
            "stablecoin-investments",
        ),
        (
            ProposalKind::Investment,
            "eurt",
            5,
            VoteChoice::For,
            "stablecoin-investments",
        ),
        (
            ProposalKind::Investment,
            "USDC",
            100_001,
            VoteChoice::Against,
            "large-amounts",
        ),
        (
            ProposalKind::Divestment,
            "WBTC",
            100_000,
            VoteChoice::Against,
            "large-amounts",
        ),
        (
            ProposalKind::Investment,
            "WBTC",
            10,
            VoteChoice::Skip,
            "default",
        ),
    ];
    for (kind, symbol, amount, vote, rule) in table {
        let d = s.decide(&view(kind, symbol, amount));
        assert_eq!(
            (d.vote, d.rule.as_deref()),
            (vote, Some(rule)),
            "{kind:?} {symbol} {amount}"
        );
    }
}

#[test]
fn built_ins_need_no_configuration() {
    let c = example();
    let v = view(ProposalKind::Investment, "USDC", 500);
    assert_eq!(
        build("conservative", &c).unwrap().decide(&v).vote,
        VoteChoice::For
    );
    assert_eq!(
        build("aggressive", &c).unwrap().decide(&v).vote,
        VoteChoice::For
    );
    let err = build("yolo", &c).unwrap_err();
    assert!(matches!(err, StrategyError::Unknown { .. }), "{err}");
}

#[test]
fn bad_rules_are_reported_with_their_paths() {
    let text = r#"
chain: { id: 31337 }
rpc: { endpoints: [ { name: local, url: "http://127.0.0.1:8545" } ] }
dao: { kind: assetdao, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" }
strategies:
  picky:
    rules:
      - match: { proposal_type: [investment, invest], amount_min: "1e3" }
        vote: for
        reason: r
      - match: { description_regex: "(", amount_min: "5", amount_max: "1" }
        vote: against
        reason: r
    default: { vote: skip, reason: none }
"#;
    let c = config(text);
    let mut issues = Issues::default();
    c.validate("", &mut issues);
    let paths: Vec<String> = issues.iter().map(|i| i.path.clone()).collect();
    for want in [
        "strategies.picky.rules[0].match.proposal_type[1]",
        "strategies.picky.rules[0].match.amount_min",
        "strategies.picky.rules[1].match.amount_max",
        "strategies.picky.rules[1].match.description_regex",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing in {paths:?}"
        );
    }
    let err = build("picky", &c).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StrategyError::InvalidRules { .. }));
    assert!(text.contains("rules[0].match.amount_min"), "{text}");
}
