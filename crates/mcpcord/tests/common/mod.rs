//! Helpers shared by the tests that run the real binary: the command that starts it (as a bot
//! against FakeDiscord and FakeOllama too), and its child processes, seen in /proc.

#![allow(dead_code)]

/// The variable that tells an instrumented (coverage) build where to write its profile.
const PROFILE_VARIABLE: &str = "LLVM_PROFILE_FILE";

/// The real `mcpcord` binary, with a cleared environment, as a user would start it in a clean
/// shell: a test adds the variables it means. One exception: under coverage (cargo-tarpaulin
/// sets `LLVM_PROFILE_FILE` for the test binary, a pattern with `%p` and `%m` in its profile
/// folder) the binary gets the same variable, so what runs only in the binary is counted too;
/// each process expands the pattern to a file of its own. A plain `cargo test` sets nothing.
pub fn mcpcord() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mcpcord"));
    command.env_clear();
    if let Some(profile) = std::env::var_os(PROFILE_VARIABLE) {
        command.env(PROFILE_VARIABLE, profile);
    }
    command
}

/// [`mcpcord`] for a test on tokio (`kill_on_drop`, `output().await`).
pub fn mcpcord_async() -> tokio::process::Command {
    tokio::process::Command::from(mcpcord())
}

/// `command` set up as a bot against the fakes: the Discord token, REST and gateway addresses
/// of `discord`, one shard, `ollama` with its default model `llama3.2`; standard input and
/// output closed, the log written to `log`, killed when dropped. The caller adds `run` and what
/// its test needs; a later `env` of the same name replaces one set here.
pub fn on_fakes<'a>(
    command: &'a mut tokio::process::Command,
    discord: &mcpcord_testkit::FakeDiscord,
    ollama: &mcpcord_testkit::FakeOllama,
    log: &std::path::Path,
) -> &'a mut tokio::process::Command {
    command
        .env("DISCORD_TOKEN", mcpcord_testkit::FakeDiscord::TOKEN)
        .env("MCPCORD__DISCORD__API_BASE_URL", discord.api_base())
        .env("MCPCORD__DISCORD__GATEWAY_URL", discord.gateway_url())
        .env("MCPCORD__DISCORD__SHARDS", "1")
        .env("OLLAMA_HOST", ollama.url())
        .env("DEFAULT_MODEL", "llama3.2")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).expect("the bot's log file"))
        .kill_on_drop(true)
}

/// The pids of the processes whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1.to_owned();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned));
        !matches!(state.as_deref(), Some("Z" | "X") | None)
    })
}
