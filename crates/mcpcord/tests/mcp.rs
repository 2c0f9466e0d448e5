//! `mcpcord mcp …` and the MCP part of `mcpcord check`, run as a user would against the
//! testkit MCP server binary; and the per-server MCP settings of the configuration.

use std::path::Path;
use std::process::Output;

use mcpcord::config::{Config, Env, McpProtocolVersion, McpRestart, ToolApproval};
use mcpcord_mcp::{ApprovalPolicy, Lifecycle, RestartPolicy, TransportSpec};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::mcp_server::test_mcp_binary;

mod common;
use common::{alive, children_of};

async fn mcpcord(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = common::mcpcord_async();
    command
        .args(args)
        .current_dir(dir)
        .env("MCPCORD__LOGGING__LEVEL", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("mcpcord finishes")
        .expect("the mcpcord binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory with `mcpcord.toml` holding `servers` (TOML under `[mcp.servers.*]`) where
/// `TEST_MCP` stands for the test server binary.
fn configured(servers: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let binary = test_mcp_binary().display().to_string();
    let config = servers.replace("TEST_MCP", &binary);
    std::fs::write(dir.path().join("mcpcord.toml"), config).unwrap();
    dir
}

const TEST_SERVER: &str = r#"
[mcp.servers.t]
command = "TEST_MCP"
denied_tools = ["crash"]
tool_approval = { echo = "ask" }

[mcp.servers.off]
command = "TEST_MCP"
disabled = true
"#;

#[tokio::test]
async fn mcp_servers_lists_each_server_with_state_pid_and_tools() {
    let dir = configured(TEST_SERVER);
    let out = mcpcord(dir.path(), &["mcp", "servers", "--standalone"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("NAME"), "{stdout}");
    let t = stdout
        .lines()
        .find(|l| l.starts_with("t "))
        .expect("t listed");
    let cells: Vec<&str> = t.split_whitespace().collect();
    assert_eq!(&cells[1..3], ["ready", "stdio"], "{t}");
    assert!(cells[3].parse::<u32>().is_ok(), "a pid: {t}");
    assert_eq!(
        cells[5..7],
        ["0", "10"],
        "restarts and tools (crash is denied): {t}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("off ") && l.contains("disabled")),
        "{stdout}"
    );
}

#[tokio::test]
async fn mcp_tools_shows_exposed_names_and_approval() {
    let dir = configured(TEST_SERVER);
    let out = mcpcord(dir.path(), &["mcp", "tools", "t"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let echo = stdout
        .lines()
        .find(|l| l.starts_with("echo "))
        .expect("echo listed");
    assert!(echo.contains(" t ") && echo.contains(" ask "), "{echo}");
    assert!(!stdout.lines().any(|l| l.starts_with("crash ")), "{stdout}");

    let out = mcpcord(dir.path(), &["mcp", "tools", "off"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is disabled"));
    let out = mcpcord(dir.path(), &["mcp", "tools", "nope"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("configured: off, t"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn mcp_call_prints_the_result_and_exits_1_on_a_tool_error() {
    let dir = configured(TEST_SERVER);
    let out = mcpcord(
        dir.path(),
        &["mcp", "call", "t", "echo", r#"{"text": "hi there"}"#],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi there\n");

    let out = mcpcord(
        dir.path(),
        &["mcp", "call", "t", "add", r#"{"a": "x", "b": 1}"#],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("invalid type"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("reported an error"),
        "{}",
        text(&out.stderr)
    );

    let out = mcpcord(dir.path(), &["mcp", "call", "t", "crash", "{}"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not offered"),
        "{}",
        text(&out.stderr)
    );

    let out = mcpcord(dir.path(), &["mcp", "call", "t", "echo", "{oops"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not valid JSON"));
}

#[tokio::test]
async fn mcp_prompts_and_resources_list_what_the_servers_offer() {
    let dir = configured(TEST_SERVER);
    let out = mcpcord(dir.path(), &["mcp", "prompts"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let prompts = text(&out.stdout);
    assert!(
        prompts
            .lines()
            .any(|l| l.starts_with("t ") && l.contains("greet") && l.contains("name")),
        "{prompts}"
    );

    let out = mcpcord(dir.path(), &["mcp", "resources"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let resources = text(&out.stdout);
    assert!(resources.contains("test://readme"), "{resources}");
    assert!(resources.contains("test://echo/{text}"), "{resources}");
}

#[tokio::test]
async fn mcp_servers_without_configuration_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = mcpcord(dir.path(), &["mcp", "servers", "--standalone"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no MCP servers configured"));
}

#[tokio::test]
async fn check_reports_each_mcp_server_ok_or_fail() {
    let fake = FakeOllama::start().await;
    let dir = configured(
        r#"
[mcp.servers.t]
command = "TEST_MCP"

[mcp.servers.ghost]
command = "/nonexistent/mcp-server"
start_timeout = "2s"

[mcp.servers.off]
command = "TEST_MCP"
disabled = true
"#,
    );
    let out = mcpcord(dir.path(), &["check"], &[("OLLAMA_HOST", &fake.url())]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with("mcp") && l.split_whitespace().nth(2) == Some(name))
            .unwrap_or_else(|| panic!("{name} not in {stdout}"))
            .to_owned()
    };
    let t = line("t");
    assert!(
        t.contains(" ok ") && t.contains("11 tools") && t.contains("mcpcord-test-mcp"),
        "{t}"
    );
    let ghost = line("ghost");
    assert!(
        ghost.contains("FAIL") && ghost.contains("cannot launch"),
        "{ghost}"
    );
    assert!(line("off").contains("skipped"));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("backend") && l.contains(" ok ")),
        "{stdout}"
    );
}

fn config_errors(toml: &str) -> Vec<String> {
    match Config::from_toml(toml, &Env::new()) {
        Ok(_) => Vec::new(),
        Err(invalid) => invalid.errors.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn per_server_mcp_settings_are_validated_and_typed() {
    let config = Config::from_toml(
        r#"
[mcp.servers.fs]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
env = { TOKEN = "child-secret" }
allowed_tools = ["read_file", "write_file", "list.dir"]
denied_tools = ["move_file"]
approval = "ask"
tool_approval = { read_file = "auto", write_file = "deny" }
restart = "on-failure"
memory_limit = "512MiB"
replicas = 2
allow_sampling = true
"#,
        &Env::new(),
    )
    .expect("valid");
    let fs = &config.mcp.servers[0];
    assert_eq!(fs.approval, Some(ToolApproval::Ask));
    assert_eq!(fs.tool_approval["write_file"], ToolApproval::Deny);
    assert_eq!(fs.restart, McpRestart::OnFailure);
    assert_eq!(fs.memory_limit, Some(512 * 1024 * 1024));
    assert_eq!(fs.replicas.get(), 2);
    assert!(fs.allow_sampling);

    let spec = &mcpcord::wiring::mcp_server_specs(&config)[0];
    assert_eq!(spec.replicas, 2);
    assert_eq!(spec.restart, RestartPolicy::OnFailure);
    assert_eq!(spec.memory_limit, Some(512 * 1024 * 1024));
    assert_eq!(spec.tools.policy_for("read_file"), ApprovalPolicy::Auto);
    assert_eq!(spec.tools.policy_for("write_file"), ApprovalPolicy::Deny);
    assert_eq!(spec.tools.policy_for("list.dir"), ApprovalPolicy::Ask);
    assert_eq!(spec.tools.policy_for("move_file"), ApprovalPolicy::Deny);
    assert_eq!(spec.tools.policy_for("unlisted"), ApprovalPolicy::Deny);
    let TransportSpec::Stdio(stdio) = &spec.transport else {
        panic!("stdio expected");
    };
    assert_eq!(stdio.env["TOKEN"], "child-secret");
    assert!(
        !format!("{spec:?}").contains("child-secret"),
        "Debug hides env values"
    );

    let errors = config_errors(
        r#"
[mcp.servers.bad]
url = "http://127.0.0.1:9/mcp"
allowed_tools = ["ok", "not ok"]
denied_tools = ["ok"]
approval = "sometimes"
tool_approval = { x = "maybe" }
restart = "forever"
memory_limit = "lots"
replicas = 0

[mcp.servers.remote]
url = "http://127.0.0.1:9/mcp"
memory_limit = "1GiB"
replicas = 17
"#,
    );
    let expected = [
        "mcp.servers.bad.allowed_tools[1]: \"not ok\" is not a tool name",
        "mcp.servers.bad.denied_tools[0]: \"ok\" is also in allowed_tools",
        "mcp.servers.bad.approval: \"sometimes\" is not an approval policy; allowed: auto, ask, deny",
        "mcp.servers.bad.tool_approval.x: \"maybe\" is not an approval policy",
        "mcp.servers.bad.restart: \"forever\" is not a restart policy",
        "mcp.servers.bad.memory_limit: \"lots\" is not a size",
        "mcp.servers.bad.replicas: must be at least 1",
        "mcp.servers.remote.memory_limit: applies to stdio servers only",
        "mcp.servers.remote.replicas: 17 is more than the limit of 16",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing {want:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn a_server_whose_transport_or_name_is_wrong_is_reported_with_its_timeouts_and_tool_names() {
    let errors = config_errors(
        r#"
[mcp.servers.sse]
type = "sse"
url = "http://127.0.0.1:9/sse"
call_timeout = "soon"

[mcp.servers."bad name"]
command = "x"

[mcp.servers.remote]
url = "ftp://127.0.0.1/mcp"

[mcp.servers.tools]
command = "x"
start_timeout = "never"
tool_approval = { "no spaces" = "ask", ok = "auto" }
"#,
    );
    let expected = [
        "mcp.servers.sse.call_timeout: \"soon\" is not a duration",
        "mcp.servers.sse.type: \"sse\" is not supported; allowed: stdio, http, streamable-http",
        "mcp.servers.bad name: server names are 1-64 letters, digits, '-' or '_'",
        "mcp.servers.remote.url: \"ftp://127.0.0.1/mcp\" is not an http(s) URL",
        "mcp.servers.tools.start_timeout: \"never\" is not a duration",
        "mcp.servers.tools.tool_approval.no spaces: is not a tool name",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing {want:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn memory_limits_are_read_in_the_usual_units() {
    for (text, bytes) in [
        ("1048576", 1_048_576u64),
        ("300M", 300 << 20),
        ("1.5GiB", 3 << 29),
        ("500MB", 500_000_000),
        ("64 KiB", 64 << 10),
    ] {
        let config = Config::from_toml(
            &format!("[mcp.servers.s]\ncommand = \"x\"\nmemory_limit = \"{text}\"\n"),
            &Env::new(),
        )
        .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(config.mcp.servers[0].memory_limit, Some(bytes), "{text}");
    }
    assert!(!config_errors("[mcp.servers.s]\ncommand = \"x\"\nmemory_limit = \"0\"\n").is_empty());
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn killing_the_bot_takes_its_mcp_servers_down() {
    let dir = configured(TEST_SERVER);
    let mut bot = common::mcpcord_async()
        .args(["mcp", "call", "t", "sleep", r#"{"ms": 60000}"#])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start mcpcord");
    let bot_pid = bot.id().expect("a pid");
    let child = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            if let Some(&child) = children_of(bot_pid).first() {
                return child;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("mcpcord started its MCP server");
    // Give the call time to reach the server, then kill the bot without any chance to clean up.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    bot.start_kill().expect("SIGKILL mcpcord");
    bot.wait().await.expect("mcpcord is gone");
    let killed = std::time::Instant::now();
    let gone = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while alive(child) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "the MCP server {child} outlived the killed bot"
    );
    eprintln!("the MCP server died {:?} after the bot", killed.elapsed());
}

#[test]
fn an_unwritten_approval_lets_the_annotations_decide_and_a_written_one_wins() {
    let config = Config::from_toml(
        "[mcp.servers.a]\ncommand = \"x\"\n[mcp.servers.b]\ncommand = \"x\"\napproval = \"auto\"\n",
        &Env::new(),
    )
    .expect("valid");
    assert_eq!(config.mcp.servers[0].approval, None);
    assert_eq!(config.mcp.servers[1].approval, Some(ToolApproval::Auto));
    let specs = mcpcord::wiring::mcp_server_specs(&config);
    let destructive = mcpcord_mcp::ToolHints {
        read_only: None,
        destructive: Some(true),
    };
    assert_eq!(specs[0].tools.default_approval, None);
    assert_eq!(
        specs[0].tools.policy_with_hints("rm", destructive),
        ApprovalPolicy::Ask
    );
    assert_eq!(
        specs[1].tools.policy_with_hints("rm", destructive),
        ApprovalPolicy::Auto
    );
    // `config show` prints only what was written.
    let shown = config.to_redacted_toml();
    assert_eq!(shown.matches("approval = \"auto\"").count(), 1, "{shown}");
    // Each stdio server gets its own working directory in the data folder.
    let TransportSpec::Stdio(stdio) = &specs[0].transport else {
        panic!("stdio expected");
    };
    assert_eq!(
        stdio.cwd.as_deref(),
        Some(std::path::Path::new("data/mcp/a"))
    );
}

#[tokio::test]
async fn an_old_server_is_reached_through_initialize_and_the_protocol_is_shown() {
    let dir = configured(
        r#"
[mcp.servers.old]
command = "TEST_MCP"
args = ["--discover", "empty"]

[mcp.servers.pinned]
command = "TEST_MCP"
protocol_version = "2025-11-25"

[mcp.servers.new]
command = "TEST_MCP"
"#,
    );
    // What a new user tries first: an old server's tools.
    let out = mcpcord(dir.path(), &["mcp", "tools", "old"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).lines().any(|l| l.starts_with("echo ")),
        "{}",
        text(&out.stdout)
    );

    let out = mcpcord(dir.path(), &["mcp", "servers", "--standalone"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().next().unwrap().ends_with("PROTOCOL"),
        "{stdout}"
    );
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not in {stdout}"))
            .to_owned()
    };
    for (name, protocol) in [
        ("old", "auto (2025-11-25)"),
        ("pinned", "2025-11-25"),
        ("new", "auto (2026-07-28)"),
    ] {
        let line = row(name);
        assert!(line.contains(" ready "), "{line}");
        assert!(line.trim_end().ends_with(protocol), "{line}");
    }
}

#[test]
fn protocol_version_is_auto_or_a_version_the_bot_speaks() {
    let config = Config::from_toml(
        r#"
[mcp.servers.a]
command = "a"

[mcp.servers.b]
command = "b"
protocol_version = "2025-11-25"

[mcp.servers.c]
url = "https://mcp.example.com/mcp"
protocol_version = "2026-07-28"
"#,
        &Env::new(),
    )
    .expect("valid");
    let lifecycles: Vec<Lifecycle> = mcpcord::wiring::mcp_server_specs(&config)
        .iter()
        .map(|spec| spec.lifecycle)
        .collect();
    assert_eq!(
        lifecycles,
        [Lifecycle::Auto, Lifecycle::Initialize, Lifecycle::Discover]
    );
    assert_eq!(
        config.mcp.servers[1].protocol_version,
        McpProtocolVersion::V2025_11_25
    );

    let errors = config_errors(
        r#"
[mcp.servers.a]
command = "a"
protocol_version = "2025-06-18"
"#,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("mcp.servers.a.protocol_version") && errors[0].contains("allowed: auto"),
        "{errors:?}"
    );
}
