//! The test MCP server: a small rmcp server whose tools echo, add, sleep, crash, flood output,
//! return an image, report progress, ask the user for input (elicitation) and change the tool
//! list, with one prompt and two resources. It speaks stdio, Streamable HTTP and, for tests in
//! other crates, an in-process `tokio::io::duplex` pipe; the binary `mcpcord-test-mcp` wraps it.
//!
//! It answers both lifecycles rmcp 3.11 knows: the `initialize` handshake (2025-11-25 and
//! older) and the stateless `server/discover` + per-request `_meta` lifecycle of 2026-07-28.
//! [`TestMcpServer::with_discover`] makes it answer `server/discover` the way servers written
//! before 2026-07-28 do — "method not found" ([`TestMcpServer::legacy_only`]), an empty result
//! (`{}`, what some servers send for any method they do not know) or not at all — so a host's
//! automatic lifecycle fallback can be tested.

mod ask;
mod binary;
pub mod cli;
mod handler;
mod image;
mod list_changed;
mod prompts;
mod resources;
mod tools;
mod transport;
mod wrapper;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use rmcp::handler::server::{router::prompt::PromptRouter, tool::ToolRouter};

pub use binary::{TEST_MCP_BINARY_ENV, TEST_MCP_BINARY_NAME, test_mcp_binary};
pub use image::TEST_PNG;
pub use resources::{README_TEXT, README_URI};
pub use tools::{DEFAULT_LARGE_OUTPUT_SIZE, EXTRA_TOOL, MAX_LARGE_OUTPUT_SIZE};
pub use transport::{HttpServerHandle, serve_http, serve_in_process, serve_stdio};

use list_changed::ToolListChanges;

/// The name the server reports in its implementation info.
pub const SERVER_NAME: &str = "mcpcord-test-mcp";

/// What the `crash` tool does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrashMode {
    /// Answer with an `isError` result: the right choice in-process, where exiting would take
    /// the test runner down with it.
    #[default]
    Refuse,
    /// Exit the whole process at once with this status (what the binary does), so the client
    /// sees its connection end without a response.
    Exit(i32),
}

/// How the server answers `server/discover` (see [`TestMcpServer::with_discover`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DiscoverReply {
    /// A discover result: the server speaks 2026-07-28.
    #[default]
    Answer,
    /// "Method not found" (-32601), like a server from before 2026-07-28.
    MethodNotFound,
    /// An empty result (`{}`), like servers that answer every method they do not know that way.
    Empty,
    /// Never: the request stays unanswered (the `initialize` handshake on a fresh connection
    /// still works; on the same stdio connection the server waits for the answer first).
    Never,
}

impl DiscoverReply {
    /// The command-line name: `answer`, `refuse`, `empty` or `never`.
    pub fn name(self) -> &'static str {
        match self {
            DiscoverReply::Answer => "answer",
            DiscoverReply::MethodNotFound => "refuse",
            DiscoverReply::Empty => "empty",
            DiscoverReply::Never => "never",
        }
    }

    /// Parses a command-line name (see [`Self::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            DiscoverReply::Answer,
            DiscoverReply::MethodNotFound,
            DiscoverReply::Empty,
            DiscoverReply::Never,
        ]
        .into_iter()
        .find(|reply| reply.name() == name)
    }
}

/// The test MCP server handler. Cheap to clone: clones share their state (the extra tool's
/// visibility, counters), which is how one server serves many Streamable HTTP sessions.
#[derive(Clone)]
pub struct TestMcpServer {
    shared: Arc<Shared>,
}

/// State shared by every clone of one [`TestMcpServer`].
struct Shared {
    crash: CrashMode,
    discover: DiscoverReply,
    tool_router: ToolRouter<TestMcpServer>,
    prompt_router: PromptRouter<TestMcpServer>,
    tool_list: ToolListChanges,
    cancelled_calls: AtomicUsize,
    discover_requests: AtomicUsize,
}

impl TestMcpServer {
    /// A server that speaks both lifecycles and whose `crash` tool refuses to exit.
    pub fn new() -> Self {
        Self::build(CrashMode::Refuse, DiscoverReply::Answer)
    }

    /// Builder: a fresh server like this one with `crash` set to `mode` (call it before cloning
    /// or serving: the result does not share state with `self`).
    pub fn with_crash_mode(self, mode: CrashMode) -> Self {
        Self::build(mode, self.shared.discover)
    }

    /// Builder: a fresh server like this one, but answering `server/discover` with "method not
    /// found" so that clients fall back to the `initialize` handshake (2025-11-25), like a server
    /// from before 2026-07-28. It still serves requests that carry 2026-07-28 `_meta` without a
    /// handshake; it only makes automatic discovery fall back.
    pub fn legacy_only(self) -> Self {
        self.with_discover(DiscoverReply::MethodNotFound)
    }

    /// Builder: a fresh server like this one that answers `server/discover` as `reply` says
    /// (see [`DiscoverReply`]).
    pub fn with_discover(self, reply: DiscoverReply) -> Self {
        Self::build(self.shared.crash, reply)
    }

    /// How `server/discover` is answered.
    pub fn discover_reply(&self) -> DiscoverReply {
        self.shared.discover
    }

    /// What the `crash` tool does.
    pub fn crash_mode(&self) -> CrashMode {
        self.shared.crash
    }

    /// Whether `server/discover` is refused (see [`Self::legacy_only`]).
    pub fn is_legacy_only(&self) -> bool {
        self.shared.discover == DiscoverReply::MethodNotFound
    }

    /// How many tool calls ended because the client cancelled them (`notifications/cancelled`).
    pub fn cancelled_calls(&self) -> usize {
        self.shared.cancelled_calls.load(Ordering::SeqCst)
    }

    /// How many `server/discover` requests reached the server over a byte-stream wire (stdio,
    /// in-process), however they were answered.
    pub fn discover_requests(&self) -> usize {
        self.shared.discover_requests.load(Ordering::SeqCst)
    }

    fn count_discover_request(&self) {
        self.shared.discover_requests.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether the extra tool ([`EXTRA_TOOL`]) is currently listed; `toggle_extra` flips it.
    pub fn extra_tool_enabled(&self) -> bool {
        self.shared.tool_list.extra_enabled()
    }

    fn build(crash: CrashMode, discover: DiscoverReply) -> Self {
        Self {
            shared: Arc::new(Shared {
                crash,
                discover,
                tool_router: Self::tool_router(),
                prompt_router: Self::prompt_router(),
                tool_list: ToolListChanges::new(),
                cancelled_calls: AtomicUsize::new(0),
                discover_requests: AtomicUsize::new(0),
            }),
        }
    }

    fn count_cancelled_call(&self) {
        self.shared.cancelled_calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl Default for TestMcpServer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TestMcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestMcpServer")
            .field("crash", &self.shared.crash)
            .field("discover", &self.shared.discover)
            .field("extra_tool_enabled", &self.extra_tool_enabled())
            .field("cancelled_calls", &self.cancelled_calls())
            .finish()
    }
}

/// Writes one log line to stderr: stdio servers must keep stdout for the protocol.
fn log(message: impl std::fmt::Display) {
    eprintln!("{SERVER_NAME}: {message}");
}
