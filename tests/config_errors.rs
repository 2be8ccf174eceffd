//! Bad configuration is reported precisely: every problem with its path,
//! exit 78 (EX_CONFIG) from both `check-config` and `run`, and no panic.

mod support {
    pub mod daemon;
}

use support::daemon::{DEV_KEY, Workdir, base_config, binary, check_config, govnode};

const EX_CONFIG: i32 = 78;

fn assert_rejected(work: &Workdir, yaml: &str, expected: &[&str]) -> String {
    let path = work.write("config.yaml", yaml);
    let (code, out) = check_config(&path, &[]);
    assert_eq!(code, EX_CONFIG, "check-config exit code; output: {out}");
    for needle in expected {
        assert!(out.contains(needle), "expected {needle:?} in: {out}");
    }
    assert!(!out.contains("panicked"), "{out}");
    // `run` refuses the same file with the same code, before serving anything.
    let run = std::process::Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run govnode");
    assert_eq!(run.status.code(), Some(EX_CONFIG), "run exit code");
    out
}

#[test]
fn unknown_key_names_its_path() {
    let work = Workdir::new();
    let yaml = base_config(
        5001,
        "http://127.0.0.1:8545",
        "api:\n  listen: 127.0.0.1:5001\n  lisen: x\n",
    );
    assert_rejected(&work, &yaml, &["api.lisen: unknown field `lisen`"]);
}

#[test]
fn unknown_section_is_rejected() {
    let work = Workdir::new();
    let yaml = base_config(5001, "http://127.0.0.1:8545", "rounds:\n  deadline: 5m\n");
    assert_rejected(&work, &yaml, &["rounds: unknown section"]);
}

#[test]
fn wrong_type_names_its_path() {
    let work = Workdir::new();
    let yaml = base_config(
        5001,
        "http://127.0.0.1:8545",
        "round:\n  concurrency: many\n",
    );
    assert_rejected(&work, &yaml, &["round.concurrency:", "invalid type"]);
}

#[test]
fn bad_url_names_the_endpoint() {
    let work = Workdir::new();
    let yaml = "chain: {id: 1}\nrpc:\n  endpoints:\n    - {name: a, url: 'http://127.0.0.1:8545'}\n    - {name: b, url: 'ftp://rpc.example'}\ndao: {kind: assetdao, address: '0x5FbDB2315678afecb367f032d93F642f64180aa3'}\n";
    assert_rejected(
        &work,
        yaml,
        &["rpc.endpoints[1].url: scheme must be http or https"],
    );
}

#[test]
fn inline_private_key_is_refused_with_advice_and_not_echoed() {
    let work = Workdir::new();
    let yaml = format!(
        "chain: {{id: 1}}\nrpc: {{endpoints: [{{name: a, url: 'http://127.0.0.1:8545'}}]}}\ndao: {{kind: assetdao, address: '0x5FbDB2315678afecb367f032d93F642f64180aa3'}}\nnodes:\n  - name: n1\n    key: \"{DEV_KEY}\"\n"
    );
    let out = assert_rejected(
        &work,
        &yaml,
        &[
            "nodes[0].key: inline private keys are not accepted",
            "key_file",
            "LoadCredential",
        ],
    );
    assert!(
        !out.contains(&DEV_KEY[2..]),
        "the key must not be echoed: {out}"
    );
}

#[test]
fn url_with_credentials_inline_is_refused_without_echoing_it() {
    let work = Workdir::new();
    let secret_url = "https://mainnet.example.io/v3/0123456789abcdef0123456789abcdef";
    let yaml = base_config(5001, secret_url, "");
    let out = assert_rejected(
        &work,
        &yaml,
        &[
            "rpc.endpoints[0].url: this URL carries credentials",
            "url_file",
        ],
    );
    assert!(!out.contains("0123456789abcdef0123456789abcdef"), "{out}");
}

#[test]
fn missing_key_file_names_the_node() {
    let work = Workdir::new();
    let yaml = base_config(5001, "http://127.0.0.1:8545", "")
        .replace("key_file: node.key", "key_file: nope.key");
    assert_rejected(
        &work,
        &yaml,
        &["nodes[0].key_file:", "nope.key", "cannot read"],
    );
}

