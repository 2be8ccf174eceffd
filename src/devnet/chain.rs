//! The devnet's connection to the chain, and the dev-chain-only methods it
//! needs (moving the clock). Errors carry the endpoint redacted and never the
//! raw URL.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};

use super::error::DevnetError;
use crate::telemetry::redact::{redact_text, redact_url};

#[derive(Clone)]
pub struct Chain {
    pub provider: DynProvider,
    /// The URL as it may be shown.
    pub endpoint: String,
    /// The URL when it carries credentials, to scrub from error texts.
    secret: Option<String>,
}

impl Chain {
    pub fn connect(url: &str) -> Result<Chain, DevnetError> {
        let secret = crate::config::url_has_credentials(url).then(|| url.to_owned());
        let endpoint = if secret.is_some() {
            redact_url(url)
        } else {
            url.to_owned()
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            DevnetError::Usage(format!("--rpc-url {endpoint} is not a valid URL: {e}"))
        })?;
        // alloy's default client has no timeout; a devnet must not hang on a dead chain.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| DevnetError::Unexpected {
                what: "HTTP client".into(),
                detail: e.to_string(),
            })?;
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_reqwest(http, parsed)
            .erased();
        Ok(Chain {
            provider,
            endpoint,
            secret,
        })
    }

    /// An RPC failure while doing `action`, with the URL scrubbed from the text.
    pub fn err(&self, action: impl Into<String>, e: impl std::fmt::Display) -> DevnetError {
        DevnetError::Rpc {
            action: action.into(),
            endpoint: self.endpoint.clone(),
            reason: self.scrub(&e.to_string()),
        }
    }

    fn scrub(&self, text: &str) -> String {
        let known: Vec<&str> = self.secret.iter().map(String::as_str).collect();
        redact_text(text, &known).into_owned()
    }

    pub async fn chain_id(&self) -> Result<u64, DevnetError> {
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| self.err("read the chain id", e))
    }

    pub async fn balance(&self, who: Address) -> Result<U256, DevnetError> {
        self.provider
            .get_balance(who)
            .await
            .map_err(|e| self.err(format!("read the ETH balance of {who}"), e))
    }

    /// Puts Multicall3's code at its canonical address, as public chains
    /// have it, unless something is there already (a forked chain). The
    /// daemon reads through it; a dev chain that refuses `anvil_setCode`
    /// is told so in the error.
    pub async fn place_multicall(&self) -> Result<bool, DevnetError> {
        let at = crate::dao::MULTICALL3;
        let code = self
            .provider
            .get_code_at(at)
            .await
            .map_err(|e| self.err(format!("read the code at {at}"), e))?;
        if !code.is_empty() {
            return Ok(false);
        }
        self.provider
            .raw_request::<_, serde_json::Value>(
                "anvil_setCode".into(),
                (at, super::contracts::Multicall3::DEPLOYED_BYTECODE.clone()),
            )
            .await
            .map_err(|e| DevnetError::NotADevChain {
                endpoint: self.endpoint.clone(),
                method: "anvil_setCode",
                reason: self.scrub(&e.to_string()),
            })?;
        Ok(true)
    }

    /// How many transactions `who` has sent (latest block).
    pub async fn nonce(&self, who: Address) -> Result<u64, DevnetError> {
        self.provider
            .get_transaction_count(who)
            .await
            .map_err(|e| self.err(format!("read the transaction count of {who}"), e))
    }

    /// Moves the chain's clock forward and mines a block at the new time.
    /// Only `evm_increaseTime` is used: anvil drops it while an
    /// `evm_setNextBlockTimestamp` is pending, so the two must not be mixed.
    pub async fn advance_time(&self, seconds: u64) -> Result<(), DevnetError> {
        let dev = |method: &'static str, e: alloy::transports::TransportError| {
            DevnetError::NotADevChain {
                endpoint: self.endpoint.clone(),
                method,
                reason: self.scrub(&e.to_string()),
            }
        };
        self.provider
            .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
            .await
            .map_err(|e| dev("evm_increaseTime", e))?;
        self.provider
            .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
            .await
            .map_err(|e| dev("evm_mine", e))?;
        Ok(())
    }
}
