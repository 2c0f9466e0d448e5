//! `mcpcord-test-mcp`: the test MCP server as a process, on stdio (default) or Streamable HTTP.
//! See `mcpcord_testkit::mcp_server::cli::USAGE` for the flags.

fn main() -> std::process::ExitCode {
    mcpcord_testkit::mcp_server::cli::run(std::env::args().skip(1))
}
