//! What can go wrong while setting up or running a devnet. Every variant names
//! the file, transaction, process or endpoint concerned; RPC URLs appear only
//! redacted and key material never.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("{0}")]
    Usage(String),

    #[error(
        "anvil not found (looked at {}); run scripts/setup-tools.sh from the repository (it installs anvil into tools/node_modules), set GOVNODE_ANVIL=/path/to/anvil, or pass --rpc-url to use a running dev chain",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    AnvilNotFound { looked: Vec<PathBuf> },

    #[error("GOVNODE_ANVIL={path} is not an executable file")]
    AnvilEnvInvalid { path: PathBuf },

    #[error("cannot start anvil {path}: {reason}")]
    AnvilSpawn { path: PathBuf, reason: String },

    #[error(
        "port {port} on 127.0.0.1 is taken; choose another --port or leave it out to use a free one"
    )]
    PortTaken { port: u16 },

    #[error("anvil exited during start-up ({status}); its output is in {}:\n{tail}", log.display())]
    AnvilExited {
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error("anvil at {url} did not answer within {waited:?}; its output is in {}", log.display())]
    AnvilNotReady {
        url: String,
        waited: Duration,
        log: PathBuf,
    },

    #[error("{action} ({endpoint}): {reason}")]
    Rpc {
        action: String,
        endpoint: String,
        reason: String,
    },

    #[error(
        "the chain at {endpoint} does not support {method} ({reason}); --rpc-url must point at a dev chain such as anvil or hardhat"
    )]
    NotADevChain {
        endpoint: String,
        method: &'static str,
        reason: String,
    },

    #[error(
        "the deployer {address} has no ETH on the chain at {endpoint}; --rpc-url must point at a dev chain that funds the well-known test account 0 (anvil's and hardhat's default)"
    )]
    DeployerUnfunded { address: String, endpoint: String },

    #[error("transaction `{label}` ({hash}) reverted")]
    Reverted { label: String, hash: String },

    #[error("transaction `{label}` ({hash}) has no receipt after {waited:?}")]
    NoReceipt {
        label: String,
        hash: String,
        waited: Duration,
    },

    #[error("{what}: {detail}")]
    Unexpected { what: String, detail: String },

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "a govnode daemon still answers on {}; stop it before recreating the devnet in that directory",
        socket.display()
    )]
    DaemonStillRunning { socket: PathBuf },

    #[error("cannot start the daemon {}: {reason}", exe.display())]
    DaemonSpawn { exe: PathBuf, reason: String },

    #[error("the daemon exited ({status}); its log is above")]
    DaemonExited { status: String },

    #[error(
        "no round report within {waited:?} (last: {last}); raise --timeout, or look at the daemon's log above"
    )]
    RoundTimeout {
        waited: Duration,
        socket: PathBuf,
        last: String,
    },

    #[error("asking the daemon for a round: {reason}")]
    Control { reason: String },

    #[error("round {id} did not land every decided vote ({confirmed} of {decided} confirmed)")]
    RoundNotClean {
        id: String,
        decided: u64,
        confirmed: u64,
    },

    #[error("interrupted by {signal}")]
    Interrupted { signal: &'static str },
}

impl DevnetError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DevnetError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
