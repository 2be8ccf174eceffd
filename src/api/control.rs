//! The control socket: a unix stream socket on which `govnode round` (run by
//! the systemd timer) asks the daemon for a round and waits for its report.
//!
//! Protocol: one JSON request line, then JSON event lines until the final
//! `report` or `error` event.
//!
//! ```text
//! → {"command":"round"}
//! ← {"event":"progress","phase":"sending","done":12,"total":245}
//! ← {"event":"report","joined":false,"report":{…RoundReport…},"remaining":0}
//! ```
//!
//! With several DAOs, `"daos":["a","b"]` names the DAOs to vote in (all
//! when left out). Their rounds run side by side without progress events,
//! and one report comes per DAO, each with its `dao` and how many are
//! still to come:
//!
//! ```text
//! → {"command":"round","daos":["dloop","gov"]}
//! ← {"event":"report","dao":"gov","joined":false,"report":{…},"remaining":1}
//! ← {"event":"report","dao":"dloop","joined":false,"report":{…},"remaining":0}
//! ```
//!
//! ```text
//! → {"command":"plan","simulate":false}
//! ← {"event":"plan","plan":{…Preview…}}
//! ```
//!
//! `plan` (`govnode plan`, and `govnode round --dry-run` with `simulate`)
//! is read-only: it takes no key, records nothing and sends nothing.
//! `ack_key` (`govnode keys ack NODE`) records that the operator accepts the
//! transactions a node's address sent elsewhere, which resumes a node the
//! doppelganger check paused:
//!
//! ```text
//! → {"command":"ack_key","node":"ai-gov-01"}
//! ← {"event":"key_ack","ack":{…Acknowledged…}}
//! ```
//!
//! A standby (`ha.enabled`, another daemon holds the lease) runs no round:
//!
//! ```text
//! → {"command":"round"}
//! ← {"event":"standby","message":"standby: the leader is gov-b"}
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::preview::Preview;
use crate::round::{Acknowledged, Progress, RoundReport, Trigger};
use crate::service::Daemon;

