//! The MCP host: runs and supervises the MCP servers the bot uses and gives the engine one
//! catalogue of tools, prompts and resources, on rmcp 3.
//!
//! - [`McpHost::start`] starts every server concurrently (stdio children, Streamable HTTP
//!   endpoints, or any byte stream), each under a supervisor that restarts it with backoff,
//!   kills it when it hangs or outgrows its memory limit, and opens a circuit on crash loops.
//!   [`McpHost::connect`] is the short way to one server.
//! - [`McpHost::tools`] is the catalogue: unique, model-valid names mapped back exactly.
//! - [`McpHost::call_tool`] races the answer against a timeout that progress resets and the
//!   caller's cancellation (both tell the server), asks the engine's [`Approver`] first for
//!   `ask` tools, and converts the result for the model ([`ToolOutput`]).
//! - Input requests and sampling requests from servers go to the engine's callbacks
//!   ([`Callbacks`]); without them the host declines.
//!
//! This crate depends on no other mcpcord crate: the binary converts its configuration into
//! [`ServerSpec`]s, and the engine turns [`ToolDescriptor`]s into model tool specs.

#![warn(missing_docs)]

mod auth;
mod backoff;
mod call;
mod callbacks;
mod catalogue;
mod client;
mod connection;
mod error;
mod events;
mod host;
pub mod naming;
mod output;
mod process;
mod prompts;
mod resources;
mod spec;
mod standalone;
mod stats;
mod status;
mod supervisor;
mod tls;

pub use auth::{
    AuthSpec, AuthorizationPrompt, AuthorizationReason, Authorizer, ClientCredential,
    ClientCredentialsSpec, CredentialVault, HeadlessAuthorizer, MemoryVault, OAuthSpec, Revocation,
    SavedAuth, SigningAlgorithm, revoke_login,
};
pub use call::{CallOptions, ToolProgress};
pub use callbacks::{
    Approval, ApprovalRequest, Approver, Callbacks, InputAnswer, InputHandler, InputMode,
    InputRequest, Sampler, SamplingMessage, SamplingReply, SamplingRequest, SamplingRole,
};
pub use catalogue::{Catalogue, ToolDescriptor};
pub use error::{ConnectError, HostError};
pub use events::HostEvent;
pub use host::{Listing, McpHost, Reconfigured};
pub use output::{ResourceRef, ToolImage, ToolOutput, Truncation};
pub use process::INHERITED_ENV;
pub use prompts::{PromptArgumentInfo, PromptContent, PromptDescriptor, PromptMessageText};
pub use resources::{ResourceContent, ResourceDescriptor, ResourceTemplateDescriptor};
pub use spec::{
    ApprovalPolicy, Backoff, CircuitBreaker, HealthCheck, HostOptions, HttpSpec, Lifecycle,
    McpStream, RestartPolicy, ServerSpec, StdioSpec, StreamConnector, ToolHints, ToolPolicy,
    TransportSpec,
};
pub use stats::ProcessStats;
pub use status::{ReplicaStatus, ServerState, ServerStatus};
pub use supervisor::format_bytes;
