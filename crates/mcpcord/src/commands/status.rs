//! `mcpcord status`: the running bot's `/status`, read through its admin endpoint and printed
//! as tables (or as the JSON document with `--json`). Also the client `mcp servers` uses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::anyhow;
use mcpcord_mcp::format_bytes;

use super::Failure;
use super::models::table;
use crate::admin::view::{ServerView, StatusView};
use crate::cli::StatusArgs;
use crate::config::Config;

/// How long the running bot gets to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// Prints the running bot's status.
pub async fn run(config: &Config, args: StatusArgs) -> Result<(), Failure> {
    let base = admin_url(config, args.url.as_deref())?;
    let body = fetch(config, &base, "/status").await?;
    if args.json {
        println!("{body}");
        return Ok(());
    }
    let view: StatusView = serde_json::from_str(&body)
        .map_err(|e| Failure::Runtime(anyhow!("{base}/status answered something else: {e}")))?;
    print!("{}", render(&view));
    Ok(())
}

/// The running bot's `/status`, parsed.
pub async fn fetch_status(config: &Config, url: Option<&str>) -> Result<StatusView, Failure> {
    let base = admin_url(config, url)?;
    let body = fetch(config, &base, "/status").await?;
    serde_json::from_str(&body)
        .map_err(|e| Failure::Runtime(anyhow!("{base}/status answered something else: {e}")))
}

/// The admin endpoint's base URL: `url`, else `admin.listen` (an unspecified address is asked
/// on loopback).
pub fn admin_url(config: &Config, url: Option<&str>) -> Result<String, Failure> {
    if let Some(url) = url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let Some(listen) = config.admin.listen else {
        return Err(Failure::Usage(
            "the running bot is asked through its admin endpoint, and admin.listen is not set: \
             set it under [admin] (e.g. listen = \"127.0.0.1:9464\") and restart the bot, or \
             pass --url"
                .into(),
        ));
    };
    Ok(format!("http://{}", reachable(listen)))
}

/// Where a client reaches a server listening on `listen`.
fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// GETs `path` of the admin endpoint at `base`, with the token when one is configured.
async fn fetch(config: &Config, base: &str, path: &str) -> Result<String, Failure> {
    let client = reqwest::Client::builder()
        .timeout(ASK_TIMEOUT)
        .build()
        .map_err(|e| Failure::Runtime(anyhow!("cannot build an HTTP client: {e}")))?;
    let mut request = client.get(format!("{base}{path}"));
    if let Some(token) = &config.admin.token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await.map_err(|error| {
        Failure::Runtime(anyhow!(
            "the bot is not reachable at {base} ({error}): is it running, with admin.listen \
             as in this configuration?"
        ))
    })?;
    match response.status() {
        reqwest::StatusCode::UNAUTHORIZED => Err(Failure::Runtime(anyhow!(
            "the bot at {base} wants a token: set the variable named by admin.token_env"
        ))),
        status if !status.is_success() => Err(Failure::Runtime(anyhow!(
            "the bot at {base} answered {status} for {path}"
        ))),
        _ => response
            .text()
            .await
            .map_err(|e| Failure::Runtime(anyhow!("cannot read the bot's answer: {e}"))),
    }
}

/// The status as a person reads it.
fn render(view: &StatusView) -> String {
    let mut out = format!(
        "mcpcord {} · pid {} · up {} · memory {} · CPU {}\n",
        view.version,
        view.pid,
        humantime::format_duration(Duration::from_secs(view.uptime_seconds)),
        view.rss_bytes.map_or_else(|| "-".into(), format_bytes),
        view.cpu_seconds
            .map_or_else(|| "-".into(), |c| format!("{c:.2}s")),
    );
    out.push_str(&format!(
        "turns: {} running, {} waiting (at most {} at once){}\n",
        view.turns.in_flight,
        view.turns.queued,
        view.turns.max,
        if view.accepting {
            ""
        } else {
            "; shutting down"
        },
    ));
    out.push_str(&format!(
        "database pool: {} open, {} idle, at most {}\n",
        view.database.open, view.database.idle, view.database.max
    ));
    out.push_str("\nSHARDS\n");
    out.push_str(&shard_table(view));
    out.push_str("\nBACKENDS\n");
    out.push_str(&backend_table(view));
    out.push_str("\nMCP SERVERS\n");
    out.push_str(&server_table(&view.mcp_servers, |_| None));
    out
}

fn shard_table(view: &StatusView) -> String {
    let mut rows = vec![["ID", "CONNECTED", "FOR", "LATENCY", "RECONNECTS"].map(String::from)];
    for shard in &view.shards {
        rows.push([
            shard.id.to_string(),
            if shard.connected { "yes" } else { "no" }.into(),
            shard
                .connected_seconds
                .map_or_else(|| "-".into(), |s| format!("{s}s")),
            shard
                .latency_ms
                .map_or_else(|| "-".into(), |l| format!("{l}ms")),
            shard.reconnects.to_string(),
        ]);
    }
    table(&rows)
}

fn backend_table(view: &StatusView) -> String {
    let mut rows = vec![["NAME", "HEALTHY", "IN FLIGHT", "QUEUED", "MAX", "URL"].map(String::from)];
    for backend in &view.backends {
        rows.push([
            backend.name.clone(),
            if backend.healthy { "yes" } else { "no" }.into(),
            backend.in_flight.to_string(),
            backend.queued.to_string(),
            backend.max_concurrency.to_string(),
            backend.url.clone(),
        ]);
    }
    table(&rows)
}

/// The MCP servers table (`mcpcord status`, `mcpcord mcp servers`); `protocol` may name the
/// PROTOCOL cell of a server (the configured setting beside the negotiated version).
pub fn server_table(
    servers: &[ServerView],
    protocol: impl Fn(&ServerView) -> Option<String>,
) -> String {
    let mut rows = vec![
        [
            "NAME",
            "STATE",
            "TRANSPORT",
            "PID",
            "UPTIME",
            "RESTARTS",
            "TOOLS",
            "MEMORY",
            "CPU",
            "PROTOCOL",
        ]
        .map(String::from),
    ];
    for server in servers {
        let pids: Vec<String> = server.pids.iter().map(u32::to_string).collect();
        let dash = |cell: String| if cell.is_empty() { "-".into() } else { cell };
        rows.push([
            server.name.clone(),
            server.state.clone(),
            server.transport.clone(),
            dash(pids.join(",")),
            server
                .uptime_seconds
                .map_or_else(|| "-".into(), |u| format!("{u}s")),
            server.restarts.to_string(),
            server.tools.to_string(),
            server.rss_bytes.map_or_else(|| "-".into(), format_bytes),
            server
                .cpu_seconds
                .map_or_else(|| "-".into(), |c| format!("{c:.2}s")),
            protocol(server).unwrap_or_else(|| dash(server.protocol.clone().unwrap_or_default())),
        ]);
    }
    table(&rows)
}
