//! Many DAOs on many chains: the `chains:` / `daos:` form, the single-DAO
//! form's place in it, its checks, and the per-DAO view of the settings that
//! each DAO's round works with.

use std::collections::{BTreeMap, BTreeSet};

use super::issues::{Issues, Validate, field, index};
use super::load::Settings;
use super::schema::{ChainConfig, ChainEntry, Config, DaoEntry, NodeConfig};
use super::secret::Secret;
use super::validate::{LABEL_RULE, is_label};

/// The DAO and chain name the single-DAO form's one DAO and chain carry.
pub const SINGLE_NAME: &str = "default";

pub(super) const MIXED_FORMS: &str = "`chain`, `rpc` and `dao` are the single-DAO form and cannot \
     stand next to `chains` and `daos`: move the chain and its `rpc` into an entry of `chains` and \
     the DAO into an entry of `daos` (`govnode check-config --to-many-daos` on the single-DAO file \
     prints the converted sections)";

/// The RPC URLs of one chain, read from their files or credentials.
#[derive(Debug, Clone, Default)]
pub struct ChainSecrets {
    /// In `rpc.endpoints` order.
    pub rpc_urls: Vec<Secret>,
    /// Per endpoint, in the same order: its WebSocket URL, if it has one.
    pub rpc_ws_urls: Vec<Option<Secret>>,
}

/// Gives both forms the same shape: the single-DAO form becomes one chain
/// and one DAO named `default`; the many-DAO form's first DAO fills `chain`,
/// `rpc` and `dao`.
pub(super) fn normalize(config: &mut Config) {
    if config.chains.is_empty() && config.daos.is_empty() {
        config.single_form = true;
        config.chains = vec![ChainEntry {
            name: SINGLE_NAME.to_owned(),
            id: config.chain.id,
            rpc: config.rpc.clone(),
        }];
        let dao = &config.dao;
        config.daos = vec![DaoEntry {
            name: SINGLE_NAME.to_owned(),
            chain: SINGLE_NAME.to_owned(),
            kind: dao.kind,
            address: dao.address.clone(),
            start_block: dao.start_block,
            vote_margin: dao.vote_margin,
            vote_margin_blocks: dao.vote_margin_blocks,
            voters: None,
        }];
        return;
    }
    if let Some(first) = config.daos.first().cloned()
        && let Some(chain) = config.chains.iter().find(|c| c.name == first.chain)
    {
        config.chain = ChainConfig {
            id: chain.id,
            name: Some(chain.name.clone()),
        };
        config.rpc = chain.rpc.clone();
        config.dao = first.dao_config();
    }
}

