//! `mcpcord mcp login`, `logout` and `check` against a small OAuth authorization server double
//! (axum on loopback) guarding the test MCP server over Streamable HTTP. The test plays the
//! person: it reads the authorization URL the binary prints, opens it (the double approves at
//! once) and either pastes the address it was redirected to on the binary's stdin or lets the
//! redirect reach the binary's loopback listener. Then: the stored row holds no token in
//! clear (SQLite and PostgreSQL), another key is told to log in again, `logout` deletes the
//! row (`--revoke` first has the authorization server revoke its tokens), and `check` shows the
//! server as needing a login, with the command. `client-metadata` prints the client's document.
//! A bot running meanwhile is told of a login and a logout, and uses the login at once.
//!
//! The double is testkit's `FakeAuthServer`, which crates/mcp/tests/oauth.rs drives further
//! (refresh, step-up, migration).

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use axum::http::header;
use mcpcord_testkit::fake_ollama::FakeModel;
use mcpcord_testkit::oauth::{AuthOptions, FakeAuthServer};
use mcpcord_testkit::{FakeDiscord, FakeOllama};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The secret key of the tests (32 bytes, base64).
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Another key.
const OTHER_KEY: &str = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
/// Every token, code and secret the double hands out contains this.
const MARK: &str = "SECRET";
/// A bound on each wait, so a broken login fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(120);
/// A bound on waiting for the running bot: under the 30 s after which a server waiting for a
/// login checks the stored logins by itself.
const BOT_WAIT: Duration = Duration::from_secs(20);

/// The authorization server double guarding the test MCP server; its protected URL.
async fn start_double() -> (FakeAuthServer, String) {
    let double = FakeAuthServer::start(AuthOptions::default()).await;
    let url = double.mcp_url();
    (double, url)
}

/// A free loopback port (free a moment ago).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes `mcpcord.toml` in `dir`: the guarded server with `auth = "oauth"`.
fn write_config(dir: &Path, url: &str, port: u16) {
    let config = format!(
        "[mcp.servers.guarded]\nurl = \"{url}\"\nauth = \"oauth\"\n\
         [mcp.servers.guarded.oauth]\nredirect_port = {port}\n"
    );
    std::fs::write(dir.join("mcpcord.toml"), config).unwrap();
}

/// The binary in `dir` with `key` and, when given, the PostgreSQL `database`.
fn mcpcord(dir: &Path, key: Option<&str>, database: Option<&str>) -> tokio::process::Command {
    let mut command = common::mcpcord_async();
    command.current_dir(dir).kill_on_drop(true);
    if let Some(key) = key {
        command.env("MCPCORD_SECRET_KEY", key);
    }
    if let Some(url) = database {
        command.env("DATABASE_URL", url);
    }
    command
}