#[test]
fn key_file_with_garbage_is_rejected_without_echo() {
    let work = Workdir::new();
    work.write("node.key", "not-a-key-but-maybe-a-secret\n");
    let yaml = base_config(5001, "http://127.0.0.1:8545", "");
    let out = assert_rejected(
        &work,
        &yaml,
        &[
            "nodes[0].key_file:",
            "does not hold a 32-byte hex private key",
        ],
    );
    assert!(!out.contains("not-a-key-but-maybe-a-secret"), "{out}");
}

#[test]
fn missing_config_file() {
    let work = Workdir::new();
    let (code, out) = check_config(&work.path().join("absent.yaml"), &[]);
    assert_eq!(code, EX_CONFIG);
    assert!(
        out.contains("cannot read config file") && out.contains("absent.yaml"),
        "{out}"
    );
}

#[test]
fn empty_file() {
    let work = Workdir::new();
    assert_rejected(&work, "\n  \n", &["the file is empty"]);
}

#[test]
fn yaml_syntax_error_has_a_location() {
    let work = Workdir::new();
    assert_rejected(
        &work,
        "chain:\n  id: 1\n rpc: [\n",
        &["YAML syntax error", "line "],
    );
}

#[test]
fn several_problems_are_listed_at_once() {
    let work = Workdir::new();
    let yaml = "chain: {id: 0}\nrpc:\n  endpoints:\n    - {name: a, url: 'ftp://x'}\n    - {name: a, url: 'http://127.0.0.1:1', max_rps: 0}\ndao: {kind: assetdao, address: '0x1234'}\nnodes:\n  - {name: n1, strategy: nonexistent}\napi: {allowed_origins: ['*']}\n";
    let out = assert_rejected(
        &work,
        yaml,
        &[
            "chain.id: must be a positive chain id",
            "rpc.endpoints[0].url: scheme must be http or https",
            "rpc.endpoints[1].name: duplicate endpoint name",
            "rpc.endpoints[1].max_rps: must be at least 1",
            "dao.address: must be a 0x-prefixed 20-byte hex address",
            "nodes[0]: missing key_file or key_credential",
            "nodes[0].strategy: unknown strategy",
            "api.allowed_origins[0]: wildcard origins are not allowed",
        ],
    );
    assert!(out.contains("has 8 problem(s)"), "{out}");
}

#[test]
fn structural_errors_in_several_sections_are_all_listed() {
    let work = Workdir::new();
    let yaml = base_config(
        5001,
        "http://127.0.0.1:8545",
        "api:\n  port: 1\nround:\n  deadline: soon\n",
    );
    assert_rejected(
        &work,
        &yaml,
        &["api.port: unknown field `port`", "round.deadline:"],
    );
}

