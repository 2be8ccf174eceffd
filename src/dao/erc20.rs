//! ERC-20 facts strategies rely on: an asset's on-chain `symbol()` and
//! `decimals()` (cached: they do not change), and balances. Strategies match
//! on the symbol the token reports, never on what a description claims.
//!
//! A token that reverts, has no code, or answers garbage resolves to
//! `symbol: None` and is cached as such; a transport failure is an error and
//! is not cached, so the next round tries again.

use std::collections::HashMap;
use std::sync::Mutex;

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::{SolCall, SolValue};
use alloy::transports::TransportResult;
use serde::{Deserialize, Serialize};

use super::batch::DEFAULT_BATCH_SIZE;
use super::error::DaoError;
use super::multicall::{MulticallProbe, eth_calls};
use super::revert::revert_data;

sol! {
    #[sol(rpc)]
    interface IERC20 {
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function balanceOf(address account) external view returns (uint256);
    }
}

/// Symbols longer than this, or with control characters, are not trusted
/// (they end up in logs, the API and rule matching).
const MAX_SYMBOL_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub address: Address,
    pub symbol: Option<String>,
    pub decimals: Option<u8>,
}

#[derive(Debug)]
pub struct TokenResolver {
    provider: DynProvider,
    cache: Mutex<HashMap<Address, TokenInfo>>,
    /// Calls per JSON-RPC batch in [`TokenResolver::resolve_many`].
    batch: usize,
    multicall: MulticallProbe,
}

impl TokenResolver {
    pub fn new(provider: DynProvider) -> Self {
        TokenResolver {
            provider,
            cache: Mutex::new(HashMap::new()),
            batch: DEFAULT_BATCH_SIZE,
            multicall: MulticallProbe::default(),
        }
    }

    /// Calls per JSON-RPC batch (1: no batches).
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch = size.max(1);
        self
    }

    /// Shares what is known of the chain's Multicall3.
    pub fn with_multicall(mut self, probe: MulticallProbe) -> Self {
        self.multicall = probe;
        self
    }

    pub async fn resolve(&self, token: Address) -> Result<TokenInfo, DaoError> {
        if let Some(hit) = self.cached(token) {
            return Ok(hit);
        }
        let symbol = self
            .read(token, "symbol()", IERC20::symbolCall {}.abi_encode())
            .await?
            .and_then(|raw| decode_symbol(&raw));
        let decimals = self
            .read(token, "decimals()", IERC20::decimalsCall {}.abi_encode())
            .await?
            .and_then(|raw| decode_decimals(&raw));
        let info = TokenInfo {
            address: token,
            symbol,
            decimals,
        };
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(token, info.clone());
        Ok(info)
    }

    /// Resolves each distinct token once: the ones not cached yet with their
    /// `symbol()` and `decimals()` reads in JSON-RPC batches, `concurrency`
    /// batches at a time.
    pub async fn resolve_many(
        &self,
        tokens: impl IntoIterator<Item = Address>,
        concurrency: usize,
    ) -> Result<HashMap<Address, TokenInfo>, DaoError> {
        let mut distinct: Vec<Address> = tokens.into_iter().collect();
        distinct.sort();
        distinct.dedup();
        let mut out = HashMap::with_capacity(distinct.len());
        let mut todo = Vec::new();
        for t in distinct {
            match self.cached(t) {
                Some(hit) => {
                    out.insert(t, hit);
                }
                None => todo.push(t),
            }
        }
        if todo.is_empty() {
            return Ok(out);
        }
        let symbol = Bytes::from(IERC20::symbolCall {}.abi_encode());
        let decimals = Bytes::from(IERC20::decimalsCall {}.abi_encode());
        let calls = todo
            .iter()
            .flat_map(|t| [(*t, symbol.clone()), (*t, decimals.clone())])
            .collect();
        let mut answers = eth_calls(
            &self.provider,
            &self.multicall,
            calls,
            BlockId::latest(),
            self.batch,
            concurrency,
        )
        .await
        .into_iter();
        for token in todo {
            let (Some(symbol), Some(decimals)) = (answers.next(), answers.next()) else {
                break;
            };
            let info = TokenInfo {
                address: token,
                symbol: answered(token, "symbol()", symbol)?.and_then(|raw| decode_symbol(&raw)),
                decimals: answered(token, "decimals()", decimals)?
                    .and_then(|raw| decode_decimals(&raw)),
            };
            self.cache
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(token, info.clone());
            out.insert(token, info);
        }
        Ok(out)
    }

    fn cached(&self, token: Address) -> Option<TokenInfo> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&token)
            .cloned()
    }

    /// `Ok(None)` when the call reverted: the token simply does not answer.
    async fn read(
        &self,
        token: Address,
        what: &str,
        data: Vec<u8>,
    ) -> Result<Option<Bytes>, DaoError> {
        let tx = TransactionRequest::default().to(token).input(data.into());
        match self.provider.call(tx).await {
            Ok(raw) => Ok(Some(raw)),
            Err(e) if revert_data(&e).is_some() => Ok(None),
            Err(e) => Err(DaoError::from_transport(token, what, &e)),
        }
    }
}

