//! The changing part of the tool list: whether the extra tool is listed, and telling clients when
//! that changes. Sessions on the `initialize` lifecycle get `notifications/tools/list_changed`
//! directly; 2026-07-28 clients get it on the `subscriptions/listen` stream they opened.

use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::{
    RoleServer,
    model::SubscriptionFilter,
    service::{RequestContext, SubscriptionContext, SubscriptionSendError},
};
use tokio::sync::broadcast;

use super::log;

/// Whether the extra tool is visible, plus a broadcast of every change to open subscriptions.
pub(super) struct ToolListChanges {
    extra_enabled: AtomicBool,
    changes: broadcast::Sender<()>,
}

impl ToolListChanges {
    pub(super) fn new() -> Self {
        let (changes, _) = broadcast::channel(16);
        Self {
            extra_enabled: AtomicBool::new(false),
            changes,
        }
    }

    pub(super) fn extra_enabled(&self) -> bool {
        self.extra_enabled.load(Ordering::SeqCst)
    }

    /// Flips the extra tool's visibility, tells the client, and returns the new visibility.
    pub(super) async fn toggle(&self, context: &RequestContext<RoleServer>) -> bool {
        let enabled = !self.extra_enabled.fetch_xor(true, Ordering::SeqCst);
        // Subscribers on the 2026-07-28 lifecycle (possibly other HTTP requests).
        let _ = self.changes.send(());
        let legacy = context
            .protocol_version()
            .is_none_or(|version| version.has_initialize());
        if legacy && let Err(error) = context.peer.notify_tool_list_changed().await {
            log(format_args!("could not send tools/list_changed: {error}"));
        }
        enabled
    }

    /// The part of a `subscriptions/listen` filter this server honours: tool list changes.
    pub(super) fn accepted_filter() -> SubscriptionFilter {
        SubscriptionFilter::builder().tools_list_changed().build()
    }

    /// Runs one `subscriptions/listen` stream until the client cancels it or the server stops.
    pub(super) async fn listen(&self, subscription: SubscriptionContext) {
        let mut changes = self.changes.subscribe();
        loop {
            tokio::select! {
                () = subscription.cancelled() => return,
                change = changes.recv() => match change {
                    Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        match subscription.sink().notify_tool_list_changed().await {
                            Ok(()) | Err(SubscriptionSendError::NotificationNotAccepted(_)) => {}
                            Err(error) => {
                                log(format_args!("subscription ended: {error}"));
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }
}
