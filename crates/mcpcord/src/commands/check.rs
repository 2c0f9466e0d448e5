//! `mcpcord check`: validate the configuration, then reach every configured part.

use anyhow::anyhow;

use super::Failure;
use super::models::table;
use crate::config::{Config, Source};
use crate::wiring::backend_pool;

/// Prints one line per part; exit 1 when any part that was checked failed.
pub async fn run(config: &Config, source: &Source) -> Result<(), Failure> {
    let mut rows = vec![["PART", "STATUS", "NAME", "DETAIL"].map(String::from)];
    rows.push(row("config", "ok", &source.describe(), "valid"));
    let mut failures = 0;
    for health in backend_pool(config).refresh().await {
        let (status, detail) = match health.result {
            Ok(version) => ("ok", version),
            Err(error) => {
                failures += 1;
                ("FAIL", error.to_string())
            }
        };
        rows.push(row(
            "backend",
            status,
            &format!("{} ({})", health.name, health.url),
            &detail,
        ));
    }
    for server in &config.mcp.servers {
        rows.push(row(
            "mcp",
            "skipped",
            &server.name,
            "not checked yet: arrives with the MCP host",
        ));
    }
    rows.push(row(
        "storage",
        "skipped",
        &config.storage.url.to_string(),
        "not checked yet: arrives with the memory crate",
    ));
    print!("{}", table(&rows));
    if failures > 0 {
        return Err(Failure::Runtime(anyhow!(
            "{failures} part(s) failed the check"
        )));
    }
    Ok(())
}

fn row(part: &str, status: &str, name: &str, detail: &str) -> [String; 4] {
    [part, status, name, detail].map(String::from)
}
