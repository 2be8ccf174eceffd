use alloy::primitives::{Address, address};

use super::super::builtin::fixtures::{ASSET, view};
use super::super::config::{RuleMatch, RuleOutcome};
use super::*;
use ProposalKind::*;
use VoteChoice::*;

const ALICE: Address = address!("00000000000000000000000000000000000a11ce");

fn rule(name: &str, matcher: RuleMatch, vote: VoteChoice) -> RuleConfig {
    RuleConfig {
        name: Some(name.into()),
        matcher,
        vote,
        reason: format!("because {name}"),
    }
}

fn strategy(rules: Vec<RuleConfig>) -> RulesStrategy {
    let config = RulesStrategyConfig {
        rules,
        default: RuleOutcome {
            vote: Skip,
            reason: "no rule".into(),
        },
    };
    RulesStrategy::compile("test", &config).unwrap()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Each condition alone: which views it accepts and which it rejects.
#[test]
fn each_condition_matches_exactly_its_views() {
    type Case = (RuleMatch, Vec<(ProposalView, bool)>);
    let with = |f: &dyn Fn(&mut ProposalView)| {
        let mut v = view(Investment, Some("USDC"), "500");
        f(&mut v);
        v
    };
    let cases: Vec<Case> = vec![
        (
            RuleMatch {
                proposal_type: strs(&["divestment", "other"]),
                ..Default::default()
            },
            vec![
                (view(Divestment, Some("USDC"), "1"), true),
                (view(Other, None, "0"), true),
                (view(Investment, Some("USDC"), "1"), false),
            ],
        ),
        (
            RuleMatch {
                asset_symbol: strs(&["usdc", "EURT"]),
                ..Default::default()
            },
            vec![
                (view(Investment, Some("USDC"), "1"), true),
                (view(Investment, Some("eurt"), "1"), true),
                (view(Investment, Some("USDT"), "1"), false),
                (view(Investment, None, "1"), false),
            ],
        ),
        (
            RuleMatch {
                asset_address: strs(&[&ASSET.to_string()]),
                ..Default::default()
            },
            vec![
                (view(Investment, None, "1"), true),
                (with(&|v| v.asset = None), false),
                (with(&|v| v.asset = Some(ALICE)), false),
            ],
        ),
        (
            RuleMatch {
                amount_min: Some("100".into()),
                amount_max: Some("1000.5".into()),
                ..Default::default()
            },
            vec![
                (view(Investment, Some("X"), "100"), true),
                (view(Investment, Some("X"), "1000.5"), true),
                (view(Investment, Some("X"), "99.999"), false),
                (view(Investment, Some("X"), "1000.51"), false),
                (view(Investment, Some("X"), "unknown"), false),
            ],
        ),
        (
            RuleMatch {
                description_regex: Some("(?i)treasury".into()),
                ..Default::default()
            },
            vec![
                (with(&|v| v.description = "Grow the Treasury".into()), true),
                (with(&|v| v.description = "grow".into()), false),
            ],
        ),
        (
            RuleMatch {
                proposer: strs(&["0x00000000000000000000000000000000000a11ce"]),
                ..Default::default()
            },
            vec![
                (with(&|v| v.proposer = ALICE), true),
                (with(&|v| v.proposer = Address::ZERO), false),
            ],
        ),
        (RuleMatch::default(), vec![(view(Other, None, "x"), true)]),
    ];
    for (i, (matcher, views)) in cases.into_iter().enumerate() {
        let s = strategy(vec![rule("r", matcher, For)]);
        for (v, want) in views {
            let got = s.decide(&v).vote == For;
            assert_eq!(got, want, "case {i}: {v:?}");
        }
    }
}

#[test]
fn all_conditions_must_hold() {
    let s = strategy(vec![rule(
        "small-stable-investment",
        RuleMatch {
            proposal_type: strs(&["investment"]),
            asset_symbol: strs(&["USDC"]),
            amount_max: Some("100000".into()),
            ..Default::default()
        },
        For,
    )]);
    let table = [
        (Investment, Some("USDC"), "100000", For),
        (Divestment, Some("USDC"), "100000", Skip),
        (Investment, Some("WBTC"), "100000", Skip),
        (Investment, Some("USDC"), "100001", Skip),
    ];
    for (kind, symbol, amount, want) in table {
        assert_eq!(s.decide(&view(kind, symbol, amount)).vote, want);
    }
}

#[test]
fn first_match_wins_and_default_decides_the_rest() {
    let s = strategy(vec![
        rule(
            "big",
            RuleMatch {
                amount_min: Some("1000".into()),
                ..Default::default()
            },
            Against,
        ),
        rule(
            "stable",
            RuleMatch {
                asset_symbol: strs(&["USDC"]),
                ..Default::default()
            },
            For,
        ),
        RuleConfig {
            name: None,
            matcher: RuleMatch {
                proposal_type: strs(&["divestment"]),
                ..Default::default()
            },
            vote: Abstain,
            reason: "unnamed".into(),
        },
    ]);
    let table = [
        (
            Investment,
            Some("USDC"),
            "5000",
            Against,
            "big",
            "because big",
        ),
        (
            Investment,
            Some("USDC"),
            "5",
            For,
            "stable",
            "because stable",
        ),
        (
            Divestment,
            Some("WBTC"),
            "5",
            Abstain,
            "rules[2]",
            "unnamed",
        ),
        (Investment, Some("WBTC"), "5", Skip, "default", "no rule"),
    ];
    for (kind, symbol, amount, vote, label, reason) in table {
        let d = s.decide(&view(kind, symbol, amount));
        assert_eq!(d.vote, vote);
        assert_eq!(d.rule.as_deref(), Some(label));
        assert_eq!(d.reason, reason);
    }
}

#[test]
fn check_reports_every_problem_with_its_path() {
    let config = RulesStrategyConfig {
        rules: vec![
            rule(
                "a",
                RuleMatch {
                    proposal_type: strs(&["investment", "invest"]),
                    asset_address: strs(&["0x12"]),
                    amount_min: Some("1e5".into()),
                    ..Default::default()
                },
                For,
            ),
            rule(
                "b",
                RuleMatch {
                    amount_min: Some("10".into()),
                    amount_max: Some("9".into()),
                    description_regex: Some("(".into()),
                    proposer: strs(&["alice"]),
                    ..Default::default()
                },
                For,
            ),
        ],
        default: RuleOutcome {
            vote: Skip,
            reason: String::new(),
        },
    };
    let paths: Vec<String> = check(&config).into_iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        [
            "rules[0].match.proposal_type[1]",
            "rules[0].match.asset_address[0]",
            "rules[0].match.amount_min",
            "rules[1].match.proposer[0]",
            "rules[1].match.amount_max",
            "rules[1].match.description_regex",
        ]
    );
    assert!(
        check(&RulesStrategyConfig {
            rules: vec![],
            default: config.default.clone(),
        })
        .is_empty()
    );
}
