//! Discord throughput, latency and memory of the real `mcpcord run` binary under a burst
//! (issues 6 and 12).
//!
//! The already-built binary runs against FakeDiscord and FakeOllama on 127.0.0.1, a fresh set
//! for each load. FakeDiscord enforces Discord's documented limits strictly: the global limit
//! of 50 requests in any rolling second (interaction endpoints exempt), one message bucket per
//! channel that creating and editing share (5 per 5 s), typing 5 per 5 s, other routes 50 per s.
//! FakeOllama echoes each question word by word with no delay (a dozen chunks an answer): a
//! model that answers at once. The bot may run 256 turns at once and the backend takes 256
//! requests at once, so the model is not the bottleneck.
//!
//! For 20, 50 and 200 users at once (each a mention in its own channel, all injected together;
//! a few rounds, fresh channels each round) it reports:
//! - answered, and the 429s FakeDiscord answered (global ones apart);
//! - Discord requests per answer: every request the bot sent about the round's channels
//!   (creates, edits, typing, refused ones too) per answer;
//! - the time from the round's start to the last final message, against the floor: answers ×
//!   requests per answer / the global limit (and the ideal floor, one request per answer);
//! - MESSAGE_CREATE → model request: from the injection to the arrival at FakeOllama of that
//!   conversation's `/api/chat` request (what the bot does before the model: gate, store);
//! - MESSAGE_CREATE → first reply, and last token → final edit;
//! - the bot's time on a processor per answer (every thread, from the round's start to the end
//!   of the calm after it): a cost that the machine's other load does not change, unlike the
//!   latencies;
//! - the bot's resident memory (VmRSS of /proc/PID/status): idle after start-up, the largest
//!   sample (every 20 ms) under load, VmHWM, and again idle after the load.
//!
//! Run with `cargo bench -p mcpcord --bench discord_load` (it needs `--bench`: under
//! `cargo test` it only says so); `DISCORD_LOAD=20,50` runs only those loads;
//! `DISCORD_GLOBAL_LIMIT=500` raises the global limit in FakeDiscord and in the bot's
//! configuration (`discord.global_rate_limit`), as Discord does for large bots;
//! `DISCORD_LOAD_MODEL_DELAY_MS=300` makes the model wait that long before its first token (the
//! bot's intake then does not share the processors with answers streaming in);
//! `DISCORD_LOAD_SPREAD_MS=1000` sends a round's mentions one by one, evenly over that time,
//! each timed from its own arrival (the bot's latency without the queue of a burst that
//! arrives in one instant); `MCPCORD_BIN`
//! runs another build of the binary (before/after comparisons); `DISCORD_LOAD_LOG=DIR` keeps
//! the bot's log of each load there (`DIR/load-N.log`), at the level of `DISCORD_LOAD_LEVEL`
//! (default `warn`; `warn,mcpcord_latency=trace` adds a line per stage of each turn on its way
//! to the model, which `scripts/latency-stages` turns into a table, and the details then cut
//! MESSAGE_CREATE → model request in three: delivery, the bot, the request's way to the model).
//! Prints details on stderr
//! and a table on stdout; nothing is asserted.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use mcpcord_testkit::fake_discord::ratelimit::{
    DEFAULT_BUCKET, GLOBAL_LIMIT, MESSAGE_BUCKET, TYPING_BUCKET, WEBHOOK_BUCKET,
};
use mcpcord_testkit::fake_discord::{GuildConfig, MessageCreate, RecordedRequest};
use mcpcord_testkit::fake_ollama::FakeModel;
use mcpcord_testkit::{FakeDiscord, FakeOllama};
use tokio::time::Instant;

/// (conversations at once, rounds): enough rounds for a few hundred samples at most.
const LOADS: [(usize, usize); 3] = [(20, 3), (50, 2), (200, 1)];
/// The longest a round may take before what is missing is reported as incomplete.
const ROUND_DEADLINE: Duration = Duration::from_secs(180);
/// The longest start-up (gateway identify, command registration) may take.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Calm time after start-up and the warm-up (the bot settles; buckets refill).
const SETTLE: Duration = Duration::from_secs(6);
/// Calm time between rounds (each round uses fresh channels, so fresh buckets).
const ROUND_GAP: Duration = Duration::from_secs(2);
/// How often completion is checked and memory sampled.
const POLL: Duration = Duration::from_millis(50);
const RSS_EVERY: Duration = Duration::from_millis(20);

