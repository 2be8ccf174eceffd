//! What the devnet writes into its directory: key files, the API token,
//! `config.yaml` (a complete govnode configuration) and `devnet.json` (the
//! deployment, for scripts and tests).
//!
//! A new devnet is a new chain, so every file a previous run generated in the
//! directory (ledger included) is removed first; other files are left alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use serde::Serialize;

use super::error::DevnetError;
use super::keys;
use super::scenario::Fate;

pub const CONFIG_FILE: &str = "config.yaml";
pub const DEVNET_FILE: &str = "devnet.json";
pub const ANVIL_LOG: &str = "anvil.log";
pub const KEYS_DIR: &str = "keys";
pub const API_TOKEN_FILE: &str = "keys/api-token";
pub const RPC_URL_FILE: &str = "keys/rpc-url";
pub const LEDGER: &str = "ledger.sqlite";
const CONTROL_SOCKET: &str = "control.sock";

/// Everything a previous run may have generated, relative to the directory.
const GENERATED: [&str; 8] = [
    CONFIG_FILE,
    DEVNET_FILE,
    ANVIL_LOG,
    LEDGER,
    "ledger.sqlite-wal",
    "ledger.sqlite-shm",
    "ledger.sqlite-journal",
    CONTROL_SOCKET,
];

/// Creates the directory (absolute path returned) and removes a previous
/// run's files. Refuses while a daemon still answers on its control socket.
/// Returns whether anything was removed.
pub fn prepare_dir(dir: &Path) -> Result<(PathBuf, bool), DevnetError> {
    std::fs::create_dir_all(dir).map_err(|e| DevnetError::io("create", dir, e))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| DevnetError::io("resolve", dir, e))?;
    let socket = dir.join(CONTROL_SOCKET);
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        return Err(DevnetError::DaemonStillRunning { socket });
    }
    let mut removed = false;
    for name in GENERATED {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DevnetError::io("remove", path, e)),
        }
    }
    let keys_dir = dir.join(KEYS_DIR);
    if keys_dir.exists() {
        std::fs::remove_dir_all(&keys_dir).map_err(|e| DevnetError::io("remove", &keys_dir, e))?;
        removed = true;
    }
    Ok((dir, removed))
}

/// A node as the configuration and `devnet.json` name it.
pub struct NodeEntry<'a> {
    pub name: &'a str,
    pub address: Address,
    pub strategy: &'static str,
}

/// What `config.yaml` is written from.
pub struct ConfigSpec<'a> {
    pub chain_id: u64,
    pub rpc_url: &'a str,
    pub dao: Address,
    pub nodes: &'a [NodeEntry<'a>],
    pub api_listen: SocketAddr,
}

/// The name of the declarative strategy some nodes use.
pub const RULES_STRATEGY: &str = "stable-only";

/// Strategy of the 1-based node `index`: conservative and aggressive in turn,
/// every fifth node the declarative [`RULES_STRATEGY`].
pub fn strategy_for(index: usize) -> &'static str {
    if index.is_multiple_of(5) {
        RULES_STRATEGY
    } else if !index.is_multiple_of(2) {
        "conservative"
    } else {
        "aggressive"
    }
}

/// Writes `config.yaml`. An RPC URL with credentials goes to a key file.
pub fn write_config(dir: &Path, spec: &ConfigSpec<'_>) -> Result<PathBuf, DevnetError> {
    let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let url_line = if crate::config::url_has_credentials(spec.rpc_url) {
        keys::write_secret(&dir.join(RPC_URL_FILE), spec.rpc_url)?;
        format!("url_file: {RPC_URL_FILE}")
    } else {
        format!("url: {}", q(spec.rpc_url))
    };
    let mut y = String::new();
    // `write!` to a String cannot fail.
    let _ = write!(
        y,
        "# govnode configuration for a devnet, written by `govnode devnet`.\n\
         # A new `govnode devnet --dir` run rewrites this file and its keys.\n\
         # Relative paths are resolved against this file's directory.\n\
         # Run the daemon on it: govnode run --config {CONFIG_FILE}\n\n\
         chain:\n  id: {chain}\n  name: devnet\n\n\
         rpc:\n  endpoints:\n    - name: devnet\n      {url_line}\n      \
         # A local chain answers fast; the rate limit protects public endpoints.\n      \
         max_rps: 1000\n      burst: 2000\n      timeout: 10s\n\n\
         dao:\n  kind: assetdao\n  address: {dao}\n  vote_margin: 60s\n\n\
         nodes:\n",
        chain = spec.chain_id,
        dao = q(&spec.dao.to_string()),
    );
    for n in spec.nodes {
        let _ = write!(
            y,
            "  - name: {name}\n    key_file: {KEYS_DIR}/{name}\n    strategy: {strategy}\n",
            name = n.name,
            strategy = n.strategy,
        );
    }
    if spec.nodes.iter().any(|n| n.strategy == RULES_STRATEGY) {
        let _ = write!(
            y,
            "\nstrategies:\n  {RULES_STRATEGY}:\n    rules:\n      \
             - name: small-stablecoin-investments\n        match:\n          \
             proposal_type: [investment]\n          asset_symbol: [USDC, EURT]\n          \
             amount_max: \"100000\"\n        vote: for\n        \
             reason: small stablecoin investment\n      \
             - name: large-amounts\n        match:\n          amount_min: \"100000\"\n        \
             vote: against\n        reason: amount above the 100k threshold\n    \
             default:\n      vote: skip\n      reason: outside this node's mandate\n"
        );
    }
    let _ = write!(
        y,
        "\napi:\n  enabled: true\n  listen: {listen}\n  token_file: {API_TOKEN_FILE}\n\n\
         control:\n  socket: {CONTROL_SOCKET}\n\n\
         ledger:\n  path: {LEDGER}\n\n\
         round:\n  deadline: 5m\n  concurrency: 16\n  dry_run: false\n  on_start: true\n\n\
         log:\n  level: info\n  format: text\n  target: stderr\n",
        listen = q(&spec.api_listen.to_string()),
    );
    let path = dir.join(CONFIG_FILE);
    std::fs::write(&path, y).map_err(|e| DevnetError::io("write", &path, e))?;
    Ok(path)
}

