//! The control socket: a unix stream socket on which `govnode round` (run by
//! the systemd timer) asks the daemon for a round and waits for its report.
//!
//! Protocol: one JSON request line, then JSON event lines until the final
//! `report` or `error` event.
//!
//! ```text
//! → {"command":"round"}
//! ← {"event":"progress","phase":"sending","done":12,"total":245}
//! ← {"event":"report","joined":false,"report":{…RoundReport…}}
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::round::{Coordinator, Progress, RoundReport, Trigger};

/// Requests larger than this are refused: the protocol has only tiny ones.
const MAX_REQUEST_BYTES: u64 = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    Round,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ControlEvent {
    Progress(Progress),
    Report {
        joined: bool,
        report: Box<RoundReport>,
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

    pub async fn serve(self, rounds: Coordinator, cancel: CancellationToken) {
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
            let rounds = rounds.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, rounds, cancel).await {
                    tracing::debug!(error = %e, "control connection ended");
                }
            });
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn handle(
    stream: UnixStream,
    rounds: Coordinator,
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
        ControlRequest::Round => {
            if cancel.is_cancelled() {
                return send(
                    &mut write,
                    &ControlEvent::Error {
                        message: "the daemon is stopping".into(),
                    },
                )
                .await;
            }
            let ticket = rounds.trigger(Trigger::Control);
            let joined = ticket.joined;
            let mut progress = ticket.progress.clone();
            let report = ticket.report();
            tokio::pin!(report);
            loop {
                tokio::select! {
                    r = &mut report => {
                        return send(&mut write, &ControlEvent::Report { joined, report: Box::new((*r).clone()) }).await;
                    }
                    changed = progress.changed() => {
                        if changed.is_ok() {
                            let p = progress.borrow_and_update().clone();
                            send(&mut write, &ControlEvent::Progress(p)).await?;
                        } else {
                            // The sender is gone: the report is about to resolve.
                            let r = (&mut report).await;
                            return send(&mut write, &ControlEvent::Report { joined, report: Box::new((*r).clone()) }).await;
                        }
                    }
                }
            }
        }
    }
}

async fn send<W: AsyncWriteExt + Unpin>(w: &mut W, event: &ControlEvent) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    w.write_all(&bytes).await?;
    w.flush().await
}

/// Client side, used by `govnode round`: asks for a round and calls
/// `on_progress` for each progress event until the report arrives.
pub async fn request_round(
    path: &Path,
    mut on_progress: impl FnMut(&Progress),
) -> Result<(bool, RoundReport), ControlError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|e| ControlError::Unreachable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let (read, mut write) = stream.into_split();
    let protocol = |reason: String| ControlError::Protocol {
        path: path.to_owned(),
        reason,
    };
    let mut req =
        serde_json::to_vec(&ControlRequest::Round).map_err(|e| protocol(e.to_string()))?;
    req.push(b'\n');
    write
        .write_all(&req)
        .await
        .map_err(|e| protocol(e.to_string()))?;
    let mut lines = BufReader::new(read).lines();
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| protocol(e.to_string()))?
            .ok_or_else(|| protocol("the daemon closed the connection before the round ended (stopped or restarted?)".into()))?;
        match serde_json::from_str::<ControlEvent>(&line)
            .map_err(|e| protocol(format!("unreadable event: {e}")))?
        {
            ControlEvent::Progress(p) => on_progress(&p),
            ControlEvent::Report { joined, report } => return Ok((joined, *report)),
            ControlEvent::Error { message } => return Err(protocol(message)),
        }
    }
}