const MODEL: &str = "llama3.2";
const GUILD_ID: u64 = 1_290_000_000_000_000_000;
const CHANNEL_BASE: u64 = 1_300_000_000_000_000_000;
const USER_BASE: u64 = 1_310_000_000_000_000_000;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "discord_load: a benchmark; run it with `cargo bench -p mcpcord --bench discord_load`"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // DISCORD_LOAD=1,50 runs only those loads.
    let only: Option<Vec<usize>> = std::env::var("DISCORD_LOAD")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let global = std::env::var("DISCORD_GLOBAL_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(GLOBAL_LIMIT);
    eprintln!("discord_load: global limit {global} requests per rolling second");
    let mut results = Vec::new();
    for (conversations, rounds) in LOADS {
        if only.as_ref().is_some_and(|o| !o.contains(&conversations)) {
            continue;
        }
        eprintln!("discord_load: {conversations} conversation(s) at once, {rounds} round(s)…");
        match runtime.block_on(measure(conversations, rounds, global)) {
            Ok(result) => {
                result.print_details();
                results.push(result);
            }
            Err(error) => eprintln!("discord_load: {conversations} at once failed: {error}"),
        }
    }
    print_table(&results, global);
}

// ----- one load ------------------------------------------------------------------------------

/// One conversation of a round.
struct Conversation {
    channel: u64,
    user: u64,
    /// A word only this conversation's question (and so its echoed answer) contains.
    tag: String,
    injected: Instant,
    /// The injection on the wall clock (µs), and the Discord message id: to line the round up
    /// with the bot's own latency marks.
    injected_wall_us: u64,
    message_id: Option<u64>,
}

/// What one conversation measured.
#[derive(Debug, Default)]
struct Sample {
    first_post: Option<Duration>,
    last_token_to_final: Option<Duration>,
    /// From the injection to the model's last token.
    last_token: Option<Duration>,
    /// From the first post to the final edit.
    post_to_final: Option<Duration>,
    edits: usize,
    complete: bool,
    /// From the injection to the arrival of the model request.
    model_request: Option<Duration>,
    /// From the round's start to the answer's final write.
    final_write: Option<Duration>,
    /// The injection and the model request's arrival on the wall clock (µs), and the message.
    injected_wall_us: u64,
    model_request_wall_us: Option<u64>,
    message_id: Option<u64>,
}

/// Everything measured for one load.
#[derive(Debug, Default)]
struct LoadResult {
    conversations: usize,
    samples: Vec<Sample>,
    idle_rss_kb: u64,
    peak_rss_kb: u64,
    hwm_kb: u64,
    after_rss_kb: u64,
    rate_limited: usize,
    rate_limited_routes: Vec<String>,
    peak_requests_per_second: usize,
    typing: usize,
    spec_violations: Vec<String>,
    model_violations: usize,
    max_model_in_flight: usize,
    bot_warnings: Vec<String>,
    round_spans: Vec<Duration>,
    /// 429s for the global limit (in `rate_limited` too).
    global_limited: usize,
    /// Requests the bot sent about the rounds' channels.
    requests: usize,
    /// Per round: answers, and the time from the round's start to its last final write.
    last_finals: Vec<(usize, Duration)>,
    /// Requests per rolling second FakeDiscord allowed.
    global: u32,
    /// The bot's time on a processor during the rounds (every thread), in nanoseconds.
    cpu_ns: u64,
    /// MESSAGE_CREATE → model request cut at the bot's marks (with `mcpcord_latency=trace`):
    /// injection → the bot has the event; → the bot sends the request; → it reaches the model.
    legs: Option<Legs>,
}

