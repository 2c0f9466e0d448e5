//! Configuration loading through the library API: defaults, overrides, validation, redaction.

use mcpcord::config::{BackendKind, Config, EXAMPLE, Env, LogFormat, McpTransport, REDACTED};

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn errors(text: &str, env: &Env) -> Vec<String> {
    Config::from_toml(text, env)
        .expect_err("the configuration should be rejected")
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn empty_file_gives_working_defaults() {
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert_eq!(config.backends.len(), 1);
    assert_eq!(config.backends[0].kind, BackendKind::Ollama);
    assert_eq!(config.backends[0].url.as_str(), "http://127.0.0.1:11434/");
    assert!(
        config
            .storage
            .url
            .to_string()
            .starts_with("sqlite://mcpcord.sqlite")
    );
    assert_eq!(config.logging.format, LogFormat::Pretty);
    assert!(config.discord.token.is_none());
}

#[test]
fn the_example_is_valid_and_says_what_it_sets() {
    let config = Config::from_toml(EXAMPLE, &Env::new()).unwrap();
    assert_eq!(config.models.default, "llama3.2");
    assert_eq!(config.mcp.servers.len(), 1);
    assert!(config.mcp.servers[0].disabled);
}

#[test]
fn conventional_variables_and_prefixed_overrides_apply_in_order() {
    let file = r#"
        [discord]
        token = "from-file-token"
        [models]
        default = "from-file"
        [[backends]]
        name = "gpu"
        url = "http://gpu:11434"
    "#;
    let config = Config::from_toml(
        file,
        &env(&[
            ("DISCORD_TOKEN", "from-env-token"),
            ("DEFAULT_MODEL", "qwen3"),
            ("DATABASE_URL", "postgres://bot:pw@127.0.0.1/bot"),
            ("MCPCORD__MODELS__DEFAULT", "wins-over-conventional"),
            ("MCPCORD__BACKENDS__0__MAX_CONCURRENCY", "4"),
            ("MCPCORD__BACKENDS__1__NAME", "second"),
            ("MCPCORD__BACKENDS__1__KIND", "openai"),
            ("MCPCORD__BACKENDS__1__URL", "http://127.0.0.1:8080/v1"),
            ("MCPCORD__DISCORD__APPLICATION_ID", "123456789012345678"),
            ("MCPCORD__DISCORD__INTENTS", "guilds,direct_messages"),
            ("MCPCORD__MCP__SERVERS__TIME__COMMAND", "uvx"),
            ("MCPCORD__PERMISSIONS__ALLOW_DMS", "false"),
        ]),
    )
    .unwrap();
    assert_eq!(
        config.discord.token.as_ref().unwrap().expose(),
        "from-env-token"
    );
    assert_eq!(config.models.default, "wins-over-conventional");
    assert!(config.storage.url.is_postgres());
    assert_eq!(config.backends[0].max_concurrency.get(), 4);
    assert_eq!(config.backends[1].kind, BackendKind::Openai);
    assert_eq!(
        config.discord.application_id.unwrap().get(),
        123456789012345678
    );
    assert_eq!(config.discord.intents.len(), 2);
    assert_eq!(config.mcp.servers[0].name, "time");
    assert!(!config.permissions.allow_dms);
}

#[test]
fn ollama_host_sets_the_default_backend() {
    for (host, url) in [
        ("0.0.0.0", "http://0.0.0.0:11434/"),
        ("gpu-box:11500", "http://gpu-box:11500/"),
        ("https://ollama.example", "https://ollama.example:11434/"),
    ] {
        let config = Config::from_toml("", &env(&[("OLLAMA_HOST", host)])).unwrap();
        assert_eq!(config.backends[0].url.as_str(), url, "OLLAMA_HOST={host}");
    }
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let text = r#"
        [discord]
        tokne = "abc"
        application_id = "not a number"
        [[backends]]
        name = "a"
        url = "http://127.0.0.1:1"
        [[backends]]
        name = "b"
        url = "htp://x"
        kind = "olama"
        [logging]
        format = "xml"
        [limits]
        turn_timeout = "ten minutes"
        max_tool_rounds = 0
    "#;
    let found = errors(text, &Env::new());
    for expected in [
        "discord.tokne: unknown key; did you mean `token`?",
        r#"discord.application_id: "not a number" is not a Discord id"#,
        r#"backends[1].url: "htp://x" is not an http(s) URL"#,
        r#"backends[1].kind: "olama" is not a backend kind; allowed: ollama, openai"#,
        r#"logging.format: "xml" is not a format; allowed: pretty, json, compact"#,
        r#"limits.turn_timeout: "ten minutes" is not a duration"#,
        "limits.max_tool_rounds: must be at least 1",
    ] {
        assert!(
            found.iter().any(|line| line.starts_with(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 7, "{found:#?}");
}

#[test]
fn problems_never_echo_a_secret() {
    let found = errors(
        "[discord]\ntoken = 12345678901234\n[[backends]]\nname = \"x\"\nurl = \"http://h\"\napi_key_env = \"NOT_SET_KEY\"\n",
        &Env::new(),
    );
    assert!(
        found.iter().all(|l| !l.contains("12345678901234")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|l| l.starts_with("discord.token: expected a string"))
    );
    assert!(found.iter().any(|l| l.contains("NOT_SET_KEY is not set")));
    let found = errors("[discord]\ntoken = \"Bot abc.def\"\n", &Env::new());
    assert!(found[0].contains("without the prefix") && !found[0].contains("abc.def"));
}

#[test]
fn mcp_servers_take_claude_desktop_shape_and_reject_ambiguity() {
    let config = Config::from_toml(
        r#"
        [mcp.servers.fs]
        command = "npx"
        args = ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
        env = { API_TOKEN = "child-secret" }
        [mcp.servers.remote]
        url = "http://127.0.0.1:9000/mcp"
        headers = { Authorization = "Bearer remote-secret" }
        "#,
        &Env::new(),
    )
    .unwrap();
    assert!(
        matches!(&config.mcp.servers[0].transport, McpTransport::Stdio { args, .. } if args.len() == 3)
    );
    assert!(matches!(
        &config.mcp.servers[1].transport,
        McpTransport::Http { .. }
    ));
    let shown = config.to_redacted_toml();
    assert!(
        !shown.contains("child-secret") && !shown.contains("remote-secret"),
        "{shown}"
    );
    assert!(shown.contains(REDACTED));

    let found = errors(
        "[mcp.servers.both]\ncommand = \"x\"\nurl = \"http://h\"\n[mcp.servers.neither]\nargs = []\n",
        &Env::new(),
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("mcp.servers.both: has both `command` and `url`"));
    assert!(found[1].starts_with("mcp.servers.neither: needs `command`"));
}

#[test]
fn mcp_json_files_are_read_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mcp.json"),
        r#"{"mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
            "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}"#,
    )
    .unwrap();
    let path = dir.path().join("mcpcord.toml");
    std::fs::write(&path, "[mcp]\nconfig_file = \"mcp.json\"\n").unwrap();
    let config = Config::load(&mcpcord::config::Source::File(path), &Env::new()).unwrap();
    let names: Vec<&str> = config.mcp.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["memory", "web"]);
}

#[test]
fn database_passwords_are_redacted_when_shown() {
    let config = Config::from_toml(
        "",
        &env(&[("DATABASE_URL", "postgres://bot:s3cretpw@db/bot")]),
    )
    .unwrap();
    assert!(!config.to_redacted_toml().contains("s3cretpw"));
    assert!(config.secrets().iter().any(|s| s.expose() == "s3cretpw"));
    assert_eq!(config.storage.url.expose().password(), Some("s3cretpw"));
}

#[test]
fn retention_is_per_guild_and_checked() {
    let config = Config::from_toml(
        "[storage]\nretention = { \"123456789012345678\" = \"30d\" }\n",
        &Env::new(),
    )
    .unwrap();
    let ttl = config.storage.retention.values().next().unwrap();
    assert_eq!(ttl.as_secs(), 30 * 24 * 3600);
    let found = errors(
        "[storage]\nretention = { \"general\" = \"soon\" }\n",
        &Env::new(),
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("storage.retention.general: keys are guild ids"));
    assert!(found[1].contains("is not a duration"));
}

#[test]
fn discord_ids_may_be_numbers_or_strings() {
    let config = Config::from_toml(
        r#"
        [discord]
        application_id = "123456789012345678"
        command_guild_id = 223456789012345678
        always_answer_channels = ["323456789012345678", 423456789012345678]
        [permissions]
        admin_users = [" 523456789012345678 "]
        admin_roles = [623456789012345678]
        allowed_guilds = ["723456789012345678"]
        blocked_users = ["18446744073709551615"]
        "#,
        &Env::new(),
    )
    .unwrap();
    let get = |id: Option<std::num::NonZeroU64>| id.unwrap().get();
    assert_eq!(get(config.discord.application_id), 123456789012345678);
    assert_eq!(get(config.discord.command_guild_id), 223456789012345678);
    let channels: Vec<u64> = config
        .discord
        .always_answer_channels
        .iter()
        .map(|id| id.get())
        .collect();
    assert_eq!(channels, [323456789012345678, 423456789012345678]);
    assert_eq!(config.permissions.admin_users[0].get(), 523456789012345678);
    assert_eq!(config.permissions.admin_roles[0].get(), 623456789012345678);
    assert_eq!(
        config.permissions.allowed_guilds[0].get(),
        723456789012345678
    );
    assert_eq!(config.permissions.blocked_users[0].get(), u64::MAX);

    // From the environment too, and as a list.
    let config = Config::from_toml(
        "",
        &env(&[
            ("MCPCORD__DISCORD__APPLICATION_ID", "\"123456789012345678\""),
            ("MCPCORD__PERMISSIONS__ADMIN_USERS", "1,2"),
        ]),
    )
    .unwrap();
    assert_eq!(get(config.discord.application_id), 123456789012345678);
    assert_eq!(config.permissions.admin_users.len(), 2);

    // Whatever is not an id is an error with its path, never a panic.
    let found = errors(
        r#"
        [discord]
        application_id = "0"
        command_guild_id = -5
        always_answer_channels = ["<#123>", "", 1.5]
        [permissions]
        admin_users = ["99999999999999999999", 0]
        "#,
        &Env::new(),
    );
    for expected in [
        "discord.application_id: 0 is not a Discord id",
        "discord.command_guild_id: -5 is not a Discord id",
        r##"discord.always_answer_channels[0]: "<#123>" is not a Discord id"##,
        r#"discord.always_answer_channels[1]: "" is not a Discord id"#,
        "discord.always_answer_channels[2]: ",
        r#"permissions.admin_users[0]: "99999999999999999999" is too large"#,
        "permissions.admin_users[1]: 0 is not a Discord id",
    ] {
        assert!(
            found.iter().any(|line| line.starts_with(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
}

#[test]
fn retention_default_is_a_duration_and_unset_by_default() {
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert_eq!(config.storage.retention_default, None);
    let config = Config::from_toml(
        "[storage]\nretention_default = \"90d\"\nretention = { \"123\" = \"30d\" }\n",
        &Env::new(),
    )
    .unwrap();
    assert_eq!(
        config.storage.retention_default,
        Some(std::time::Duration::from_secs(90 * 86_400))
    );
    assert!(
        config.to_redacted_toml().contains("retention_default = "),
        "{}",
        config.to_redacted_toml()
    );
    let found = errors(
        "[storage]\nretention_default = \"forever\"\nretention = { \"1\" = \"1000000y\" }\n",
        &Env::new(),
    );
    for expected in [
        r#"storage.retention.1: "1000000y" is too long"#,
        r#"storage.retention_default: "forever" is not a duration"#,
    ] {
        assert!(
            found.iter().any(|line| line.starts_with(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
}

#[test]
fn audit_retention_is_a_year_by_default_and_never_zero() {
    let day = std::time::Duration::from_secs(86_400);
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert_eq!(config.storage.audit_retention, 365 * day);
    let config = Config::from_toml("[storage]\naudit_retention = \"30d\"\n", &Env::new()).unwrap();
    assert_eq!(config.storage.audit_retention, 30 * day);
    assert!(
        config.to_redacted_toml().contains("audit_retention = "),
        "{}",
        config.to_redacted_toml()
    );
    for (written, expected) in [
        ("0s", "storage.audit_retention: is zero"),
        (
            "soon",
            r#"storage.audit_retention: "soon" is not a duration"#,
        ),
    ] {
        let found = errors(
            &format!("[storage]\naudit_retention = \"{written}\"\n"),
            &Env::new(),
        );
        assert!(
            found.iter().any(|line| line.starts_with(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
}

#[test]
fn the_example_stays_valid_with_its_optional_lines_switched_on() {
    let mut text = EXAMPLE.to_owned();
    for line in [
        "# application_id = ",
        "# retention = ",
        "# retention_default = ",
        "# audit_retention = ",
    ] {
        let at = text
            .find(line)
            .unwrap_or_else(|| panic!("the example has {line:?}"));
        text.replace_range(at..at + 2, "");
    }
    let config = Config::from_toml(&text, &Env::new()).unwrap();
    assert!(config.discord.application_id.is_some());
    assert_eq!(config.storage.retention.len(), 1);
    assert!(config.storage.retention_default.is_some());
    assert_eq!(
        config.storage.audit_retention,
        std::time::Duration::from_secs(365 * 86_400)
    );
}

#[test]
fn the_global_rate_limit_defaults_to_discords_and_may_be_raised() {
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert_eq!(config.discord.global_rate_limit.get(), 50);
    let config = Config::from_toml("[discord]\nglobal_rate_limit = 500\n", &Env::new()).unwrap();
    assert_eq!(config.discord.global_rate_limit.get(), 500);
    let problems = errors("[discord]\nglobal_rate_limit = 0\n", &Env::new());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("discord.global_rate_limit") && p.contains("at least 1")),
        "{problems:?}"
    );
}

#[test]
fn shard_ids_are_a_range_within_the_shards() {
    let config = Config::from_toml("[discord]\nshards = 8\nshard_ids = \"4-7\"\n", &Env::new())
        .expect("valid");
    let range = config.discord.shard_ids.expect("set");
    assert_eq!((range.first, range.last), (4, 7));
    assert!(config.to_redacted_toml().contains("shard_ids = \"4-7\""));
    let one = Config::from_toml(
        "[discord]\nshards = 2\n",
        &env(&[("MCPCORD__DISCORD__SHARD_IDS", "1")]),
    )
    .expect("valid");
    let range = one.discord.shard_ids.expect("set");
    assert_eq!((range.first, range.last), (1, 1));
    for (text, says) in [
        ("shard_ids = \"0-1\"\n", "needs discord.shards"),
        (
            "shards = 4\nshard_ids = \"2-4\"\n",
            "not within discord.shards = 4",
        ),
        ("shards = 4\nshard_ids = \"3-1\"\n", "starts after it ends"),
        ("shards = 4\nshard_ids = \"one\"\n", "not a shard range"),
    ] {
        let problems = errors(&format!("[discord]\n{text}"), &Env::new());
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("discord.shard_ids") && p.contains(says)),
            "{text}: {problems:?}"
        );
    }
}

#[test]
fn memory_settings_have_defaults_and_are_checked() {
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert!(config.memory.recall);
    assert!(
        !config.memory.facts,
        "facts are off until the operator switches them on"
    );
    assert_eq!(config.memory.recall_snippets.get(), 3);
    assert_eq!(
        config.memory.index_interval,
        std::time::Duration::from_secs(2)
    );
    let config = Config::from_toml(
        "[memory]\nrecall = false\nindex_batch = 16\nrecall_timeout = \"200ms\"\nfacts = true",
        &Env::new(),
    )
    .unwrap();
    assert!(!config.memory.recall);
    assert!(config.memory.facts);
    assert_eq!(config.memory.index_batch.get(), 16);
    assert_eq!(
        config.memory.recall_timeout,
        std::time::Duration::from_millis(200)
    );
    let problems = errors(
        "[memory]\nmin_similarity = 2.0\nrecall_snippets = 0\nrecal = true",
        &Env::new(),
    );
    let joined = problems.join("\n");
    assert!(joined.contains("memory.min_similarity"), "{joined}");
    assert!(joined.contains("memory.recall_snippets"), "{joined}");
    assert!(joined.contains("did you mean `recall`"), "{joined}");
}

#[test]
fn related_settings_have_defaults_and_are_checked() {
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert!(config.memory.related);
    assert!((config.memory.related_min_similarity - 0.8).abs() < 1e-6);
    let config = Config::from_toml(
        "[memory]\nrelated = false\nrelated_min_similarity = 0.9",
        &Env::new(),
    )
    .unwrap();
    assert!(!config.memory.related);
    assert!((config.memory.related_min_similarity - 0.9).abs() < 1e-6);
    let problems = errors("[memory]\nrelated_min_similarity = 1.5", &Env::new());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("memory.related_min_similarity") && p.contains("between -1 and 1")),
        "{problems:?}"
    );
}

#[test]
fn summary_settings_have_defaults_and_are_checked() {
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert!(config.memory.summaries);
    assert!(config.memory.categories.iter().any(|c| c == "other"));
    assert_eq!(config.memory.background_concurrency.get(), 1);
    assert_eq!(config.memory.background_tokens_per_guild_per_day, 200_000);
    let config = Config::from_toml(
        "[models]\nsummary = \"qwen3\"\n[memory]\nsummaries = false\ncategories = [\"work\", \" fun \"]\n\
         background_concurrency = 3\nbackground_tokens_per_guild_per_day = 0\nbackground_interval = \"5s\"",
        &Env::new(),
    )
    .unwrap();
    assert!(!config.memory.summaries);
    assert_eq!(config.models.summary.as_deref(), Some("qwen3"));
    assert_eq!(config.memory.categories, ["work", "fun"]);
    assert_eq!(config.memory.background_concurrency.get(), 3);
    assert_eq!(config.memory.background_tokens_per_guild_per_day, 0);
    assert_eq!(
        config.memory.background_interval,
        std::time::Duration::from_secs(5)
    );
    let problems = errors(
        "[memory]\ncategories = [\"work\", \"Work\", \"\"]\nbackground_concurrency = 0",
        &Env::new(),
    );
    let joined = problems.join("\n");
    assert!(joined.contains("memory.categories[1]"), "{joined}");
    assert!(joined.contains("listed twice"), "{joined}");
    assert!(joined.contains("memory.categories[2]"), "{joined}");
    assert!(joined.contains("memory.background_concurrency"), "{joined}");
    let empty = errors("[memory]\ncategories = []", &Env::new()).join("\n");
    assert!(empty.contains("at least one category"), "{empty}");
}

#[test]
fn content_policy_rules_are_checked_and_an_invalid_regex_names_its_rule() {
    let file = r#"
        [[policy.input]]
        name = "insults"
        action = "block"
        words = ["nitwit"]

        [[policy.output]]
        name = "keys"
        action = "redact"
        regexes = ['sk-[a-z0-9]{8,}', '(unclosed']

        [[policy.output]]
        action = "shout"
        words = ["x"]

        [policy.guilds."123456789012345678"]
        output = []

        [policy.guilds.general]
        input = []
    "#;
    let found = errors(file, &Env::new());
    assert!(
        found.iter().any(|e| e.starts_with("policy.output[0]")
            && e.contains("\"keys\"")
            && e.contains("(unclosed")
            && e.contains("does not compile")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("policy.output[1].name: is missing")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("policy.output[1].action")
                && e.contains("allowed: block, redact, warn")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("policy.guilds.general: keys are guild ids")),
        "{found:#?}"
    );
    // The bad regex is the default's: not reported again for a guild that takes its list.
    assert!(
        !found.iter().any(|e| e.starts_with("policy.guilds.123")),
        "{found:#?}"
    );
}

#[test]
fn content_policy_per_guild_replaces_the_lists_it_names() {
    let file = r#"
        [[policy.input]]
        name = "insults"
        action = "block"
        words = ["nitwit"]

        [[policy.output]]
        name = "keys"
        action = "redact"
        regexes = ['sk-[a-z0-9]{8,}']

        [[policy.guilds."123456789012345678".input]]
        name = "mild"
        action = "warn"
        words = ["nitwit"]
    "#;
    let config = Config::from_toml(file, &Env::new()).unwrap();
    let guild = std::num::NonZeroU64::new(123_456_789_012_345_678).unwrap();
    let own = &config.policy.guilds[&guild];
    assert_eq!(own.input[0].name, "mild");
    assert_eq!(
        own.output[0].name, "keys",
        "the output list is the default's"
    );

    let policy = mcpcord::app::engine_config(&config).policy;
    let here = policy.place(Some(mcpcord_engine::GuildId::new(guild.get())));
    let elsewhere = policy.place(Some(mcpcord_engine::GuildId::new(5)));
    assert!(elsewhere.input.screen("you nitwit").blocked().is_some());
    let screened = here.input.screen("you nitwit");
    assert!(screened.blocked().is_none());
    assert_eq!(screened.hits[0].rule, "mild");
    assert_eq!(
        here.output.screen("key sk-abcdef1234").text,
        "key [redacted]"
    );
    let shown = config.to_redacted_toml();
    assert!(shown.contains("[[policy.input]]"), "{shown}");
}

#[test]
fn a_moderation_model_reaches_the_engine_and_a_guild_may_switch_it_off() {
    let file = r#"
        [policy.moderation]
        model = "llama-guard3:1b"
        output = true
        timeout = "5s"
        fail_closed = true

        [policy.guilds."123456789012345678".moderation]
        enabled = false

        [policy.guilds."223456789012345678".moderation]
        model = "llama-guard3:8b"
        action = "warn"
    "#;
    let config = Config::from_toml(file, &Env::new()).unwrap();
    let policy = mcpcord::app::engine_config(&config).policy;
    let default = policy.place(None);
    let model = default.moderation.as_ref().expect("the default's model");
    assert_eq!(model.model, "llama-guard3:1b");
    assert_eq!(
        model.action,
        mcpcord_engine::PolicyAction::Block,
        "the default action"
    );
    assert!(model.output && model.fail_closed);
    assert_eq!(model.timeout, std::time::Duration::from_secs(5));
    let off = policy.place(Some(mcpcord_engine::GuildId::new(123_456_789_012_345_678)));
    assert!(off.moderation.is_none());
    let own = policy.place(Some(mcpcord_engine::GuildId::new(223_456_789_012_345_678)));
    let own = own.moderation.as_ref().unwrap();
    assert_eq!(own.model, "llama-guard3:8b");
    assert_eq!(own.action, mcpcord_engine::PolicyAction::Warn);
    assert!(
        !own.output && !own.fail_closed,
        "a guild's own table replaces the default's"
    );
    assert_eq!(
        own.timeout,
        std::time::Duration::from_secs(10),
        "the default timeout"
    );
    let shown = config.to_redacted_toml();
    assert!(
        shown.contains("llama-guard3:1b") && shown.contains("timeout = \"5s\""),
        "{shown}"
    );
}

#[test]
fn a_moderation_model_cannot_redact_and_must_be_named() {
    let file = r#"
        [policy.moderation]
        action = "redact"
        timeout = "soon"
    "#;
    let found = errors(file, &Env::new());
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("policy.moderation.action")
                && e.contains("redact does not apply to a moderation model")
                && e.contains("use block or warn")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("policy.moderation.model: is missing")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("policy.moderation.timeout")),
        "{found:#?}"
    );
}
