//! A real local chain for integration tests: anvil on 127.0.0.1 at a free
//! port (killed on drop), a provider that signs for anvil's accounts, and
//! deploy helpers for the committed AssetDAO/ERC-20 artifacts and for the
//! OpenZeppelin Governor fixtures compiled at test time.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;

use govnode::dao::Head;

sol! {
    #[sol(rpc)]
    #[derive(Debug)]
    TestToken,
    "contracts/artifacts/TestToken.json"
}

sol! {
    #[sol(rpc)]
    #[derive(Debug)]
    TestAssetDAO,
    "contracts/artifacts/TestAssetDAO.json"
}

sol! {
    /// The Governor fixtures' calls the tests make (compiled at test time, so
    /// no artifact exists at build time).
    #[sol(rpc)]
    interface GovTokenApi {
        function mint(address to, uint256 amount) external;
        function delegate(address delegatee) external;
        function name() external view returns (string);
    }

    #[sol(rpc)]
    interface TestGovernorApi {
        function propose(address[] targets, uint256[] values, bytes[] calldatas, string description) external returns (uint256);
        function hashProposal(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) external view returns (uint256);
        function proposalVotes(uint256 proposalId) external view returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes);
        function state(uint256 proposalId) external view returns (uint8);
    }
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The pinned anvil; installs the test tools first when they are missing
/// (the installer is idempotent and fast when they are present).
pub fn anvil_path() -> PathBuf {
    if let Ok(p) = std::env::var("GOVNODE_ANVIL") {
        return PathBuf::from(p);
    }
    let path = repo_path("tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if !path.exists() {
        let status = Command::new(repo_path("scripts/setup-tools.sh"))
            .arg("--quiet")
            .status()
            .expect("run scripts/setup-tools.sh");
        assert!(status.success(), "scripts/setup-tools.sh failed");
    }
    path
}

pub struct Chain {
    /// Kept for its Drop, which kills the process.
    pub anvil: AnvilInstance,
    pub url: String,
    /// Signs for every anvil account.
    pub provider: DynProvider,
    pub signers: Vec<PrivateKeySigner>,
}

impl Chain {
    pub async fn start() -> Chain {
        Chain::start_with_chain_id(31337).await
    }

    /// [`Chain::start`] with another EIP-155 chain id.
    pub async fn start_with_chain_id(chain_id: u64) -> Chain {
        let anvil = Anvil::at(anvil_path())
            .host("127.0.0.1")
            .chain_id(chain_id)
            .arg("--accounts")
            .arg("10")
            .try_spawn()
            .expect("spawn anvil");
        let url = anvil.endpoint();
        let signers: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from(k.clone()))
            .collect();
        let mut wallet = EthereumWallet::new(signers[0].clone());
        for s in &signers[1..] {
            wallet.register_signer(s.clone());
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(url.parse().expect("anvil url"))
            .erased();
        Chain {
            anvil,
            url,
            provider,
            signers,
        }
    }

    pub fn account(&self, i: usize) -> Address {
        self.signers[i].address()
    }

    pub fn wallet(&self) -> EthereumWallet {
        let mut wallet = EthereumWallet::new(self.signers[0].clone());
        for s in &self.signers[1..] {
            wallet.register_signer(s.clone());
        }
        wallet
    }