/// The three legs of MESSAGE_CREATE → model request, p50 / p99 each.
#[derive(Debug)]
struct Legs {
    delivered: (Duration, Duration),
    in_bot: (Duration, Duration),
    sent: (Duration, Duration),
}

/// The bot process; killed when dropped (panics included) and at the end of [`measure`].
struct Bot {
    child: tokio::process::Child,
    pid: u32,
    log: std::path::PathBuf,
}

impl Bot {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

async fn measure(conversations: usize, rounds: usize, global: u32) -> Result<LoadResult, String> {
    let channels = conversations * rounds + 1;
    let discord = start_discord(channels, global).await;
    let ollama =
        FakeOllama::start_with_models([FakeModel::new(MODEL).capabilities(&["completion"])]).await;
    ollama.set_echo_delay(model_delay());
    let dir = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
    let bot = spawn_bot(&discord, &ollama, dir.path(), global)?;
    let outcome = drive(&discord, &ollama, &bot, conversations, rounds).await;
    let log = bot.log();
    bot.kill().await;
    if let Ok(keep) = std::env::var("DISCORD_LOAD_LOG") {
        let path = Path::new(&keep).join(format!("load-{conversations}.log"));
        if let Err(error) = std::fs::write(&path, &log) {
            eprintln!(
                "discord_load: cannot keep the log at {}: {error}",
                path.display()
            );
        }
    }
    let violations: Vec<String> = discord
        .take_spec_violations()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut result = match outcome {
        Ok(result) => result,
        Err(error) => {
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!("{error}; bot stderr (tail):\n{}", tail.join("\n")));
        }
    };
    result.spec_violations = violations;
    result.legs = legs(&log, &result.samples);
    result.global = global;
    result.bot_warnings = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .map(str::to_owned)
        .collect();
    Ok(result)
}

