//! The configuration file's shape: one serde type per section. Unknown keys
//! are rejected everywhere so that a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::strategy::RulesStrategyConfig;

/// The whole file. Either the single-DAO form (`chain`, `rpc` and `dao`) or
/// the many-DAO form (`chains` and `daos`) is required; every other section
/// has a default.
///
/// After loading, `chains` and `daos` always hold every chain and DAO (the
/// single-DAO form becomes one chain and one DAO named `default`), and
/// `chain`, `rpc`, `dao` and `nodes` hold one DAO's view: in a
/// [`super::Settings::for_dao`] view that DAO's, in the daemon-wide
/// settings the first DAO's.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, skip_serializing)]
    pub chain: ChainConfig,
    #[serde(default, skip_serializing)]
    pub rpc: RpcConfig,
    #[serde(default, skip_serializing)]
    pub dao: DaoConfig,
    /// Many-DAO form: every chain with its RPC endpoints.
    #[serde(default)]
    pub chains: Vec<ChainEntry>,
    /// Many-DAO form: every DAO, on one of `chains`.
    #[serde(default)]
    pub daos: Vec<DaoEntry>,
    /// Whether the file used the single-DAO form (`chain`, `rpc`, `dao`).
    #[serde(skip)]
    pub single_form: bool,
    #[serde(default)]
    pub nodes: Vec<NodeConfig>,
    #[serde(default)]
    pub strategies: BTreeMap<String, RulesStrategyConfig>,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub control: ControlConfig,
    #[serde(default)]
    pub ledger: LedgerConfig,
    #[serde(default)]
    pub round: RoundConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    #[serde(default)]
    pub watchdog: WatchdogConfig,
    #[serde(default)]
    pub webhooks: Vec<super::webhooks::WebhookConfig>,
    #[serde(default)]
    pub ha: super::ha::HaConfig,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// EIP-155 chain id every endpoint must report.
    pub id: u64,
    /// Human name shown in status output (`sepolia`, `anvil`).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RpcConfig {
    pub endpoints: Vec<EndpointConfig>,
    #[serde(default)]
    pub breaker: BreakerConfig,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default)]
    pub probe: ProbeConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Label used in logs, metrics and the API instead of the URL.
    pub name: String,
    /// Inline URL; only accepted when it carries no credentials.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default)]
    pub url_credential: Option<String>,
    /// The same node's WebSocket URL (`ws://` / `wss://`), for
    /// `round.on_new_proposal` subscriptions; calls stay on `url`.
    #[serde(default)]
    pub ws_url: Option<String>,
    #[serde(default)]
    pub ws_url_file: Option<PathBuf>,
    #[serde(default)]
    pub ws_url_credential: Option<String>,
    /// Lower is preferred.
    #[serde(default)]
    pub priority: u32,
    #[serde(default = "defaults::max_rps")]
    pub max_rps: u32,
    #[serde(default = "defaults::burst")]
    pub burst: u32,
    #[serde(default = "defaults::endpoint_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// Error ratio over `window` that opens the breaker (0.0–1.0).
    pub error_rate: f64,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Requests needed in `window` before `error_rate` is judged.
    pub min_requests: u32,
    /// First open period; doubles on each failed probe up to `max_cooldown`.
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    #[serde(with = "humantime_serde")]
    pub max_cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            error_rate: 0.5,
            window: Duration::from_secs(60),
            min_requests: 20,
            cooldown: Duration::from_secs(2),
            max_cooldown: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per call across all endpoints, the first included.
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Total time a single call may take, retries included.
    #[serde(with = "humantime_serde")]
    pub call_deadline: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            call_deadline: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// An endpoint this many blocks behind the best one is unhealthy.
    pub max_head_lag: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            interval: Duration::from_secs(5),
            max_head_lag: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DaoKind {
    /// DLoop's AssetDAO.
    #[default]
    Assetdao,
    /// An OpenZeppelin Governor (v4/v5).
    Governor,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaoConfig {
    pub kind: DaoKind,
    /// Contract address, 0x-prefixed.
    pub address: String,
    /// Governor only: the block from which `ProposalCreated` logs are scanned.
    #[serde(default)]
    pub start_block: Option<u64>,
    /// No vote is sent when the deadline is closer than this.
    #[serde(default = "defaults::vote_margin", with = "humantime_serde")]
    pub vote_margin: Duration,
    /// The same margin for DAOs whose clock counts blocks (most Governors).
    #[serde(default = "defaults::vote_margin_blocks")]
    pub vote_margin_blocks: u64,
}

/// One chain of the many-DAO form (`chains[]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChainEntry {
    /// Named by `daos[].chain`; the `chain` label of the RPC metrics.
    pub name: String,
    /// EIP-155 chain id every endpoint must report.
    pub id: u64,
    /// This chain's endpoints, exactly as the single-DAO form's `rpc`.
    pub rpc: RpcConfig,
}

