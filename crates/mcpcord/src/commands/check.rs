//! `mcpcord check`: validate the configuration, then reach every configured part.

use std::time::Duration;

use anyhow::anyhow;
use mcpcord_mcp::{Callbacks, ServerState};
use tokio_util::sync::CancellationToken;

use super::Failure;
use super::models::table;
use crate::config::{Config, Source};
use crate::wiring::{backend_pool, mcp_host};

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
                // Operators see the (redacted) URL and the reason.
                ("FAIL", error.detail())
            }
        };
        rows.push(row(
            "backend",
            status,
            &format!("{} ({})", health.name, health.url),
            &detail,
        ));
    }
    failures += check_mcp(config, &mut rows).await;
    // Opening the store runs its migrations: a database that passes is one the bot can use.
    let (status, detail) =
        match mcpcord_memory::Store::connect(config.storage.url.expose().as_str()).await {
            Ok(store) => {
                let backend = format!("{:?}, migrations applied", store.backend());
                store.close().await;
                ("ok", backend)
            }
            Err(error) => {
                failures += 1;
                let reason = format!("{:#}", anyhow::Error::new(error));
                ("FAIL", mcpcord_llm::redact::redact_urls_in(&reason))
            }
        };
    rows.push(row(
        "storage",
        status,
        &config.storage.url.to_string(),
        &detail,
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

/// Starts every enabled MCP server, waits for each, and adds one row per server; returns how
/// many failed.
async fn check_mcp(config: &Config, rows: &mut Vec<[String; 4]>) -> usize {
    // Its own short life: the host is the only part running.
    let host = mcp_host(config, Callbacks::default(), &CancellationToken::new());
    let wait = config
        .mcp
        .servers
        .iter()
        .map(|s| s.start_timeout)
        .max()
        .unwrap_or_default()
        + Duration::from_secs(1);
    host.wait_ready(wait).await;
    let statuses = host.status();
    host.shutdown().await;
    let mut failures = 0;
    for server in &config.mcp.servers {
        let Some(status) = statuses.iter().find(|s| s.name == server.name) else {
            rows.push(row("mcp", "skipped", &server.name, "disabled"));
            continue;
        };
        if status.state == ServerState::Ready {
            let detail = format!(
                "{} tools, {}, protocol {}",
                status.tools,
                status.implementation.as_deref().unwrap_or("unnamed server"),
                status.protocol.as_deref().unwrap_or("?")
            );
            rows.push(row("mcp", "ok", &server.name, &detail));
        } else {
            failures += 1;
            let detail = status.last_error().unwrap_or("did not start");
            // A connection error may quote the server's URL: never its credentials.
            let detail = mcpcord_llm::redact::redact_urls_in(detail);
            rows.push(row("mcp", "FAIL", &server.name, &detail));
        }
    }
    failures
}