/// Requests larger than this are refused: the protocol has only tiny ones.
const MAX_REQUEST_BYTES: u64 = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    Round {
        /// The DAOs to vote in; empty: every DAO.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        daos: Vec<String>,
    },
    Plan {
        #[serde(default)]
        simulate: bool,
        /// Needed when the daemon votes in more than one DAO.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dao: Option<String>,
    },
    AckKey {
        node: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ControlEvent {
    Progress(Progress),
    Report {
        joined: bool,
        report: Box<RoundReport>,
        /// The DAO the round was for (with more than one DAO).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dao: Option<String>,
        /// Reports still to come after this one (one per DAO asked for).
        #[serde(default)]
        remaining: usize,
    },
    Plan {
        plan: Box<Preview>,
    },
    KeyAck {
        ack: Box<Acknowledged>,
    },
    /// No round here: another daemon leads.
    Standby {
        message: String,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot prepare the control socket directory {dir}: {reason}")]
    Directory { dir: PathBuf, reason: String },
    #[error("cannot listen on the control socket {path}: {reason}")]
    Bind { path: PathBuf, reason: String },
    #[error("the daemon is not reachable at {path}: {reason}")]
    Unreachable { path: PathBuf, reason: String },
    #[error("control socket {path}: {reason}")]
    Protocol { path: PathBuf, reason: String },
    /// Not a failure: this daemon is a standby, and says who leads.
    #[error("{message}")]
    Standby { message: String },
}

pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlServer {
    /// Binds the socket with mode 0660 (the group may trigger rounds). A stale
    /// socket file left by a killed daemon is replaced; a live one is not.
    pub async fn bind(path: &Path) -> Result<Self, ControlError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ControlError::Directory {
                dir: dir.to_owned(),
                reason: e.to_string(),
            })?;
        }
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Err(ControlError::Bind {
                    path: path.to_owned(),
                    reason: "another govnode is listening there".into(),
                });
            }
            let _ = std::fs::remove_file(path);
        }
        let bind_err = |e: std::io::Error| ControlError::Bind {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let listener = UnixListener::bind(path).map_err(bind_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_err)?;
        Ok(ControlServer {
            listener,
            path: path.to_owned(),
        })
    }

    pub async fn serve(self, daemon: Daemon, cancel: CancellationToken) {
        tracing::info!(socket = %self.path.display(), "control socket listening");
        loop {
            let stream = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let daemon = daemon.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, daemon, cancel).await {
                    tracing::debug!(error = %e, "control connection ended");
                }
            });
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn handle(
    stream: UnixStream,
    daemon: Daemon,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST_BYTES));
    reader.read_line(&mut line).await?;
    let request: ControlRequest = match serde_json::from_str(line.trim()) {
        Ok(r) => r,
        Err(e) => {
            return send(
                &mut write,
                &ControlEvent::Error {
                    message: format!("bad request: {e}"),
                },
            )
            .await;
        }
    };
    match request {
        ControlRequest::Plan { simulate, dao } => {
            let daemon = match pick_one(&daemon, dao.as_deref()) {
                Ok(d) => d,
                Err(message) => return send(&mut write, &ControlEvent::Error { message }).await,
            };
            let event = match crate::preview::preview(&daemon.voting(), simulate).await {
                Ok(mut plan) => {
                    for v in &mut plan.votes {
                        if let Some(note) = v.note.take() {
                            v.note = Some(crate::api::v1::redacted(&daemon, &note).into_owned());
                        }
                    }
                    ControlEvent::Plan {
                        plan: Box::new(plan),
                    }
                }
                Err(e) => ControlEvent::Error {
                    message: crate::api::v1::redacted(&daemon, &format!("cannot plan: {e}"))
                        .into_owned(),
                },
            };
            send(&mut write, &event).await
        }
        ControlRequest::AckKey { node } => {
            // A wallet's transactions are counted per chain: the ack holds
            // in every DAO the node votes in, and each resumes it.
            let mut event = None;
            for dao in daemon.each_dao() {
                if !dao.voting().voters.iter().any(|v| v.name == node) && dao.many_daos() {
                    continue;
                }
                let answer = match crate::round::acknowledge(&dao.voting(), &node).await {
                    Ok(ack) => ControlEvent::KeyAck { ack: Box::new(ack) },
                    Err(e) => ControlEvent::Error {
                        message: crate::api::v1::redacted(&daemon, &e).into_owned(),
                    },
                };
                if event.is_none() || matches!(answer, ControlEvent::Error { .. }) {
                    event = Some(answer);
                }
            }
            let event = event.unwrap_or_else(|| ControlEvent::Error {
                message: format!("no DAO has a node {node:?}"),
            });
            send(&mut write, &event).await
        }
        ControlRequest::Round { daos } => {
            if cancel.is_cancelled() {
                return send(
                    &mut write,
                    &ControlEvent::Error {
                        message: "the daemon is stopping".into(),
                    },
                )
                .await;
            }
            let picked = match pick(&daemon, &daos) {
                Ok(p) => p,
                Err(message) => return send(&mut write, &ControlEvent::Error { message }).await,
            };
            // Every DAO's round starts now, side by side; reports come as
            // they end.
            let mut tickets = Vec::new();
            for dao in &picked {
                match dao.rounds().trigger(Trigger::Control) {
                    Ok(ticket) => tickets.push((dao.clone(), ticket)),
                    Err(standby) => {
                        let message = standby.to_string();
                        return send(&mut write, &ControlEvent::Standby { message }).await;
                    }
                }
            }
            let named = daemon.many_daos();
            if tickets.len() == 1
                && let Some((_, ticket)) = tickets.pop()
            {
                let joined = ticket.joined;
                let dao = named.then(|| picked[0].dao_name().to_owned());
                let mut progress = ticket.progress.clone();
                let report = ticket.report();
                tokio::pin!(report);
                loop {
                    tokio::select! {
                        r = &mut report => {
                            let report = Box::new((*r).clone());
                            return send(&mut write, &ControlEvent::Report { joined, report, dao, remaining: 0 }).await;
                        }
                        changed = progress.changed() => {
                            if changed.is_ok() {
                                let p = progress.borrow_and_update().clone();
                                send(&mut write, &ControlEvent::Progress(p)).await?;
                            } else {
                                // The sender is gone: the report is about to resolve.
                                let r = (&mut report).await;
                                let report = Box::new((*r).clone());
                                return send(&mut write, &ControlEvent::Report { joined, report, dao, remaining: 0 }).await;
                            }
                        }
                    }
                }
            }
            let mut pending: futures::stream::FuturesUnordered<_> = tickets
                .into_iter()
                .map(|(dao, ticket)| async move {
                    let joined = ticket.joined;
                    let report = ticket.report().await;
                    (dao.dao_name().to_owned(), joined, (*report).clone())
                })
                .collect();
            let mut remaining = pending.len();
            while let Some((dao, joined, report)) = futures::StreamExt::next(&mut pending).await {
                remaining -= 1;
                let event = ControlEvent::Report {
                    joined,
                    report: Box::new(report),
                    dao: Some(dao),
                    remaining,
                };
                send(&mut write, &event).await?;
            }
            Ok(())
        }
    }
}

/// The DAOs `names` asks for (all when empty), or what is wrong with it.
fn pick(daemon: &Daemon, names: &[String]) -> Result<Vec<Daemon>, String> {
    if names.is_empty() {
        return Ok(daemon.each_dao());
    }
    names
        .iter()
        .map(|n| daemon.for_dao(n).ok_or_else(|| unknown_dao(daemon, n)))
        .collect()
}

