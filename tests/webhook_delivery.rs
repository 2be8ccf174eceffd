//! Notification delivery against a real HTTP receiver: the body each kind
//! gets, a 500 followed by a 200 is retried, a refused request is not, and a
//! receiver that never answers neither blocks `notify` nor grows the queue
//! past its bound.

mod support {
    pub mod webhook_receiver;
}

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use govnode::chain::Backoff;
use govnode::config::Secret;
use govnode::webhook::deliver::Policy;
use govnode::webhook::metrics::WebhookMetrics;
use govnode::webhook::{Event, EventKind, Target, TargetKind, TargetSpec};
use support::webhook_receiver::{Answer, Receiver};

fn policy(max_attempts: u32) -> Policy {
    Policy {
        timeout: Duration::from_millis(500),
        max_attempts,
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        max_retry_after: Duration::from_secs(1),
    }
}

fn spec(name: &str, kind: TargetKind, url: String, capacity: usize, attempts: u32) -> TargetSpec {
    TargetSpec {
        name: name.into(),
        kind,
        url: Secret::new(url),
        events: HashSet::new(),
        queue_capacity: capacity,
        per_minute: NonZeroU32::new(600).unwrap(),
        policy: policy(attempts),
    }
}

fn event(kind: EventKind) -> Event {
    Event {
        kind,
        dao: None,
        round_id: Some(4),
        node: Some("alice".into()),
        proposal: Some("7".into()),
        tx_hash: Some("0xfeed".into()),
        reason: None,
        time: "2026-01-01T00:00:00Z".into(),
    }
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < until, "condition not met within 10s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn started(spec: TargetSpec) -> (Target, WebhookMetrics) {
    let metrics = WebhookMetrics::register(&prometheus::Registry::new()).unwrap();
    let target = Target::start(spec, reqwest::Client::new(), metrics.clone());
    (target, metrics)
}

fn counter(m: &WebhookMetrics, target: &str, outcome: &str) -> u64 {
    m.deliveries.with_label_values(&[target, outcome]).get()
}

#[tokio::test]
async fn server_error_then_success_is_retried_and_delivered() {
    let rx = Receiver::start(vec![Answer::Status(500), Answer::Status(200)]).await;
    let (t, metrics) = started(spec("ops", TargetKind::Slack, rx.url("T0/B0/secret"), 8, 4));
    t.notify(event(EventKind::VoteConfirmed));
    wait_for(|| counter(&metrics, "ops", "delivered") == 1).await;
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 2, "one failed attempt, one retry: {bodies:?}");
    assert_eq!(bodies[0], bodies[1]);
    let text = bodies[1]["text"].as_str().unwrap();
    assert!(
        text.contains("vote confirmed") && text.contains("0xfeed"),
        "{text}"
    );
}

#[tokio::test]
async fn client_error_is_not_retried() {
    let rx = Receiver::start(vec![Answer::Status(404)]).await;
    let (t, metrics) = started(spec("gen", TargetKind::Generic, rx.url("x"), 8, 4));
    t.notify(event(EventKind::VoteFailed));
    wait_for(|| counter(&metrics, "gen", "rejected") == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["event"], "vote_failed");
    assert_eq!(bodies[0]["round_id"], 4);
}

#[tokio::test]
async fn telegram_and_discord_bodies() {
    let rx = Receiver::start(vec![Answer::Status(200)]).await;
    let (tg, metrics) = started(spec(
        "tg",
        TargetKind::Telegram {
            chat_id: "-1001".into(),
        },
        rx.url("bot123:abc/sendMessage"),
        8,
        1,
    ));
    tg.notify(event(EventKind::DaoPaused));
    wait_for(|| counter(&metrics, "tg", "delivered") == 1).await;
    let dc = Target::start(
        spec("dc", TargetKind::Discord, rx.url("d"), 8, 1),
        reqwest::Client::new(),
        metrics.clone(),
    );
    dc.notify(event(EventKind::RoundFailed));
    wait_for(|| counter(&metrics, "dc", "delivered") == 1).await;
    let bodies = rx.bodies();
    assert_eq!(bodies[0]["chat_id"], "-1001");
    assert!(bodies[0]["text"].as_str().unwrap().contains("DAO paused"));
    assert!(
        bodies[1]["content"]
            .as_str()
            .unwrap()
            .contains("round failed")
    );
}

#[tokio::test]
async fn hung_receiver_never_blocks_notify_and_drops_oldest() {
    let rx = Receiver::start(vec![Answer::Hang]).await;
    let (t, metrics) = started(spec("slow", TargetKind::Generic, rx.url("h"), 4, 3));
    t.notify(event(EventKind::VoteSent));
    wait_for(|| rx.bodies().len() == 1).await;
    let started = Instant::now();
    for _ in 0..100 {
        t.notify(event(EventKind::VoteSent));
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(50),
        "100 notifies took {took:?}"
    );
    assert_eq!(metrics.dropped.with_label_values(&["slow"]).get(), 96);
    assert_eq!(metrics.queue_depth.with_label_values(&["slow"]).get(), 4);
}
