//! A stand-in for systemd's notification socket: a unix datagram socket the
//! test owns, so the real daemon's sd_notify messages can be read and asserted.

#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct NotifySocket {
    socket: UnixDatagram,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        NotifySocket {
            socket,
            path,
            _dir: dir,
        }
    }

    /// The next datagram, or `None` after `within`.
    pub fn recv(&self, within: Duration) -> Option<String> {
        self.socket
            .set_read_timeout(Some(within.max(Duration::from_millis(1))))
            .ok()?;
        let mut buf = vec![0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => None,
        }
    }

    /// Reads messages until one satisfies `pred`; returns every message read.
    pub fn until(
        &self,
        within: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, Vec<String>> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.recv(left) {
                Some(msg) => {
                    let hit = pred(&msg);
                    seen.push(msg);
                    if hit {
                        return Ok(seen);
                    }
                }
                None => break,
            }
        }
        Err(seen)
    }

    /// Every message received during `window`.
    pub fn drain(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.recv(left) {
                Some(msg) => seen.push(msg),
                None => break,
            }
        }
        seen
    }
}
