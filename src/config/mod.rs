//! Configuration: the YAML schema, loading with environment overrides and
//! credentials, and validation that reports every problem with its path.

mod daos;
mod env;
mod ha;
mod issues;
mod ledger;
mod load;
mod paths;
mod schema;
mod secret;
mod validate;
mod webhooks;
mod wei;

pub use daos::{ChainSecrets, conversion_hint};
pub use ha::{HaConfig, lease_groups};
pub(crate) use issues::field;
pub use issues::{ConfigIssue, Issues, Validate};
pub use ledger::{target_with as ledger_target_with, tool_target as ledger_tool_target};
pub use load::{
    ConfigError, DEFAULT_CONFIG_PATH, LoadEnv, NodeKey, Settings, Unresolved, control_socket_path,
    load, load_unresolved, parse,
};
pub use schema::*;
pub(crate) use secret::pick_source;
pub use secret::{Secret, SecretError, SecretSource};
pub use validate::{is_label, rpc_url_problem, url_has_credentials};
pub use webhooks::{WebhookConfig, WebhookKind};
pub use wei::{Wei, WeiError};
