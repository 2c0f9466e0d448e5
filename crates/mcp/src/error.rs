//! Errors, named by what happened and so by what the caller does next. A failed tool call is
//! still something the model should hear about: [`HostError::model_message`] says it in words
//! the model can act on.

use std::time::Duration;

/// Why a call, a prompt or a resource request did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// No tool has this exposed name (the model invented one, or the catalogue changed).
    #[error("there is no tool named `{name}`")]
    UnknownTool {
        /// The name asked for.
        name: String,
    },
    /// No server has this name.
    #[error("there is no MCP server named `{server}`")]
    UnknownServer {
        /// The name asked for.
        server: String,
    },
    /// The configuration keeps this tool from the model (`denied_tools`, `allowed_tools`, or
    /// approval `deny`).
    #[error("the tool `{tool}` of `{server}` is not offered (denied by configuration)")]
    NotOffered {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
    },
    /// The configuration denies the whole server (`approval = "deny"`): its tools are not
    /// offered and its prompts and resources are not served.
    #[error("the MCP server `{server}` is denied by configuration (approval = \"deny\")")]
    ServerDenied {
        /// The server.
        server: String,
    },
    /// The configuration keeps this server off (`disabled = true`).
    #[error("the MCP server `{server}` is disabled in the configuration")]
    Disabled {
        /// The server.
        server: String,
    },
    /// The arguments are not a JSON object.
    #[error("the arguments must be a JSON object, not {found}")]
    InvalidArguments {
        /// What was given instead.
        found: String,
    },
    /// A person denied the call.
    #[error("the call was denied{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Denied {
        /// Their reason, when given.
        reason: Option<String>,
    },
    /// The server needs an OAuth login an admin makes; its tools are out of the catalogue.
    #[error("the MCP server `{server}` needs a login: an admin runs `mcpcord mcp login {server}`")]
    NeedsLogin {
        /// The server.
        server: String,
    },
    /// The call needs scopes the login lacks, and no one here could authorize them.
    #[error(
        "the MCP server `{server}` needs more permissions (`{scopes}`): an admin runs `mcpcord mcp login {server}`"
    )]
    NeedsScopes {
        /// The server.
        server: String,
        /// The scopes it asked for.
        scopes: String,
    },
    /// No healthy instance of the server could take the call in time.
    #[error("the MCP server `{server}` is not available ({state})")]
    Unavailable {
        /// The server.
        server: String,
        /// What it is doing (starting, restarting, failed…).
        state: String,
    },
    /// Nothing (answer or progress) came back in time; cancellation was sent to the server.
    #[error("the call got no answer within {}", humanize(*after))]
    Timeout {
        /// The timeout that passed.
        after: Duration,
    },
    /// The caller (the user, the turn) stopped the call; cancellation was sent to the server.
    #[error("the call was cancelled")]
    Cancelled,
    /// The server's process or connection ended while the call was running (it is restarted).
    #[error("the MCP server `{server}` stopped while handling the request")]
    ConnectionLost {
        /// The server.
        server: String,
    },
    /// The server answered with a JSON-RPC error, or with something that is not an answer.
    #[error("the MCP server `{server}` answered with an error: {message}")]
    Protocol {
        /// The server.
        server: String,
        /// What it said.
        message: String,
    },
    /// The server does not offer this kind of thing (no prompts, no resources).
    #[error("the MCP server `{server}` does not support {what}")]
    Unsupported {
        /// The server.
        server: String,
        /// What was asked for.
        what: &'static str,
    },
}

impl HostError {
    /// The error in words for the model, so it can correct itself or tell the user.
    pub fn model_message(&self) -> String {
        match self {
            HostError::Timeout { .. } | HostError::ConnectionLost { .. } => {
                format!("Error: {self}. You may try again once, or tell the user the tool failed.")
            }
            HostError::Denied { .. } => {
                format!("Error: {self}. Do not call this tool again for this request.")
            }
            _ => format!("Error: {self}."),
        }
    }
}

/// Why a server could not be started or reached.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The program could not be launched (not found, not executable).
    #[error("cannot launch `{command}`: {reason}")]
    Spawn {
        /// The program.
        command: String,
        /// The system's reason.
        reason: String,
    },
    /// A configured header name or value cannot be sent.
    #[error("the header `{name}` is not valid")]
    InvalidHeader {
        /// The header name.
        name: String,
    },
    /// The stream connector failed.
    #[error("cannot open the connection: {0}")]
    Io(String),
    /// The MCP handshake failed (the program is not an MCP server, or speaks another version).
    #[error("the MCP handshake failed: {0}")]
    Handshake(String),
    /// The server did not finish starting in time.
    #[error("the server did not start within {}", humanize(*after))]
    Timeout {
        /// The start timeout.
        after: Duration,
    },
    /// Listing the server's tools failed.
    #[error("listing its tools failed: {0}")]
    ListTools(String),
    /// The host was shut down before the server was ready.
    #[error("the host is shutting down")]
    ShuttingDown,
    /// The server wants an OAuth login and none is usable (never made, expired and not
    /// refreshable, for another URL or authorization server), and no one here can authorize.
    #[error("the MCP server `{server}` needs a login ({reason}): run `mcpcord mcp login {server}`")]
    NeedsLogin {
        /// The server.
        server: String,
        /// Why the saved login (if any) cannot be used.
        reason: String,
    },
}

/// `1.5s`, `30s`, `2m`: durations the way people read them.
pub(crate) fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}
