//! The `govnode devnet` command from start to end: chain, contracts, wallets,
//! proposals, files, summary, then the daemon — and stopping what it started.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use tokio::process::Child;

use super::anvil::{self, Anvil};
use super::chain::Chain;
use super::contracts::TestToken;
use super::deploy::{self, Contracts, NodeWallet};
use super::error::DevnetError;
use super::files::{self, ConfigSpec, DevnetJson, DevnetNode, NodeEntry};
use super::round_client;
use super::scenario;
use super::seed::{self, Seeded};
use super::summary::{NodeLine, Summary, Timings};
use super::tally;
use super::tx::Sender;
use super::{DevnetArgs, keys, process};
use crate::config::LoadEnv;
use crate::round::RoundReport;

/// Time the daemon gets to stop after SIGTERM (its own drain timeout is 20 s).
const DAEMON_GRACE: Duration = Duration::from_secs(30);

/// What the devnet started; stopped in reverse order by [`Session::shutdown`].
#[derive(Default)]
pub struct Session {
    anvil: Option<Anvil>,
    daemon: Option<Child>,
    /// The daemon runs until a signal: a signal is then the normal end.
    pub serving: bool,
}

impl Session {
    pub fn is_empty(&self) -> bool {
        self.anvil.is_none() && self.daemon.is_none()
    }

    pub async fn shutdown(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            process::terminate(&mut daemon, DAEMON_GRACE).await;
        }
        if let Some(anvil) = self.anvil.take() {
            anvil.stop().await;
        }
    }
}

pub enum Finish {
    SetupOnly,
    Round(Box<RoundReport>),
}

/// A deployed, seeded chain and the files that describe it.
struct Setup {
    config: PathBuf,
    api: String,
    control_socket: PathBuf,
    ledger: PathBuf,
}

pub async fn run(args: &DevnetArgs, session: &mut Session) -> Result<Finish, DevnetError> {
    let setup = set_up(args, session).await?;
    let exe = std::env::current_exe().map_err(|e| DevnetError::DaemonSpawn {
        exe: PathBuf::from("govnode"),
        reason: e.to_string(),
    })?;
    if args.setup_only {
        say!(
            "set up; start the daemon on it with: {} run --config {}",
            exe.display(),
            setup.config.display()
        );
        return Ok(Finish::SetupOnly);
    }
    say!(
        "starting the daemon: {} run --config {}\n",
        exe.display(),
        setup.config.display()
    );
    let daemon = session.daemon.insert(spawn_daemon(&exe, &setup.config)?);
    if !args.once {
        session.serving = true;
        say!(
            "press Ctrl-C to stop the daemon{}",
            if session.anvil.is_some() {
                " and anvil"
            } else {
                ""
            }
        );
    }
    let exited = |status: std::io::Result<std::process::ExitStatus>| DevnetError::DaemonExited {
        status: status.map_or_else(|e| e.to_string(), |s| process::describe(&s)),
    };
    if !args.once {
        // The first round's outcome is printed below its log lines, then the
        // daemon serves on until Ctrl-C.
        let first_round = async {
            match round_client::wait_round(&setup.control_socket, args.timeout).await {
                Ok(report) => print_round(&report, &setup.ledger),
                Err(e) => say!("the first round: {e}"),
            }
        };
        tokio::select! {
            status = daemon.wait() => return Err(exited(status)),
            () = first_round => {}
        }
        return Err(exited(daemon.wait().await));
    }
    let report = tokio::select! {
        r = round_client::wait_round(&setup.control_socket, args.timeout) => r?,
        status = daemon.wait() => return Err(exited(status)),
    };
    print_round(&report, &setup.ledger);
    if round_client::all_landed(&report) {
        Ok(Finish::Round(Box::new(report)))
    } else {
        Err(DevnetError::RoundNotClean {
            id: report.id.to_string(),
            decided: report.votes.decided,
            confirmed: report.votes.confirmed,
        })
    }
}

async fn set_up(args: &DevnetArgs, session: &mut Session) -> Result<Setup, DevnetError> {
    let started = Instant::now();
    let (dir, removed) = files::prepare_dir(&args.dir)?;
    if removed {
        say!(
            "removed the previous devnet's files from {} (a new chain needs a new ledger)",
            dir.display()
        );
    }
    let rpc_url = match &args.rpc_url {
        Some(url) => url.clone(),
        None => {
            let binary = anvil::locate()?;
            let log = dir.join(files::ANVIL_LOG);
            let a = session
                .anvil
                .insert(Anvil::start(&binary, args.port, &log).await?);
            say!(
                "anvil {} on port {} (log: {})",
                binary.display(),
                a.port,
                log.display()
            );
            a.url.clone()
        }
    };
    let chain = Chain::connect(&rpc_url)?;
    let chain_id = chain.chain_id().await?;
    let deployer = keys::deployer()?;
    if chain.balance(deployer.address()).await?.is_zero() {
        return Err(DevnetError::DeployerUnfunded {
            address: deployer.address().to_string(),
            endpoint: chain.endpoint.clone(),
        });
    }
    let chain_ready = started.elapsed();

    say!(
        "deploying contracts and funding {} node wallet(s) on {}",
        args.nodes,
        chain.endpoint
    );
    if chain.place_multicall().await? {
        say!("Multicall3 placed at {}", crate::dao::MULTICALL3);
    }
    let mut sender = Sender::new(chain.clone(), deployer).await?;
    let contracts = deploy::deploy(&mut sender).await?;
    let nodes = deploy::node_wallets(args.nodes as usize);
    deploy::fund(&mut sender, &contracts, &nodes).await?;
    let deployed = started.elapsed();

    let plan = scenario::plan(args.proposals as usize);
    say!("creating {} proposals", plan.len());
    let seeded = seed::seed(&chain, &mut sender, &contracts, plan).await?;
    let seeded_at = started.elapsed();

    let written = write_files(
        &dir,
        &rpc_url,
        chain_id,
        &contracts,
        &nodes,
        &seeded,
        sender.address(),
    )?;
    super::reuse::acknowledge_earlier_use(&chain, &written.ledger, chain_id, contracts.dao, &nodes)
        .await?;
    let lines = node_lines(&chain, &contracts, &nodes).await?;
    let govnode = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "govnode".into());
    let summary = Summary {
        endpoint: &chain.endpoint,
        chain_id,
        started_anvil: session.anvil.is_some(),
        contracts: &contracts,
        nodes: &lines,
        proposals: &seeded.proposals,
        dir: &dir,
        config: &written.config,
        api: &written.api,
        govnode: &govnode,
        timings: Timings {
            chain: chain_ready,
            contracts: deployed - chain_ready,
            proposals: seeded_at - deployed,
            total: started.elapsed(),
        },
    };
    say!("{}", summary.render().trim_end());
    Ok(written)
}

