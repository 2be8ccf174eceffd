//! One sender per wallet and chain. A round reads each wallet's next nonce
//! from the chain and signs its votes with the nonces after it; two DAOs'
//! rounds on one chain that share a node would read the same nonce. A round
//! therefore holds the locks of its wallets from planning to its end, and
//! DAOs whose wallets differ (or whose chains do) still run side by side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy::primitives::Address;
use tokio::sync::OwnedMutexGuard;

/// The wallet locks of one chain, shared by every DAO on it.
#[derive(Clone, Default)]
pub struct WalletLocks {
    locks: Arc<Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Held while a round may sign or send for its wallets.
pub struct WalletsHeld {
    _guards: Vec<OwnedMutexGuard<()>>,
}

impl WalletLocks {
    /// Locks every wallet of `addresses`, in address order so that two
    /// rounds never wait for each other in a circle. `on_wait` is called
    /// once, before waiting, when another round holds one of them.
    pub async fn lock_all(
        &self,
        addresses: impl IntoIterator<Item = Address>,
        on_wait: &(dyn Fn() + Send + Sync),
    ) -> WalletsHeld {
        let mut addresses: Vec<Address> = addresses.into_iter().collect();
        addresses.sort_unstable();
        addresses.dedup();
        let mutexes: Vec<_> = {
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            addresses
                .iter()
                .map(|a| map.entry(*a).or_default().clone())
                .collect()
        };
        let mut guards = Vec::with_capacity(mutexes.len());
        let mut waited = false;
        for mutex in mutexes {
            let guard = match mutex.clone().try_lock_owned() {
                Ok(g) => g,
                Err(_) => {
                    if !waited {
                        waited = true;
                        on_wait();
                    }
                    mutex.lock_owned().await
                }
            };
            guards.push(guard);
        }
        WalletsHeld { _guards: guards }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_shared_wallet_waits_and_distinct_wallets_do_not() {
        let locks = WalletLocks::default();
        let (a, b, c) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
        );
        let waits = Arc::new(AtomicUsize::new(0));
        let counted = waits.clone();
        let count = move || {
            counted.fetch_add(1, Ordering::SeqCst);
        };
        let first = locks.lock_all([b, a], &count).await;
        // No wallet in common: no wait.
        let other = locks.lock_all([c], &count).await;
        assert_eq!(waits.load(Ordering::SeqCst), 0);
        drop(other);
        let second = {
            let locks = locks.clone();
            let count = count.clone();
            tokio::spawn(async move { locks.lock_all([a, c], &count).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "a wallet another round holds must wait"
        );
        assert_eq!(waits.load(Ordering::SeqCst), 1);
        drop(first);
        let held = tokio::time::timeout(std::time::Duration::from_secs(5), second)
            .await
            .expect("the lock is released with the first round")
            .expect("task");
        drop(held);
    }
}
