//! Protocol-level test doubles: FakeDiscord, FakeOllama, the test MCP server (with a
//! hand-written Streamable HTTP server whose standalone stream opens late) and an OAuth
//! authorization server guarding it (FakeAuthServer).

pub mod mcp_server;
pub use mcp_server::{TestMcpServer, test_mcp_binary};
pub mod fake_ollama;
pub use fake_ollama::FakeOllama;
pub mod conformance;
pub mod late_stream;
pub mod llama;
pub mod oauth;
pub use oauth::FakeAuthServer;

pub mod fake_discord;
pub use fake_discord::FakeDiscord;
