//! A short-lived cache for answers that cost chain reads, so a dashboard that
//! polls every second does not turn into a stream of RPC calls. Single flight:
//! callers that arrive while a fetch runs wait for it instead of starting
//! their own. Failures are not cached.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

pub struct TtlCache<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> TtlCache<T> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached value if younger than the TTL and `still_valid` (the
    /// configuration may have changed since), else a fresh one from `fetch`.
    /// Returns the value and its age.
    pub async fn get_or_fetch<E, F, Fut>(
        &self,
        still_valid: impl FnOnce(&T) -> bool,
        fetch: F,
    ) -> Result<(Arc<T>, Duration), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
            && still_valid(value)
        {
            return Ok((value.clone(), at.elapsed()));
        }
        let value = Arc::new(fetch().await?);
        *slot = Some((Instant::now(), value.clone()));
        Ok((value, Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn serves_from_cache_within_the_ttl_and_does_not_cache_errors() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let calls = AtomicU32::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(7)
        };
        assert_eq!(*cache.get_or_fetch(|_| true, fetch).await.unwrap().0, 7);
        assert_eq!(*cache.get_or_fetch(|_| true, fetch).await.unwrap().0, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let failing: TtlCache<u32> = TtlCache::new(Duration::from_secs(60));
        assert!(
            failing
                .get_or_fetch(|_| true, || async { Err("down") })
                .await
                .is_err()
        );
        assert_eq!(
            *failing
                .get_or_fetch(|_| true, || async { Ok::<_, &str>(1) })
                .await
                .unwrap()
                .0,
            1
        );
    }

    #[tokio::test]
    async fn refetches_after_the_ttl() {
        let cache = TtlCache::new(Duration::ZERO);
        let calls = AtomicU32::new(0);
        for _ in 0..2 {
            cache
                .get_or_fetch(
                    |_| true,
                    || async { Ok::<_, ()>(calls.fetch_add(1, Ordering::SeqCst)) },
                )
                .await
                .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