    /// Sends and waits for the receipt; panics on a revert.
    pub async fn send(&self, tx: TransactionRequest) -> TransactionReceipt {
        let receipt = self
            .provider
            .send_transaction(tx)
            .await
            .expect("send transaction")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status(), "transaction reverted: {receipt:?}");
        receipt
    }

    /// Deploys `bytecode ++ constructor_args` from account 0.
    pub async fn deploy(&self, bytecode: &Bytes, constructor_args: &[u8]) -> Address {
        let mut code = bytecode.to_vec();
        code.extend_from_slice(constructor_args);
        let tx = TransactionRequest::default()
            .from(self.account(0))
            .with_deploy_code(code);
        self.send(tx)
            .await
            .contract_address
            .expect("deployment has a contract address")
    }

    pub async fn deploy_token(&self, name: &str, symbol: &str, decimals: u8) -> Address {
        let token = TestToken::deploy(&self.provider, name.into(), symbol.into(), decimals)
            .await
            .expect("deploy TestToken");
        *token.address()
    }

    pub async fn mint(&self, token: Address, to: Address, amount: U256) {
        let t = TestToken::new(token, &self.provider);
        t.mint(to, amount)
            .from(self.account(0))
            .send()
            .await
            .expect("mint")
            .get_receipt()
            .await
            .expect("mint receipt");
    }

    pub async fn mine(&self, blocks: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_mine".into(), (format!("{blocks:#x}"),))
            .await
            .expect("anvil_mine");
    }

    /// Moves the clock forward and mines a block at the new time.
    pub async fn advance_time(&self, seconds: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        self.mine(1).await;
    }

    pub async fn set_automine(&self, on: bool) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_setAutomine".into(), (on,))
            .await
            .expect("evm_setAutomine");
    }

    pub async fn head(&self) -> Head {
        govnode::dao::head(&self.provider).await.expect("head")
    }
}

/// An artifact written by `contracts/compile.js`.
pub struct Artifact {
    pub bytecode: Bytes,
}

pub fn load_artifact(path: &Path) -> Artifact {
    let text = std::fs::read_to_string(path).expect("read artifact");
    let json: serde_json::Value = serde_json::from_str(&text).expect("artifact JSON");
    let hex = json["bytecode"].as_str().expect("bytecode string");
    Artifact {
        bytecode: hex.parse().expect("bytecode hex"),
    }
}

/// Compiles the OpenZeppelin Governor fixtures into a fresh directory
/// (GovToken.json, TestGovernor.json). Takes about ten seconds.
pub fn build_governor() -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("tempdir");
    let status = Command::new(repo_path("contracts/build-governor.sh"))
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run contracts/build-governor.sh");
    assert!(status.success(), "contracts/build-governor.sh failed");
    out
}

/// A full AssetDAO deployment: voting token and the DAO.
pub struct AssetDaoDeployment {
    pub token: Address,
    pub dao: Address,
}

pub async fn deploy_assetdao(chain: &Chain, voting_period: u64) -> AssetDaoDeployment {
    let token = chain.deploy_token("DLoop", "DLOOP", 18).await;
    let dao = TestAssetDAO::deploy(&chain.provider, token, U256::from(voting_period))
        .await
        .expect("deploy TestAssetDAO");
    AssetDaoDeployment {
        token,
        dao: *dao.address(),
    }
}

/// The AssetDAO scenario the adapter tests share: one proposal of each kind
/// open, plus executed, expired and canceled ones, and voters with DLOOP.
pub mod assetdao_scenario {
    use alloy::eips::BlockId;
    use alloy::primitives::{Address, U256};
    use govnode::dao::{AssetDao, Dao, RevertReason, VoteMargin, estimate_vote};
    use govnode::strategy::VoteChoice;

    use super::{Chain, TestAssetDAO, deploy_assetdao};

    pub const WEEK: u64 = 7 * 24 * 3600;
    pub const MARGIN: VoteMargin = VoteMargin {
        seconds: 60,
        blocks: 5,
    };

    pub fn tokens(n: u64, decimals: u8) -> U256 {
        U256::from(n) * U256::from(10).pow(U256::from(decimals))
    }

    /// Proposal ids of the scenario (dense from 1, in creation order).
    pub const EXECUTED: u64 = 1;
    pub const EXPIRED: u64 = 2;
    pub const INVEST_USDC: u64 = 3;
    pub const DIVEST_WBTC: u64 = 4;
    pub const PARAMETER: u64 = 5;
    pub const OTHER: u64 = 6;
    pub const UNKNOWN_ASSET: u64 = 7;
    pub const CANCELED: u64 = 8;
    pub const LIVE: [u64; 5] = [INVEST_USDC, DIVEST_WBTC, PARAMETER, OTHER, UNKNOWN_ASSET];

