//! `--once`: asks the daemon for a round over its control socket — the request
//! `govnode round` makes — and judges the report.
//!
//! The daemon starts a round on its own (`round.on_start`); only one round
//! runs at a time, so a request that arrives while it runs joins it and gets
//! its report. A request that arrives after it ended runs a second round,
//! which votes whatever the first left undone; either way a success means
//! every vote the strategies decided is on chain.

use std::path::Path;
use std::time::Duration;

use crate::api::control::{ControlError, request_round};
use crate::round::RoundReport;

use super::error::DevnetError;

/// The socket appears once the daemon has loaded its keys and the ledger.
const CONNECT_RETRY: Duration = Duration::from_millis(50);

/// Every vote the strategies decided landed: the round says success and
/// nothing is left pending or failed.
pub fn all_landed(report: &RoundReport) -> bool {
    report.is_success() && report.votes.confirmed == report.votes.decided
}

/// Waits for the daemon's control socket, requests (or joins) a round and
/// returns its report, printing each new phase as it starts.
pub async fn wait_round(socket: &Path, timeout: Duration) -> Result<RoundReport, DevnetError> {
    let mut last = String::from("the control socket never appeared");
    let attempt = async {
        loop {
            let mut phase = String::new();
            let result = request_round(socket, &[], |p| {
                if p.phase != phase {
                    phase.clone_from(&p.phase);
                    say!("round: {} ({}/{})", p.phase, p.done, p.total);
                }
            })
            .await;
            match result {
                Ok(mut answers) if !answers.is_empty() => return Ok(answers.remove(0).report),
                Ok(_) => {
                    return Err(DevnetError::Control {
                        reason: "the daemon answered without a report".into(),
                    });
                }
                Err(e @ ControlError::Unreachable { .. }) => last = e.to_string(),
                Err(e) => {
                    return Err(DevnetError::Control {
                        reason: e.to_string(),
                    });
                }
            }
            tokio::time::sleep(CONNECT_RETRY).await;
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(DevnetError::RoundTimeout {
            waited: timeout,
            socket: socket.to_owned(),
            last,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round::{Outcome, RoundReport};

    #[test]
    fn judges_a_round() {
        let mut r = RoundReport::crashed(String::new());
        r.outcome = Some(Outcome::Success);
        r.votes.decided = 10;
        r.votes.confirmed = 10;
        assert!(all_landed(&r));
        r.votes.confirmed = 9;
        r.votes.pending = 1;
        assert!(!all_landed(&r));
        r.votes.confirmed = 10;
        r.outcome = Some(Outcome::Partial);
        assert!(!all_landed(&r));
    }

    #[tokio::test]
    async fn a_missing_daemon_times_out_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("control.sock");
        let err = wait_round(&socket, Duration::from_millis(200))
            .await
            .expect_err("no daemon");
        let text = err.to_string();
        assert!(text.contains("control.sock"), "{text}");
        assert!(text.contains("not reachable"), "{text}");
    }
}