#[test]
fn environment_override_is_validated_like_the_file() {
    let work = Workdir::new();
    let path = work.write(
        "config.yaml",
        &base_config(5001, "http://127.0.0.1:8545", ""),
    );
    let (code, out) = check_config(&path, &[("GOVNODE__RPC__ENDPOINTS__0__URL", "gopher://x")]);
    assert_eq!(code, EX_CONFIG, "{out}");
    assert!(
        out.contains(
            "env GOVNODE__RPC__ENDPOINTS__0__URL (rpc.endpoints[0].url): scheme must be http or https"
        ),
        "{out}"
    );
    let (code, out) = check_config(&path, &[("GOVNODE__ROUND__CONCURRENCY", "3")]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn credentials_directory_resolves_secrets() {
    let work = Workdir::new();
    let creds = work.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("node-1"), DEV_KEY).unwrap();
    std::fs::write(creds.join("api-token"), "t0ken-value\n").unwrap();
    let yaml = base_config(
        5001,
        "http://127.0.0.1:8545",
        "api:\n  token_credential: api-token\n",
    )
    .replace("key_file: node.key", "key_credential: node-1");
    let path = work.write("config.yaml", &yaml);
    let (code, out) = check_config(&path, &[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = check_config(&path, &[]);
    assert_eq!(code, EX_CONFIG);
    assert!(
        out.contains(
            "nodes[0].key_credential: credential node-1: $CREDENTIALS_DIRECTORY is not set"
        ),
        "{out}"
    );
}

#[test]
fn example_config_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out) = check_config(
        &root.join("examples/config.yaml"),
        &[(
            "CREDENTIALS_DIRECTORY",
            root.join("examples/credentials").to_str().unwrap(),
        )],
    );
    assert_eq!(code, 0, "{out}");
}

/// The base configuration with its `ledger:` section replaced.
fn with_ledger(section: &str) -> String {
    base_config(5001, "http://127.0.0.1:8545", "")
        .replace("ledger:\n  path: ledger.sqlite\n", section)
}

#[test]
fn inline_ledger_url_is_refused_with_advice_and_not_echoed() {
    let work = Workdir::new();
    let yaml = with_ledger(
        "ledger:\n  kind: postgres\n  url: 'postgresql://govnode:Hunter2-pw@db.example/govnode'\n",
    );
    let out = assert_rejected(
        &work,
        &yaml,
        &[
            "ledger.url: inline ledger URLs are not accepted",
            "url_file",
            "LoadCredential",
        ],
    );
    assert!(!out.contains("Hunter2-pw"), "{out}");
}

#[test]
fn postgres_ledger_problems_are_named_at_their_fields() {
    let work = Workdir::new();
    let yaml =
        with_ledger("ledger:\n  kind: postgres\n  path: ledger.sqlite\n  sslmode: verify-full\n");
    assert_rejected(
        &work,
        &yaml,
        &[
            "ledger.path: only used with kind: sqlite",
            "ledger: missing url_file or url_credential",
            "ledger.ca_file: required with sslmode: verify-full",
        ],
    );
    let yaml = with_ledger("ledger:\n  url_file: ledger-url\n  ca_file: ca.pem\n");
    assert_rejected(
        &work,
        &yaml,
        &[
            "ledger.url_file: only used with kind: postgres",
            "ledger.ca_file: only used with kind: postgres",
        ],
    );
    let yaml = with_ledger("ledger:\n  kind: postgress\n");
    assert_rejected(&work, &yaml, &["ledger.kind:", "sqlite", "postgres"]);
}

#[test]
fn ledger_url_file_without_a_connection_string_is_refused_without_echo() {
    let work = Workdir::new();
    work.write("ledger-url", "Hunter2-not-a-conninfo = = =\n");
    let yaml = with_ledger("ledger:\n  kind: postgres\n  url_file: ledger-url\n");
    let out = assert_rejected(
        &work,
        &yaml,
        &[
            "ledger.url_file:",
            "ledger-url",
            "does not hold a PostgreSQL connection string",
        ],
    );
    assert!(!out.contains("Hunter2"), "{out}");
}

/// The state tools work on the configured PostgreSQL ledger (tests/state_postgres.rs);
/// one that cannot be reached fails them cleanly, naming it without its password
/// and writing no file, and `ledger init` (which makes a SQLite file) refuses it.
#[test]
fn state_tools_on_an_unreachable_postgres_ledger_fail_without_the_password() {
    let work = Workdir::new();
    work.write(
        "ledger-url",
        "postgresql://govnode:Hunter2-pw@127.0.0.1:1/govnode\n",
    );
    let path = work.write(
        "config.yaml",
        &with_ledger("ledger:\n  kind: postgres\n  url_file: ledger-url\n"),
    );
    let backup_to = work.path().join("backup.db");
    let export_to = work.path().join("votes.jsonl");
    let (backup, export) = (backup_to.to_str().unwrap(), export_to.to_str().unwrap());
    for args in [
        &["backup", "--to", backup][..],
        &["ledger", "export", "--format", "jsonl", "--to", export],
    ] {
        let (code, text) = govnode(args, &path);
        assert_eq!(code, 1, "{args:?}: {text}");
        assert!(
            text.contains(
                "cannot connect to the PostgreSQL ledger postgresql://govnode@127.0.0.1:1/govnode"
            ),
            "{args:?}: {text}"
        );
        assert!(!text.contains("Hunter2"), "{text}");
    }
    let (code, text) = govnode(&["ledger", "init"], &path);
    assert_eq!(code, EX_CONFIG, "{text}");
    assert!(
        text.contains("ledger.kind: postgres: ledger init creates a SQLite ledger file"),
        "{text}"
    );
    assert!(!text.contains("Hunter2"), "{text}");
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["ledger-url", "config.yaml", "node.key"].contains(&n.as_str()))
        .collect();
    assert!(leftovers.is_empty(), "files written: {leftovers:?}");
}

