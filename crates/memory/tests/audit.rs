//! The audit log on both databases: entries come back as written, filters by user (actor or
//! subject), guild, kind and time, newest first, and pruning by age with the time passed in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcpcord_memory::{AuditEntry, AuditFilter, AuditKind, GuildId, UserId};
use serde_json::json;

#[macro_use]
mod common;
use common::TestDb;

const ALICE: UserId = UserId::new(11);
const BOB: UserId = UserId::new(22);
const GUILD: GuildId = GuildId::new(500);
const OTHER_GUILD: GuildId = GuildId::new(600);

fn day(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_secs(86_400 * n)
}

/// Five entries over five days: Alice's tool call (day 0), Bob refused (day 1), Alice disables
/// a tool (day 2, other guild), Bob's export about Alice (day 3), a reload (day 4).
fn entries() -> Vec<AuditEntry> {
    vec![
        AuditEntry::tool_call(
            Some(ALICE),
            Some(GUILD),
            "web",
            "fetch",
            &json!({"url": "x"}),
        )
        .with_detail("outcome", "ok")
        .at(day(0)),
        AuditEntry::refusal(Some(BOB), Some(GUILD), "rate_limited").at(day(1)),
        AuditEntry::admin(
            Some(ALICE),
            Some(OTHER_GUILD),
            "tool.disable",
            json!({"server": "web", "tool": "fetch", "channel": "9"}),
        )
        .at(day(2)),
        AuditEntry::data_rights(Some(BOB), Some(GUILD), ALICE, "export").at(day(3)),
        AuditEntry::reload(None, "applied", json!({"changed": ["models"]})).at(day(4)),
    ]
}

fn actions(records: &[mcpcord_memory::AuditRecord]) -> Vec<&str> {
    records.iter().map(|r| r.entry.action.as_str()).collect()
}

on_both!(
    entries_come_back_as_written_newest_first,
    filters_select_by_user_guild_kind_and_time,
    pruning_removes_only_entries_older_than_the_cut,
    the_sweeper_keeps_entries_for_the_audit_retention_only,
);

async fn entries_come_back_as_written_newest_first(db: TestDb) {
    let store = db.connect().await;
    let written = entries();
    store.append_audits(&written[..4]).await.unwrap();
    store.append_audit(&written[4]).await.unwrap();
    let all = store.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        actions(&all),
        [
            "applied",
            "export",
            "tool.disable",
            "rate_limited",
            "web/fetch"
        ]
    );
    let read: Vec<_> = all.iter().rev().map(|r| r.entry.clone()).collect();
    assert_eq!(read, written, "every field round-trips");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let oldest = store
        .audit(&AuditFilter {
            oldest_first: true,
            limit: Some(2),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(actions(&oldest), ["web/fetch", "rate_limited"]);
}

async fn filters_select_by_user_guild_kind_and_time(db: TestDb) {
    let store = db.connect().await;
    store.append_audits(&entries()).await.unwrap();
    let select = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.audit(&filter).await.unwrap() }
    };
    // Alice: her own actions, and Bob's export about her.
    let alice = select(AuditFilter {
        user: Some(ALICE),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(actions(&alice), ["export", "tool.disable", "web/fetch"]);
    let bob = select(AuditFilter {
        user: Some(BOB),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(actions(&bob), ["export", "rate_limited"]);
    let guild = select(AuditFilter {
        guild: Some(GUILD),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(actions(&guild), ["export", "rate_limited", "web/fetch"]);
    let refusals = select(AuditFilter {
        kind: Some(AuditKind::Refusal),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(actions(&refusals), ["rate_limited"]);
    let recent = select(AuditFilter {
        since: Some(day(2)),
        limit: Some(2),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(actions(&recent), ["applied", "export"]);
    let combined = select(AuditFilter {
        user: Some(ALICE),
        guild: Some(GUILD),
        kind: Some(AuditKind::ToolCall),
        since: Some(day(0)),
        limit: Some(10),
        oldest_first: false,
    })
    .await;
    assert_eq!(actions(&combined), ["web/fetch"]);
    assert_eq!(combined[0].entry.detail["outcome"], "ok");
}

async fn pruning_removes_only_entries_older_than_the_cut(db: TestDb) {
    let store = db.connect().await;
    store.append_audits(&entries()).await.unwrap();
    assert_eq!(
        store.prune_audit(day(0)).await.unwrap(),
        0,
        "nothing before day 0"
    );
    assert_eq!(store.prune_audit(day(2)).await.unwrap(), 2);
    let left = store.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(actions(&left), ["applied", "export", "tool.disable"]);
    assert_eq!(store.prune_audit(day(5)).await.unwrap(), 3);
    assert!(
        store
            .audit(&AuditFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_sweeper_keeps_entries_for_the_audit_retention_only(db: TestDb) {
    let store = db.connect().await;
    store.append_audits(&entries()).await.unwrap();
    // No audit retention: kept forever, however late it is.
    assert_eq!(store.audit_retention(), None);
    assert_eq!(store.sweep_expired_audit(day(10_000)).await.unwrap(), 0);
    // Two days, at day 4: what was recorded before day 2 goes.
    store.set_audit_retention(Some(Duration::from_secs(2 * 86_400)));
    assert_eq!(store.sweep_expired_audit(day(4)).await.unwrap(), 2);
    let left = store.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(actions(&left), ["applied", "export", "tool.disable"]);
    // The conversations' retention does not touch the audit log, nor the other way round.
    store.set_retention_outside_guilds(Some(Duration::from_secs(1)));
    store.sweep_expired(day(5)).await.unwrap();
    assert_eq!(store.audit(&AuditFilter::default()).await.unwrap().len(), 3);
}