/// `Ok(None)` when the call reverted (the token simply does not answer).
fn answered(
    token: Address,
    what: &str,
    answer: TransportResult<Bytes>,
) -> Result<Option<Bytes>, DaoError> {
    match answer {
        Ok(raw) => Ok(Some(raw)),
        Err(e) if revert_data(&e).is_some() => Ok(None),
        Err(e) => Err(DaoError::from_transport(token, what, &e)),
    }
}

/// `string` per the standard, or `bytes32` as early tokens (MKR) return it.
fn decode_symbol(raw: &[u8]) -> Option<String> {
    let text = match String::abi_decode(raw) {
        Ok(s) => s,
        Err(_) if raw.len() == 32 => String::from_utf8(raw.to_vec())
            .ok()?
            .trim_end_matches('\0')
            .to_owned(),
        Err(_) => return None,
    };
    let text = text.trim();
    let sane =
        !text.is_empty() && text.len() <= MAX_SYMBOL_LEN && !text.chars().any(|c| c.is_control());
    sane.then(|| text.to_owned())
}

/// `uint8` per the standard; some tokens return a wider integer.
fn decode_decimals(raw: &[u8]) -> Option<u8> {
    let v = U256::abi_decode(raw).ok()?;
    u8::try_from(v).ok()
}

/// `token.balanceOf(account)` at `at`.
pub async fn balance_of(
    provider: &DynProvider,
    token: Address,
    account: Address,
    at: BlockId,
) -> Result<U256, DaoError> {
    let erc20 = IERC20::new(token, provider);
    erc20
        .balanceOf(account)
        .block(at)
        .call()
        .await
        .map_err(|e| DaoError::from_contract(token, format!("balanceOf({account})"), &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::FixedBytes;

    #[test]
    fn symbols_decode_from_string_and_bytes32() {
        assert_eq!(
            decode_symbol(&"USDC".to_string().abi_encode()),
            Some("USDC".into())
        );
        let mut b = [0u8; 32];
        b[..3].copy_from_slice(b"MKR");
        assert_eq!(
            decode_symbol(&FixedBytes(b).abi_encode()),
            Some("MKR".into())
        );
        assert_eq!(decode_symbol(&[]), None);
        assert_eq!(decode_symbol(&"".to_string().abi_encode()), None);
        assert_eq!(decode_symbol(&"A\nB".to_string().abi_encode()), None);
        assert_eq!(decode_symbol(&"X".repeat(40).abi_encode()), None);
    }

    #[test]
    fn decimals_must_fit_u8() {
        assert_eq!(decode_decimals(&U256::from(6).abi_encode()), Some(6));
        assert_eq!(decode_decimals(&U256::from(256).abi_encode()), None);
        assert_eq!(decode_decimals(&[1, 2]), None);
    }
}
