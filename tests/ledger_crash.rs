//! Crash points of the send protocol, for real: the ledger is closed (as a
//! killed process leaves it) after each step, reopened, and reconciled with a
//! real anvil running the test AssetDAO. Whatever the step, the outcome is one
//! vote on chain per (proposal, voter), with the decision first recorded.

#[path = "support/chain_fixture.rs"]
mod chain_fixture;

use std::path::PathBuf;

use alloy::eips::eip2718::Encodable2718;
use alloy::network::{Ethereum, Network, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use chain_fixture::{Chain, TestAssetDAO, deploy_assetdao};
use govnode::dao::{AssetDao, Dao};
use govnode::ledger::{
    Action, Ledger, LedgerIdentity, NewIntent, Reconciled, VoteState, mined_from_receipt, reconcile,
};
use govnode::strategy::VoteChoice;

const PROPOSAL: u64 = 1;
const EXPIRED: u64 = 2;

struct Env {
    chain: Chain,
    adapter: AssetDao,
    path: PathBuf,
    identity: LedgerIdentity,
    _dir: tempfile::TempDir,
}

async fn setup() -> Env {
    let chain = Chain::start().await;
    let dep = deploy_assetdao(&chain, 3600).await;
    let owner = chain.account(0);
    chain
        .mint(dep.token, chain.account(1), U256::from(1000))
        .await;
    let dao = TestAssetDAO::new(dep.dao, chain.provider.clone());
    dao.createProposal(0, Address::ZERO, U256::from(1), "open".into())
        .from(owner)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    dao.setVotingPeriod(U256::from(10))
        .from(owner)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    dao.createProposal(0, Address::ZERO, U256::from(1), "expires".into())
        .from(owner)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    chain.advance_time(60).await;
    let dir = tempfile::tempdir().unwrap();
    Env {
        adapter: AssetDao::new(dep.dao, chain.provider.clone(), 4),
        identity: LedgerIdentity {
            chain_id: 31337,
            dao: dep.dao,
        },
        path: dir.path().join("state/ledger.sqlite"),
        chain,
        _dir: dir,
    }
}

impl Env {
    fn voter(&self) -> Address {
        self.chain.account(1)
    }

    /// Opening after a drop is what a restarted daemon does.
    fn open(&self) -> Ledger {
        Ledger::open(&self.path, self.identity).unwrap()
    }

    async fn intent(&self, ledger: &Ledger, proposal: u64) -> i64 {
        ledger
            .record_intent(NewIntent {
                dao: self.adapter.address(),
                proposal_id: U256::from(proposal),
                voter: self.voter(),
                node: "node-1".into(),
                round_id: None,
                decision: VoteChoice::For,
                reason: "test".into(),
                strategy: "conservative".into(),
                rule: None,
            })
            .await
            .unwrap()
            .row()
            .id
    }

    /// Signs the vote locally with an explicit nonce and gas (no estimation,
    /// so a doomed vote can still be mined and revert).
    async fn sign(&self, proposal: u64, nonce: u64) -> (B256, Bytes) {
        let call = self
            .adapter
            .vote_call(U256::from(proposal), VoteChoice::For, "")
            .unwrap();
        let tx: TransactionRequest = call
            .request(self.voter())
            .with_nonce(nonce)
            .with_gas_limit(300_000)
            .with_max_fee_per_gas(20_000_000_000)
            .with_max_priority_fee_per_gas(1_000_000_000)
            .with_chain_id(31337);
        let envelope: <Ethereum as Network>::TxEnvelope =
            tx.build(&self.chain.wallet()).await.unwrap();
        let raw = Bytes::from(envelope.encoded_2718());
        (keccak256(&raw), raw)
    }

    async fn nonce(&self) -> u64 {
        self.chain
            .provider
            .get_transaction_count(self.voter())
            .await
            .unwrap()
    }

    async fn reconcile(&self, ledger: &Ledger) -> Vec<Reconciled> {
        let head = self.chain.head().await;
        reconcile(ledger, &self.chain.provider, &self.adapter, &head, 4)
            .await
            .unwrap()
    }

    /// `VoteCast` events of our voter on `proposal`.
    async fn votes_on_chain(&self, proposal: u64) -> usize {
        let head = self.chain.head().await;
        self.adapter
            .votes_cast(0, head.number)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.proposal_id == U256::from(proposal) && e.voter == self.voter())
            .count()
    }

    /// Broadcasts and records the receipt: the rest of the protocol.
    async fn finish(&self, ledger: &Ledger, id: i64, raw: &Bytes) {
        let receipt = self
            .chain
            .provider
            .send_raw_transaction(raw)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        ledger.mark_sent(id).await.unwrap();
        let row = ledger
            .mark_mined(id, mined_from_receipt(receipt.transaction_hash, &receipt))
            .await
            .unwrap();
        assert_eq!(row.state, VoteState::Confirmed);
    }
}

