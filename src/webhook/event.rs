//! The events a round reports to operators.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    VoteSent,
    VoteConfirmed,
    VoteFailed,
    RoundFailed,
    DaoPaused,
    NoVotingPower,
    SpendBudgetReached,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::VoteSent,
        EventKind::VoteConfirmed,
        EventKind::VoteFailed,
        EventKind::RoundFailed,
        EventKind::DaoPaused,
        EventKind::NoVotingPower,
        EventKind::SpendBudgetReached,
    ];

    /// The name used in configuration (`events:`) and in the generic payload.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::VoteSent => "vote_sent",
            EventKind::VoteConfirmed => "vote_confirmed",
            EventKind::VoteFailed => "vote_failed",
            EventKind::RoundFailed => "round_failed",
            EventKind::DaoPaused => "dao_paused",
            EventKind::NoVotingPower => "no_voting_power",
            EventKind::SpendBudgetReached => "spend_budget_reached",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    fn headline(self) -> &'static str {
        match self {
            EventKind::VoteSent => "vote sent",
            EventKind::VoteConfirmed => "vote confirmed",
            EventKind::VoteFailed => "vote failed",
            EventKind::RoundFailed => "round failed",
            EventKind::DaoPaused => "DAO paused",
            EventKind::NoVotingPower => "node without voting power",
            EventKind::SpendBudgetReached => "spend budget reached",
        }
    }
}

/// One notification. Fields that do not apply to a kind stay `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub kind: EventKind,
    /// The DAO (`daos[].name`), when the daemon votes in several; the hub adds it.
    pub dao: Option<String>,
    pub round_id: Option<i64>,
    pub node: Option<String>,
    pub proposal: Option<String>,
    pub tx_hash: Option<String>,
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub time: String,
}

impl Event {
    /// An event of `kind` happening now; the hub adds the round.
    pub fn new(kind: EventKind) -> Event {
        Event {
            kind,
            dao: None,
            round_id: None,
            node: None,
            proposal: None,
            tx_hash: None,
            reason: None,
            time: crate::round::now_rfc3339(),
        }
    }

    pub fn node(mut self, node: &str) -> Event {
        self.node = Some(node.to_owned());
        self
    }

    pub fn proposal(mut self, id: impl std::fmt::Display) -> Event {
        self.proposal = Some(id.to_string());
        self
    }

    pub fn tx(mut self, hash: impl std::fmt::Display) -> Event {
        self.tx_hash = Some(hash.to_string());
        self
    }

    /// Reasons quote chain and RPC errors, which may repeat an endpoint's URL.
    pub fn reason(mut self, reason: &str) -> Event {
        self.reason = Some(crate::telemetry::redact::redact_text(reason, &[]).into_owned());
        self
    }

    /// A one-line human text for chat receivers.
    pub fn text(&self) -> String {
        let mut out = format!("govnode: {}", self.kind.headline());
        let parts = [
            ("DAO", self.dao.clone()),
            ("round", self.round_id.map(|r| r.to_string())),
            ("node", self.node.clone()),
            ("proposal", self.proposal.clone()),
            ("tx", self.tx_hash.clone()),
            ("reason", self.reason.clone()),
        ];
        for (label, value) in parts {
            if let Some(v) = value {
                out.push_str(&format!(" | {label} {v}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("vote-sent"), None);
    }

    #[test]
    fn text_lists_only_known_fields() {
        let e = Event {
            kind: EventKind::VoteFailed,
            dao: None,
            round_id: Some(7),
            node: Some("alice".into()),
            proposal: None,
            tx_hash: None,
            reason: Some("insufficient funds".into()),
            time: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            e.text(),
            "govnode: vote failed | round 7 | node alice | reason insufficient funds"
        );
        let many = Event {
            dao: Some("dloop".into()),
            ..e
        };
        assert!(
            many.text()
                .starts_with("govnode: vote failed | DAO dloop | round 7")
        );
    }
}
