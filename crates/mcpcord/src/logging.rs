//! Logging: tracing-subscriber in one of three formats, behind a writer that scrubs secrets.
//!
//! Secrets are kept out of logs twice over: their types print `[redacted]`, and every line
//! passes through [`Redactor`], which replaces any configured secret value that still slipped
//! in (a token inside a URL, an error message quoting a header).
//!
//! Spans carry the context of a turn (`turn`, `user`, `guild`, `channel`, `conversation`,
//! `model`): in `json` each line lists its spans' fields, so one turn's lines can be found together.
//!
//! Two audiences ([`Audience`]): `run` is a service, logged as `[logging]` says; every other
//! command speaks to a person at a terminal through its own output, so its log shows warnings
//! and errors only, one line each, and not the failures the command prints itself — unless
//! `-v` or `RUST_LOG` asks for more.

use std::io::{self, Write};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogFormat, LoggingConfig, REDACTED, Secret};

/// Secrets shorter than this are not scrubbed from text: they would mangle ordinary words.
const MIN_SECRET_LEN: usize = 6;

/// Replaces known secret values in text. Clones share what they know: secrets learnt later
/// (a reloaded configuration's) are scrubbed by every clone from then on.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<ArcSwap<Vec<String>>>,
}

/// The redactor of the installed subscriber, for [`learn_secrets`].
static INSTALLED: OnceLock<Redactor> = OnceLock::new();

/// Teaches the installed log subscriber's redactor `secrets` too (a reloaded configuration's),
/// keeping those it knew: a log line about the old configuration may still come. Nothing
/// happens before [`init`].
pub fn learn_secrets(secrets: &[Secret]) {
    if let Some(redactor) = INSTALLED.get() {
        redactor.learn(secrets);
    }
}

impl Redactor {
    /// A redactor for these secrets.
    pub fn new(secrets: &[Secret]) -> Self {
        let redactor = Self::default();
        redactor.learn(secrets);
        redactor
    }

    /// Scrubs `secrets` as well from now on.
    pub fn learn(&self, secrets: &[Secret]) {
        let new: Vec<String> = secrets
            .iter()
            .map(|s| s.expose().to_string())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        self.secrets.rcu(|known| {
            let mut values: Vec<String> = known.iter().chain(&new).cloned().collect();
            // Longest first, so a secret containing another is replaced whole.
            values.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            values.dedup();
            values
        });
    }

    /// `text` with every secret replaced by `[redacted]`, and the credentials of any URL in it
    /// (`user:pass@`, `?password=`, `?token=`…), configured or not.
    pub fn redact(&self, text: &str) -> String {
        let known = self
            .secrets
            .load()
            .iter()
            .fold(text.to_string(), |acc, secret| {
                acc.replace(secret.as_str(), REDACTED)
            });
        mcpcord_llm::redact::redact_urls_in(&known)
    }
}

/// A [`MakeWriter`] whose writers pass each whole log record through a [`Redactor`].
#[derive(Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: Redactor,
}

impl<M> RedactingMakeWriter<M> {
    /// Wraps `inner`.
    pub fn new(inner: M, redactor: Redactor) -> Self {
        Self { inner, redactor }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            redactor: self.redactor.clone(),
            buffer: Vec::new(),
        }
    }
}

/// Buffers one log record and writes it, redacted, when dropped or flushed.
pub struct RedactingWriter<W: Write> {
    inner: W,
    redactor: Redactor,
    buffer: Vec<u8>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            let text = String::from_utf8_lossy(&self.buffer);
            let clean = self.redactor.redact(&text);
            self.buffer.clear();
            self.inner.write_all(clean.as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The formatting layer for `format`, writing through `writer`.
pub fn fmt_layer<W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Pretty => base.pretty().boxed(),
        LogFormat::Compact => base.compact().boxed(),
        LogFormat::Json => base
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .boxed(),
    }
}

/// Dependencies that are chatty at `info` (rmcp logs every notification; sqlx every statement
/// at `debug`), quieted unless the filter names them.
const QUIET: [&str; 2] = ["rmcp=warn", "sqlx=warn"];

