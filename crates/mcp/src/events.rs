//! What the host tells the engine beyond tool results: things an admin should hear about.

/// An event of the host, for the engine to pass on to admins.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostEvent {
    /// An OAuth server has no usable login and no one here can authorize: its tools left the
    /// catalogue until an admin logs in.
    NeedsLogin {
        /// The server.
        server: String,
        /// Why its login cannot be used.
        reason: String,
    },
    /// A call needed scopes the server's login lacks and no one here could authorize them;
    /// the next login asks for them.
    NeedsScopes {
        /// The server.
        server: String,
        /// The scopes the server asked for (space-separated, as it named them).
        scopes: String,
    },
}

impl HostEvent {
    /// The event in words for an admin, with what to do.
    pub fn message(&self) -> String {
        match self {
            HostEvent::NeedsLogin { server, reason } => format!(
                "the MCP server `{server}` needs a login ({reason}); its tools are unavailable \
                 until an admin runs `mcpcord mcp login {server}`"
            ),
            HostEvent::NeedsScopes { server, scopes } => format!(
                "the MCP server `{server}` needs more permissions (`{scopes}`) for some calls: \
                 an admin runs `mcpcord mcp login {server}`"
            ),
        }
    }
}