/// One DAO: the named one, or the only one.
fn pick_one(daemon: &Daemon, name: Option<&str>) -> Result<Daemon, String> {
    match name {
        Some(n) => daemon.for_dao(n).ok_or_else(|| unknown_dao(daemon, n)),
        None if daemon.many_daos() => Err(format!(
            "this daemon votes in several DAOs ({}): name one with --dao",
            daemon.dao_names().join(", ")
        )),
        None => Ok(daemon.clone()),
    }
}

fn unknown_dao(daemon: &Daemon, name: &str) -> String {
    format!("no DAO {name:?} (DAOs: {})", daemon.dao_names().join(", "))
}

async fn send<W: AsyncWriteExt + Unpin>(w: &mut W, event: &ControlEvent) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    w.write_all(&bytes).await?;
    w.flush().await
}

/// One round's answer to `govnode round`.
#[derive(Debug, Clone)]
pub struct RoundAnswer {
    /// It joined a round that was already running.
    pub joined: bool,
    pub report: RoundReport,
    /// The DAO (when the daemon votes in more than one).
    pub dao: Option<String>,
}

/// Client side, used by `govnode round`: asks for a round of `daos` (every
/// DAO when empty) and calls `on_progress` for each progress event until
/// every report arrived.
pub async fn request_round(
    path: &Path,
    daos: &[String],
    mut on_progress: impl FnMut(&Progress),
) -> Result<Vec<RoundAnswer>, ControlError> {
    let request = ControlRequest::Round {
        daos: daos.to_vec(),
    };
    let mut lines = ask(path, &request).await?;
    let mut answers = Vec::new();
    loop {
        match next_event(path, &mut lines).await? {
            ControlEvent::Progress(p) => on_progress(&p),
            ControlEvent::Report {
                joined,
                report,
                dao,
                remaining,
            } => {
                answers.push(RoundAnswer {
                    joined,
                    report: *report,
                    dao,
                });
                if remaining == 0 {
                    return Ok(answers);
                }
            }
            ControlEvent::Error { message } => return Err(protocol(path, message)),
            ControlEvent::Standby { message } => return Err(ControlError::Standby { message }),
            ControlEvent::Plan { .. } | ControlEvent::KeyAck { .. } => {
                return Err(protocol(path, "another answer to a round request".into()));
            }
        }
    }
}

/// Client side of `govnode plan` and `govnode round --dry-run`.
pub async fn request_plan(
    path: &Path,
    simulate: bool,
    dao: Option<&str>,
) -> Result<Preview, ControlError> {
    let request = ControlRequest::Plan {
        simulate,
        dao: dao.map(str::to_owned),
    };
    let mut lines = ask(path, &request).await?;
    match next_event(path, &mut lines).await? {
        ControlEvent::Plan { plan } => Ok(*plan),
        ControlEvent::Error { message } => Err(protocol(path, message)),
        _ => Err(protocol(
            path,
            "an unexpected answer to a plan request".into(),
        )),
    }
}

/// Client side of `govnode keys ack NODE`.
pub async fn request_ack(path: &Path, node: &str) -> Result<Acknowledged, ControlError> {
    let request = ControlRequest::AckKey {
        node: node.to_owned(),
    };
    match next_event(path, &mut ask(path, &request).await?).await? {
        ControlEvent::KeyAck { ack } => Ok(*ack),
        ControlEvent::Error { message } => Err(protocol(path, message)),
        _ => Err(protocol(
            path,
            "an unexpected answer to an ack request".into(),
        )),
    }
}

fn protocol(path: &Path, reason: String) -> ControlError {
    ControlError::Protocol {
        path: path.to_owned(),
        reason,
    }
}

type EventLines = tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>;

/// Connects and sends one request line.
async fn ask(path: &Path, request: &ControlRequest) -> Result<EventLines, ControlError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|e| ControlError::Unreachable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let (read, mut write) = stream.into_split();
    let mut req = serde_json::to_vec(request).map_err(|e| protocol(path, e.to_string()))?;
    req.push(b'\n');
    write
        .write_all(&req)
        .await
        .map_err(|e| protocol(path, e.to_string()))?;
    // Dropping the write half only half-closes the stream: the daemon has
    // read its one request line and answers on the other half.
    drop(write);
    Ok(BufReader::new(read).lines())
}

async fn next_event(path: &Path, lines: &mut EventLines) -> Result<ControlEvent, ControlError> {
    let line = lines
        .next_line()
        .await
        .map_err(|e| protocol(path, e.to_string()))?
        .ok_or_else(|| {
            protocol(
                path,
                "the daemon closed the connection before answering (stopped or restarted?)".into(),
            )
        })?;
    serde_json::from_str::<ControlEvent>(&line)
        .map_err(|e| protocol(path, format!("unreadable event: {e}")))
}