/// `level` with [`QUIET`] appended for the dependencies it does not mention.
fn with_quiet_dependencies(level: &str) -> String {
    QUIET.iter().fold(level.to_string(), |filter, quiet| {
        let target = quiet.split('=').next().unwrap_or_default();
        if filter.contains(target) {
            filter
        } else {
            format!("{filter},{quiet}")
        }
    })
}

/// Who reads the log lines, which decides their level and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `run`: the operator of a service, as `[logging]` configures.
    Service,
    /// Any other command: a person at a terminal, who reads the command's own output first.
    Terminal,
}

/// What a terminal command logs by default: warnings and errors, but not the failures the
/// command reports itself (a turn's error is `chat`'s own output; a backend's health is what
/// `check` and the failed request say), which would print the same error twice.
const TERMINAL: &str = "warn,mcpcord_engine::turn=error,mcpcord_llm::health=error";

/// The levels `-v`, `-vv` and `-vvv` ask for.
const VERBOSE: [&str; 3] = ["info", "debug", "trace"];

/// The filter directives for `audience`: `RUST_LOG` when set, else the level `-v` (counted in
/// `verbose`) asks for, else the configured level for a service and [`TERMINAL`] for a command.
pub fn filter_directives(
    configured: &str,
    audience: Audience,
    verbose: u8,
    rust_log: Option<&str>,
) -> String {
    if let Some(rust_log) = rust_log.filter(|f| EnvFilter::builder().parse(f).is_ok()) {
        return with_auth_capped(rust_log);
    }
    let level = match (verbose, audience) {
        (1.., _) => VERBOSE[usize::from(verbose.min(3)) - 1],
        (0, Audience::Service) => configured,
        (0, Audience::Terminal) => TERMINAL,
    };
    with_auth_capped(&with_quiet_dependencies(level))
}

/// rmcp's OAuth module: it logs the authorization code (and token responses) at `debug`.
pub const RMCP_AUTH_TARGET: &str = "rmcp::transport::auth";

/// `filter` with rmcp's OAuth module held at `info` when the filter enables `debug` or `trace`
/// anywhere (a directive for the same target written later replaces the operator's own).
fn with_auth_capped(filter: &str) -> String {
    let verbose = EnvFilter::builder()
        .parse(filter)
        .ok()
        .and_then(|f| f.max_level_hint())
        .is_none_or(|max| max > tracing_subscriber::filter::LevelFilter::INFO);
    if verbose {
        format!("{filter},{RMCP_AUTH_TARGET}=info")
    } else {
        filter.to_owned()
    }
}

/// The format for `audience`: a terminal gets one line a record (`compact`) where a service
/// would get `pretty`'s multi-line records; `json` and `compact` stay as configured.
pub fn format_for(configured: LogFormat, audience: Audience) -> LogFormat {
    match (configured, audience) {
        (LogFormat::Pretty, Audience::Terminal) => LogFormat::Compact,
        (format, _) => format,
    }
}