    pub struct Env {
        pub chain: Chain,
        pub dloop: Address,
        pub usdc: Address,
        pub wbtc: Address,
        pub dao: TestAssetDAO::TestAssetDAOInstance<alloy::providers::DynProvider>,
        pub adapter: AssetDao,
    }

    impl Env {
        pub fn voter(&self, i: usize) -> Address {
            self.chain.account(i)
        }

        pub async fn vote(&self, id: u64, voter: Address, choice: VoteChoice) {
            let call = self
                .adapter
                .vote_call(U256::from(id), choice, "ignored by AssetDAO")
                .expect("for/against are expressible");
            self.chain.send(call.request(voter)).await;
        }

        pub async fn refusal(&self, id: u64, voter: Address, choice: VoteChoice) -> RevertReason {
            let call = self.adapter.vote_call(U256::from(id), choice, "").unwrap();
            estimate_vote(
                &self.chain.provider,
                &self.adapter,
                &call,
                voter,
                BlockId::latest(),
            )
            .await
            .expect("the node answered")
            .expect_err("the vote must be refused")
        }
    }

    pub async fn setup() -> Env {
        let chain = Chain::start().await;
        let owner = chain.account(0);
        let dep = deploy_assetdao(&chain, 100).await;
        let usdc = chain.deploy_token("USD Coin", "USDC", 6).await;
        let wbtc = chain.deploy_token("Wrapped BTC", "WBTC", 8).await;
        chain
            .mint(dep.token, chain.account(1), tokens(1000, 18))
            .await;
        chain
            .mint(dep.token, chain.account(2), tokens(10, 18))
            .await;
        chain.mint(dep.token, chain.account(4), tokens(1, 18)).await;
        let dao = TestAssetDAO::new(dep.dao, chain.provider.clone());
        let create = |kind: u8, asset: Address, amount: U256, text: &str| {
            let call = dao
                .createProposal(kind, asset, amount, text.to_owned())
                .from(owner);
            async move { call.send().await.unwrap().get_receipt().await.unwrap() }
        };
        let adapter = AssetDao::new(dep.dao, chain.provider.clone(), 4);
        let env_dao = dao.clone();

        // Short-lived proposals first: one executed, one left to expire.
        create(0, usdc, tokens(1, 6), "to execute").await;
        create(1, wbtc, tokens(1, 8), "expires").await;
        let call = adapter
            .vote_call(U256::from(EXECUTED), VoteChoice::For, "")
            .unwrap();
        chain.send(call.request(chain.account(4))).await;
        chain.advance_time(100 + 24 * 3600 + 10).await;
        let r = dao
            .executeProposal(U256::from(EXECUTED))
            .from(owner)
            .send()
            .await
            .unwrap();
        assert!(r.get_receipt().await.unwrap().status());

        dao.setVotingPeriod(U256::from(WEEK))
            .from(owner)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        create(
            0,
            usdc,
            tokens(50_000, 6),
            "Invest 50k USDC in the treasury",
        )
        .await;
        create(1, wbtc, tokens(2, 8), "Divest 2 WBTC").await;
        create(2, Address::ZERO, U256::ZERO, "Raise the quorum").await;
        create(3, Address::ZERO, U256::ZERO, "Something else").await;
        create(0, chain.account(9), U256::from(5), "Mystery asset").await;
        create(0, usdc, U256::from(1), "to cancel").await;
        dao.cancelProposal(U256::from(CANCELED))
            .from(owner)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();

        Env {
            dloop: dep.token,
            usdc,
            wbtc,
            dao: env_dao,
            adapter,
            chain,
        }
    }
}
