//! Unit tests of `roles`.

use super::*;

const ALICE: u64 = 10;
const BOB: u64 = 11;
const HELPERS: u64 = 60;
const GUESTS: u64 = 61;

fn invoker(user: u64, roles: &[u64]) -> Invoker {
    Invoker {
        user: Id::new(user),
        roles: roles.iter().map(|&r| Id::new(r)).collect(),
        permissions: None,
        guild: Some(Id::new(1)),
        channel: Some(Id::new(2)),
    }
}

fn policy() -> Policy {
    let helper = BotRole {
        discord_roles: HashSet::from([Id::new(HELPERS)]),
        commands: Allowed::Only(vec!["*".into(), "status".into()]),
        tools: Allowed::Only(vec!["test.*".into()]),
        models: Some(Allowed::Only(vec!["llama*".into()])),
        approve_for_others: true,
        ..BotRole::ordinary("helper")
    };
    let guest = BotRole {
        discord_roles: HashSet::from([Id::new(GUESTS)]),
        users: HashSet::from([Id::new(ALICE)]),
        commands: Allowed::Only(vec!["chat".into(), "help".into()]),
        tools: Allowed::Only(Vec::new()),
        ..BotRole::ordinary("guest")
    };
    Policy {
        admins: AdminPolicy {
            users: HashSet::from([Id::new(BOB)]),
            ..AdminPolicy::default()
        },
        roles: Roles {
            roles: vec![helper, guest],
            default: BotRole::ordinary(DEFAULT),
        },
        allowed_models: Some(HashSet::from(["qwen3".to_owned()])),
    }
}

#[test]
fn admins_may_do_everything() {
    let resolved = policy().resolve(&invoker(BOB, &[GUESTS]));
    assert!(resolved.admin);
    assert_eq!(resolved.roles, ["admin"]);
    assert!(resolved.may_run("status", Access::Admins));
    assert!(resolved.may_run("model set", Access::Wide));
    assert!(resolved.may_pick("anything"));
    assert!(resolved.may_approve_for_others());
}

#[test]
fn people_without_a_role_keep_what_everyone_could_always_do() {
    let resolved = policy().resolve(&invoker(99, &[7]));
    assert_eq!(resolved.roles, ["default"]);
    assert!(resolved.may_run("chat", Access::Everyone));
    assert!(resolved.may_run("tools list", Access::Everyone));
    assert!(!resolved.may_run("tools enable", Access::Admins));
    assert!(!resolved.may_run("status", Access::Admins));
    assert!(resolved.grants.may_use_tool("any", "tool"));
    assert!(resolved.may_pick("qwen3") && !resolved.may_pick("llama3.2"));
    assert!(!resolved.may_approve_for_others());
    // With no roles configured at all, the same.
    assert_eq!(
        Policy::default().resolve(&invoker(99, &[])).grants.commands,
        Allowed::All
    );
}

#[test]
fn roles_grant_what_they_name_and_combine() {
    let helper = policy().resolve(&invoker(99, &[HELPERS]));
    assert_eq!(helper.roles, ["helper"]);
    assert!(helper.may_run("status", Access::Admins), "named");
    assert!(
        !helper.may_run("tools enable", Access::Admins),
        "`*` does not reach it"
    );
    assert!(!helper.may_run("model set", Access::Wide));
    assert!(helper.grants.may_use_tool("test", "echo"));
    assert!(!helper.grants.may_use_tool("fetch", "get"));
    assert!(helper.may_pick("llama3.2") && !helper.may_pick("qwen3"));
    assert!(helper.may_approve_for_others());

    // Alice holds guest by user id; a guest role member by role.
    let alice = policy().resolve(&invoker(ALICE, &[]));
    assert_eq!(alice.roles, ["guest"]);
    assert!(alice.may_run("chat", Access::Everyone));
    assert!(!alice.may_run("search", Access::Everyone));
    assert!(!alice.grants.may_use_tool("test", "echo"));
    assert!(alice.may_pick("qwen3"), "no models named: models.allowed");

    let both = policy().resolve(&invoker(99, &[GUESTS, HELPERS]));
    assert_eq!(both.roles, ["helper", "guest"]);
    assert!(both.may_run("search", Access::Everyone));
    assert!(both.may_pick("qwen3") && both.may_pick("llama3.2"));
}

#[test]
fn a_refusal_names_the_roles_that_would_do() {
    let policy = policy();
    assert_eq!(
        policy.roles_allowing("status", Access::Admins),
        ["admin", "helper"]
    );
    assert_eq!(
        policy.roles_allowing("search", Access::Everyone),
        ["admin", "helper", "default"]
    );
    assert_eq!(policy.roles_allowing("model set", Access::Wide), ["admin"]);
}