/// One DAO of the many-DAO form (`daos[]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaoEntry {
    /// The `dao` label of metrics, the journal's `DAO=` field, the API's
    /// `/api/v1/daos/{name}` and `govnode round --dao NAME`.
    pub name: String,
    /// The `chains[].name` it lives on.
    pub chain: String,
    pub kind: DaoKind,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_block: Option<u64>,
    #[serde(default = "defaults::vote_margin", with = "humantime_serde")]
    pub vote_margin: Duration,
    #[serde(default = "defaults::vote_margin_blocks")]
    pub vote_margin_blocks: u64,
    /// Which nodes vote here, each with its strategy. Unset: every node,
    /// with its own strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<Vec<VoterEntry>>,
}

impl DaoEntry {
    /// The single-DAO `dao` section this DAO amounts to.
    pub fn dao_config(&self) -> DaoConfig {
        DaoConfig {
            kind: self.kind,
            address: self.address.clone(),
            start_block: self.start_block,
            vote_margin: self.vote_margin,
            vote_margin_blocks: self.vote_margin_blocks,
        }
    }
}

/// A node voting in one DAO (`daos[].voters[]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VoterEntry {
    /// A `nodes[].name`.
    pub node: String,
    /// Its strategy in this DAO; unset: the node's own `strategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub name: String,
    /// File holding the hex private key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// systemd credential holding the hex private key.
    #[serde(default)]
    pub key_credential: Option<String>,
    /// The backend that signs for this node (`kind: key|keystore`); instead of `key_file`.
    #[serde(default)]
    pub signer: Option<crate::signer::SignerConfig>,
    /// `conservative`, `aggressive`, or a name under `strategies`.
    #[serde(default = "defaults::strategy")]
    pub strategy: String,
    /// With `ha.enabled`: the lease group this node's votes belong to.
    #[serde(default)]
    pub ha: NodeHaConfig,
}

/// A node's `ha:` keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeHaConfig {
    /// The lease group: the daemons of a deployment elect one leader per
    /// group, so nodes in different groups can vote from different daemons.
    /// Default: `default`, one group for every node.
    pub group: Option<String>,
}