fn only(mut r: Vec<Reconciled>) -> Reconciled {
    assert_eq!(r.len(), 1, "{r:?}");
    r.remove(0)
}

#[tokio::test]
async fn crash_after_intent_signs_the_recorded_decision() {
    let env = setup().await;
    let ledger = env.open();
    let id = env.intent(&ledger, PROPOSAL).await;
    drop(ledger);

    let ledger = env.open();
    let r = only(env.reconcile(&ledger).await);
    assert_eq!(r.action, Action::Sign);
    assert_eq!(
        (r.row.id, r.row.state, r.row.decision),
        (id, VoteState::Intent, VoteChoice::For)
    );
    let (hash, raw) = env.sign(PROPOSAL, env.nonce().await).await;
    ledger
        .record_signed(id, env.nonce().await, hash, raw.clone())
        .await
        .unwrap();
    env.finish(&ledger, id, &raw).await;
    assert!(
        env.reconcile(&ledger).await.is_empty(),
        "nothing left pending"
    );
    assert_eq!(env.votes_on_chain(PROPOSAL).await, 1);
}

#[tokio::test]
async fn crash_after_signing_rebroadcasts_the_same_bytes() {
    let env = setup().await;
    let ledger = env.open();
    let id = env.intent(&ledger, PROPOSAL).await;
    let nonce = env.nonce().await;
    let (hash, raw) = env.sign(PROPOSAL, nonce).await;
    ledger
        .record_signed(id, nonce, hash, raw.clone())
        .await
        .unwrap();
    drop(ledger);

    let ledger = env.open();
    let r = only(env.reconcile(&ledger).await);
    assert_eq!(
        r.action,
        Action::Rebroadcast {
            tx_hash: hash,
            raw: raw.clone()
        }
    );
    assert_eq!(r.row.state, VoteState::Signed);
    env.finish(&ledger, id, &raw).await;
    assert_eq!(ledger.vote(id).await.unwrap().unwrap().tx_hash, Some(hash));
    assert_eq!(env.votes_on_chain(PROPOSAL).await, 1);
}

#[tokio::test]
async fn crash_after_broadcast_finds_the_receipt() {
    let env = setup().await;
    let ledger = env.open();
    let id = env.intent(&ledger, PROPOSAL).await;
    let nonce = env.nonce().await;
    let (hash, raw) = env.sign(PROPOSAL, nonce).await;
    ledger
        .record_signed(id, nonce, hash, raw.clone())
        .await
        .unwrap();
    env.chain
        .provider
        .send_raw_transaction(&raw)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    drop(ledger);

    let ledger = env.open();
    let r = only(env.reconcile(&ledger).await);
    assert!(
        matches!(r.action, Action::Mined(m) if m.success && m.tx_hash == hash),
        "{:?}",
        r.action
    );
    assert_eq!(r.row.state, VoteState::Confirmed);
    assert!(r.row.block_number.is_some() && r.row.gas_used.is_some());
    assert_eq!(env.votes_on_chain(PROPOSAL).await, 1);
}