/// Installs the global subscriber: `config`'s format and filter as [`filter_directives`] and
/// [`format_for`] adapt them to `audience` and `-v`, to stderr, secrets scrubbed.
pub fn init(config: &LoggingConfig, secrets: &[Secret], audience: Audience, verbose: u8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let directives = filter_directives(&config.level, audience, verbose, rust_log.as_deref());
    let filter = EnvFilter::builder()
        .parse(directives)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let format = format_for(config.format, audience);
    let ansi =
        config.format == LogFormat::Pretty && std::io::IsTerminal::is_terminal(&io::stderr());
    let redactor = Redactor::new(secrets);
    let _ = INSTALLED.set(redactor.clone());
    let writer = RedactingMakeWriter::new(io::stderr, redactor);
    let _ = Registry::default()
        .with(fmt_layer(format, writer, ansi).with_filter(filter))
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn capture(format: LogFormat, secrets: &[Secret], emit: impl FnOnce()) -> String {
        let sink = Capture::default();
        let writer = RedactingMakeWriter::new(sink.clone(), Redactor::new(secrets));
        let subscriber = Registry::default().with(fmt_layer(format, writer, false));
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn secrets_never_reach_a_log_line_in_any_format() {
        let token = "MTIzNDU2Nzg5.fake.discord-token";
        let key = "sk-test-api-key-123";
        let secrets = [Secret::new(token), Secret::new(key)];
        for format in [LogFormat::Pretty, LogFormat::Json, LogFormat::Compact] {
            let out = capture(format, &secrets, || {
                let span = tracing::info_span!("turn", user = 42, auth = %format!("Bot {token}"));
                let _guard = span.enter();
                tracing::info!(header = %format!("Authorization: Bearer {key}"), "calling backend");
                tracing::warn!("request to https://x/?token={token} failed");
                tracing::info!(secret = ?Secret::new("another-secret-value"), "typed secret");
            });
            assert!(!out.contains(token), "{format:?} leaked the token:\n{out}");
            assert!(!out.contains(key), "{format:?} leaked the API key:\n{out}");
            assert!(
                !out.contains("another-secret-value"),
                "{format:?} leaked a typed secret"
            );
            assert!(
                out.contains(REDACTED),
                "{format:?} shows where a secret was:\n{out}"
            );
            assert!(
                out.contains("calling backend"),
                "{format:?} keeps the message:\n{out}"
            );
        }
    }

    #[test]
    fn secrets_learnt_later_are_scrubbed_too_and_earlier_ones_kept() {
        let redactor = Redactor::new(&[Secret::new("first-secret-1")]);
        let writer_side = redactor.clone();
        redactor.learn(&[Secret::new("reloaded-secret-2"), Secret::new("short")]);
        let out = writer_side.redact("first-secret-1 reloaded-secret-2 short");
        assert_eq!(out, format!("{REDACTED} {REDACTED} short"));
    }

    #[test]
    fn credentials_in_urls_never_reach_a_log_line() {
        // Configured URLs teach the redactor their credentials; URLs nobody configured are
        // scrubbed by shape.
        let config = crate::config::Config::from_toml(
            r#"
[storage]
url = "postgres://bot:db-pass-1234@db.internal/mcpcord?sslpassword=ssl-pass-5678"

[[backends]]
name = "gpu-box"
url = "http://admin:backend-pass-9@gpu.internal:11434/?api_key=backend-key-42"
"#,
            &Default::default(),
        )
        .unwrap();
        let secrets = config.secrets();
        for format in [LogFormat::Pretty, LogFormat::Json, LogFormat::Compact] {
            let out = capture(format, &secrets, || {
                tracing::warn!(
                    url =
                        "postgres://bot:db-pass-1234@db.internal/mcpcord?sslpassword=ssl-pass-5678",
                    "cannot open the database"
                );
                tracing::warn!(
                    "retrying http://admin:backend-pass-9@gpu.internal:11434/?api_key=backend-key-42"
                );
                tracing::warn!(
                    error = "connect to https://other:other-pass@x.example/mcp?token=tok-77 failed",
                    "mcp"
                );
                tracing::info!("password in pieces: db-pass-1234 and backend-key-42");
            });
            for secret in [
                "db-pass-1234",
                "ssl-pass-5678",
                "backend-pass-9",
                "backend-key-42",
                "other-pass",
                "tok-77",
            ] {
                assert!(!out.contains(secret), "{format:?} leaked {secret}:\n{out}");
            }
            assert!(
                out.contains("gpu.internal"),
                "{format:?} keeps the host:\n{out}"
            );
        }
    }

    #[test]
    fn json_lines_carry_span_context() {
        let out = capture(LogFormat::Json, &[], || {
            let span = tracing::info_span!(
                "turn",
                turn = "t-1",
                user = 7,
                guild = 8,
                channel = 9,
                conversation = "c-1",
                model = "llama3.2"
            );
            let _guard = span.enter();
            tracing::info!("first token");
        });
        let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(line["message"], "first token");
        let span = &line["span"];
        assert_eq!(span["turn"], "t-1");
        assert_eq!(span["conversation"], "c-1");
        assert_eq!(span["model"], "llama3.2");
        assert_eq!(span["user"], 7);
    }

    #[test]
    fn a_terminal_command_logs_warnings_unless_asked_for_more() {
        let terminal = |verbose, rust_log| {
            filter_directives("info,mcpcord=debug", Audience::Terminal, verbose, rust_log)
        };
        assert!(
            terminal(0, None).starts_with(TERMINAL),
            "{}",
            terminal(0, None)
        );
        assert!(terminal(1, None).starts_with("info,"));
        assert!(terminal(2, None).starts_with("debug,"));
        assert!(terminal(9, None).starts_with("trace,"));
        assert_eq!(
            terminal(2, Some("mcpcord=trace")),
            "mcpcord=trace,rmcp::transport::auth=info"
        );
        // A RUST_LOG that is not a filter is ignored, as before.
        assert!(terminal(0, Some("=[")).starts_with(TERMINAL));
        assert!(terminal(0, None).contains("rmcp=warn"));
        let health = format!("{}=error", mcpcord_llm::HEALTH_LOG_TARGET);
        assert!(TERMINAL.contains(&health), "{TERMINAL} leaves out {health}");
    }

    #[test]
    fn a_service_logs_as_configured_and_v_or_rust_log_override_it() {
        let service = |verbose, rust_log| {
            filter_directives("info,mcpcord=debug", Audience::Service, verbose, rust_log)
        };
        assert_eq!(
            service(0, None),
            "info,mcpcord=debug,rmcp=warn,sqlx=warn,rmcp::transport::auth=info"
        );
        assert!(service(2, None).starts_with("debug,"));
        assert_eq!(service(0, Some("warn")), "warn");
    }

    #[test]
    fn rmcp_oauth_stays_at_info_whatever_the_operator_asks_for() {
        use tracing::Level;
        use tracing_subscriber::layer::SubscriberExt as _;
        // The filter as built, asked whether an event of `target` at `level` is enabled.
        let enabled = |directives: String, target: &'static str, level: Level| {
            let filter = EnvFilter::builder().parse(directives).unwrap();
            let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let subscriber = Registry::default().with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::sink)
                    .with_filter(filter),
            );
            let flag = seen.clone();
            tracing::subscriber::with_default(subscriber, || {
                // `enabled!` needs a constant target: one branch per target of the test.
                let on = if target == RMCP_AUTH_TARGET && level == Level::DEBUG {
                    tracing::enabled!(target: "rmcp::transport::auth", Level::DEBUG)
                } else if target == RMCP_AUTH_TARGET {
                    tracing::enabled!(target: "rmcp::transport::auth", Level::INFO)
                } else {
                    tracing::enabled!(target: "rmcp::service", Level::DEBUG)
                };
                flag.store(on, std::sync::atomic::Ordering::SeqCst);
            });
            seen.load(std::sync::atomic::Ordering::SeqCst)
        };
        for (configured, verbose, rust_log) in [
            ("debug", 0, None),
            ("trace", 0, None),
            ("info,rmcp=trace", 0, None),
            ("info", 3, None),
            ("info", 0, Some("trace")),
            ("info", 0, Some("rmcp::transport::auth=trace,rmcp=trace")),
        ] {
            let directives = filter_directives(configured, Audience::Service, verbose, rust_log);
            assert!(
                !enabled(directives.clone(), RMCP_AUTH_TARGET, Level::DEBUG),
                "{directives} lets rmcp's OAuth debug lines (the authorization code) through"
            );
            assert!(
                enabled(directives.clone(), RMCP_AUTH_TARGET, Level::INFO),
                "{directives} keeps rmcp's OAuth info lines"
            );
        }
        // The rest of rmcp still logs at the level asked for.
        let directives = filter_directives("info", Audience::Service, 0, Some("trace"));
        assert!(enabled(directives, "rmcp::service", Level::DEBUG));
    }

    #[test]
    fn a_terminal_gets_one_line_records() {
        assert_eq!(
            format_for(LogFormat::Pretty, Audience::Terminal),
            LogFormat::Compact
        );
        assert_eq!(
            format_for(LogFormat::Json, Audience::Terminal),
            LogFormat::Json
        );
        assert_eq!(
            format_for(LogFormat::Pretty, Audience::Service),
            LogFormat::Pretty
        );
    }
}