/// `mcpcord ARGS` to the end.
async fn run(dir: &Path, key: Option<&str>, database: Option<&str>, args: &[&str]) -> Output {
    let output = mcpcord(dir, key, database).args(args).output();
    tokio::time::timeout(PATIENCE, output)
        .await
        .expect("the command ends")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How the test hands the redirect back.
#[derive(Clone, Copy, Debug)]
enum Browser {
    /// Opens the URL elsewhere and pastes the address it was redirected to on stdin.
    Pastes,
    /// Follows the redirect to the binary's loopback listener.
    ComesBack,
}

/// `mcp login guarded --no-browser`, completed as `browser` does; returns the binary's output
/// (stdout lines, stderr) once it exits, after asserting it succeeded.
async fn login(dir: &Path, database: Option<&str>, browser: Browser) -> (String, String) {
    let mut child = mcpcord(dir, Some(KEY), database)
        .args(["mcp", "login", "guarded", "--no-browser"])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, mut seen) = mpsc::unbounded_channel::<String>();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let reader = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(line)) = stdout.next_line().await {
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    let mut url = None;
    while let Some(line) = tokio::time::timeout(PATIENCE, seen.recv()).await.unwrap() {
        if let Some(found) = line.trim().strip_prefix("http") {
            url = Some(format!("http{found}"));
        }
        if url.is_some() && (line.starts_with("Waiting") || line.starts_with("cannot listen")) {
            break;
        }
    }
    let url = url.expect("the authorization URL is printed");
    let mut stdin = child.stdin.take().unwrap();
    match browser {
        Browser::Pastes => {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let answer = client.get(&url).send().await.unwrap();
            let location = answer.headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned();
            stdin.write_all(b"not the address\n").await.unwrap();
            stdin
                .write_all(format!("{location}\n").as_bytes())
                .await
                .unwrap();
        }
        Browser::ComesBack => {
            let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
            assert!(page.contains("you can close this tab"), "{page}");
        }
    }
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    drop(stdin);
    let stdout = reader.await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(status.success(), "login failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Every byte of the `mcp_credentials` rows, as text; asserts there is `rows` of them.
async fn stored_rows(dir: &Path, database: Option<&str>, rows: usize) -> String {
    use sqlx::{Connection as _, Row as _};
    let sql = "SELECT server, resource, key_id, sealed FROM mcp_credentials";
    let found: Vec<(String, String, String, Vec<u8>)> = match database {
        Some(url) => {
            let mut db = sqlx::PgConnection::connect(url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut db).await.unwrap();
            rows.iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect()
        }
        None => {
            let url = format!("sqlite://{}", dir.join("mcpcord.sqlite").display());
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut db).await.unwrap();
            rows.iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect()
        }
    };
    assert_eq!(found.len(), rows, "{found:?}");
    found
        .iter()
        .map(|(server, resource, key_id, sealed)| {
            format!(
                "{server} {resource} {key_id} {}",
                String::from_utf8_lossy(sealed)
            )
        })
        .collect()
}

/// The database files of the SQLite store, as text (WAL included).
fn sqlite_files(dir: &Path) -> String {
    ["mcpcord.sqlite", "mcpcord.sqlite-wal"]
        .iter()
        .filter_map(|file| std::fs::read(dir.join(file)).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
}

/// The `mcp` row of `check`'s output for the guarded server.
fn check_row(output: &Output) -> String {
    text(&output.stdout)
        .lines()
        .find(|line| line.starts_with("mcp") && line.contains("guarded"))
        .unwrap_or_else(|| panic!("no mcp row in {}", text(&output.stdout)))
        .to_owned()
}

/// Login by pasting, the stored row, another key, logout, and `check` before and after.
async fn login_store_and_logout(dir: &Path, database: Option<&str>) {
    mcpcord::wiring::install_tls_provider();
    let (double, url) = start_double().await;
    write_config(dir, &url, free_port());

    let before = run(dir, Some(KEY), database, &["check"]).await;
    assert!(!before.status.success(), "a missing login fails the check");
    let row = check_row(&before);
    assert!(
        row.contains("LOGIN") && row.contains("needs a login: run `mcpcord mcp login guarded`"),
        "{row}"
    );

    let (stdout, stderr) = login(dir, database, Browser::Pastes).await;
    assert!(stdout.contains("logged in: "), "{stdout}");
    assert!(!stdout.contains("logged in: 0 tools"), "{stdout}");
    assert!(
        stderr.contains("not the address the browser ended on"),
        "{stderr}"
    );
    for output in [&stdout, &stderr] {
        assert!(
            !output.contains(MARK),
            "a token or the code in the output:\n{output}"
        );
    }

    let row = stored_rows(dir, database, 1).await;
    assert!(row.starts_with(&format!("guarded {url} ")), "{row}");
    assert!(!row.contains(MARK), "a token in clear in the row: {row}");
    if database.is_none() {
        assert!(
            !sqlite_files(dir).contains(MARK),
            "a token in clear in the database files"
        );
    }

    let stored = run(dir, Some(KEY), database, &["check"]).await;
    let row = check_row(&stored);
    // The host connects with the stored login (no authorization: `check` has no person to ask)
    // and the row shows it with its expiry.
    assert!(
        row.split_whitespace().nth(1) == Some("ok") && row.contains("logged in, token expir"),
        "{row}"
    );

    // Logging in again asks the person again, with the client registered the first time.
    login(dir, database, Browser::Pastes).await;
    assert_eq!(double.authorizations().len(), 2, "{:?}", double.requests());
    assert_eq!(double.registrations().len(), 1, "{:?}", double.requests());
    stored_rows(dir, database, 1).await;

    let other = run(dir, Some(OTHER_KEY), database, &["check"]).await;
    let row = check_row(&other);
    assert!(
        row.contains("LOGIN")
            && row.contains("sealed with another MCPCORD_SECRET_KEY")
            && row.contains("mcpcord mcp login guarded"),
        "{row}"
    );

    let out = run(dir, Some(KEY), database, &["mcp", "logout", "guarded"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("logged out of `guarded`"),
        "{}",
        text(&out.stdout)
    );
    stored_rows(dir, database, 0).await;
    let again = run(dir, Some(KEY), database, &["mcp", "logout", "guarded"]).await;
    assert!(
        text(&again.stdout).contains("had no stored login"),
        "{}",
        text(&again.stdout)
    );
    let after = run(dir, Some(KEY), database, &["check"]).await;
    assert!(check_row(&after).contains("LOGIN"), "{}", check_row(&after));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_with_a_pasted_address_then_logout_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    login_store_and_logout(dir.path(), None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_with_a_pasted_address_then_logout_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::create();
    login_store_and_logout(dir.path(), Some(&database.url())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_through_the_loopback_callback() {
    mcpcord::wiring::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let (double, url) = start_double().await;
    write_config(dir.path(), &url, free_port());
    let (stdout, _) = login(dir.path(), None, Browser::ComesBack).await;
    assert!(stdout.contains("logged in: "), "{stdout}");
    assert!(
        stdout.contains("Open this URL to authorize mcpcord for `guarded`"),
        "{stdout}"
    );
    stored_rows(dir.path(), None, 1).await;
    assert_eq!(double.authorizations().len(), 1, "{:?}", double.requests());
}

/// A bot running in `dir` against the fakes (SQLite and the PID file in `dir`, as the commands
/// there use them), its log in `dir/bot.log`.
fn start_bot(dir: &Path, discord: &FakeDiscord, ollama: &FakeOllama) -> tokio::process::Child {
    let mut command = mcpcord(dir, Some(KEY), None);
    common::on_fakes(&mut command, discord, ollama, &dir.join("bot.log"))
        .arg("run")
        .env("MCPCORD__LOGGING__FORMAT", "compact")
        .spawn()
        .expect("the bot starts")
}

/// Waits until the bot's log in `dir` says `text` `times` times; the log.
async fn bot_log_says(dir: &Path, text: &str, times: usize) -> String {
    let log = || std::fs::read_to_string(dir.join("bot.log")).unwrap_or_default();
    let waited = tokio::time::timeout(BOT_WAIT, async {
        while log().matches(text).count() < times {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "no {text:?} (x{times}) in the bot's log:\n{}",
        log()
    );
    log()
}

/// A login made while the bot runs: `mcp login` tells the bot (SIGUSR1) and the bot's server,
/// which waited for a login, starts with it at once, not at its next check 30 s after it began
/// waiting (`BOT_WAIT` is shorter). `logout` tells the bot too.
#[tokio::test(flavor = "multi_thread")]
async fn login_tells_the_running_bot_which_uses_it_at_once() {
    mcpcord::wiring::install_tls_provider();
    let (double, url) = start_double().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &url, free_port());
    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start_with_models(vec![FakeModel::new("llama3.2")]).await;
    let mut bot = start_bot(dir.path(), &discord, &ollama);
    let pid = bot.id().expect("running");
    bot_log_says(dir.path(), "needs a login", 1).await;
    assert!(double.authorizations().is_empty());

    let (stdout, _) = login(dir.path(), None, Browser::Pastes).await;
    assert!(
        stdout.contains(&format!("told the running bot (pid {pid})")),
        "{stdout}"
    );
    let log = bot_log_says(dir.path(), "MCP server ready", 1).await;
    let told = log.find("SIGUSR1").expect("the bot heard SIGUSR1");
    assert!(told < log.find("MCP server ready").unwrap(), "{log}");
    assert!(!log.contains(MARK), "a token in the bot's log:\n{log}");

    let out = run(dir.path(), Some(KEY), None, &["mcp", "logout", "guarded"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("told the running bot (pid {pid})")),
        "{}",
        text(&out.stdout)
    );
    bot_log_says(dir.path(), "SIGUSR1", 2).await;

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(PATIENCE, bot.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn without_a_secret_key_login_and_check_say_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "http://127.0.0.1:9/mcp", free_port());
    let out = run(
        dir.path(),
        None,
        None,
        &["mcp", "login", "guarded", "--no-browser"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let error = text(&out.stderr);
    assert!(
        error.contains("MCPCORD_SECRET_KEY") && error.contains("head -c32 /dev/urandom | base64"),
        "{error}"
    );
    let out = run(dir.path(), None, None, &["check"]).await;
    let row = check_row(&out);
    assert!(
        row.contains("FAIL") && row.contains("MCPCORD_SECRET_KEY"),
        "{row}"
    );
    // The engine (as `run` starts it) refuses too, before anything starts.
    let out = run(dir.path(), None, None, &["chat", "-p", "hi"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let error = text(&out.stderr);
    assert!(
        error.contains("`guarded` has auth = \"oauth\"")
            && error.contains("head -c32 /dev/urandom | base64"),
        "{error}"
    );
}

#[tokio::test]
async fn config_show_prints_no_client_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mcpcord.toml"),
        "[mcp.servers.guarded]\nurl = \"https://mcp.example.com/mcp\"\nauth = \"oauth\"\n\
         [mcp.servers.guarded.oauth]\nclient_id = \"bot\"\n\
         [mcp.servers.machine]\nurl = \"https://mcp.example.com/mcp\"\n\
         auth = \"client-credentials\"\n[mcp.servers.machine.oauth]\nclient_id = \"m\"\n\
         client_secret = \"cs-SECRET-in-file\"\n",
    )
    .unwrap();
    let out = mcpcord(dir.path(), Some(KEY), None)
        .args(["config", "show"])
        .env("MCPCORD_MCP_GUARDED_CLIENT_SECRET", "cs-SECRET-in-env")
        .output()
        .await
        .unwrap();
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(shown.contains("type = \"oauth\""), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains(MARK), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_with_revoke_ends_the_tokens_at_the_authorization_server() {
    mcpcord::wiring::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let (double, url) = start_double().await;
    write_config(dir.path(), &url, free_port());
    login(dir.path(), None, Browser::Pastes).await;
    let (refresh, access) = double.live_tokens();
    let args = ["mcp", "logout", "guarded", "--revoke"];

    // A login it cannot open (another key) is not revoked, and is kept.
    let out = run(dir.path(), Some(OTHER_KEY), None, &args).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stderr);
    assert!(
        said.contains("cannot revoke the login of `guarded`")
            && said.contains("The stored login is kept"),
        "{said}"
    );
    stored_rows(dir.path(), None, 1).await;
    assert_eq!(double.live_tokens(), (refresh, access));

    let out = run(dir.path(), Some(KEY), None, &args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("revoked the login's tokens") && said.contains("logged out of `guarded`"),
        "{said}"
    );
    let requests = double.requests();
    assert!(
        requests.ends_with(&["revoke:refresh_token".into(), "revoke:access_token".into()]),
        "{requests:?}"
    );
    assert_eq!(double.live_tokens(), (refresh - 1, access - 1));
    stored_rows(dir.path(), None, 0).await;
    for output in [&out.stdout, &out.stderr] {
        assert!(!text(output).contains(MARK), "{}", text(output));
    }
}

#[tokio::test]
async fn client_metadata_prints_the_document_to_host() {
    let dir = tempfile::tempdir().unwrap();
    let document_url = "https://bot.example.org/mcpcord-client.json";
    let config = format!(
        "[mcp.servers.guarded]\nurl = \"https://mcp.example.org/mcp\"\nauth = \"oauth\"\n\
         [mcp.servers.guarded.oauth]\nredirect_port = 9001\nclient_name = \"Our bot\"\n\
         client_metadata_url = \"{document_url}\"\n\
         [mcp.servers.plain]\nurl = \"https://other.example.org/mcp\"\nauth = \"oauth\"\n"
    );
    std::fs::write(dir.path().join("mcpcord.toml"), config).unwrap();
    let document = |out: &Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("a JSON document")
    };

    let out = run(
        dir.path(),
        None,
        None,
        &["mcp", "client-metadata", "guarded"],
    )
    .await;
    assert_eq!(
        document(&out),
        serde_json::json!({
            "client_id": document_url,
            "client_name": "Our bot",
            "redirect_uris": ["http://127.0.0.1:9001/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        })
    );
    let args = ["mcp", "client-metadata", "guarded", "--port", "8123"];
    let out = run(dir.path(), None, None, &args).await;
    assert_eq!(
        document(&out)["redirect_uris"],
        serde_json::json!(["http://127.0.0.1:8123/callback"])
    );

    // Without a URL to host it at there is no document: it says what to set.
    let out = run(dir.path(), None, None, &["mcp", "client-metadata", "plain"]).await;
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(
        said.contains("[mcp.servers.plain.oauth]") && said.contains("client_metadata_url"),
        "{said}"
    );
    assert!(out.stdout.is_empty());
    let out = run(dir.path(), None, None, &["mcp", "client-metadata", "nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("configured: guarded, plain"));
}

#[test]
fn login_and_logout_have_help() {
    for (args, wants) in [
        (
            &["mcp", "login", "--help"][..],
            &["--no-browser", "--port", "paste"][..],
        ),
        (
            &["mcp", "logout", "--help"][..],
            &["stored login", "--revoke"][..],
        ),
        (
            &["mcp", "client-metadata", "--help"][..],
            &["client_metadata_url", "--port"][..],
        ),
    ] {
        let out = common::mcpcord().args(args).output().unwrap();
        let help = text(&out.stdout);
        assert!(out.status.success());
        for want in wants {
            assert!(help.contains(want), "{want} in {help}");
        }
    }
}

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of its own on the test PostgreSQL server, dropped at the end.
struct Database {
    name: String,
}

fn psql(sql: &str) -> Output {
    std::process::Command::new("psql")
        .args([
            &format!("{SERVER}/postgres"),
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs")
}

impl Database {
    fn create() -> Database {
        let name = format!("mcpcord_oauth_{}", std::process::id());
        let out = psql(&format!("CREATE DATABASE {name}"));
        assert!(
            out.status.success(),
            "{} (these tests need PostgreSQL on 127.0.0.1:5432, trust auth)",
            text(&out.stderr)
        );
        Database { name }
    }

    fn url(&self) -> String {
        format!("{SERVER}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}