impl NodeConfig {
    /// The node's lease group (`ha.group`, else `default`).
    pub fn ha_group(&self) -> &str {
        self.ha
            .group
            .as_deref()
            .unwrap_or(crate::ledger::pg::DEFAULT_GROUP)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `false` disables the HTTP listener entirely.
    pub enabled: bool,
    pub listen: SocketAddr,
    /// Bearer token required by the state-changing endpoints.
    pub token_file: Option<PathBuf>,
    pub token_credential: Option<String>,
    /// Origins allowed by CORS. Empty: no CORS headers at all.
    pub allowed_origins: Vec<String>,
    pub rate_limit: RateLimitConfig,
    pub max_body_bytes: usize,
    /// DLoop's node API shapes on `/`, `/health`, `/nodes`,
    /// `/active-proposals`, `/trigger-voting` and `/emergency-voting`.
    pub dloop_compat: bool,
    /// Compat mode's two `POST`s without the bearer token; only with a
    /// loopback `listen`.
    pub dloop_compat_open_on_loopback: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 5001)),
            token_file: None,
            token_credential: None,
            allowed_origins: Vec::new(),
            rate_limit: RateLimitConfig::default(),
            max_body_bytes: 64 * 1024,
            dloop_compat: false,
            dloop_compat_open_on_loopback: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client IP.
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_second: 20,
            burst: 40,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Unix socket for `govnode round`. Default: `$RUNTIME_DIRECTORY/control.sock`,
    /// else `/run/govnode/control.sock`.
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// Which backend holds the ledger.
    pub kind: LedgerKind,
    /// SQLite file. Default: `$STATE_DIRECTORY/ledger.sqlite`, else
    /// `/var/lib/govnode/ledger.sqlite`.
    pub path: Option<PathBuf>,
    /// PostgreSQL conninfo (it may hold a password), from a file or a
    /// systemd credential only.
    pub url_file: Option<PathBuf>,
    pub url_credential: Option<String>,
    pub sslmode: crate::ledger::pg::SslMode,
    /// CA bundle that `sslmode: verify-full` checks the server against.
    pub ca_file: Option<PathBuf>,
    /// How long one ledger operation on PostgreSQL (connecting included) may
    /// take before the connection is given up: a server that stops answering
    /// without closing (a stalled network) must not hold a round.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            kind: LedgerKind::default(),
            path: None,
            url_file: None,
            url_credential: None,
            sslmode: crate::ledger::pg::SslMode::default(),
            ca_file: None,
            query_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    #[default]
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoundConfig {
    /// A round still running after this is stopped and reports what is left.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// Concurrent chain reads during a round.
    pub concurrency: usize,
    /// JSON-RPC calls sent together in one batch request during a round;
    /// 1 sends every call on its own (providers that refuse batches).
    pub batch_size: usize,
    /// Decide and simulate, send nothing.
    pub dry_run: bool,
    /// Run a round right after start-up (in addition to timer triggers).
    pub on_start: bool,
    /// The longest wait between two looks at the votes in flight when no
    /// new block arrives; where no endpoint has `eth_getBlockReceipts`, how
    /// often their receipts are polled.
    #[serde(with = "humantime_serde")]
    pub receipt_poll: Duration,
    /// A wallet's votes on their way at once (sent, not mined); the next
    /// ones are sent as earlier ones are mined. Nodes keep 16 executable
    /// transactions per account by default (geth), providers often fewer.
    pub max_in_flight_per_wallet: usize,
    /// A wallet none of whose votes was mined for this many blocks has its
    /// unmined votes re-sent with the same nonces and higher fees.
    pub bump_after_blocks: u64,
    /// Fee increase of each re-send, in percent (nodes require more than 10).
    pub fee_bump_percent: u32,
    /// No vote is signed with a higher `maxFeePerGas`, bumps included; a
    /// vote the chain's base fee prices above it waits and is reported.
    pub max_fee_per_gas: super::Wei,
    /// Ceiling of `maxPriorityFeePerGas` (the tip), bumps included.
    pub max_priority_fee_per_gas: super::Wei,
    /// What one node may spend on gas in any 24 hours (mined fees, plus the
    /// most its unmined transactions can cost); votes beyond it wait.
    pub daily_spend_limit: super::Wei,
    /// Times one vote is signed again after the chain reverted it (a pause,
    /// a state change in its block); a vote whose estimate was refused for a
    /// passing cause costs nothing and is not counted.
    pub max_vote_retries: u32,
    /// Start a round when the DAO creates a proposal (in addition to the
    /// timer): over an endpoint's `ws_url` subscription, else by log polls.
    pub on_new_proposal: bool,
    /// How often the DAO's new-proposal logs are polled when no endpoint
    /// has a `ws_url`, and how often a dropped subscription is retried.
    #[serde(with = "humantime_serde")]
    pub new_proposal_poll: Duration,
    /// Quiet time after a new proposal before its round starts, so that
    /// proposals created together are voted in one round.
    #[serde(with = "humantime_serde")]
    pub new_proposal_debounce: Duration,
}

impl Default for RoundConfig {
    fn default() -> Self {
        RoundConfig {
            deadline: Duration::from_secs(600),
            concurrency: 8,
            batch_size: 50,
            dry_run: false,
            on_start: false,
            receipt_poll: Duration::from_millis(500),
            max_in_flight_per_wallet: 16,
            bump_after_blocks: 3,
            fee_bump_percent: 25,
            max_fee_per_gas: super::Wei::gwei(200),
            max_priority_fee_per_gas: super::Wei::gwei(5),
            daily_spend_limit: super::Wei::gwei(500_000_000),
            max_vote_retries: 3,
            on_new_proposal: false,
            new_proposal_poll: Duration::from_secs(12),
            new_proposal_debounce: Duration::from_millis(300),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogTarget {
    /// journald when `JOURNAL_STREAM` is set (started by systemd), else stderr.
    #[default]
    Auto,
    Journald,
    Stderr,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter (`info`, `govnode=debug,info`); `RUST_LOG` overrides it.
    pub level: String,
    pub format: LogFormat,
    pub target: LogTarget,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
            target: LogTarget::Auto,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Time given to running work after SIGTERM before the daemon exits anyway.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            drain_timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogConfig {
    /// A heartbeat round-trip slower than this counts as a failed check.
    #[serde(with = "humantime_serde")]
    pub heartbeat_timeout: Duration,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        WatchdogConfig {
            heartbeat_timeout: Duration::from_secs(2),
        }
    }
}

mod defaults {
    use std::time::Duration;

    pub fn max_rps() -> u32 {
        25
    }
    pub fn burst() -> u32 {
        50
    }
    pub fn endpoint_timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub fn vote_margin() -> Duration {
        Duration::from_secs(60)
    }
    pub fn vote_margin_blocks() -> u64 {
        5
    }
    pub fn strategy() -> String {
        "conservative".into()
    }
}