fn write_files(
    dir: &Path,
    rpc_url: &str,
    chain_id: u64,
    contracts: &Contracts,
    nodes: &[NodeWallet],
    seeded: &Seeded,
    deployer: Address,
) -> Result<Setup, DevnetError> {
    let keys_dir = dir.join(files::KEYS_DIR);
    keys::private_dir(&keys_dir)?;
    for n in nodes {
        keys::write_secret(&keys_dir.join(&n.name), &keys::key_hex(&n.signer))?;
    }
    let token = keys::api_token();
    keys::write_secret(&dir.join(files::API_TOKEN_FILE), &token)?;
    let entries: Vec<NodeEntry<'_>> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeEntry {
            name: &n.name,
            address: n.signer.address(),
            strategy: files::strategy_for(i + 1),
        })
        .collect();
    let api_listen = std::net::SocketAddr::from(([127, 0, 0, 1], anvil::free_port()?));
    let config = files::write_config(
        dir,
        &ConfigSpec {
            chain_id,
            rpc_url,
            dao: contracts.dao,
            nodes: &entries,
            api_listen,
        },
    )?;
    // The daemon would refuse a bad file anyway; failing here names the cause.
    let settings = crate::config::load(&config, &LoadEnv::from_process()).map_err(|e| {
        DevnetError::Unexpected {
            what: format!("the written {}", config.display()),
            detail: e.report(),
        }
    })?;
    let control_socket = settings.control_socket;
    // sun_path holds 108 bytes including the terminating NUL.
    if control_socket.as_os_str().len() > 107 {
        return Err(DevnetError::Usage(format!(
            "the control socket {} would be longer than a unix socket path may be; use a shorter --dir",
            control_socket.display()
        )));
    }
    let api = format!("http://{api_listen}");
    let devnet = DevnetJson {
        // Scripts read it; a URL with credentials (kept in keys/rpc-url) is shown masked.
        rpc_url: if crate::config::url_has_credentials(rpc_url) {
            crate::telemetry::redact::redact_url(rpc_url)
        } else {
            rpc_url.to_owned()
        },
        chain_id,
        asset_dao: contracts.dao,
        voting_token: contracts.voting_token,
        assets: contracts
            .assets
            .iter()
            .map(|(t, a)| (t.symbol.to_owned(), *a))
            .collect(),
        deployer,
        nodes: entries
            .iter()
            .map(|n| DevnetNode {
                name: n.name.to_owned(),
                address: n.address,
                strategy: n.strategy.to_owned(),
            })
            .collect(),
        api: api.clone(),
        config: config.clone(),
        proposals: seeded.by_fate.clone(),
    };
    files::write_devnet_json(dir, &devnet)?;
    Ok(Setup {
        config,
        api,
        control_socket,
        ledger: dir.join(files::LEDGER),
    })
}

async fn node_lines(
    chain: &Chain,
    contracts: &Contracts,
    nodes: &[NodeWallet],
) -> Result<Vec<NodeLine>, DevnetError> {
    let token = TestToken::new(contracts.voting_token, &chain.provider);
    let reads = nodes.iter().enumerate().map(|(i, n)| {
        let token = &token;
        async move {
            let address = n.signer.address();
            let eth = chain.balance(address).await?;
            let dloop = token
                .balanceOf(address)
                .call()
                .await
                .map_err(|e| chain.err(format!("read the DLOOP balance of {}", n.name), e))?;
            Ok::<NodeLine, DevnetError>(NodeLine {
                name: n.name.clone(),
                address,
                strategy: files::strategy_for(i + 1).to_owned(),
                eth,
                dloop,
            })
        }
    });
    futures::future::try_join_all(reads).await
}

fn spawn_daemon(exe: &Path, config: &Path) -> Result<Child, DevnetError> {
    let mut cmd = process::supervised(exe);
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        // --config wins over it anyway; removed so nothing else reads it.
        .env_remove("GOVNODE_CONFIG")
        // Under systemd these belong to the devnet's own unit, not to a child.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES")
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    cmd.spawn().map_err(|e| DevnetError::DaemonSpawn {
        exe: exe.to_owned(),
        reason: e.to_string(),
    })
}

/// The round's summary, what it left undone, and each node's votes on chain.
fn print_round(report: &RoundReport, ledger: &Path) {
    say!("\n{}", report.summary());
    for left in &report.left {
        say!(
            "  not done: node {} proposal {}: {}",
            left.node,
            left.proposal_id,
            left.reason
        );
    }
    match tally::per_node(ledger) {
        Ok(lines) => say!("{}", lines.trim_end()),
        Err(e) => say!("cannot read the ledger for the per-node summary: {e}"),
    }
}
