//! The real `mcpcord` binary, run as a user would, in an empty directory with a clean environment.

use std::path::Path;
use std::process::Output;

mod common;

const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.test-token-never-logged";

fn mcpcord(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = common::mcpcord();
    command.args(args).current_dir(dir);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the mcpcord binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn help_lists_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = mcpcord(dir.path(), &["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in [
        "run", "chat", "check", "models", "mcp", "memory", "privacy", "config", "version",
    ] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "--help lacks {command}:\n{help}"
        );
    }
    let mcp_help = text(&mcpcord(dir.path(), &["mcp", "--help"], &[]).stdout);
    for sub in ["servers", "tools", "call", "prompts", "resources"] {
        assert!(
            mcp_help.contains(sub),
            "mcp --help lacks {sub}:\n{mcp_help}"
        );
    }
    let privacy_help = text(&mcpcord(dir.path(), &["privacy", "--help"], &[]).stdout);
    for sub in ["export", "forget"] {
        assert!(privacy_help.contains(sub), "privacy --help lacks {sub}");
    }
    let config_help = text(&mcpcord(dir.path(), &["config", "--help"], &[]).stdout);
    for sub in ["example", "show", "validate"] {
        assert!(config_help.contains(sub), "config --help lacks {sub}");
    }
}

#[test]
fn the_printed_example_validates() {
    let dir = tempfile::tempdir().unwrap();
    let example = mcpcord(dir.path(), &["config", "example"], &[]);
    assert!(example.status.success());
    std::fs::write(dir.path().join("example.toml"), &example.stdout).unwrap();
    let out = mcpcord(
        dir.path(),
        &["--config", "example.toml", "config", "validate"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: example.toml is valid"));
}

#[test]
fn a_broken_config_prints_every_error_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mcpcord.toml"),
        "[[backends]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\n[[backends]]\nname = \"b\"\nurl = \"htp://x\"\n[logging]\nformat = \"xml\"\n",
    )
    .unwrap();
    let out = mcpcord(dir.path(), &["config", "validate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("mcpcord.toml) has 2 problems"), "{stderr}");
    assert!(
        stderr.contains(r#"backends[1].url: "htp://x" is not an http(s) URL"#),
        "{stderr}"
    );
    assert!(stderr.contains("logging.format:"), "{stderr}");
}

#[test]
fn run_without_a_token_names_the_missing_setting_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = mcpcord(dir.path(), &["run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("discord.token is not set"), "{stderr}");
    assert!(stderr.contains("DISCORD_TOKEN"), "{stderr}");
}

#[test]
fn environment_and_dotenv_feed_config_show_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("DISCORD_TOKEN={TOKEN}\nDEFAULT_MODEL=qwen3\n"),
    )
    .unwrap();
    let out = mcpcord(
        dir.path(),
        &["config", "show"],
        &[
            ("MCPCORD__LOGGING__LEVEL", "trace"),
            ("MCPCORD__LOGGING__FORMAT", "json"),
            // Terminal commands log warnings only unless asked: trace, to see nothing leaks.
            ("RUST_LOG", "trace"),
            ("OPENAI_KEY", "sk-live-should-not-print"),
            ("MCPCORD__BACKENDS__0__NAME", "oa"),
            ("MCPCORD__BACKENDS__0__KIND", "openai"),
            ("MCPCORD__BACKENDS__0__URL", "http://127.0.0.1:8080/v1"),
            ("MCPCORD__BACKENDS__0__API_KEY_ENV", "OPENAI_KEY"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("default = \"qwen3\""), "{shown}");
    assert!(shown.contains("format = \"json\""), "{shown}");
    assert!(shown.contains("token = \"[redacted]\""), "{shown}");
    for output in [&shown, &text(&out.stderr)] {
        assert!(
            !output.contains(TOKEN) && !output.contains("sk-live-should-not-print"),
            "{output}"
        );
    }
}

#[test]
fn version_names_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let out = mcpcord(dir.path(), &["version"], &[]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with(&format!("mcpcord {}", env!("CARGO_PKG_VERSION"))));
    assert!(stdout.contains("revision: "));
}

mod against_fake_ollama {
    use mcpcord_testkit::FakeOllama;
    use mcpcord_testkit::fake_ollama::FakeModel;

    use super::*;

    async fn mcpcord_async(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = common::mcpcord_async();
        command.args(args).current_dir(dir);
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().await.expect("the mcpcord binary runs")
    }

    #[tokio::test]
    async fn models_lists_every_backend_with_capabilities() {
        let fake = FakeOllama::start_with_models([
            FakeModel::new("llama3.2")
                .capabilities(&["completion", "tools"])
                .context_length(8192),
            FakeModel::new("llava").capabilities(&["completion", "vision"]),
        ])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let out = mcpcord_async(dir.path(), &["models"], &[("OLLAMA_HOST", &fake.url())]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with("BACKEND"), "{stdout}");
        let llama = stdout
            .lines()
            .find(|l| l.contains("llama3.2"))
            .expect("llama3.2 listed");
        assert!(
            llama.contains("completion,tools") && llama.contains("8192"),
            "{llama}"
        );
        assert!(
            stdout
                .lines()
                .any(|l| l.contains("llava") && l.contains("vision")),
            "{stdout}"
        );

        let url = format!("127.0.0.1:{}", dead_port());
        let out = mcpcord_async(dir.path(), &["models"], &[("OLLAMA_HOST", &url)]).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("ollama serve"),
            "{}",
            text(&out.stderr)
        );
    }

    #[tokio::test]
    async fn check_reports_each_backend_reachable_or_not_with_the_reason() {
        let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
        let dir = tempfile::tempdir().unwrap();
        let dead = dead_port();
        let config = format!(
            "[[backends]]\nname = \"live\"\nurl = \"{}\"\n[[backends]]\nname = \"dead\"\nurl = \"http://127.0.0.1:{dead}\"\n",
            fake.url()
        );
        std::fs::write(dir.path().join("mcpcord.toml"), config).unwrap();
        let out = mcpcord_async(dir.path(), &["check"], &[]).await;
        assert_eq!(out.status.code(), Some(1), "one backend is down");
        let stdout = text(&out.stdout);
        let live = stdout
            .lines()
            .find(|l| l.contains("live ("))
            .expect("live listed");
        assert!(live.contains(" ok ") && live.contains("Ollama"), "{live}");
        let dead_line = stdout
            .lines()
            .find(|l| l.contains("dead ("))
            .expect("dead listed");
        assert!(
            dead_line.contains("FAIL") && dead_line.contains("cannot reach"),
            "{dead_line}"
        );
        let storage = stdout
            .lines()
            .find(|l| l.starts_with("storage"))
            .expect("storage listed");
        assert!(
            storage.contains(" ok ") && storage.contains("Sqlite"),
            "{storage}"
        );
    }

    #[tokio::test]
    async fn check_reports_a_database_it_cannot_open() {
        let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
        let dir = tempfile::tempdir().unwrap();
        let out = mcpcord_async(
            dir.path(),
            &["check"],
            &[
                ("OLLAMA_HOST", &fake.url()),
                (
                    "DATABASE_URL",
                    "sqlite:///nonexistent-dir/for/mcpcord.sqlite",
                ),
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(1));
        let stdout = text(&out.stdout);
        let storage = stdout
            .lines()
            .find(|l| l.starts_with("storage"))
            .expect("storage listed");
        assert!(storage.contains("FAIL"), "{storage}");
    }
}

mod chat {
    use mcpcord_testkit::FakeOllama;
    use mcpcord_testkit::fake_ollama::{FakeModel, Script};
    use serde_json::json;

    use super::*;

    async fn chat(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = common::mcpcord_async();
        command
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
            .await
            .expect("chat finished in time")
            .expect("the mcpcord binary runs")
    }

    #[tokio::test]
    async fn prints_one_reply_and_keeps_it_in_the_database() {
        let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
        fake.push_script(Script::new().text("Hello ").text("from the engine."));
        let dir = tempfile::tempdir().unwrap();
        let out = chat(
            dir.path(),
            &["chat", "-p", "hi"],
            &[("OLLAMA_HOST", &fake.url())],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "Hello from the engine.\n");
        assert!(
            dir.path().join("mcpcord.sqlite").exists(),
            "the default SQLite database was created"
        );
        assert_eq!(
            fake.last_chat_request().unwrap()["messages"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[tokio::test]
    async fn a_failure_exits_1_with_the_error_on_stderr() {
        let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
        let dir = tempfile::tempdir().unwrap();
        let out = chat(
            dir.path(),
            &["chat", "--model", "qwen3", "-p", "hi"],
            &[("OLLAMA_HOST", &fake.url())],
        )
        .await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("ollama pull qwen3"),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }

    #[tokio::test]
    async fn an_interactive_session_reads_messages_and_commands_from_stdin() {
        use tokio::io::AsyncWriteExt;

        let fake =
            FakeOllama::start_with_models([FakeModel::new("llama3.2"), FakeModel::new("qwen3")])
                .await;
        fake.push_scripts([
            Script::new().text("first answer"),
            Script::new().text("from qwen3"),
            Script::new().text("fresh start"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let mut child = common::mcpcord_async()
            .arg("chat")
            .current_dir(dir.path())
            .env("OLLAMA_HOST", fake.url())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the mcpcord binary runs");
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"hello\n\n/model qwen3\nand you?\n/new\n/model\nagain\n/quit\nnever sent\n")
            .await
            .unwrap();
        drop(stdin);
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("chat finished in time")
                .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "first answer\nfrom qwen3\nfresh start\n");
        let stderr = text(&out.stderr);
        for said in [
            "(model: qwen3)",
            "(a new conversation)",
            "(model: the configured default)",
        ] {
            assert!(stderr.contains(said), "{said} missing in:\n{stderr}");
        }
        let requests = fake.chat_requests();
        let models: Vec<_> = requests.iter().map(|r| r["model"].clone()).collect();
        assert_eq!(
            models,
            [json!("llama3.2"), json!("qwen3"), json!("llama3.2")]
        );
        let messages = |i: usize| requests[i]["messages"].as_array().unwrap().len();
        assert_eq!(
            messages(1),
            4,
            "the second message continues the conversation"
        );
        assert_eq!(messages(2), 2, "/new starts afresh");
    }

    #[tokio::test]
    async fn a_stopped_ollama_is_reported_once_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let stopped = format!("127.0.0.1:{}", dead_port());
        let env = [("OLLAMA_HOST", stopped.as_str())];
        let out = chat(dir.path(), &["chat", "-p", "hi"], &env).await;
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert_eq!(
            stderr.matches("cannot reach the model server").count(),
            1,
            "the error is said once:\n{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "nothing else is said:\n{stderr}");
        assert!(stderr.starts_with("mcpcord: error: "), "{stderr}");
        assert!(
            stderr.contains("ollama serve"),
            "it says what to do:\n{stderr}"
        );
        assert!(out.stdout.is_empty());

        // -v asks for more: the start-up's info lines too, still one line each.
        let out = chat(dir.path(), &["-v", "chat", "-p", "hi"], &env).await;
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("INFO") && stderr.contains("storage ready"),
            "{stderr}"
        );
        assert!(
            stderr
                .lines()
                .all(|line| !line.trim_start().starts_with("at ")),
            "no multi-line records:\n{stderr}"
        );
        assert!(
            stderr
                .lines()
                .last()
                .unwrap()
                .starts_with("mcpcord: error: "),
            "the error comes last:\n{stderr}"
        );
    }

    #[tokio::test]
    async fn calls_a_configured_mcp_server_and_shows_the_tool_on_stderr() {
        let fake = FakeOllama::start_with_models([
            FakeModel::new("llama3.2").capabilities(&["completion", "tools"])
        ])
        .await;
        fake.push_script(Script::new().tool_call("echo", json!({"text": "through MCP"})));
        fake.push_script(Script::reply("The server echoed."));
        let dir = tempfile::tempdir().unwrap();
        let binary = mcpcord_testkit::test_mcp_binary();
        std::fs::write(
            dir.path().join("mcpcord.toml"),
            format!(
                "[mcp.servers.test]\ncommand = {:?}\n",
                binary.display().to_string()
            ),
        )
        .unwrap();
        let out = chat(
            dir.path(),
            &["chat", "-p", "use the tool"],
            &[("OLLAMA_HOST", &fake.url())],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "The server echoed.\n");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("test › echo") && stderr.contains("✓"),
            "{stderr}"
        );
        let sent = fake.last_chat_request().unwrap();
        let tool = sent["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == "tool")
            .unwrap()
            .clone();
        assert_eq!(tool["content"], "through MCP");
    }
}
