//! The real daemon under measurement: started with a notification socket the
//! bench owns (start → `READY=1`), its RPC endpoint pointed at a counting
//! pass-through proxy, rounds triggered over its control socket, and its
//! memory and descriptors read from /proc.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use govnode::round::RoundReport;

use crate::net::{Net, binary};
use crate::notify::NotifySocket;

pub struct BenchDaemon {
    child: Child,
    /// Spawn → `READY=1`.
    pub ready: Duration,
    socket: std::path::PathBuf,
}

/// A round as the bench saw it.
pub struct Timed {
    pub report: RoundReport,
    /// Trigger sent → report received, on the bench's clock.
    pub wall: Duration,
}

impl BenchDaemon {
    /// Starts `govnode run` on `net`'s configuration with its only RPC
    /// endpoint at `rpc_url` and `GOVNODE__…` overrides from `extra`; returns
    /// once it has sent `READY=1`.
    pub fn start(net: &Net, rpc_url: &str, extra: &[(&str, &str)]) -> BenchDaemon {
        let notify = NotifySocket::new();
        let log = std::fs::File::create(net.path().join("daemon.log")).expect("daemon log");
        let mut cmd = Command::new(binary());
        cmd.arg("run")
            .arg("--config")
            .arg(net.config())
            .env("NOTIFY_SOCKET", &notify.path)
            .env("GOVNODE__ROUND__ON_START", "false")
            .env("GOVNODE__LOG__TARGET", "stderr")
            .env("GOVNODE__RPC__ENDPOINTS__0__URL", rpc_url)
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let spawned = Instant::now();
        let child = cmd.spawn().expect("spawn govnode");
        // Blocking reads: keep the runtime's other work (the proxy) going.
        let seen = tokio::task::block_in_place(|| {
            notify.until(Duration::from_secs(30), |m| {
                m.lines().any(|l| l == "READY=1")
            })
        });
        let ready = spawned.elapsed();
        let mut d = BenchDaemon {
            child,
            ready,
            socket: net.socket(),
        };
        if let Err(messages) = seen {
            d.stop();
            panic!(
                "govnode sent no READY=1 within 30 s (got {messages:?}); log: {}",
                std::fs::read_to_string(net.path().join("daemon.log")).unwrap_or_default()
            );
        }
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks for a round over the control socket and waits for its report.
    pub async fn round(&self) -> Timed {
        let started = Instant::now();
        let report = govnode::api::control::request_round(&self.socket, &[], |_| {})
            .await
            .expect("round over the control socket")
            .remove(0)
            .report;
        Timed {
            report,
            wall: started.elapsed(),
        }
    }

    /// Resets the kernel's peak-RSS mark, so that `peak_rss_kb` covers what follows.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    pub fn rss_kb(&self) -> u64 {
        status_kb(self.pid(), "VmRSS:")
    }

    pub fn peak_rss_kb(&self) -> u64 {
        status_kb(self.pid(), "VmHWM:")
    }

    /// User + system CPU time the daemon has used so far (/proc/<pid>/stat).
    pub fn cpu_time(&self) -> Duration {
        let text =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // After the command name (in parentheses, may hold spaces) comes field 3,
        // the state; utime and stime are fields 14 and 15, in clock ticks.
        let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        // SAFETY: sysconf(3) reads a constant of the system.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }

    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// SIGTERM, then wait (SIGKILL after 20 s).
    pub fn stop(&mut self) {
        tokio::task::block_in_place(|| self.terminate());
    }

    fn terminate(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for BenchDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `kB` line of /proc/<pid>/status.
pub fn status_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
