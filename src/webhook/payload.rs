//! Request bodies per receiver kind.

use serde_json::{Value, json};

use super::event::Event;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    Slack,
    Discord,
    /// Telegram's `sendMessage` needs the chat to post into.
    Telegram {
        chat_id: String,
    },
    Generic,
}

pub fn render(kind: &TargetKind, event: &Event) -> Value {
    match kind {
        TargetKind::Slack => json!({ "text": event.text() }),
        TargetKind::Discord => json!({ "content": event.text() }),
        TargetKind::Telegram { chat_id } => json!({ "chat_id": chat_id, "text": event.text() }),
        TargetKind::Generic => {
            let mut body = json!({
            "event": event.kind.as_str(),
            "round_id": event.round_id,
            "node": event.node,
            "proposal": event.proposal,
            "tx_hash": event.tx_hash,
            "reason": event.reason,
            "time": event.time,
            });
            // Only a daemon of several DAOs names them: one DAO's payload
            // stays as it was.
            if let (Some(dao), Some(map)) = (&event.dao, body.as_object_mut()) {
                map.insert("dao".into(), Value::String(dao.clone()));
            }
            body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::EventKind;

    fn sent() -> Event {
        Event {
            kind: EventKind::VoteSent,
            dao: None,
            round_id: Some(3),
            node: Some("n1".into()),
            proposal: Some("12".into()),
            tx_hash: Some("0xab".into()),
            reason: None,
            time: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn chat_kinds_use_their_field_names() {
        let e = sent();
        assert_eq!(render(&TargetKind::Slack, &e)["text"], e.text());
        assert_eq!(render(&TargetKind::Discord, &e)["content"], e.text());
        let t = render(
            &TargetKind::Telegram {
                chat_id: "-100".into(),
            },
            &e,
        );
        assert_eq!(t["chat_id"], "-100");
        assert_eq!(t["text"], e.text());
    }

    #[test]
    fn generic_is_structured() {
        let v = render(&TargetKind::Generic, &sent());
        assert_eq!(v["event"], "vote_sent");
        assert_eq!(v["round_id"], 3);
        assert_eq!(v["tx_hash"], "0xab");
        assert!(v["reason"].is_null());
        // One DAO's payload has no `dao` key; several DAOs' name theirs.
        assert!(v.get("dao").is_none());
        let many = Event {
            dao: Some("dloop".into()),
            ..sent()
        };
        assert_eq!(render(&TargetKind::Generic, &many)["dao"], "dloop");
    }
}
