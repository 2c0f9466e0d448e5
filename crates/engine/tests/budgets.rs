//! Token budgets through whole turns on FakeOllama: tokens counted from the backend's reported
//! usage, a spent budget refusing the next turn with its reset time, the next UTC day answered
//! again (the engine's clock moved, no waiting), a guild's budget shared by two people, a
//! reload lifting a limit, and `max_tokens` reaching the backend's request. On SQLite and
//! PostgreSQL: the counts and the refusals' audit entries live in the database.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::db::Db;
use common::{Harness, config, harness_on, run, say, tool_model};
use mcpcord_engine::{
    Allowance, AuditFilter, AuditKind, BudgetConfig, BudgetLimits, BudgetScope, Engine,
    EngineConfig, EngineError, GuildId, Speaker, TurnEvent, TurnRequest, UserId, UtcDay,
};
use mcpcord_testkit::fake_ollama::Script;

on_both_databases!(
    a_spent_personal_budget_refuses_the_next_turn_until_the_next_utc_day,
    a_guild_budget_is_shared_by_everyone_in_it_and_a_reload_lifts_it,
    max_tokens_reaches_the_backend_with_a_guilds_own_value_beating_the_default,
);

/// A harness on `db` with `config`.
async fn harness(db: &mut Db, config: EngineConfig) -> Harness {
    let (store, dir) = (db.store().await, db.folder());
    harness_on(store, dir, vec![tool_model()], None, config).await
}

/// 2026-12-03T17:58:00Z.
fn afternoon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_320_680)
}

/// 2026-12-04T00:00:00Z.
fn midnight() -> SystemTime {
    UtcDay::of(afternoon()).next().start()
}

/// Sets the engine's clock to `start`; the returned handle moves it.
fn clock(engine: &Engine, start: SystemTime) -> Arc<Mutex<SystemTime>> {
    let now = Arc::new(Mutex::new(start));
    let shared = now.clone();
    engine.set_clock(move || *shared.lock().unwrap());
    now
}

fn budgets(default: BudgetLimits) -> EngineConfig {
    EngineConfig {
        budgets: BudgetConfig {
            default,
            guilds: HashMap::new(),
        },
        ..config("llama3.2")
    }
}

/// `request` from bob (user 43) instead of alice.
fn from_bob(mut request: TurnRequest) -> TurnRequest {
    request.author = Speaker {
        id: Some(UserId::new(43)),
        name: "bob".into(),
    };
    request.scope.user_id = Some(UserId::new(43));
    request
}

/// Waits until the store has `want` (person, guild) tokens for `day`: a turn writes its usage
/// just after the front end got its answer.
async fn stored(
    engine: &Engine,
    day: UtcDay,
    user: Option<UserId>,
    guild: Option<GuildId>,
    want: (u64, u64),
) {
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    loop {
        let usage = engine.store().usage_on(day, user, guild).await.unwrap();
        if (usage.user, usage.guild) == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store has {usage:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs a turn that must fail; returns its error and what it said before.
async fn refused(engine: &Engine, request: TurnRequest) -> (EngineError, Vec<String>) {
    let mut turn = engine.start_turn(request);
    let mut seen = Vec::new();
    tokio::time::timeout(common::TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::Failed(error) => return (error, seen),
                TurnEvent::Done(summary) => panic!("answered: {summary:?}; events {seen:?}"),
                other => seen.push(common::describe(&other)),
            }
        }
        panic!("the turn ended without Done or Failed: {seen:?}")
    })
    .await
    .expect("the turn ended in time")
}