/// `DISCORD_LOAD_SPREAD_MS`: the time over which a round's mentions arrive, evenly apart
/// (default 0: all at once).
fn arrival_spread() -> Duration {
    std::env::var("DISCORD_LOAD_SPREAD_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis)
}

/// `DISCORD_LOAD_MODEL_DELAY_MS`: the model's time to its first token (default 0, a model that
/// answers at once).
fn model_delay() -> Duration {
    std::env::var("DISCORD_LOAD_MODEL_DELAY_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis)
}

async fn start_discord(channels: usize, global: u32) -> FakeDiscord {
    let mut guild = GuildConfig::new(GUILD_ID, "Bench");
    let mut builder = FakeDiscord::builder().wait_timeout(START_DEADLINE);
    for i in 0..channels as u64 {
        guild = guild
            .text_channel(CHANNEL_BASE + i, format!("bench-{i}"))
            .member(USER_BASE + i);
        builder = builder.user(USER_BASE + i, format!("user{i}"));
    }
    // Discord's documented limits (the fake's defaults, spelled out).
    builder
        .guild(guild)
        .global_rate_limit(Some(global))
        .default_rate_limit(DEFAULT_BUCKET.limit, DEFAULT_BUCKET.window)
        .message_rate_limit(MESSAGE_BUCKET.limit, MESSAGE_BUCKET.window)
        .rate_limit(
            "POST",
            "/channels/{channel_id}/typing",
            TYPING_BUCKET.limit,
            TYPING_BUCKET.window,
        )
        .rate_limit(
            "POST",
            "/webhooks/{webhook_id}/{webhook_token}",
            WEBHOOK_BUCKET.limit,
            WEBHOOK_BUCKET.window,
        )
        .start()
        .await
}

fn spawn_bot(
    discord: &FakeDiscord,
    ollama: &FakeOllama,
    dir: &Path,
    global: u32,
) -> Result<Bot, String> {
    let config = dir.join("mcpcord.toml");
    let text = format!(
        r#"[discord]
shards = 1
shutdown_grace = "5s"
{global_line}

[[backends]]
name = "fake"
kind = "ollama"
url = "{ollama}"
max_concurrency = 256

[models]
default = "{MODEL}"

[storage]
url = "sqlite://{dir}/bot.sqlite?mode=rwc"

[logging]
level = "{level}"
format = "compact"

[limits]
max_concurrent_turns = 256
user_messages_per_minute = 1000
"#,
        ollama = ollama.url(),
        dir = dir.display(),
        level = std::env::var("DISCORD_LOAD_LEVEL").unwrap_or_else(|_| "warn".into()),
        // Only when raised: builds from before the setting existed then run too.
        global_line = if global == GLOBAL_LIMIT {
            String::new()
        } else {
            format!("global_rate_limit = {global}")
        },
    );
    std::fs::write(&config, text).map_err(|e| format!("cannot write the config: {e}"))?;
    let log = dir.join("stderr.log");
    let stderr = std::fs::File::create(&log).map_err(|e| format!("no log file: {e}"))?;
    // MCPCORD_BIN runs another build (an earlier commit's, for a before/after comparison).
    let binary =
        std::env::var("MCPCORD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mcpcord").to_owned());
    let mut command = tokio::process::Command::new(&binary);
    command
        .arg("run")
        .current_dir(dir)
        .env_clear()
        .env("MCPCORD_CONFIG", &config)
        .env("DISCORD_TOKEN", FakeDiscord::TOKEN)
        .env("MCPCORD__DISCORD__API_BASE_URL", discord.api_base())
        .env("MCPCORD__DISCORD__GATEWAY_URL", discord.gateway_url())
        .env("OLLAMA_HOST", ollama.url())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {binary}: {e}"))?;
    let pid = child.id().ok_or("the bot exited at once")?;
    Ok(Bot { child, pid, log })
}

/// Start-up, idle memory, a warm-up turn, then the rounds.
async fn drive(
    discord: &FakeDiscord,
    ollama: &FakeOllama,
    bot: &Bot,
    conversations: usize,
    rounds: usize,
) -> Result<LoadResult, String> {
    discord
        .wait_for_identify()
        .await
        .map_err(|e| format!("the bot did not identify: {e}"))?;
    let deadline = Instant::now() + START_DEADLINE;
    while discord.global_commands().is_empty() {
        if Instant::now() >= deadline {
            return Err("the bot registered no commands in time".into());
        }
        tokio::time::sleep(POLL).await;
    }
    tokio::time::sleep(SETTLE).await;
    let idle_rss_kb = proc_status_kb(bot.pid, "VmRSS:").ok_or("cannot read the bot's VmRSS")?;

    // A warm-up turn (first database writes, first model lookup), not counted.
    let mut warm_up = vec![conversation(0)];
    run_round(discord, &mut warm_up).await?;
    tokio::time::sleep(SETTLE).await;

    let mut result = LoadResult {
        conversations,
        idle_rss_kb,
        ..LoadResult::default()
    };
    let peak = Arc::new(AtomicU64::new(0));
    for round in 0..rounds {
        let first = 1 + round * conversations;
        let mut convs: Vec<Conversation> =
            (first..first + conversations).map(conversation).collect();
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn(sample_rss(bot.pid, peak.clone(), stop.clone()));
        let cpu_before = cpu_ns(bot.pid);
        let ran = run_round(discord, &mut convs).await;
        stop.store(true, Ordering::SeqCst);
        let _ = sampler.await;
        let span = ran?;
        result.round_spans.push(span);
        analyse(discord, ollama, &convs, started, &mut result);
        let finals: Vec<Duration> = result.samples[result.samples.len() - convs.len()..]
            .iter()
            .filter_map(|s| s.final_write)
            .collect();
        if let Some(last) = finals.iter().max() {
            result.last_finals.push((finals.len(), *last));
        }
        tokio::time::sleep(ROUND_GAP).await;
        // After the gap: what the answers cost once shown (recording them) counts too.
        result.cpu_ns += cpu_ns(bot.pid).saturating_sub(cpu_before);
    }
    result.peak_rss_kb = peak.load(Ordering::SeqCst);
    result.hwm_kb = proc_status_kb(bot.pid, "VmHWM:").unwrap_or(0);
    result.after_rss_kb = proc_status_kb(bot.pid, "VmRSS:").unwrap_or(0);
    result.model_violations = ollama.violations().len();
    result.max_model_in_flight = ollama.max_in_flight();
    Ok(result)
}

fn conversation(index: usize) -> Conversation {
    let i = index as u64;
    Conversation {
        channel: CHANNEL_BASE + i,
        user: USER_BASE + i,
        tag: format!("q{i}x"),
        injected: Instant::now(),
        injected_wall_us: 0,
        message_id: None,
    }
}

/// Sends every conversation's mention at once and waits (bounded) until each answer shows
/// its final state; returns how long the round took. Incomplete answers are left to `analyse`.
async fn run_round(discord: &FakeDiscord, convs: &mut [Conversation]) -> Result<Duration, String> {
    // Built and stored first, then sent together: the burst leaves "Discord" at once rather
    // than at the pace the fake builds messages (some 50 µs each, on the bot's processors).
    let messages = discord.store_message_creates(convs.iter().map(|c| {
        let content = format!(
            "{} alpha bravo charlie delta echo foxtrot golf hotel india {}",
            discord.bot_mention(),
            c.tag
        );
        MessageCreate::new(content)
            .channel(c.channel)
            .author(c.user, format!("user{}", c.channel - CHANNEL_BASE))
    }));
    let started = Instant::now();
    let spread = arrival_spread();
    if spread.is_zero() {
        let started_wall = wall_us(std::time::SystemTime::now());
        for (c, message) in convs.iter_mut().zip(&messages) {
            c.injected = started;
            c.injected_wall_us = started_wall;
            c.message_id = message["id"].as_str().and_then(|id| id.parse().ok());
        }
        discord.dispatch_message_creates(&messages);
    } else {
        // One at a time, evenly over the spread; each timed from its own dispatch.
        let gap = spread / convs.len() as u32;
        for (i, (c, message)) in convs.iter_mut().zip(&messages).enumerate() {
            tokio::time::sleep_until(started + gap * i as u32).await;
            c.injected = Instant::now();
            c.injected_wall_us = wall_us(std::time::SystemTime::now());
            c.message_id = message["id"].as_str().and_then(|id| id.parse().ok());
            discord.dispatch_message_creates(std::slice::from_ref(message));
        }
    }
    eprintln!(
        "  dispatched {} message(s) in {}",
        convs.len(),
        ms(started.elapsed())
    );
    let deadline = started + ROUND_DEADLINE;
    let mut pending: Vec<usize> = (0..convs.len()).collect();
    while !pending.is_empty() && Instant::now() < deadline {
        pending.retain(|&i| !answered(discord, &convs[i]));
        tokio::time::sleep(POLL).await;
    }
    if pending.len() == convs.len() {
        return Err(format!(
            "no answer of {} arrived in {ROUND_DEADLINE:?}",
            convs.len()
        ));
    }
    Ok(started.elapsed())
}

/// The answer is complete: a bot message with the conversation's tag and no Stop button.
fn answered(discord: &FakeDiscord, c: &Conversation) -> bool {
    let bot = discord.bot_user_id().to_string();
    discord.messages_in(c.channel).iter().any(|m| {
        m["author"]["id"].as_str() == Some(&*bot)
            && m["content"].as_str().is_some_and(|t| t.contains(&c.tag))
            && !m["components"].to_string().contains("\"stop:")
    })
}

/// The channel a REST path is about (`/api/v10/channels/{id}/…`).
fn channel_of(path: &str) -> Option<u64> {
    let rest = path.split("/channels/").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

fn ok(r: &RecordedRequest) -> bool {
    (200..300).contains(&r.status)
}

fn analyse(
    discord: &FakeDiscord,
    ollama: &FakeOllama,
    convs: &[Conversation],
    started: Instant,
    result: &mut LoadResult,
) {
    let requests: Vec<RecordedRequest> = discord
        .requests()
        .into_iter()
        .filter(|r| r.at >= started)
        .collect();
    let chats = ollama.requests_to("/api/chat");
    // The same moment on both clocks: FakeOllama's arrival instants onto the wall clock.
    let (anchor, anchor_wall) = (
        std::time::Instant::now(),
        wall_us(std::time::SystemTime::now()),
    );
    let to_wall = |at: std::time::Instant| {
        anchor_wall.saturating_sub(anchor.saturating_duration_since(at).as_micros() as u64)
    };
    for c in convs {
        let mine: Vec<&RecordedRequest> = requests
            .iter()
            .filter(|r| channel_of(&r.path) == Some(c.channel))
            .collect();
        let route = |r: &RecordedRequest| r.route.clone().unwrap_or_default();
        let posts = mine
            .iter()
            .filter(|r| r.method == "POST" && route(r) == "/channels/{channel_id}/messages");
        let first_post = posts.clone().filter(|r| ok(r)).map(|r| r.at).min();
        let writes: Vec<&&RecordedRequest> = mine
            .iter()
            .filter(|r| {
                ok(r)
                    && ((r.method == "POST" && route(r) == "/channels/{channel_id}/messages")
                        || (r.method == "PATCH"
                            && route(r) == "/channels/{channel_id}/messages/{message_id}"))
            })
            .collect();
        let final_write = writes.iter().map(|r| r.at).max();
        result.requests += mine.len();
        let model_request = chats
            .iter()
            .filter(|r| {
                r.json
                    .as_ref()
                    .is_some_and(|j| j["messages"].to_string().contains(&c.tag))
            })
            .map(|r| r.received_at)
            .min();
        let edits = writes.iter().filter(|r| r.method == "PATCH").count();
        result.typing += mine
            .iter()
            .filter(|r| route(r) == "/channels/{channel_id}/typing")
            .count();
        let last_token = chats
            .iter()
            .filter(|r| {
                r.json
                    .as_ref()
                    .is_some_and(|j| j["messages"].to_string().contains(&c.tag))
            })
            .filter_map(|r| r.finished_at)
            .max()
            .map(Instant::from_std);
        result.samples.push(Sample {
            first_post: first_post.map(|at| at.saturating_duration_since(c.injected)),
            last_token_to_final: match (last_token, final_write) {
                (Some(token), Some(write)) => Some(write.saturating_duration_since(token)),
                _ => None,
            },
            last_token: last_token.map(|at| at.saturating_duration_since(c.injected)),
            post_to_final: match (first_post, final_write) {
                (Some(post), Some(write)) => Some(write.saturating_duration_since(post)),
                _ => None,
            },
            edits,
            complete: answered(discord, c),
            model_request: model_request
                .map(|at| Instant::from_std(at).saturating_duration_since(c.injected)),
            final_write: final_write.map(|at| at.saturating_duration_since(started)),
            injected_wall_us: c.injected_wall_us,
            model_request_wall_us: model_request.map(to_wall),
            message_id: c.message_id,
        });
    }
    let limited = discord.rate_limited();
    let limited: Vec<_> = limited.iter().filter(|h| h.at >= started).collect();
    result.rate_limited += limited.len();
    result.global_limited += limited.iter().filter(|h| h.global).count();
    for hit in limited {
        let name = format!("{} {}", hit.method, hit.route);
        if !result.rate_limited_routes.contains(&name) {
            result.rate_limited_routes.push(name);
        }
    }
    result.peak_requests_per_second = result
        .peak_requests_per_second
        .max(peak_per_second(&requests));
}

/// Microseconds since 1970 (the bot's latency marks use the same clock).
fn wall_us(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The legs of MESSAGE_CREATE → model request, from the bot's `received` and `request` marks
/// in `log` (keyed by the message id: the last number of a conversation key); `None` without
/// marks.
fn legs(log: &str, samples: &[Sample]) -> Option<Legs> {
    let mut received = std::collections::HashMap::new();
    let mut request = std::collections::HashMap::new();
    for line in log.lines().filter(|l| l.contains("mcpcord_latency")) {
        let field = |name: &str| {
            let rest = line.split(&format!("{name}=")).nth(1)?;
            Some(
                rest.trim_start_matches('"')
                    .split(['"', ' '])
                    .next()?
                    .to_owned(),
            )
        };
        let (Some(stage), Some(key), Some(at)) = (field("stage"), field("key"), field("at_us"))
        else {
            continue;
        };
        let id = key
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u64>();
        let (Ok(id), Ok(at)) = (id, at.parse::<u64>()) else {
            continue;
        };
        let marks = match stage.as_str() {
            "received" => &mut received,
            "request" => &mut request,
            _ => continue,
        };
        marks.entry(id).or_insert(at);
    }
    let (mut delivered, mut in_bot, mut sent) = (Vec::new(), Vec::new(), Vec::new());
    for s in samples {
        let Some(id) = s.message_id else { continue };
        let (Some(&got), Some(&asked), Some(arrived)) =
            (received.get(&id), request.get(&id), s.model_request_wall_us)
        else {
            continue;
        };
        let us = |from: u64, to: u64| Duration::from_micros(to.saturating_sub(from));
        delivered.push(us(s.injected_wall_us, got));
        in_bot.push(us(got, asked));
        sent.push(us(asked, arrived));
    }
    Some(Legs {
        delivered: percentiles(delivered.into_iter())?,
        in_bot: percentiles(in_bot.into_iter())?,
        sent: percentiles(sent.into_iter())?,
    })
}

/// The most requests that arrived within any one second.
fn peak_per_second(requests: &[RecordedRequest]) -> usize {
    let mut times: Vec<Instant> = requests.iter().map(|r| r.at).collect();
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Samples the bot's VmRSS until `stop` (bounded by the round deadline), keeping the largest.
async fn sample_rss(pid: u32, peak: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let deadline = Instant::now() + ROUND_DEADLINE + Duration::from_secs(10);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        if let Some(kb) = proc_status_kb(pid, "VmRSS:") {
            peak.fetch_max(kb, Ordering::SeqCst);
        }
        tokio::time::sleep(RSS_EVERY).await;
    }
}

/// A `kB` field of /proc/PID/status (`VmRSS:`, `VmHWM:`).
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// The time every thread of process `pid` has spent on a processor, in nanoseconds (the first
/// field of /proc/PID/task/TID/schedstat, summed): what a round costs the bot, whatever the
/// machine's other load does to its latency.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

// ----- reporting -----------------------------------------------------------------------------

fn percentiles(samples: impl Iterator<Item = Duration>) -> Option<(Duration, Duration)> {
    let mut sorted: Vec<Duration> = samples.collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    Some((at(0.5), at(0.99)))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn pair(p: Option<(Duration, Duration)>) -> (String, String) {
    p.map_or(("-".into(), "-".into()), |(a, b)| (ms(a), ms(b)))
}

impl LoadResult {
    fn first_post(&self) -> Option<(Duration, Duration)> {
        percentiles(self.samples.iter().filter_map(|s| s.first_post))
    }

    fn to_final(&self) -> Option<(Duration, Duration)> {
        percentiles(self.samples.iter().filter_map(|s| s.last_token_to_final))
    }

    fn model_request(&self) -> Option<(Duration, Duration)> {
        percentiles(self.samples.iter().filter_map(|s| s.model_request))
    }

    fn answered(&self) -> usize {
        self.samples.iter().filter(|s| s.complete).count()
    }

    fn requests_per_answer(&self) -> f64 {
        self.requests as f64 / self.answered().max(1) as f64
    }

    /// The slowest round's last final message against its floor: (time, floor, ideal floor).
    fn last_final(&self) -> Option<(Duration, Duration, Duration)> {
        let per_answer = self.requests_per_answer();
        let global = f64::from(self.global.max(1));
        self.last_finals
            .iter()
            .map(|(answers, last)| {
                let floor = Duration::from_secs_f64(*answers as f64 * per_answer / global);
                let ideal = Duration::from_secs_f64(*answers as f64 / global);
                (*last, floor, ideal)
            })
            .max_by(|a, b| {
                let ratio = |x: &(Duration, Duration, Duration)| {
                    x.0.as_secs_f64() / x.1.as_secs_f64().max(1e-9)
                };
                ratio(a).total_cmp(&ratio(b))
            })
    }

    fn incomplete(&self) -> usize {
        self.samples.iter().filter(|s| !s.complete).count()
    }

    fn print_details(&self) {
        let n = self.samples.len().max(1);
        let edits: usize = self.samples.iter().map(|s| s.edits).sum();
        let max_edits = self.samples.iter().map(|s| s.edits).max().unwrap_or(0);
        let spans: Vec<String> = self.round_spans.iter().map(|d| ms(*d)).collect();
        eprintln!(
            "  {} at once: {} samples, {} incomplete; rounds took {}",
            self.conversations,
            self.samples.len(),
            self.incomplete(),
            spans.join(", ")
        );
        eprintln!(
            "  edits per answer: mean {:.2}, max {max_edits}; typing requests {}; \
             peak REST requests in 1 s: {}; model requests in flight at most: {}",
            edits as f64 / n as f64,
            self.typing,
            self.peak_requests_per_second,
            self.max_model_in_flight
        );
        eprintln!(
            "  429s: {} {:?}; spec violations: {}; model violations: {}; bot WARN/ERROR lines: {}",
            self.rate_limited,
            self.rate_limited_routes,
            self.spec_violations.len(),
            self.model_violations,
            self.bot_warnings.len()
        );
        let (t50, t99) = pair(percentiles(
            self.samples.iter().filter_map(|s| s.last_token),
        ));
        let (p50, p99) = pair(percentiles(
            self.samples.iter().filter_map(|s| s.post_to_final),
        ));
        eprintln!(
            "  MESSAGE_CREATE → model's last token p50 {t50}, p99 {t99}; \
             first post → final edit p50 {p50}, p99 {p99}"
        );
        if let Some(legs) = &self.legs {
            let leg = |(p50, p99): (Duration, Duration)| format!("{} / {}", ms(p50), ms(p99));
            eprintln!(
                "  MESSAGE_CREATE → model request in legs, p50 / p99: injected → the bot has it {}; \
                 → the bot sends the request {}; → it reaches the model {}",
                leg(legs.delivered),
                leg(legs.in_bot),
                leg(legs.sent)
            );
        }
        for line in self.spec_violations.iter().take(3) {
            eprintln!("    spec: {line}");
        }
        for line in self.bot_warnings.iter().take(5) {
            eprintln!("    bot: {line}");
        }
    }
}

fn print_table(results: &[LoadResult], global: u32) {
    println!();
    println!("Global limit: {global} requests per rolling second.");
    println!();
    println!(
        "| users at once | answered | 429s (global) | Discord requests per answer | last final message / floor (ideal floor) | MESSAGE_CREATE → model request p50 / p99 | → first reply p50 / p99 | last token → final edit p50 / p99 | bot CPU per answer | RSS idle / peak (VmHWM) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        let (mp50, mp99) = pair(r.model_request());
        let (fp50, fp99) = pair(r.first_post());
        let (lp50, lp99) = pair(r.to_final());
        let last = r
            .last_final()
            .map_or("-".to_owned(), |(last, floor, ideal)| {
                format!(
                    "{} / {} = {:.2}× ({})",
                    ms(last),
                    ms(floor),
                    last.as_secs_f64() / floor.as_secs_f64().max(1e-9),
                    ms(ideal)
                )
            });
        println!(
            "| {} | {} / {} | {} ({}) | {:.2} | {last} | {mp50} / {mp99} | {fp50} / {fp99} | {lp50} / {lp99} | {:.2} ms | {} / {} ({}) |",
            r.conversations,
            r.answered(),
            r.samples.len(),
            r.rate_limited,
            r.global_limited,
            r.requests_per_answer(),
            r.cpu_ns as f64 / 1e6 / r.answered().max(1) as f64,
            mib(r.idle_rss_kb),
            mib(r.peak_rss_kb),
            mib(r.hwm_kb),
        );
    }
}
