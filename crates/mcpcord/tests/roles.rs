//! `[permissions.roles]`: bot roles read from the configuration, each bad entry reported with
//! its path, and what the Discord adapter is given.

use mcpcord::config::{Config, Env};
use mcpcord_discord::middleware::{Access, Invoker};
use twilight_model::id::Id;

fn errors(text: &str) -> Vec<String> {
    Config::from_toml(text, &Env::new())
        .expect_err("the configuration should be rejected")
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

const ROLES: &str = r#"
[mcp.servers.fetch]
command = "uvx"
args = ["mcp-server-fetch"]

[permissions]
admin_users = ["1200000000000000010"]

[permissions.roles.default]
commands = ["chat", "help", "new"]
tools = []

[permissions.roles.helper]
discord_roles = ["1200000000000000060"]
users = [1200000000000000011]
commands = ["*", "status"]
tools = ["fetch.*"]
models = ["llama*"]
approve_for_others = true
"#;

#[test]
fn roles_are_read_and_reach_the_adapter() {
    let config = Config::from_toml(ROLES, &Env::new()).unwrap();
    let roles = &config.permissions.roles;
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].name, "helper");
    assert_eq!(roles[0].tools.as_deref(), Some(&["fetch.*".to_owned()][..]));
    assert!(roles[0].approve_for_others);
    assert_eq!(config.permissions.default_role.name, "default");

    let bot = mcpcord::commands::bot_config(&config).unwrap();
    let policy = bot.policy();
    let person = |user: u64, roles: &[u64]| Invoker {
        user: Id::new(user),
        roles: roles.iter().map(|&r| Id::new(r)).collect(),
        permissions: None,
        guild: Some(Id::new(1)),
        channel: Some(Id::new(2)),
    };
    let helper = policy.resolve(&person(5, &[1_200_000_000_000_000_060]));
    assert_eq!(helper.roles, ["helper"]);
    assert!(helper.may_run("status", Access::Admins));
    assert!(helper.grants.may_use_tool("fetch", "fetch"));
    assert!(helper.may_pick("llama3.2"));
    let by_user = policy.resolve(&person(1_200_000_000_000_000_011, &[]));
    assert_eq!(by_user.roles, ["helper"]);
    let someone = policy.resolve(&person(5, &[]));
    assert_eq!(someone.roles, ["default"]);
    assert!(someone.may_run("chat", Access::Everyone));
    assert!(!someone.may_run("search", Access::Everyone));
    assert!(!someone.grants.may_use_tool("fetch", "fetch"));
    let admin = policy.resolve(&person(1_200_000_000_000_000_010, &[]));
    assert!(admin.admin && admin.may_run("tools enable", Access::Admins));
}

#[test]
fn without_roles_nothing_changes() {
    let config = Config::from_toml("", &Env::new()).unwrap();
    assert!(config.permissions.roles.is_empty());
    let bot = mcpcord::commands::bot_config(&config).unwrap();
    let someone = bot.policy().resolve(&Invoker {
        user: Id::new(5),
        roles: Vec::new(),
        permissions: None,
        guild: Some(Id::new(1)),
        channel: Some(Id::new(2)),
    });
    assert_eq!(someone.roles, ["default"]);
    assert!(someone.may_run("search", Access::Everyone));
    assert!(!someone.may_run("status", Access::Admins));
    assert!(someone.grants.may_use_tool("any", "tool"));
    assert!(!someone.may_pick("llama3.2"), "only admins pick, as before");
}

#[test]
fn every_bad_role_entry_is_reported_with_its_path() {
    let found = errors(
        r#"
        [mcp.servers.fetch]
        command = "uvx"

        [permissions.roles.admin]
        commands = ["chat"]

        [permissions.roles.default]
        users = [5]

        [permissions.roles."bad name"]
        commands = ["chat"]

        [permissions.roles.helper]
        discord_roles = ["not-an-id"]
        commands = ["chat", "statsu", "tools list"]
        tools = ["fetch.*", "nosuch.tool", "fetch", "fetch."]
        models = [""]
        "#,
    );
    let has = |path: &str, words: &str| {
        assert!(
            found.iter().any(|e| e.contains(path) && e.contains(words)),
            "no error at {path} saying {words:?}: {found:#?}"
        );
    };
    has("permissions.roles.admin", "built in");
    has("permissions.roles.default", "held by everyone");
    has("permissions.roles.bad name", "role name");
    has(
        "permissions.roles.helper.discord_roles[0]",
        "not a Discord id",
    );
    has(
        "permissions.roles.helper.commands[1]",
        "no command `statsu`",
    );
    has(
        "permissions.roles.helper.tools[1]",
        "no MCP server `nosuch`",
    );
    has("permissions.roles.helper.tools[2]", "names no server");
    has("permissions.roles.helper.tools[3]", "names no tool");
    has("permissions.roles.helper.models[0]", "is empty");
    assert_eq!(found.len(), 9, "{found:#?}");
}

#[test]
fn the_examples_roles_are_valid_when_switched_on() {
    let example = mcpcord::config::EXAMPLE;
    let start = example
        .find("# [permissions.roles.default]")
        .expect("the example shows roles");
    let (before, rest) = example.split_at(start);
    // The roles' block ends at the first blank line; what follows stays as it is.
    let end = rest.find("\n\n").map_or(rest.len(), |blank| blank + 1);
    let (roles, after) = rest.split_at(end);
    let switched: Vec<&str> = roles
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
            _ => line,
        })
        .collect();
    let text = format!("{before}{}\n{after}", switched.join("\n"));
    let config = Config::from_toml(&text, &Env::new()).unwrap();
    assert_eq!(config.permissions.roles.len(), 1);
    assert_eq!(config.permissions.roles[0].name, "helper");
    assert_eq!(
        config.permissions.default_role.commands.as_deref(),
        Some(&["*".to_owned()][..])
    );
}
