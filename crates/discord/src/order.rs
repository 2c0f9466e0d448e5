//! Messages of one channel handled in the order the gateway delivered them.
//!
//! Every gateway event is handled in a task of its own, so that a slow one (an attachment to
//! download, a thread to look up) does not hold up the others. Two messages in one channel must
//! still reach the engine in the order they were sent: the engine runs a conversation's turns in
//! the order they are started, and a second message that overtook the first would be answered
//! first and stored first. The shard loop, which sees events in order, takes a [`Ticket`] for
//! each message before spawning its task; a ticket waits until the one taken before it in the
//! same channel is dropped (its message handled, or given up).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::{CancellationToken, DropGuard};

/// Hands out tickets per channel, in the order they are asked for.
#[derive(Default)]
pub(crate) struct Order {
    tails: Mutex<Tails>,
}

#[derive(Default)]
struct Tails {
    /// Per channel, the done signal of the last ticket handed out.
    last: HashMap<u64, CancellationToken>,
    /// Map size at which finished channels are swept out.
    sweep_at: usize,
}

/// A message's place in its channel's line: [`Ticket::wait`] returns when every message before
/// it in the channel is handled; dropping the ticket lets the next one go.
pub(crate) struct Ticket {
    before: Option<CancellationToken>,
    _done: DropGuard,
}

/// Channels remembered before the map is swept of those with nothing in line.
const SWEEP_MIN: usize = 256;

impl Order {
    /// The next ticket in `channel`'s line. Call in the order events arrive (not from the
    /// spawned tasks, whose order is the scheduler's).
    pub(crate) fn ticket(&self, channel: u64) -> Ticket {
        let done = CancellationToken::new();
        let mut tails = self.tails.lock().unwrap_or_else(|e| e.into_inner());
        let before = tails.last.insert(channel, done.clone());
        if tails.last.len() > tails.sweep_at.max(SWEEP_MIN) {
            tails.last.retain(|_, last| !last.is_cancelled());
            tails.sweep_at = tails.last.len() * 2;
        }
        Ticket {
            before: before.filter(|b| !b.is_cancelled()),
            _done: done.drop_guard(),
        }
    }
}

impl Ticket {
    /// Waits until the messages before this one in its channel are handled.
    pub(crate) async fn wait(&mut self) {
        if let Some(before) = self.before.take() {
            before.cancelled().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_channel_is_handled_in_ticket_order_whatever_each_takes() {
        let order = Order::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // The first message is the slowest to handle; the later ones must still wait for it.
        for (n, delay) in [(0, 60), (1, 0), (2, 30), (3, 0)] {
            let mut ticket = order.ticket(7);
            let seen = seen.clone();
            tasks.push(tokio::spawn(async move {
                ticket.wait().await;
                tokio::time::sleep(Duration::from_millis(delay)).await;
                seen.lock().unwrap().push(n);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn channels_do_not_wait_for_each_other() {
        let order = Order::default();
        let _first = order.ticket(1);
        let mut other = order.ticket(2);
        tokio::time::timeout(Duration::from_secs(5), other.wait())
            .await
            .expect("another channel's ticket goes at once");
        let mut second = order.ticket(1);
        let waited = tokio::time::timeout(Duration::from_millis(50), second.wait()).await;
        assert!(waited.is_err(), "the second message of channel 1 waits");
    }

    #[tokio::test]
    async fn a_ticket_given_up_lets_the_next_go_and_finished_channels_are_forgotten() {
        let order = Order::default();
        let first = order.ticket(1);
        let mut second = order.ticket(1);
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second.wait())
            .await
            .expect("dropping a ticket lets the next one go");
        drop(second);
        for channel in 0..(SWEEP_MIN as u64 * 3) {
            drop(order.ticket(channel));
        }
        let remembered = order.tails.lock().unwrap().last.len();
        assert!(
            remembered <= SWEEP_MIN + 1,
            "channels with nothing in line are swept out: {remembered} remembered"
        );
    }
}