#[test]
fn websocket_urls_are_checked_like_rpc_urls() {
    let work = Workdir::new();
    work.write("ws.url", "http://not-a-websocket.example\n");
    let secret = "0123456789abcdef0123456789abcdef";
    let yaml = format!(
        "chain: {{id: 1}}\nrpc:\n  endpoints:\n    - {{name: a, url: 'http://127.0.0.1:8545', ws_url: 'wss://mainnet.example.io/v3/{secret}'}}\n    - {{name: b, url: 'http://127.0.0.1:8546', ws_url: 'http://127.0.0.1:8546'}}\n    - {{name: c, url: 'http://127.0.0.1:8547', ws_url_file: ws.url}}\n    - {{name: d, url: 'http://127.0.0.1:8548', ws_url: 'ws://127.0.0.1:8548', ws_url_credential: rpc-ws-d}}\ndao: {{kind: assetdao, address: '0x5FbDB2315678afecb367f032d93F642f64180aa3'}}\n"
    );
    let out = assert_rejected(
        &work,
        &yaml,
        &[
            "rpc.endpoints[0].ws_url: this URL carries credentials",
            "ws_url_file",
            "rpc.endpoints[1].ws_url: scheme must be ws or wss",
            "rpc.endpoints[2].ws_url_file:",
            "does not hold a valid ws(s) URL",
            "rpc.endpoints[3]: set only one of ws_url, ws_url_file and ws_url_credential",
        ],
    );
    assert!(!out.contains(secret), "{out}");
    assert!(!out.contains("not-a-websocket"), "{out}");
}

#[test]
fn lease_groups_must_be_names_used_with_ha_and_preferred_groups_must_exist() {
    let work = Workdir::new();
    let base = base_config(5001, "http://127.0.0.1:8545", "");
    let node = "    strategy: conservative\n";
    assert!(base.contains(node));
    let yaml = base.replace(node, &format!("{node}    ha:\n      group: 'east coast'\n"));
    assert_rejected(
        &work,
        &format!("{yaml}ha:\n  preferred_groups: [north]\n"),
        &[
            "nodes[0].ha.group: must be 1-64 characters",
            "ha.preferred_groups[0]: names no node's lease group \"north\"",
        ],
    );
    let yaml = base.replace(node, &format!("{node}    ha:\n      group: east\n"));
    assert_rejected(
        &work,
        &yaml,
        &["nodes[0].ha.group: only used with ha.enabled"],
    );
}

#[test]
fn ha_needs_a_postgres_ledger_and_a_sane_lease_and_id() {
    let work = Workdir::new();
    let yaml = base_config(5001, "http://127.0.0.1:8545", "ha:\n  enabled: true\n");
    assert_rejected(
        &work,
        &yaml,
        &[
            "ha.enabled: needs ledger.kind: postgres",
            "cannot be shared",
        ],
    );
    let yaml = base_config(
        5001,
        "http://127.0.0.1:8545",
        "ha:\n  lease: 200ms\n  id: 'gov a'\n",
    );
    assert_rejected(
        &work,
        &yaml,
        &[
            "ha.lease: must be 1s to 10m",
            "ha.id: must be 1-64 characters",
        ],
    );
    // The same file with HA off, and an environment override naming the variable.
    let path = work.write(
        "config.yaml",
        &base_config(5001, "http://127.0.0.1:8545", ""),
    );
    let (code, out) = check_config(&path, &[("GOVNODE__HA__ENABLED", "true")]);
    assert_eq!(code, EX_CONFIG, "{out}");
    assert!(
        out.contains("env GOVNODE__HA__ENABLED (ha.enabled): needs ledger.kind: postgres"),
        "{out}"
    );
}
