//! The `govnode` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use govnode::config::{self, DEFAULT_CONFIG_PATH, LoadEnv};
use govnode::exit;

#[derive(Parser)]
#[command(name = "govnode", version, about = "Autonomous DAO governance node")]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "GOVNODE_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (systemd Type=notify).
    Run,
    /// Validate the configuration and every secret it names; list all problems.
    CheckConfig,
    /// Ask the running daemon for a voting round, wait for it and print its
    /// report (what the systemd timer runs). Exit 0 only if every decided vote landed.
    Round {
        /// Control socket; default: `control.socket` from the configuration.
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Print the report as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Print the version.
    Version,
    /// Copy the vote ledger to FILE (safe while the daemon runs; no keys needed).
    Backup {
        /// Where to write the backup (replaced atomically if it exists).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Replace the vote ledger with a backup. Refuses while the daemon runs and
    /// on a chain/DAO mismatch; the old ledger is kept as `<ledger>.pre-restore-<time>`.
    Restore {
        /// A file written by `govnode backup` (or a ledger copied while stopped).
        file: PathBuf,
        /// Restore even if the backup names another chain or DAO than the configuration.
        #[arg(long)]
        force: bool,
    },
    /// Read the vote ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Write encrypted keystores and list their addresses.
    Keys {
        #[command(subcommand)]
        command: govnode::signer::cli::KeysCommand,
    },
    /// Start a local chain with the test AssetDAO, funded node wallets and
    /// proposals, write a configuration for it and run the daemon on it.
    Devnet(govnode::devnet::DevnetArgs),
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Write every vote (reason, transaction hash, block, …) as JSON lines or CSV.
    Export {
        #[arg(long, value_enum)]
        format: govnode::state::ExportFormat,
        /// Output file (replaced atomically); default: standard output.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    ExitCode::from(run(cli) as u8)
}

fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Version => {
            println!("govnode {}", env!("CARGO_PKG_VERSION"));
            exit::OK
        }
        Command::CheckConfig => match config::load(&cli.config, &LoadEnv::from_process()) {
            Ok(s) => {
                println!(
                    "{}: OK ({} node(s), {} RPC endpoint(s), chain {})",
                    cli.config.display(),
                    s.config.nodes.len(),
                    s.config.rpc.endpoints.len(),
                    s.config.chain.id
                );
                exit::OK
            }
            Err(e) => {
                eprintln!("{}", e.report());
                exit::CONFIG
            }
        },
        Command::Run => run_daemon(&cli.config),
        Command::Round { socket, json } => round(&cli.config, socket, json),
        Command::Devnet(args) => govnode::devnet::main(args),
        Command::Keys { command } => govnode::signer::cli::command(command),
        Command::Backup { to } => govnode::state::backup_command(&cli.config, &to),
        Command::Restore { file, force } => {
            govnode::state::restore_command(&cli.config, &file, force)
        }
        Command::Ledger {
            command: LedgerCommand::Export { format, to },
        } => govnode::state::export_command(&cli.config, format, to.as_deref()),
    }
}

fn round(config: &std::path::Path, socket: Option<PathBuf>, json: bool) -> i32 {
    use std::io::IsTerminal;
    let socket = match socket {
        Some(s) => s,
        None => match config::control_socket_path(config, &LoadEnv::from_process()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}", e.report());
                return exit::CONFIG;
            }
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("govnode round: cannot start the async runtime: {e}");
            return exit::SOFTWARE;
        }
    };
    let tty = std::io::stderr().is_terminal();
    let result = runtime.block_on(govnode::api::control::request_round(&socket, |p| {
        if tty {
            eprint!("\r\x1b[K{} {}/{}", p.phase, p.done, p.total);
        }
    }));
    if tty {
        eprint!("\r\x1b[K");
    }
    match result {
        Ok((joined, report)) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                if joined {
                    println!("joined the round that was already running");
                }
                println!("{}", report.summary());
                for left in &report.left {
                    println!(
                        "  not done: node {} proposal {}: {}",
                        left.node, left.proposal_id, left.reason
                    );
                }
            }
            if report.is_success() {
                exit::OK
            } else {
                exit::FAILURE
            }
        }
        Err(e @ govnode::api::control::ControlError::Unreachable { .. }) => {
            eprintln!("govnode round: {e}");
            exit::UNAVAILABLE
        }
        Err(e) => {
            eprintln!("govnode round: {e}");
            exit::FAILURE
        }
    }
}

fn run_daemon(path: &std::path::Path) -> i32 {
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();

    let settings = match config::load(path, &LoadEnv::from_process()) {
        Ok(s) => s,
        Err(e) => {
            // Logging is not up yet (its settings are in the file); stderr
            // reaches the journal under systemd anyway.
            eprintln!("{}", e.report());
            return exit::CONFIG;
        }
    };
    let log = match govnode::telemetry::init_logging(&settings.config.log) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot set up logging: {e}");
            return exit::CONFIG;
        }
    };
    install_panic_hook();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("govnode")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return exit::SOFTWARE;
        }
    };
    match runtime.block_on(govnode::service::run(settings, Some(log))) {
        Ok(()) => exit::OK,
        // A DAO address, ledger, strategy or RPC endpoint that cannot be used
        // (e.g. no CA store for an https endpoint) is a configuration problem:
        // restarting will not fix it.
        Err(
            e
            @ (govnode::service::DaemonError::Voting(_) | govnode::service::DaemonError::Chain(_)),
        ) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("govnode: {e}");
            exit::CONFIG
        }
        Err(e) => {
            tracing::error!(error = %e, "daemon failed");
            eprintln!("govnode: {e}");
            exit::FAILURE
        }
    }
}

/// A panic anywhere (also in a spawned task) is logged through tracing and
/// ends the process with EX_SOFTWARE, so systemd restarts a clean process
/// instead of leaving a daemon with a dead task.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        tracing::error!(%location, panic = %message, "panic; exiting");
        eprintln!("govnode: panic at {location}: {message}");
        std::process::exit(exit::SOFTWARE);
    }));
}
