//! The process's one cancellation tree.
//!
//! A command that runs the process (`mcpcord run`, `mcpcord chat`) makes one [`Lifecycle`];
//! every long-lived part gets a child token of its root: the background tasks, the MCP host,
//! the engine (its turns and its indexer), the admin endpoint, the gateway's shards, the
//! watchdog. Each part cancels its own token when it is stopped in order (see
//! `commands/run.rs` for the order); cancelling the root at the end stops whatever is still
//! running. Asking for the orderly stop (a signal) cancels [`Lifecycle::stopping`], also a
//! child of the root, which no part is built on: it only starts the ordered stop.

use tokio_util::sync::CancellationToken;

/// The root token and the "please stop" token below it.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    root: CancellationToken,
    stopping: CancellationToken,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    /// A new tree: nothing is stopping yet.
    pub fn new() -> Self {
        let root = CancellationToken::new();
        Self {
            stopping: root.child_token(),
            root,
        }
    }

    /// The root, for a part to take a child token of (`McpHost::start_under`,
    /// `Engine::new_under`, the adapter's `Hooks::parent`).
    pub fn root(&self) -> &CancellationToken {
        &self.root
    }

    /// A new token for one part: cancelled by the part's own stop, or with the root.
    pub fn child(&self) -> CancellationToken {
        self.root.child_token()
    }

    /// Cancelled when the orderly stop is asked for (SIGINT, SIGTERM), or with the root.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }

    /// Asks for the orderly stop.
    pub fn request_stop(&self) {
        self.stopping.cancel();
    }

    /// Stops whatever still runs: every part's token is cancelled with the root.
    pub fn end(&self) {
        self.root.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_to_stop_cancels_no_part() {
        let life = Lifecycle::new();
        let part = life.child();
        life.request_stop();
        assert!(life.stopping().is_cancelled());
        assert!(
            !part.is_cancelled(),
            "parts stop in order, each by its own token"
        );
        assert!(!life.root().is_cancelled());
    }

    #[test]
    fn the_end_cancels_every_part() {
        let life = Lifecycle::new();
        let (a, b) = (life.child(), life.root().child_token());
        let stopped_early = life.child();
        stopped_early.cancel();
        assert!(!a.is_cancelled() && !life.root().is_cancelled());
        life.end();
        assert!(a.is_cancelled() && b.is_cancelled() && life.stopping().is_cancelled());
    }
}
