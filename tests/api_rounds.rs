//! Triggering voting rounds over HTTP against a real devnet: the bearer
//! token rule (401 without or with a wrong token), `202` with the round's
//! location, a second trigger joining the running round (one ledger row for
//! both), the running and finished shapes of `/api/v1/rounds/{id}`, the
//! `POST /trigger-voting` alias, `?wait=true`, and what the reads show after
//! the votes landed.
//!
//! Mining is switched off while the first round runs, so its votes wait in
//! the mempool and the round is certainly still running when the second
//! trigger arrives.

mod support {
    #[allow(dead_code)]
    pub mod anvil;
    pub mod daemon;
    pub mod devnet_chain;
    pub mod http_recorder;
}

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use support::devnet_chain::Devnet;
use support::http_recorder::Recorder;

const WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggered_round_votes_once_and_is_reported() {
    let net = Devnet::start(6, 3).await;
    let http = Recorder::default();
    let rounds = net.url("/api/v1/rounds");

    // No token, a wrong one: refused with a Bearer challenge, nothing started.
    for token in [None, Some("not-the-token"), Some("")] {
        let r = http.post(&rounds, token).await;
        assert_eq!(r.status, 401, "token {token:?}: {}", r.text);
        assert!(r.header("www-authenticate").starts_with("Bearer"));
        assert_eq!(r.error_code(), "unauthorized");
    }
    let r = http.post(&net.url("/trigger-voting"), Some("wrong")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        http.get(&rounds).await.json()["rounds"],
        Value::Array(vec![])
    );

    // Started; then joined through the DLoop alias while the votes wait for a block.
    net.automine(false).await;
    let first = http.post(&rounds, Some(&net.token)).await;
    assert_eq!(first.status, 202, "{}", first.text);
    let first = first.json();
    assert_eq!(first["round"], "started");
    let id = first["id"].as_i64().expect("the round id is known at once");
    assert_eq!(first["location"], format!("/api/v1/rounds/{id}"));
    let second = http
        .post(&net.url("/trigger-voting"), Some(&net.token))
        .await;
    assert_eq!(second.status, 202, "{}", second.text);
    assert_eq!(second.header("location"), format!("/api/v1/rounds/{id}"));
    let second = second.json();
    assert_eq!(second["round"], "joined");
    assert_eq!(second["id"], id);

    // Running: the short shape with progress, in the list, the item and the status.
    let round_url = net.url(&format!("/api/v1/rounds/{id}"));
    let running = http
        .poll_json(&round_url, WITHIN, |v| {
            v["progress"]["phase"] == "confirming"
        })
        .await;
    assert_eq!(running["state"], "running");
    assert_eq!(running["trigger"], "api");
    assert!(running["started_at"].is_string());
    let in_flight = running["progress"]["total"].as_u64().unwrap();
    assert!(in_flight > 0, "{running}");
    assert_eq!(
        running["vote_records"].as_array().unwrap().len() as u64,
        in_flight
    );
    let status = http.get(&net.url("/api/v1/status")).await.json();
    assert_eq!(status["round"]["id"], id);
    assert_eq!(status["round"]["phase"], "confirming");
    let list = http.get(&rounds).await.json();
    assert_eq!(list["rounds"][0]["id"], id);
    assert_eq!(list["rounds"][0]["state"], "running");

    // Mine: the round ends with every decided vote confirmed.
    net.automine(true).await;
    let done = http
        .poll_json(&round_url, WITHIN, |v| v["state"] != "running")
        .await;
    assert_eq!(done["state"], "finished", "{done}");
    assert_eq!(done["outcome"], "success", "{done}");
    assert_eq!(done["trigger"], "api");
    assert_eq!(done["id"], id);
    assert_eq!(done["proposals_open"], 6);
    assert_eq!(done["dry_run"], false);
    assert!(done["duration_ms"].is_u64() && done["finished_at"].is_string());
    assert!(done["head_block"].is_u64());
    assert_eq!(done["left"], serde_json::json!([]));
    assert!(done["error"].is_null());
    let votes = &done["votes"];
    let decided = votes["decided"].as_u64().unwrap();
    assert_eq!(decided, in_flight);
    assert_eq!(votes["confirmed"], decided);
    for k in ["failed", "pending", "already_voted"] {
        assert_eq!(votes[k], 0, "{k}: {done}");
    }
    assert_eq!(
        decided + votes["skipped"].as_u64().unwrap(),
        6 * 3,
        "every (node, proposal) pair decided or skipped: {done}"
    );
    let records = done["vote_records"].as_array().unwrap();
    assert_eq!(records.len() as u64, decided);
    for v in records {
        assert_eq!(v["state"], "confirmed", "{v}");
        assert_eq!(v["round_id"], id);
        assert!(v["tx_hash"].as_str().unwrap().starts_with("0x"));
        assert!(v["block_number"].is_u64());
        assert!(matches!(v["decision"].as_str(), Some("for" | "against")));
        assert!(!v["reason"].as_str().unwrap().is_empty());
        assert!(v.get("raw_tx").is_none(), "signed bytes are not served");
    }

    // One round for both triggers, in the ledger itself and in the list.
    let ledger = rusqlite::Connection::open_with_flags(
        net.ledger_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the ledger read-only");
    let rows: i64 = ledger
        .query_row("SELECT count(*) FROM rounds", [], |r| r.get(0))
        .expect("count rounds");
    assert_eq!(rows, 1, "two triggers, one round");
    let list = http.get(&rounds).await.json();
    assert_eq!(list["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(list["rounds"][0]["outcome"], "success");
    assert!(list["next_before"].is_null());

    // The reads now show the votes.
    let status = http.get(&net.url("/api/v1/status")).await.json();
    assert!(status["round"].is_null());
    assert_eq!(status["last_round"]["id"], id);
    assert_eq!(status["counts"]["rounds"], 1);
    assert_eq!(status["counts"]["votes"]["confirmed"], decided);
    let nodes = http.get(&net.url("/nodes")).await.json();
    let mut per_node = 0;
    for n in nodes["nodes"].as_array().unwrap() {
        let confirmed = n["votes"]["confirmed"].as_u64().unwrap();
        assert_eq!(n["votes"]["total"], confirmed);
        per_node += confirmed;
        for side in ["for", "against", "abstain"] {
            let in_round = records
                .iter()
                .filter(|v| v["node"] == n["name"] && v["decision"] == side)
                .count() as u64;
            assert_eq!(
                n["votes"][format!("confirmed_{side}")].as_u64(),
                Some(in_round),
                "{side}: {n}"
            );
        }
        if confirmed > 0 {
            assert_eq!(n["last_vote"]["state"], "confirmed", "{n}");
            assert_eq!(n["last_vote"]["node"], n["name"]);
            assert!(n["votes"]["last_confirmed_at"].is_string());
        }
    }
    assert_eq!(per_node, decided);
    let by_hash: BTreeMap<&str, &Value> = records
        .iter()
        .map(|v| (v["tx_hash"].as_str().unwrap(), v))
        .collect();
    let proposals = http.get(&net.url("/active-proposals")).await.json();
    let mut shown = 0;
    for p in proposals["proposals"].as_array().unwrap() {
        for n in p["nodes"].as_array().unwrap() {
            match n["state"].as_str() {
                Some(state) => {
                    assert_eq!(state, "confirmed");
                    let v = by_hash[n["tx_hash"].as_str().unwrap()];
                    assert_eq!(v["proposal_id"], p["id"]);
                    assert_eq!(v["node"], n["name"]);
                    assert_eq!(v["decision"], n["decision"]);
                    shown += 1;
                }
                // A skip sends nothing; its decision and reason still show.
                None => {
                    assert_eq!(n["decision"], "skip", "{n}");
                    assert!(n["reason"].as_str().is_some_and(|r| !r.is_empty()), "{n}");
                }
            }
        }
    }
    assert_eq!(shown, decided);

    // ?wait=true: a second round, answered with its report once it is over.
    let waited = http
        .post(&format!("{rounds}?wait=true"), Some(&net.token))
        .await;
    assert_eq!(waited.status, 200, "{}", waited.text);
    let waited = waited.json();
    assert_eq!(waited["round"], "started");
    let second_id = waited["id"].as_i64().unwrap();
    assert_eq!(second_id, id + 1);
    assert_eq!(waited["location"], format!("/api/v1/rounds/{second_id}"));
    let report = &waited["report"];
    assert_eq!(report["id"], second_id);
    assert_eq!(report["outcome"], "success");
    assert_eq!(report["left"], serde_json::json!([]));
    assert_eq!(
        report["votes"]["decided"], 0,
        "nothing left to vote: {report}"
    );
    assert_eq!(report["votes"]["already_voted"], decided);
    let list = http.get(&format!("{rounds}?limit=1")).await.json();
    assert_eq!(list["rounds"][0]["id"], second_id);
    assert_eq!(list["next_before"], second_id);
    let older = http
        .get(&format!("{rounds}?limit=1&before={second_id}"))
        .await
        .json();
    assert_eq!(older["rounds"][0]["id"], id);

    http.assert_no_secrets(&net.secrets());
}

/// Reads racing a round's end: whatever moment a read lands in, a round is
/// either running with a phase the API documents, or ended with its report;
/// never running without a phase, never "failed" because its end was written
/// a moment after the row was read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_racing_a_rounds_end_keep_its_shape() {
    let net = Devnet::start(2, 2).await;
    let http = Recorder::default();
    let rounds = net.url("/api/v1/rounds");
    let check = |where_: &str, r: &Value| match r["state"].as_str() {
        Some("running") => {
            let phase = r["progress"]["phase"].as_str().unwrap_or_default();
            assert!(
                ["planning", "waiting", "sending", "confirming"].contains(&phase),
                "{where_}: running round without a documented phase: {r}"
            );
        }
        Some("finished") => assert_eq!(r["outcome"], "success", "{where_}: {r}"),
        _ => panic!("{where_}: a round in no documented state: {r}"),
    };
    let mut reads = 0;
    for _ in 0..25 {
        let started = http.post(&rounds, Some(&net.token)).await;
        assert_eq!(started.status, 202, "{}", started.text);
        let id = started.json()["id"].as_i64().expect("round id");
        let one = net.url(&format!("/api/v1/rounds/{id}"));
        let deadline = std::time::Instant::now() + WITHIN;
        loop {
            let item = http.get(&one).await.json();
            check("GET /api/v1/rounds/{id}", &item);
            let list = http.get(&format!("{rounds}?limit=2")).await.json();
            for r in list["rounds"].as_array().expect("rounds") {
                check("GET /api/v1/rounds", r);
            }
            let status = http.get(&net.url("/api/v1/status")).await.json();
            if !status["round"].is_null() {
                let phase = status["round"]["phase"].as_str().unwrap_or_default();
                assert!(
                    ["planning", "waiting", "sending", "confirming"].contains(&phase),
                    "status: {status}"
                );
            }
            if !status["last_round"].is_null() {
                check("GET /api/v1/status last_round", &status["last_round"]);
            }
            reads += 1;
            if item["state"] == "finished" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {id} still running"
            );
        }
    }
    assert!(reads >= 25, "every round was read at least once");
}
