//! Deploys the voting token, the treasury assets and the AssetDAO, and funds
//! the node wallets — two pipelined batches from the deployer.

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolConstructor};

use super::contracts::{TestAssetDAO, TestToken};
use super::error::DevnetError;
use super::keys;
use super::scenario::{ASSETS, Token, VOTING_TOKEN, units};
use super::tx::{Call, Sender};

/// Long enough that nothing expires during a demo.
pub const VOTING_PERIOD_SECS: u64 = 7 * 24 * 60 * 60;
/// Gas money per node wallet, in whole ETH.
const NODE_ETH: u64 = 10;
/// Voting tokens per node (whole DLOOP), cycled, so that weights differ.
const NODE_DLOOP: [u64; 5] = [250_000, 100_000, 400_000, 175_000, 325_000];
/// The deployer votes the proposal that gets executed.
const DEPLOYER_DLOOP: &str = "1000000";

#[derive(Debug, Clone)]
pub struct Contracts {
    pub voting_token: Address,
    /// In [`ASSETS`] order.
    pub assets: Vec<(Token, Address)>,
    pub dao: Address,
}

impl Contracts {
    pub fn asset(&self, symbol: &str) -> Option<Address> {
        self.assets
            .iter()
            .find(|(t, _)| t.symbol == symbol)
            .map(|(_, a)| *a)
    }
}

pub struct NodeWallet {
    pub name: String,
    pub signer: PrivateKeySigner,
    /// Voting tokens minted to it, smallest unit.
    pub dloop: U256,
    /// Gas money sent to it, wei.
    pub eth: U256,
}

/// The `count` node wallets, `ai-gov-01` first.
pub fn node_wallets(count: usize) -> Vec<NodeWallet> {
    (1..=count)
        .map(|i| {
            let whole = NODE_DLOOP[(i - 1) % NODE_DLOOP.len()]
                + 10_000 * ((i - 1) / NODE_DLOOP.len()) as u64;
            NodeWallet {
                name: keys::node_name(i),
                signer: keys::node_signer(i),
                dloop: units(&whole.to_string(), VOTING_TOKEN.decimals),
                eth: units(&NODE_ETH.to_string(), 18),
            }
        })
        .collect()
}

fn token_code(t: &Token) -> Vec<u8> {
    let args = TestToken::constructorCall {
        name_: t.name.into(),
        symbol_: t.symbol.into(),
        decimals_: t.decimals,
    }
    .abi_encode();
    [TestToken::BYTECODE.to_vec(), args].concat()
}

/// Deploys every contract in one batch; the DAO's constructor gets the voting
/// token's address computed from the deployer's nonce.
pub async fn deploy(sender: &mut Sender) -> Result<Contracts, DevnetError> {
    let token_nonce = sender.next_nonce();
    let predicted_token = sender.address().create(token_nonce);
    let mut calls = vec![Call::deploy("deploy DLOOP", token_code(&VOTING_TOKEN))];
    for t in &ASSETS {
        calls.push(Call::deploy(format!("deploy {}", t.symbol), token_code(t)));
    }
    let dao_args = TestAssetDAO::constructorCall {
        votingToken: predicted_token,
        votingPeriodSeconds: U256::from(VOTING_PERIOD_SECS),
    }
    .abi_encode();
    calls.push(Call::deploy(
        "deploy TestAssetDAO",
        [TestAssetDAO::BYTECODE.to_vec(), dao_args].concat(),
    ));
    let labels: Vec<String> = calls.iter().map(|c| c.label.clone()).collect();
    let receipts = sender.run(calls).await?;
    let mut addresses = Vec::with_capacity(receipts.len());
    for (receipt, label) in receipts.iter().zip(&labels) {
        addresses.push(
            receipt
                .contract_address
                .ok_or_else(|| DevnetError::Unexpected {
                    what: format!("`{label}` ({})", receipt.transaction_hash),
                    detail: "the receipt names no contract address".into(),
                })?,
        );
    }
    let (voting_token, rest) = addresses
        .split_first()
        .ok_or_else(|| DevnetError::Unexpected {
            what: "deployment".into(),
            detail: "no receipts".into(),
        })?;
    if *voting_token != predicted_token {
        return Err(DevnetError::Unexpected {
            what: "deploy DLOOP".into(),
            detail: format!(
                "landed at {voting_token}, expected {predicted_token}: another sender used the deployer key meanwhile"
            ),
        });
    }
    let dao = *rest.last().unwrap_or(voting_token);
    Ok(Contracts {
        voting_token: *voting_token,
        assets: ASSETS.iter().copied().zip(rest.iter().copied()).collect(),
        dao,
    })
}

/// Gas money and voting tokens for every node, voting tokens for the deployer,
/// and a treasury of each asset for the DAO.
pub async fn fund(
    sender: &mut Sender,
    contracts: &Contracts,
    nodes: &[NodeWallet],
) -> Result<(), DevnetError> {
    let mint = |label: String, token: Address, to: Address, amount: U256| {
        Call::new(
            label,
            token,
            TestToken::mintCall { to, amount }.abi_encode(),
        )
    };
    let mut calls = Vec::new();
    for n in nodes {
        let to = n.signer.address();
        calls.push(Call::transfer(
            format!("fund {} with ETH", n.name),
            to,
            n.eth,
        ));
        calls.push(mint(
            format!("mint DLOOP to {}", n.name),
            contracts.voting_token,
            to,
            n.dloop,
        ));
    }
    calls.push(mint(
        "mint DLOOP to the deployer".into(),
        contracts.voting_token,
        sender.address(),
        units(DEPLOYER_DLOOP, VOTING_TOKEN.decimals),
    ));
    for (t, address) in &contracts.assets {
        calls.push(mint(
            format!("mint the {} treasury", t.symbol),
            *address,
            contracts.dao,
            units(t.treasury, t.decimals),
        ));
    }
    sender.run(calls).await.map(drop)
}
