//! The `govnode` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use govnode::config::{self, DEFAULT_CONFIG_PATH, LoadEnv};
use govnode::exit;

#[derive(Parser)]
#[command(name = "govnode", version, about = "Autonomous DAO governance node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--config`, on exactly the commands that read the configuration, so that
/// `--help` never offers it where it would be ignored.
#[derive(Args)]
struct ConfigArg {
    /// Configuration file.
    #[arg(long, env = "GOVNODE_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (systemd Type=notify).
    Run {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Validate the configuration and every secret it names; list all problems.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
        /// Also ask the chain: every endpoint's chain id, the DAO's code and
        /// kind, each node's ETH balance and voting power (reads only).
        #[arg(long)]
        online: bool,
        /// Also print the single-DAO form's `chain`, `rpc` and `dao` as the
        /// `chains:` and `daos:` of the many-DAO form, to add a DAO to.
        #[arg(long)]
        to_many_daos: bool,
    },
    /// Ask the running daemon for a voting round, wait for it and print its
    /// report (what the systemd timer runs). Exit 0 unless a vote failed or was unmined at the deadline (1).
    Round {
        #[command(flatten)]
        config: ConfigArg,
        /// Control socket; default: `control.socket` from the configuration.
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Print the report as JSON instead of a summary.
        #[arg(long)]
        json: bool,
        /// Plan the round and estimate each vote on the chain instead: nothing
        /// is signed, sent or recorded (exit 1 if the chain would refuse a vote).
        #[arg(long)]
        dry_run: bool,
        /// Vote only in this DAO (`daos[].name`); repeat for several.
        /// Default: every DAO, side by side.
        #[arg(long = "dao", value_name = "NAME")]
        daos: Vec<String>,
    },
    /// Show what each node would vote on each open proposal and why, at the
    /// current block, as the running daemon sees it; nothing is sent or recorded.
    Plan {
        #[command(flatten)]
        config: ConfigArg,
        /// Control socket; default: `control.socket` from the configuration.
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Print the plan as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The DAO to plan for; needed when the daemon votes in several.
        #[arg(long, value_name = "NAME")]
        dao: Option<String>,
    },
    /// Print the version.
    Version,
    /// Print a shell completion script for SHELL to standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output.
    Man,
    /// Copy the vote ledger to FILE (safe while the daemon runs; no keys needed).
    Backup {
        #[command(flatten)]
        config: ConfigArg,
        /// Where to write the backup (replaced atomically if it exists).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Replace the vote ledger with a backup. Refuses while the daemon runs and
    /// on a chain/DAO mismatch; the old ledger is kept as `<ledger>.pre-restore-<time>`.
    Restore {
        #[command(flatten)]
        config: ConfigArg,
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
    /// Write encrypted keystores, list their addresses, and acknowledge a
    /// node key's transactions sent elsewhere (`keys ack`).
    Keys {
        #[command(subcommand)]
        command: govnode::signer::cli::KeysCommand,
    },
    /// Start a local chain with the test AssetDAO, funded node wallets and
    /// proposals, write a configuration for it and run the daemon on it.
    Devnet(govnode::devnet::DevnetArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MigrateTo {
    Postgres,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Create the ledger (or check an existing one). The only way to start
    /// afresh where an empty (0-byte) ledger file lies: the daemon refuses one.
    Init {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Move the SQLite ledger's votes into an empty PostgreSQL ledger (backup
    /// first, one transaction); the SQLite ledger is then marked as moved.
    Migrate {
        #[command(flatten)]
        config: ConfigArg,
        /// The backend to move to.
        #[arg(long, value_enum)]
        to: MigrateTo,
        /// The PostgreSQL ledger as a URL without a password (one with a
        /// password is refused: use --url-file). Default: the configuration's
        /// ledger.url_file / ledger.url_credential.
        url: Option<String>,
        /// A file holding the PostgreSQL connection string.
        #[arg(long, value_name = "FILE")]
        url_file: Option<PathBuf>,
    },
    /// Write every vote (reason, transaction hash, block, …) as JSON lines or CSV.
    Export {
        #[command(flatten)]
        config: ConfigArg,
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
            println!(
                "govnode {} (commit {})",
                env!("CARGO_PKG_VERSION"),
                env!("GOVNODE_COMMIT")
            );
            exit::OK
        }
        Command::CheckConfig {
            config: ConfigArg { config: path },
            online,
            to_many_daos,
        } => match config::load(&path, &LoadEnv::from_process()) {
            Ok(s) => {
                if s.config.single_form {
                    println!(
                        "{}: OK ({} node(s), {} RPC endpoint(s), chain {})",
                        path.display(),
                        s.config.nodes.len(),
                        s.config.rpc.endpoints.len(),
                        s.config.chain.id
                    );
                } else {
                    println!(
                        "{}: OK ({} DAO(s) on {} chain(s), {} node(s))",
                        path.display(),
                        s.config.daos.len(),
                        s.config.chains.len(),
                        s.config.nodes.len(),
                    );
                }
                if to_many_daos {
                    match config::conversion_hint(&s.config) {
                        Some(yaml) => {
                            println!(
                                "# `chain`, `rpc` and `dao` in the many-DAO form: replace them with
{yaml}"
                            );
                        }
                        None => println!("# already in the many-DAO form (chains:, daos:)"),
                    }
                }
                if online {
                    // Each DAO on its chain; the worst answer is the exit code.
                    s.dao_views()
                        .iter()
                        .map(govnode::cli::online::run)
                        .max()
                        .unwrap_or(exit::OK)
                } else {
                    exit::OK
                }
            }
            Err(e) => {
                eprintln!("{}", e.report());
                exit::CONFIG
            }
        },
        Command::Run { config } => run_daemon(&config.config),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "govnode", &mut std::io::stdout());
            exit::OK
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(command).render(&mut std::io::stdout()) {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("govnode man: cannot write the manual page: {e}");
                    exit::FAILURE
                }
            }
        }
        Command::Round {
            config,
            socket,
            json,
            dry_run,
            daos,
        } => govnode::cli::round::run(&config.config, socket, json, dry_run, &daos),
        Command::Plan {
            config,
            socket,
            json,
            dao,
        } => govnode::cli::plan::run(&config.config, socket, json, false, dao.as_deref()),
        Command::Devnet(args) => govnode::devnet::main(args),
        Command::Keys { command } => govnode::signer::cli::command(command),
        Command::Backup { config, to } => govnode::state::backup_command(&config.config, &to),
        Command::Restore {
            config,
            file,
            force,
        } => govnode::state::restore_command(&config.config, &file, force),
        Command::Ledger {
            command: LedgerCommand::Init { config },
        } => govnode::state::init_command(&config.config),
        Command::Ledger {
            command: LedgerCommand::Export { config, format, to },
        } => govnode::state::export_command(&config.config, format, to.as_deref()),
        Command::Ledger {
            command:
                LedgerCommand::Migrate {
                    config,
                    to: MigrateTo::Postgres,
                    url,
                    url_file,
                },
        } => govnode::state::migrate_command(
            &config.config,
            &govnode::state::MigrateDestination {
                url: url.as_deref(),
                url_file: url_file.as_deref(),
            },
        ),
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
        // A database that is down, unreachable or not answering may come
        // back: exit as a
        // runtime failure so that systemd keeps restarting the daemon. One
        // that refuses the login or has no such database (`PgRefused`) is a
        // configuration problem and takes the arm below.
        Err(
            e @ govnode::service::DaemonError::Voting(govnode::round::ContextError::Ledger(
                govnode::ledger::LedgerError::PgConnect { .. }
                | govnode::ledger::LedgerError::PgTimeout { .. },
            )),
        ) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("govnode: {e}");
            exit::FAILURE
        }
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
        Err(
            e @ govnode::service::DaemonError::Locked(govnode::service::lock::LockError::Held {
                ..
            }),
        ) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("govnode: {e}");
            exit::LOCKED
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
