//! A bounded queue that never blocks the producer: when full, the oldest
//! entry makes room, because a round must not wait on a slow receiver.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

pub struct DropOldestQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    ready: Notify,
}

impl<T> DropOldestQueue<T> {
    pub fn new(capacity: usize) -> Self {
        DropOldestQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity: capacity.max(1),
            ready: Notify::new(),
        }
    }

    /// Adds an item; returns true when an older one was dropped for it.
    pub fn push(&self, item: T) -> bool {
        let dropped = {
            let mut items = self.lock();
            let dropped = items.len() >= self.capacity;
            if dropped {
                items.pop_front();
            }
            items.push_back(item);
            dropped
        };
        self.ready.notify_one();
        dropped
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until an item is there and takes it.
    pub async fn pop(&self) -> T {
        loop {
            if let Some(item) = self.lock().pop_front() {
                return item;
            }
            self.ready.notified().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        // A poisoned lock only means a holder panicked mid-push; the deque is still valid.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_the_oldest() {
        let q = DropOldestQueue::new(2);
        assert!(!q.push(1));
        assert!(!q.push(2));
        assert!(q.push(3));
        assert_eq!(q.len(), 2);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(q.pop()), 2);
        assert_eq!(rt.block_on(q.pop()), 3);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = std::sync::Arc::new(DropOldestQueue::new(4));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await });
        tokio::task::yield_now().await;
        q.push(9);
        assert_eq!(waiter.await.unwrap(), 9);
    }
}
