//! `mcpcord check`: validate the configuration, then reach every configured part.

use std::time::Duration;

use std::collections::BTreeMap;

use anyhow::anyhow;
use mcpcord_mcp::{Callbacks, McpHost, ServerState, ServerStatus};
use mcpcord_memory::Store;
use tokio_util::sync::CancellationToken;

use super::Failure;
use super::models::table;
use crate::config::{Config, Source};
use crate::secrets::SecretKey;
use crate::vault::DbVault;
use crate::wiring::{backend_pool, mcp_host_options, mcp_server_specs, with_vault};

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

/// Starts every enabled MCP server (an OAuth one only with a stored login), waits for each,
/// and adds one row per server; returns how many failed.
async fn check_mcp(config: &Config, rows: &mut Vec<[String; 4]>) -> usize {
    let (logins, store) = oauth_logins(config).await;
    let vault = match (&config.mcp.secret_key, &store) {
        (Some(key), Some(store)) => Some(DbVault::new(store.clone(), SecretKey::clone(key))),
        _ => None,
    };
    let specs = mcp_server_specs(config)
        .into_iter()
        .filter(|spec| logins.get(&spec.name).is_none_or(Result::is_ok))
        .collect();
    // Its own short life: the host is the only part running.
    let host = McpHost::start_under(
        specs,
        mcp_host_options(config),
        with_vault(Callbacks::default(), vault),
        &CancellationToken::new(),
    );
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
    if let Some(store) = store {
        store.close().await;
    }
    let mut failures = 0;
    for server in &config.mcp.servers {
        let login = logins.get(&server.name);
        let (status, detail) = match (login, statuses.iter().find(|s| s.name == server.name)) {
            (Some(Err((status, detail))), _) => (*status, detail.clone()),
            (_, None) => {
                rows.push(row("mcp", "skipped", &server.name, "disabled"));
                continue;
            }
            (login, Some(status)) => server_row(status, login.and_then(|l| l.as_ref().ok())),
        };
        if status != "ok" {
            failures += 1;
        }
        rows.push(row("mcp", status, &server.name, &detail));
    }
    failures
}

/// The stored login of every enabled OAuth server, and the database they were read from.
async fn oauth_logins(
    config: &Config,
) -> (
    BTreeMap<String, Result<String, (&'static str, String)>>,
    Option<Store>,
) {
    let servers: Vec<_> = config.mcp.oauth_servers().filter(|s| !s.disabled).collect();
    if servers.is_empty() {
        return (BTreeMap::new(), None);
    }
    let store = Store::connect(config.storage.url.expose().as_str())
        .await
        .ok();
    let mut logins = BTreeMap::new();
    for server in servers {
        let login = super::login::stored_login(config, server, store.as_ref()).await;
        logins.insert(server.name.clone(), login);
    }
    (logins, store)
}

/// The status and detail of a server the host tried, with its login when it has one.
fn server_row(status: &ServerStatus, login: Option<&String>) -> (&'static str, String) {
    let (state, mut detail) = if status.state == ServerState::Ready {
        let detail = format!(
            "{} tools, {}, protocol {}",
            status.tools,
            status.implementation.as_deref().unwrap_or("unnamed server"),
            status.protocol.as_deref().unwrap_or("?")
        );
        ("ok", detail)
    } else {
        let detail = status.last_error().unwrap_or("did not start");
        // A connection error may quote the server's URL: never its credentials.
        ("FAIL", mcpcord_llm::redact::redact_urls_in(detail))
    };
    if let Some(login) = login {
        detail = format!("{detail}; {login}");
    }
    (state, detail)
}
