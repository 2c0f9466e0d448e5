//! Things admins should hear about that nobody asked for (an MCP server that needs a login):
//! a stream a front end reads and posts where its admins look.

use std::collections::VecDeque;

use mcpcord_mcp::HostEvent;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::engine::Engine;

/// One notice for admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminNotice {
    /// What happened and what to do, in words.
    pub text: String,
}

/// The admin notices from the moment it was made ([`Engine::admin_notices`]): first those that
/// still hold (a server already waiting for a login), then each new one.
pub struct AdminNotices {
    events: Option<broadcast::Receiver<HostEvent>>,
    standing: VecDeque<HostEvent>,
}

impl AdminNotices {
    /// The next notice; `None` when no more will come (no MCP host, or it is gone).
    pub async fn next(&mut self) -> Option<AdminNotice> {
        if let Some(event) = self.standing.pop_front() {
            return Some(AdminNotice {
                text: event.message(),
            });
        }
        let events = self.events.as_mut()?;
        loop {
            match events.recv().await {
                Ok(event) => {
                    return Some(AdminNotice {
                        text: event.message(),
                    });
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "admin notices were dropped (too many at once)");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

impl Engine {
    /// The admin notices from now on.
    pub fn admin_notices(&self) -> AdminNotices {
        let host = self.tools();
        // Subscribed first, so nothing falls between (an event sent meanwhile comes twice).
        let events = host.map(|host| host.events());
        let standing = host.map(|host| host.standing_events()).unwrap_or_default();
        AdminNotices {
            events,
            standing: standing.into(),
        }
    }
}