/// The many-DAO form's checks; the single-DAO form keeps its own.
pub(super) fn validate_many(config: &Config, issues: &mut Issues) {
    if config.chains.is_empty() {
        issues.push("chains", "at least one chain is required");
    }
    if config.daos.is_empty() {
        issues.push("daos", "at least one DAO is required");
    }
    let mut names = BTreeSet::new();
    let mut ids = BTreeMap::new();
    let mut endpoints: BTreeMap<&str, String> = BTreeMap::new();
    for (i, chain) in config.chains.iter().enumerate() {
        let p = index("chains", i);
        if !is_label(&chain.name) {
            issues.push(field(&p, "name"), LABEL_RULE);
        }
        if !names.insert(chain.name.as_str()) {
            issues.push(
                field(&p, "name"),
                format!("duplicate chain name {:?}", chain.name),
            );
        }
        if chain.id == 0 {
            issues.push(field(&p, "id"), "must be a positive chain id");
        } else if let Some(other) = ids.insert(chain.id, chain.name.as_str()) {
            // One pool and one nonce owner per chain: two entries would send
            // from the same wallets with nonces neither knows of.
            issues.push(
                field(&p, "id"),
                format!(
                    "chain id {} is also chain {other:?}: list a chain once and put all its endpoints there",
                    chain.id
                ),
            );
        }
        let rpc = field(&p, "rpc");
        chain.rpc.validate(&rpc, issues);
        for (j, ep) in chain.rpc.endpoints.iter().enumerate() {
            let at = field(&index(&field(&rpc, "endpoints"), j), "name");
            match endpoints.get(ep.name.as_str()) {
                Some(first) if !first.starts_with(&p) => issues.push(
                    at,
                    format!(
                        "endpoint name {:?} is also used at {first}: endpoint names label metrics and credentials across every chain",
                        ep.name
                    ),
                ),
                Some(_) => {}
                None => {
                    endpoints.insert(&ep.name, at);
                }
            }
        }
    }
    let nodes: BTreeMap<&str, &NodeConfig> =
        config.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut dao_names = BTreeSet::new();
    let mut contracts = BTreeMap::new();
    for (i, dao) in config.daos.iter().enumerate() {
        let p = index("daos", i);
        if !is_label(&dao.name) {
            issues.push(field(&p, "name"), LABEL_RULE);
        }
        if !dao_names.insert(dao.name.as_str()) {
            issues.push(
                field(&p, "name"),
                format!("duplicate DAO name {:?}", dao.name),
            );
        }
        if !names.contains(dao.chain.as_str()) {
            issues.push(
                field(&p, "chain"),
                format!(
                    "unknown chain {:?} (chains: {})",
                    dao.chain,
                    names.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        dao.dao_config().validate(&p, issues);
        let contract = (dao.chain.as_str(), dao.address.to_ascii_lowercase());
        if let Some(other) = contracts.insert(contract, dao.name.as_str()) {
            issues.push(
                field(&p, "address"),
                format!(
                    "DAO {other:?} is the same contract on the same chain: a voter would vote twice"
                ),
            );
        }
        let Some(voters) = &dao.voters else { continue };
        if voters.is_empty() {
            issues.push(
                field(&p, "voters"),
                "is empty: leave it out for every node, or name the nodes that vote here",
            );
        }
        let mut seen = BTreeSet::new();
        for (j, voter) in voters.iter().enumerate() {
            let vp = index(&field(&p, "voters"), j);
            if !nodes.contains_key(voter.node.as_str()) {
                issues.push(
                    field(&vp, "node"),
                    format!(
                        "unknown node {:?} (nodes: {})",
                        voter.node,
                        nodes.keys().copied().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if !seen.insert(voter.node.as_str()) {
                issues.push(
                    field(&vp, "node"),
                    format!("node {:?} is listed twice", voter.node),
                );
            }
            if let Some(strategy) = &voter.strategy
                && !crate::strategy::BUILTIN.contains(&strategy.as_str())
                && !config.strategies.contains_key(strategy)
            {
                issues.push(
                    field(&vp, "strategy"),
                    format!(
                        "unknown strategy {strategy:?}: use conservative, aggressive or a name defined under strategies"
                    ),
                );
            }
        }
    }
}

/// For a file in the single-DAO form: the same chain and DAO in the
/// many-DAO form, ready to paste when a second DAO is added.
pub fn conversion_hint(config: &Config) -> Option<String> {
    if !config.single_form {
        return None;
    }
    #[derive(serde::Serialize)]
    struct Many<'a> {
        chains: &'a [ChainEntry],
        daos: &'a [DaoEntry],
    }
    serde_norway::to_string(&Many {
        chains: &config.chains,
        daos: &config.daos,
    })
    .ok()
}

impl Settings {
    /// Every DAO's name, in `daos` order.
    pub fn dao_names(&self) -> Vec<String> {
        self.config.daos.iter().map(|d| d.name.clone()).collect()
    }

    /// The name of the DAO this view is for (the daemon-wide settings: the
    /// first DAO).
    pub fn dao_name(&self) -> &str {
        self.config
            .daos
            .first()
            .map(|d| d.name.as_str())
            .unwrap_or(SINGLE_NAME)
    }

    /// The name of the chain this view's DAO lives on.
    pub fn chain_name(&self) -> &str {
        self.config
            .daos
            .first()
            .map(|d| d.chain.as_str())
            .unwrap_or(SINGLE_NAME)
    }

    /// The settings as one DAO's round sees them: its chain in `chain` and
    /// `rpc` (URLs included), the DAO in `dao`, only its voters in `nodes`
    /// (with their strategy there) and `node_keys`, and only itself in
    /// `daos`. `None` for an index past the last DAO.
    pub fn for_dao(&self, i: usize) -> Option<Settings> {
        let dao = self.config.daos.get(i)?;
        let ci = self
            .config
            .chains
            .iter()
            .position(|c| c.name == dao.chain)?;
        let chain = &self.config.chains[ci];
        let mut view = self.clone();
        if !self.config.single_form {
            view.config.chain = ChainConfig {
                id: chain.id,
                name: Some(chain.name.clone()),
            };
        }
        view.config.rpc = chain.rpc.clone();
        view.config.dao = dao.dao_config();
        if let Some(voters) = &dao.voters {
            view.config.nodes = voters
                .iter()
                .filter_map(|v| {
                    let node = self.config.nodes.iter().find(|n| n.name == v.node)?;
                    let mut node = node.clone();
                    if let Some(s) = &v.strategy {
                        node.strategy = s.clone();
                    }
                    Some(node)
                })
                .collect();
            view.node_keys = view
                .config
                .nodes
                .iter()
                .filter_map(|n| self.node_keys.iter().find(|k| k.name == n.name).cloned())
                .collect();
        }
        if let Some(secrets) = self.chain_secrets.get(ci) {
            view.rpc_urls = secrets.rpc_urls.clone();
            view.rpc_ws_urls = secrets.rpc_ws_urls.clone();
        }
        view.config.daos = vec![dao.clone()];
        view.config.chains = vec![chain.clone()];
        view.chain_secrets = self.chain_secrets.get(ci).cloned().into_iter().collect();
        Some(view)
    }

    /// One view per DAO, in `daos` order.
    pub fn dao_views(&self) -> Vec<Settings> {
        (0..self.config.daos.len())
            .filter_map(|i| self.for_dao(i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Issues, LoadEnv, Validate, parse};

    const NODES: &str =
        "nodes:\n  - { name: a, key_file: a.key }\n  - { name: b, key_file: b.key }\n";

    fn chain(name: &str, id: u64, endpoint: &str) -> String {
        format!(
            "  - name: {name}\n    id: {id}\n    rpc: {{ endpoints: [{{ name: {endpoint}, url: 'http://127.0.0.1:1' }}] }}\n"
        )
    }

    /// Every problem the file has, as `path: message` lines.
    fn problems(yaml: &str) -> Vec<String> {
        let mut issues = Issues::default();
        if let Some(config) = parse(yaml, &LoadEnv::default(), &mut issues) {
            config.validate("", &mut issues);
        }
        issues
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect()
    }

    const ALPHA: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const BETA: &str = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";

    #[test]
    fn a_valid_many_dao_file_gives_each_dao_its_view() {
        let yaml = format!(
            "chains:\n{}{}daos:\n  - {{ name: alpha, chain: l1, kind: assetdao, address: '{ALPHA}' }}\n  - name: beta\n    chain: l2\n    kind: governor\n    address: '{BETA}'\n    voters: [{{ node: b, strategy: aggressive }}]\n{NODES}",
            chain("l1", 1, "l1-a"),
            chain("l2", 10, "l2-a"),
        );
        assert!(problems(&yaml).is_empty(), "{:?}", problems(&yaml));
        let mut issues = Issues::default();
        let config = parse(&yaml, &LoadEnv::default(), &mut issues).expect("parses");
        assert!(!config.single_form);
        // The daemon-wide view is the first DAO's.
        assert_eq!((config.chain.id, config.dao.address.as_str()), (1, ALPHA));
    }

    #[test]
    fn mistakes_are_named_where_they_are() {
        let yaml = format!(
            "chains:\n{}{}daos:\n  - {{ name: alpha, chain: l3, kind: assetdao, address: '{ALPHA}' }}\n  - name: alpha\n    chain: l1\n    kind: assetdao\n    address: '{ALPHA}'\n  - name: gamma\n    chain: l1\n    kind: assetdao\n    address: '{ALPHA}'\n    voters: [{{ node: c }}, {{ node: a, strategy: bold }}]\n{NODES}",
            chain("l1", 1, "shared"),
            chain("l2", 1, "shared"),
        );
        let found = problems(&yaml);
        for want in [
            "chains[1].id: chain id 1 is also chain \"l1\"",
            "chains[1].rpc.endpoints[0].name: endpoint name \"shared\" is also used at chains[0].rpc.endpoints[0].name",
            "daos[0].chain: unknown chain \"l3\" (chains: l1, l2)",
            "daos[1].name: duplicate DAO name \"alpha\"",
            "daos[2].address: DAO \"alpha\" is the same contract on the same chain",
            "daos[2].voters[0].node: unknown node \"c\" (nodes: a, b)",
            "daos[2].voters[1].strategy: unknown strategy \"bold\"",
        ] {
            assert!(
                found.iter().any(|f| f.starts_with(want)),
                "missing {want:?} in {found:#?}"
            );
        }
    }

    #[test]
    fn the_two_forms_do_not_mix_and_the_single_form_converts() {
        let single = format!(
            "chain: {{ id: 1 }}\nrpc: {{ endpoints: [{{ name: a, url: 'http://127.0.0.1:1' }}] }}\ndao: {{ kind: assetdao, address: '{ALPHA}' }}\n{NODES}"
        );
        let mixed = format!("{single}daos: []\n");
        let found = problems(&mixed);
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("chain: `chain`, `rpc` and `dao` are the single-DAO form")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f == "chains: missing required section"),
            "{found:#?}"
        );
        let mut issues = Issues::default();
        let config = parse(&single, &LoadEnv::default(), &mut issues).expect("parses");
        let hint = super::conversion_hint(&config).expect("a single-DAO file converts");
        // The hint is itself a valid many-DAO file, with the nodes added.
        assert!(problems(&format!("{hint}{NODES}")).is_empty(), "{hint}");
        assert!(hint.contains("name: default"), "{hint}");
    }
}
