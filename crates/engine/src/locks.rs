//! One lock per conversation, so that the turns of a conversation run in order while those of
//! different conversations run side by side.
//!
//! A lock nobody holds or waits for is forgotten, so the map does not grow with every
//! conversation ever seen; forgetting happens when the map has doubled since the last sweep,
//! which keeps taking a lock O(1) amortised however many conversations are active.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The fewest entries before a sweep is worth it.
const FIRST_SWEEP: usize = 64;

/// The locks of the conversations with a turn running or waiting.
#[derive(Debug)]
pub(crate) struct ConversationLocks {
    inner: Mutex<Locks>,
}

#[derive(Debug)]
struct Locks {
    by_key: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    sweep_at: usize,
}

impl ConversationLocks {
    /// No locks yet.
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Locks {
                by_key: HashMap::new(),
                sweep_at: FIRST_SWEEP,
            }),
        }
    }

    /// The lock of the conversation under `key` (the same one for every caller while anyone
    /// holds or waits for it).
    pub(crate) fn of(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if locks.by_key.len() >= locks.sweep_at {
            locks.by_key.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.sweep_at = (locks.by_key.len() * 2).max(FIRST_SWEEP);
        }
        if let Some(lock) = locks.by_key.get(key) {
            return lock.clone();
        }
        let lock = Arc::<tokio::sync::Mutex<()>>::default();
        locks.by_key.insert(key.to_owned(), lock.clone());
        lock
    }

    /// How many locks are kept (held, waited for, or not yet swept).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_per_key_while_held() {
        let locks = ConversationLocks::new();
        let a = locks.of("a");
        assert!(Arc::ptr_eq(&a, &locks.of("a")));
        assert!(!Arc::ptr_eq(&a, &locks.of("b")));
    }

    #[test]
    fn unused_locks_are_forgotten_and_held_ones_kept() {
        let locks = ConversationLocks::new();
        let held = locks.of("held");
        for i in 0..1_000 {
            drop(locks.of(&format!("k{i}")));
        }
        // Swept whenever the map doubled: never more than twice the first sweep's size.
        assert!(locks.len() <= 2 * FIRST_SWEEP, "{} locks kept", locks.len());
        assert!(Arc::ptr_eq(&held, &locks.of("held")));
    }
}
