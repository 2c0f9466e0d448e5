//! One trust boundary: what an MCP server the bot launches can learn of the bot's secrets, and
//! where secrets could be printed (`config show`, `check`, errors). The real binary, run as a
//! user would, in a temporary directory with a clean environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcpcord::config::{Config, Env};
use serde_json::Value;

mod common;

const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.trust-boundary-token";
const DB_PASSWORD: &str = "db-pass-never-shown";
const API_KEY: &str = "sk-backend-key-never-shown";
/// The key OAuth logins are sealed with (32 bytes, base64).
const SECRET_KEY: &str = "c2VjcmV0LWtleS1vZi10aGUtc3B5LXRlc3QtMzJieXQ=";
/// A client secret given in a server's variable.
const CLIENT_SECRET: &str = "cs-client-secret-never-shown";

fn mcpcord(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = common::mcpcord();
    command
        .args(args)
        .current_dir(dir)
        .env("MCPCORD__LOGGING__LEVEL", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the mcpcord binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The absolute path of a Python 3 interpreter (the spy server is a Python script).
fn python() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed by this test: install it (apt-get install python3)");
    assert!(out.status.success(), "python3 does not run: {out:?}");
    PathBuf::from(text(&out.stdout).trim())
}

fn spy_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/spy_mcp_server.py")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The must-show test: the bot holds its token (and a database password, an API key) in the
/// environment it was started with and in `.env` beside its configuration; an MCP server it
/// launches reads `/proc/<bot>/environ` and the files of its working directory, and finds
/// none of them.
#[test]
fn an_mcp_server_cannot_read_the_bots_secrets_from_its_environ_or_its_files() {
    let bot = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[[backends]]
name = "gpu-box"
url = "http://127.0.0.1:9"
api_key_env = "GPU_API_KEY"

[mcp.servers.spy]
command = "{python}"
args = ["{script}"]
"#,
        python = python().display(),
        script = spy_script().display(),
    );
    std::fs::write(bot.path().join("mcpcord.toml"), config).unwrap();
    std::fs::write(
        bot.path().join(".env"),
        format!("DISCORD_TOKEN={TOKEN}\nDOTENV_ONLY_SECRET=dotenv-{TOKEN}\n"),
    )
    .unwrap();
    std::fs::write(bot.path().join("bot.sqlite"), format!("pretend db {TOKEN}")).unwrap();
    let database = format!("postgres://bot:{DB_PASSWORD}@127.0.0.1:9/mcpcord");
    let out = mcpcord(
        bot.path(),
        &["mcp", "call", "spy", "report"],
        &[
            ("DISCORD_TOKEN", TOKEN),
            ("DATABASE_URL", &database),
            ("GPU_API_KEY", API_KEY),
            ("MCPCORD_SECRET_KEY", SECRET_KEY),
            ("MCPCORD_MCP_SPY_CLIENT_SECRET", CLIENT_SECRET),
            ("SPY_CAN_SEE_THIS", "visible-marker"),
            ("PATH", "/usr/bin:/bin"),
        ],
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let json_start = stdout.find('{').expect("the report is JSON");
    let report: Value = serde_json::from_str(stdout[json_start..].trim()).expect("a JSON report");

    // The spy really read its parent's environment (as root it can, despite PR_SET_DUMPABLE)…
    let environ = report["parent_environ"].as_str().unwrap();
    if is_root() {
        assert!(
            environ.contains("SPY_CAN_SEE_THIS=visible-marker"),
            "the spy could not read the bot's environ, so this test proves nothing: {environ}"
        );
        assert!(environ.contains("DISCORD_TOKEN="), "{environ}");
    } else {
        assert!(environ.starts_with("unreadable"), "{environ}");
    }
    // …and found none of the secrets there, nor anywhere else.
    for secret in [TOKEN, DB_PASSWORD, API_KEY, SECRET_KEY, CLIENT_SECRET] {
        assert!(
            !stdout.contains(secret),
            "the MCP server saw {secret}:\n{report:#}"
        );
    }
    // Its working directory is its own folder in the bot's data directory, private to the
    // bot's user; the bot's files are not there.
    let cwd = PathBuf::from(report["cwd"].as_str().unwrap());
    assert_eq!(
        cwd,
        bot.path().canonicalize().unwrap().join("data/mcp/spy"),
        "{report:#}"
    );
    assert_eq!(report["cwd_mode"], "0o700", "{report:#}");
    for file in [".env", "mcpcord.toml", "bot.sqlite"] {
        let seen = report["files"][file].as_str().unwrap();
        assert!(seen.starts_with("unreadable"), "{file}: {seen}");
    }
    // Its own environment is only what its configuration names (plus PATH, HOME, LANG).
    let own: Vec<&str> = report["own_environ"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|name| *name != "__LLVM_PROFILE_RT_INIT_ONCE" && *name != "LC_CTYPE")
        .collect();
    assert_eq!(own, ["PATH"], "{report:#}");
}

/// The token can come from a file instead of the environment: `discord.token_file`,
/// `DISCORD_TOKEN_FILE`, or systemd's `$CREDENTIALS_DIRECTORY/discord_token`.
#[test]
fn the_token_is_read_from_a_file_or_a_systemd_credential() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let load = |toml: &str, env: &[(&str, &str)]| {
        let env: Env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_toml(toml, &env)
    };

    let from_key = load(
        &format!("[discord]\ntoken_file = {:?}\n", file.display().to_string()),
        &[],
    )
    .unwrap();
    assert_eq!(from_key.discord.token.unwrap().expose(), TOKEN);
    assert_eq!(from_key.discord.token_file.as_deref(), Some(file.as_path()));

    let from_env = load("", &[("DISCORD_TOKEN_FILE", file.to_str().unwrap())]).unwrap();
    assert_eq!(from_env.discord.token.unwrap().expose(), TOKEN);

    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("discord_token"), TOKEN).unwrap();
    let from_systemd = load(
        "",
        &[("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(from_systemd.discord.token.unwrap().expose(), TOKEN);
    assert_eq!(
        from_systemd.discord.token_file,
        Some(credentials.join("discord_token"))
    );

    // Two sources are one too many; a missing file is named.
    let both = load(
        &format!("[discord]\ntoken_file = {:?}\n", file.display().to_string()),
        &[("DISCORD_TOKEN", TOKEN)],
    )
    .unwrap_err()
    .to_string();
    assert!(
        both.contains("discord.token_file") && both.contains("keep one"),
        "{both}"
    );
    let missing = load("[discord]\ntoken_file = \"/nonexistent/token\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("discord.token_file") && missing.contains("/nonexistent/token"),
        "{missing}"
    );

    // `config show` names the file, never the token.
    let out = mcpcord(
        dir.path(),
        &["config", "show"],
        &[("DISCORD_TOKEN_FILE", file.to_str().unwrap())],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!stdout.contains(TOKEN), "{stdout}");
    assert!(stdout.contains(&file.display().to_string()), "{stdout}");
}

const URLS_WITH_CREDENTIALS: &str = r#"
[storage]
url = "postgres://bot:db-pass-never-shown@127.0.0.1:9/mcpcord?sslmode=disable&sslpassword=ssl-pass-never-shown"

[[backends]]
name = "gpu-box"
url = "http://admin:backend-pass-never-shown@127.0.0.1:9/?api_key=url-key-never-shown"
"#;

const URL_SECRETS: [&str; 4] = [
    "db-pass-never-shown",
    "ssl-pass-never-shown",
    "backend-pass-never-shown",
    "url-key-never-shown",
];

#[test]
fn config_show_redacts_credentials_in_urls() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mcpcord.toml"), URLS_WITH_CREDENTIALS).unwrap();
    for args in [&["config", "show"][..], &["config", "validate"][..]] {
        let out = mcpcord(dir.path(), args, &[]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{all}");
        for secret in URL_SECRETS {
            assert!(!all.contains(secret), "{args:?} printed {secret}:\n{all}");
        }
        assert!(
            all.contains("127.0.0.1:9"),
            "the host stays readable:\n{all}"
        );
    }
}

#[test]
fn a_failing_check_names_parts_without_their_credentials() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mcpcord.toml"), URLS_WITH_CREDENTIALS).unwrap();
    let out = mcpcord(dir.path(), &["check"], &[]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    for secret in URL_SECRETS {
        assert!(!all.contains(secret), "check printed {secret}:\n{all}");
    }
    // Operators still learn which part failed and where it is.
    assert!(all.contains("gpu-box"), "{all}");
    assert!(all.contains("admin:[redacted]@127.0.0.1:9"), "{all}");
    assert!(all.contains("FAIL"), "{all}");
}

#[test]
fn a_failing_models_listing_names_the_backend_without_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mcpcord.toml"), URLS_WITH_CREDENTIALS).unwrap();
    let out = mcpcord(dir.path(), &["models"], &[]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    for secret in URL_SECRETS {
        assert!(!all.contains(secret), "models printed {secret}:\n{all}");
    }
    assert!(all.contains("gpu-box"), "{all}");
}
