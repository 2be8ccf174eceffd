//! `govnode devnet`: a local chain a newcomer can watch govnode vote on.
//!
//! It starts anvil (or uses `--rpc-url`), deploys the test AssetDAO, the DLOOP
//! voting token and six treasury assets from the artifacts compiled into the
//! binary, funds `--nodes` wallets with gas and differing voting weights,
//! creates `--proposals` open proposals plus a few that must not be voted
//! (expired, executed, canceled), writes `config.yaml` and `devnet.json` into
//! `--dir`, and runs the daemon on that configuration.
//!
//! Parts: [`anvil`] and [`process`] start and stop children; [`chain`] and
//! [`tx`] talk to the chain (pipelined, locally signed transactions);
//! [`deploy`] and [`seed`] build the deployment from the pure [`scenario`];
//! [`reuse`] acknowledges the node keys' earlier use of a `--rpc-url` chain;
//! [`files`] writes the directory; [`round_client`] judges `--once`;
//! [`run`] strings them together.
//!
//! With `--rpc-url` the chain must be a dev chain (anvil, hardhat) that funds
//! the well-known test account 0 (`0xf39F…2266`, the deployer; its key is
//! public) and answers `evm_increaseTime` and `evm_mine` (used to expire and
//! execute proposals). No account needs to be unlocked: everything is signed
//! locally.

/// A line for the user on stdout. Unlike `println!`, a closed stdout (`| head`)
/// does not panic halfway through a setup; the line is dropped instead.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The same for stderr: problems and what is being stopped.
macro_rules! complain {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "govnode devnet: {}", format_args!($($arg)*));
    }};
}

pub mod anvil;
pub mod chain;
pub mod contracts;
pub mod deploy;
pub mod error;
pub mod files;
pub mod keys;
pub mod process;
pub mod reuse;
pub mod round_client;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod summary;
pub mod tally;
pub mod tx;

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

pub use error::DevnetError;

use crate::exit;

/// Exit status after an interrupted setup or `--once` (128 + SIGINT).
const INTERRUPTED: i32 = 130;

#[derive(Debug, Clone, clap::Args)]
pub struct DevnetArgs {
    /// Directory that receives everything the devnet makes: config.yaml,
    /// devnet.json, keys/, the ledger, anvil.log. Files of a previous run are
    /// replaced (a new chain needs a new ledger); other files are left alone.
    #[arg(long, default_value = "./devnet")]
    pub dir: PathBuf,

    /// Deploy onto this running dev chain instead of starting anvil. It must
    /// fund anvil's default account 0 and answer evm_increaseTime/evm_mine.
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,

    /// Number of open proposals to create (plus 2 expired, 1 executed and 2
    /// canceled ones that must not be voted).
    #[arg(long, default_value_t = 49, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub proposals: u32,

    /// Number of node wallets (ai-gov-01 …).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub nodes: u32,

    /// Exit after the daemon's first round: 0 only if every decided vote landed.
    #[arg(long, conflicts_with = "setup_only")]
    pub once: bool,

    /// How long --once waits for the first round to finish.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// Port of the anvil the devnet starts (default: a free one).
    #[arg(long, conflicts_with = "rpc_url")]
    pub port: Option<u16>,

    /// Deploy and write the files, then exit without running the daemon.
    /// Needs --rpc-url: a chain started by the devnet would stop with it.
    #[arg(long, requires = "rpc_url")]
    pub setup_only: bool,
}

/// Runs the command; returns the process exit status.
pub fn main(args: DevnetArgs) -> i32 {
    // One thread: children are spawned from it, which is what their
    // parent-death signal is tied to.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            complain!("cannot start the async runtime: {e}");
            return exit::SOFTWARE;
        }
    };
    runtime.block_on(run_until_signal(args))
}

async fn run_until_signal(args: DevnetArgs) -> i32 {
    let (mut sigint, mut sigterm) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            complain!("cannot install signal handlers: {e}");
            return exit::SOFTWARE;
        }
    };
    let mut session = run::Session::default();
    let result = tokio::select! {
        r = run::run(&args, &mut session) => r,
        _ = sigint.recv() => Err(DevnetError::Interrupted { signal: "SIGINT" }),
        _ = sigterm.recv() => Err(DevnetError::Interrupted { signal: "SIGTERM" }),
    };
    if !session.is_empty() {
        complain!("stopping what it started");
    }
    let serving = session.serving;
    session.shutdown().await;
    match result {
        Ok(_) => exit::OK,
        Err(DevnetError::Interrupted { .. }) if serving => exit::OK,
        Err(e @ DevnetError::Interrupted { .. }) => {
            complain!("{e}");
            INTERRUPTED
        }
        Err(e) => {
            complain!("{e}");
            match e {
                DevnetError::Usage(_) => exit::USAGE,
                _ => exit::FAILURE,
            }
        }
    }
}