#[tokio::test]
async fn crash_before_receipt_waits_for_the_pending_transaction() {
    let env = setup().await;
    let ledger = env.open();
    let id = env.intent(&ledger, PROPOSAL).await;
    let nonce = env.nonce().await;
    let (hash, raw) = env.sign(PROPOSAL, nonce).await;
    ledger
        .record_signed(id, nonce, hash, raw.clone())
        .await
        .unwrap();
    env.chain.set_automine(false).await;
    let _pending = env.chain.provider.send_raw_transaction(&raw).await.unwrap();
    ledger.mark_sent(id).await.unwrap();
    drop(ledger);

    let ledger = env.open();
    assert_eq!(only(env.reconcile(&ledger).await).action, Action::Wait);
    env.chain.mine(1).await;
    let r = only(env.reconcile(&ledger).await);
    assert_eq!(r.row.state, VoteState::Confirmed);
    env.chain.set_automine(true).await;
    assert_eq!(env.votes_on_chain(PROPOSAL).await, 1);
}

#[tokio::test]
async fn a_vote_made_elsewhere_is_recorded_not_repeated() {
    let env = setup().await;
    let ledger = env.open();
    let id = env.intent(&ledger, PROPOSAL).await;
    // The same key votes outside govnode (an old deployment, an operator).
    let call = env
        .adapter
        .vote_call(U256::from(PROPOSAL), VoteChoice::Against, "")
        .unwrap();
    env.chain.send(call.request(env.voter())).await;
    drop(ledger);

    let ledger = env.open();
    let r = only(env.reconcile(&ledger).await);
    assert_eq!(r.action, Action::External);
    assert_eq!(r.row.state, VoteState::ConfirmedExternal);
    assert_eq!(
        ledger.vote(id).await.unwrap().unwrap().state,
        VoteState::ConfirmedExternal
    );
    assert_eq!(env.votes_on_chain(PROPOSAL).await, 1);
}

#[tokio::test]
async fn a_nonce_taken_by_another_transaction_is_signed_again() {
    let env = setup().await;
    let ledger = env.open();
    let id = env.intent(&ledger, PROPOSAL).await;
    let nonce = env.nonce().await;
    let (hash, raw) = env.sign(PROPOSAL, nonce).await;
    ledger.record_signed(id, nonce, hash, raw).await.unwrap();
    drop(ledger);
    // Before the restart, something else spends the nonce.
    let transfer = TransactionRequest::default()
        .from(env.voter())
        .to(env.chain.account(5))
        .value(U256::from(1));
    env.chain.send(transfer).await;

    let ledger = env.open();
    let r = only(env.reconcile(&ledger).await);
    assert!(matches!(r.action, Action::Resign { .. }), "{:?}", r.action);
    assert_eq!(
        (r.row.state, r.row.nonce, r.row.decision),
        (VoteState::Intent, None, VoteChoice::For)
    );
    assert_eq!(only(env.reconcile(&ledger).await).action, Action::Sign);

    let next = env.nonce().await;
    assert_eq!(next, nonce + 1);
    let (hash2, raw2) = env.sign(PROPOSAL, next).await;
    ledger
        .record_signed(id, next, hash2, raw2.clone())
        .await
        .unwrap();
    env.finish(&ledger, id, &raw2).await;
    assert_eq!(
        ledger.attempts(id).await.unwrap().len(),
        2,
        "the dead attempt stays on record"
    );
    assert_eq!(env.votes_on_chain(PROPOSAL).await, 1);
}

#[tokio::test]
async fn a_mined_revert_is_final() {
    let env = setup().await;
    let ledger = env.open();
    let id = env.intent(&ledger, EXPIRED).await;
    let nonce = env.nonce().await;
    let (hash, raw) = env.sign(EXPIRED, nonce).await;
    ledger
        .record_signed(id, nonce, hash, raw.clone())
        .await
        .unwrap();
    let receipt = env
        .chain
        .provider
        .send_raw_transaction(&raw)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!receipt.status(), "voting on an expired proposal reverts");
    drop(ledger);

    let ledger = env.open();
    let r = only(env.reconcile(&ledger).await);
    assert_eq!(r.row.state, VoteState::Reverted);
    assert!(env.reconcile(&ledger).await.is_empty());
    assert_eq!(env.votes_on_chain(EXPIRED).await, 0);
}
