//! A turn's place among the turns running at once, given up while the turn waits for a person.
//!
//! `max_concurrent_turns` bounds the turns that use the model and tools. A turn waiting for an
//! approval or a form (minutes, perhaps never answered) uses neither, so it gives its slot back
//! while it waits and takes one again (waiting in line like a new turn) when the person answers.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One turn's slot; cheap to clone, every clone is the same slot.
#[derive(Clone)]
pub(crate) struct Slot {
    inner: Arc<SlotInner>,
}

struct SlotInner {
    turns: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    permit: Option<OwnedSemaphorePermit>,
    /// Questions to people open at once (tool calls of a round run concurrently).
    waiting: usize,
}

/// Decrements the waiters when a wait ends, however it ends.
struct Waiting<'a>(&'a SlotInner);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.waiting = state.waiting.saturating_sub(1);
    }
}

impl Slot {
    /// Waits in line for a slot among `turns`.
    pub(crate) async fn acquire(turns: Arc<Semaphore>) -> Self {
        let permit = turns.clone().acquire_owned().await.ok();
        Self {
            inner: Arc::new(SlotInner {
                turns,
                state: Mutex::new(State { permit, waiting: 0 }),
            }),
        }
    }

    /// Runs `wait` (a question to a person) without holding the slot; takes a slot again
    /// afterwards unless another question of the turn is still open.
    pub(crate) async fn released_while<T>(&self, wait: impl Future<Output = T>) -> T {
        let released = {
            let mut state = self.lock();
            state.waiting += 1;
            state.permit.take()
        };
        drop(released);
        let out = {
            let _waiting = Waiting(&self.inner);
            wait.await
        };
        let retake = {
            let state = self.lock();
            state.waiting == 0 && state.permit.is_none()
        };
        if retake {
            let permit = self.inner.turns.clone().acquire_owned().await.ok();
            let mut state = self.lock();
            if state.permit.is_none() {
                state.permit = permit;
            }
        }
        out
    }

    /// Whether the turn holds a slot now.
    #[cfg(test)]
    fn holds(&self) -> bool {
        self.lock().permit.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_turn_lets_another_run_and_takes_a_slot_back() {
        let turns = Arc::new(Semaphore::new(1));
        let first = Slot::acquire(turns.clone()).await;
        assert!(first.holds());
        assert_eq!(turns.available_permits(), 0);
        let (answer, answered) = tokio::sync::oneshot::channel::<u8>();
        let waiting = {
            let first = first.clone();
            tokio::spawn(async move { first.released_while(answered).await })
        };
        // While the first turn waits for its person, a second turn gets the only slot.
        let second = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            Slot::acquire(turns.clone()),
        )
        .await
        .expect("the waiting turn gave its slot back");
        assert!(second.holds());
        answer.send(7).unwrap();
        drop(second);
        assert_eq!(waiting.await.unwrap().unwrap(), 7);
        assert!(first.holds(), "the answered turn took a slot again");
        assert_eq!(turns.available_permits(), 0);
    }

    #[tokio::test]
    async fn two_open_questions_give_the_slot_back_once() {
        let turns = Arc::new(Semaphore::new(1));
        let slot = Slot::acquire(turns.clone()).await;
        let (a_tx, a_rx) = tokio::sync::oneshot::channel::<()>();
        let (b_tx, b_rx) = tokio::sync::oneshot::channel::<()>();
        let a = tokio::spawn({
            let slot = slot.clone();
            async move { slot.released_while(a_rx).await }
        });
        let b = tokio::spawn({
            let slot = slot.clone();
            async move { slot.released_while(b_rx).await }
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(turns.available_permits(), 1);
        a_tx.send(()).unwrap();
        a.await.unwrap().unwrap();
        assert!(!slot.holds(), "one question is still open");
        b_tx.send(()).unwrap();
        b.await.unwrap().unwrap();
        assert!(slot.holds());
        assert_eq!(turns.available_permits(), 0);
    }
}