async fn a_spent_personal_budget_refuses_the_next_turn_until_the_next_utc_day(mut db: Db) {
    let limits = BudgetLimits {
        tokens_per_user_per_day: Some(100),
        ..BudgetLimits::default()
    };
    let h = harness(&mut db, budgets(limits)).await;
    let now = clock(&h.engine, afternoon());
    let (alice, guild) = (Some(UserId::new(42)), Some(GuildId::new(1)));

    // 30 prompt + 40 answer tokens, as the server reports them.
    h.fake.push_script(Script::reply("first").usage(30, 40));
    run(&h.engine, say("t:1", "hello")).await;
    let day = UtcDay::of(afternoon());
    stored(&h.engine, day, alice, guild, (70, 70)).await;
    let left = h
        .engine
        .budget_left(alice, guild, afternoon())
        .await
        .unwrap();
    assert_eq!(
        left.user,
        Some(Allowance {
            used: 70,
            limit: Some(100)
        })
    );
    assert_eq!(left.user.unwrap().left(), Some(30));
    // The guild has no limit, but its use is counted.
    assert_eq!(
        left.guild,
        Some(Allowance {
            used: 70,
            limit: None
        })
    );
    assert_eq!(left.resets_at, midnight());

    // Under budget when it starts, a turn runs to its end even if it goes over.
    h.fake.push_script(Script::reply("second").usage(20, 20));
    run(&h.engine, say("t:1", "more")).await;
    stored(&h.engine, day, alice, guild, (110, 110)).await;

    let requests = h.fake.chat_requests().len();
    let history = h.history("t:1").await.len();
    let (error, said) = refused(&h.engine, say("t:1", "and more")).await;
    match &error {
        EngineError::OverBudget {
            scope: BudgetScope::Person,
            used: 110,
            limit: 100,
            resets_at,
        } => assert_eq!(*resets_at, midnight()),
        other => panic!("not a budget refusal: {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("you have used your 100 tokens for today")
            && text.contains("2026-12-04T00:00:00Z"),
        "{text}"
    );
    assert!(said.is_empty(), "refused before it started: {said:?}");
    // The refusal is in the audit log.
    h.engine.audit_flush().await;
    let refusals = h
        .engine
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Refusal),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].entry.action, "budget");
    assert_eq!(refusals[0].entry.actor_id, alice);
    assert_eq!(refusals[0].entry.detail["limit"], 100);
    assert_eq!(h.fake.chat_requests().len(), requests, "no model request");
    assert_eq!(h.history("t:1").await.len(), history, "nothing stored");

    // A minute past midnight UTC: a new day, a new budget.
    *now.lock().unwrap() = midnight() + Duration::from_secs(60);
    h.fake.push_script(Script::reply("third").usage(10, 10));
    let (_, summary) = run(&h.engine, say("t:1", "good morning")).await;
    assert_eq!(summary.text, "third");
    let tomorrow = UtcDay::of(midnight());
    stored(&h.engine, tomorrow, alice, None, (20, 0)).await;
    let today = h
        .engine
        .budget_left(alice, guild, midnight())
        .await
        .unwrap();
    assert_eq!(today.user.unwrap().used, 20);
    // Yesterday's count is kept as it was.
    stored(&h.engine, day, alice, guild, (110, 110)).await;
}

async fn a_guild_budget_is_shared_by_everyone_in_it_and_a_reload_lifts_it(mut db: Db) {
    let limits = BudgetLimits {
        tokens_per_guild_per_day: Some(100),
        ..BudgetLimits::default()
    };
    let h = harness(&mut db, budgets(limits)).await;
    clock(&h.engine, afternoon());

    h.fake.push_script(Script::reply("for alice").usage(30, 30));
    run(&h.engine, say("t:alice", "hello")).await;
    h.fake.push_script(Script::reply("for bob").usage(25, 25));
    run(&h.engine, from_bob(say("t:bob", "hello"))).await;
    let (day, bob_id, guild) = (
        UtcDay::of(afternoon()),
        Some(UserId::new(43)),
        Some(GuildId::new(1)),
    );
    stored(&h.engine, day, bob_id, guild, (50, 110)).await;

    for request in [say("t:alice", "again"), from_bob(say("t:bob", "again"))] {
        let (error, _) = refused(&h.engine, request).await;
        assert!(
            matches!(
                error,
                EngineError::OverBudget {
                    scope: BudgetScope::Guild,
                    used: 110,
                    limit: 100,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("this server has used its 100 tokens"),
            "{error}"
        );
    }
    // Each person's own count is theirs alone.
    let bob = h
        .engine
        .budget_left(bob_id, guild, afternoon())
        .await
        .unwrap();
    assert_eq!(bob.user.unwrap().used, 50);
    assert_eq!(bob.guild.unwrap().used, 110);
    assert_eq!(bob.guild.unwrap().left(), Some(0));

    // This guild gets a larger budget of its own: taken at once.
    let mut more = budgets(limits);
    more.budgets.guilds.insert(
        GuildId::new(1),
        BudgetLimits {
            tokens_per_guild_per_day: Some(1000),
            ..limits
        },
    );
    h.engine.reconfigure(more);
    h.fake
        .push_script(Script::reply("again for alice").usage(5, 5));
    let (_, summary) = run(&h.engine, say("t:alice", "again")).await;
    assert_eq!(summary.text, "again for alice");
}

async fn max_tokens_reaches_the_backend_with_a_guilds_own_value_beating_the_default(mut db: Db) {
    let mut config = budgets(BudgetLimits {
        max_tokens: Some(64),
        ..BudgetLimits::default()
    });
    let h = harness(&mut db, config.clone()).await;

    let mut in_dm = say("t:dm", "hello");
    in_dm.scope.guild_id = None;
    run(&h.engine, in_dm).await;
    let sent = h.fake.last_chat_request().unwrap();
    assert_eq!(sent["options"]["num_predict"], 64, "{sent:#}");

    config.budgets.guilds.insert(
        GuildId::new(1),
        BudgetLimits {
            max_tokens: Some(32),
            ..BudgetLimits::default()
        },
    );
    h.engine.reconfigure(config);
    run(&h.engine, say("t:guild", "hello")).await;
    let sent = h.fake.last_chat_request().unwrap();
    assert_eq!(sent["options"]["num_predict"], 32, "{sent:#}");

    // Without a limit nothing is sent.
    h.engine.reconfigure(common::config("llama3.2"));
    run(&h.engine, say("t:guild", "again")).await;
    let sent = h.fake.last_chat_request().unwrap();
    assert!(sent["options"].get("num_predict").is_none(), "{sent:#}");
}