/// `devnet.json`: the deployment as scripts and tests read it. Addresses are
/// written checksummed (EIP-55).
#[derive(Debug, Serialize)]
pub struct DevnetJson {
    pub rpc_url: String,
    pub chain_id: u64,
    #[serde(serialize_with = "checksummed")]
    pub asset_dao: Address,
    #[serde(serialize_with = "checksummed")]
    pub voting_token: Address,
    /// Symbol → address.
    #[serde(serialize_with = "checksummed_map")]
    pub assets: BTreeMap<String, Address>,
    #[serde(serialize_with = "checksummed")]
    pub deployer: Address,
    pub nodes: Vec<DevnetNode>,
    /// Base URL of the daemon's HTTP API.
    pub api: String,
    /// Absolute path of `config.yaml`.
    pub config: PathBuf,
    /// Proposal ids by what the devnet did with them.
    pub proposals: BTreeMap<Fate, Vec<u64>>,
}

#[derive(Debug, Serialize)]
pub struct DevnetNode {
    pub name: String,
    #[serde(serialize_with = "checksummed")]
    pub address: Address,
    pub strategy: String,
}

fn checksummed<S: serde::Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_checksum(None))
}

fn checksummed_map<S: serde::Serializer>(
    m: &BTreeMap<String, Address>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(m.iter().map(|(k, a)| (k, a.to_checksum(None))))
}

pub fn write_devnet_json(dir: &Path, devnet: &DevnetJson) -> Result<PathBuf, DevnetError> {
    let path = dir.join(DEVNET_FILE);
    let text = serde_json::to_string_pretty(devnet).map_err(|e| DevnetError::Unexpected {
        what: format!("encode {}", path.display()),
        detail: e.to_string(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|e| DevnetError::io("write", &path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadEnv, load};

    fn write_all(dir: &Path, url: &str, count: usize) -> PathBuf {
        keys::private_dir(&dir.join(KEYS_DIR)).expect("keys dir");
        let names: Vec<String> = (1..=count).map(keys::node_name).collect();
        let mut nodes = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let signer = keys::node_signer(i + 1);
            keys::write_secret(&dir.join(KEYS_DIR).join(name), &keys::key_hex(&signer))
                .expect("key");
            nodes.push(NodeEntry {
                name,
                address: signer.address(),
                strategy: strategy_for(i + 1),
            });
        }
        keys::write_secret(&dir.join(API_TOKEN_FILE), &keys::api_token()).expect("token");
        let spec = ConfigSpec {
            chain_id: 31337,
            rpc_url: url,
            dao: Address::repeat_byte(0x11),
            nodes: &nodes,
            api_listen: "127.0.0.1:5123".parse().expect("addr"),
        };
        write_config(dir, &spec).expect("config")
    }

    #[test]
    fn written_config_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_all(dir.path(), "http://127.0.0.1:8545", 5);
        let settings =
            load(&path, &LoadEnv::default()).unwrap_or_else(|e| panic!("{}", e.report()));
        assert_eq!(settings.node_keys.len(), 5);
        assert_eq!(
            settings.node_keys[0].signer.address(),
            keys::node_signer(1).address()
        );
        assert_eq!(settings.config.nodes[4].strategy, RULES_STRATEGY);
        assert_eq!(settings.config.nodes[1].strategy, "aggressive");
        assert!(settings.config.round.on_start);
        assert_eq!(settings.ledger_path, dir.path().join("ledger.sqlite"));
        assert_eq!(settings.control_socket, dir.path().join("control.sock"));
        assert!(settings.api_token.is_some());
        assert_eq!(settings.rpc_urls[0].expose(), "http://127.0.0.1:8545");
    }

    #[test]
    fn url_with_credentials_goes_to_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = "https://user:pw@chain.example/rpc";
        let path = write_all(dir.path(), url, 2);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("pw@"), "{text}");
        let settings =
            load(&path, &LoadEnv::default()).unwrap_or_else(|e| panic!("{}", e.report()));
        assert_eq!(settings.rpc_urls[0].expose(), url);
        assert!(!settings.config.strategies.contains_key(RULES_STRATEGY));
    }

    #[test]
    fn prepare_removes_generated_files_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [CONFIG_FILE, DEVNET_FILE, LEDGER, "mine.txt"] {
            std::fs::write(dir.path().join(name), "x").expect("write");
        }
        std::fs::create_dir(dir.path().join(KEYS_DIR)).expect("mkdir");
        std::fs::write(dir.path().join(API_TOKEN_FILE), "t").expect("write");
        let (abs, removed) = prepare_dir(dir.path()).expect("prepare");
        assert!(removed);
        assert!(abs.is_absolute());
        assert!(!dir.path().join(LEDGER).exists());
        assert!(!dir.path().join(KEYS_DIR).exists());
        assert!(dir.path().join("mine.txt").exists());
        let (_, removed) = prepare_dir(dir.path()).expect("prepare");
        assert!(!removed);
    }
}
