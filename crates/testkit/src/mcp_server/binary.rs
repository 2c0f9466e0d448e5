//! Finding the built `mcpcord-test-mcp` binary from tests in other crates, which (unlike this
//! crate's own tests) get no `CARGO_BIN_EXE_…` variable for it.

use std::path::{Path, PathBuf};

/// File name of the test server binary (without the platform's executable suffix).
pub const TEST_MCP_BINARY_NAME: &str = "mcpcord-test-mcp";
/// Environment variable that, when set, names the test server binary to use.
pub const TEST_MCP_BINARY_ENV: &str = "MCPCORD_TEST_MCP_BIN";

/// The path of the built `mcpcord-test-mcp` binary.
///
/// Uses [`TEST_MCP_BINARY_ENV`] when set, otherwise looks next to the running test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/mcpcord-test-mcp`).
///
/// # Panics
///
/// When the binary is not there, with a message saying how to build it:
/// `cargo build -p mcpcord-testkit --bin mcpcord-test-mcp`.
pub fn test_mcp_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(TEST_MCP_BINARY_ENV) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{TEST_MCP_BINARY_ENV} names {}, which is not a file",
            path.display()
        );
        return path;
    }
    let file_name = format!("{TEST_MCP_BINARY_NAME}{}", std::env::consts::EXE_SUFFIX);
    let exe = std::env::current_exe().expect("the path of the running test executable");
    match find_next_to(&exe, &file_name) {
        Some(path) => path,
        None => panic!(
            "the test MCP server binary `{file_name}` was not found near {}. Build it first with \
             `cargo build -p mcpcord-testkit --bin {TEST_MCP_BINARY_NAME}` (same profile and \
             target dir as the tests), or set {TEST_MCP_BINARY_ENV} to its path",
            exe.display()
        ),
    }
}

/// Looks for `file_name` in the directory of `exe` and the two above it.
fn find_next_to(exe: &Path, file_name: &str) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join(file_name))
        .find(|candidate| candidate.is_file())
}
