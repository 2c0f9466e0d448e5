//! Token usage per UTC day, per person and per guild, on both databases: counts add up per
//! day, a new day starts from zero, and old days are pruned.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcpcord_memory::{DayUsage, GuildId, USAGE_KEEP_DAYS, UserId, UtcDay};

#[macro_use]
mod common;
use common::TestDb;

/// 2026-12-03T17:58:00Z.
fn afternoon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_320_680)
}

on_both!(usage_adds_up_per_day_person_and_guild);

async fn usage_adds_up_per_day_person_and_guild(db: TestDb) {
    let store = db.connect().await;
    let today = UtcDay::of(afternoon());
    let (alice, bob, guild) = (UserId::new(42), UserId::new(43), GuildId::new(7));
    store
        .add_usage(today, Some(alice), Some(guild), 120)
        .await
        .unwrap();
    store
        .add_usage(today, Some(bob), Some(guild), 30)
        .await
        .unwrap();
    store.add_usage(today, Some(alice), None, 5).await.unwrap(); // a DM
    store.add_usage(today, None, None, 99).await.unwrap(); // nobody: nothing counted
    store
        .add_usage(today, Some(alice), Some(guild), 0)
        .await
        .unwrap();

    assert_eq!(
        store
            .usage_on(today, Some(alice), Some(guild))
            .await
            .unwrap(),
        DayUsage {
            user: 125,
            guild: 150
        }
    );
    assert_eq!(
        store.usage_on(today, Some(bob), None).await.unwrap(),
        DayUsage { user: 30, guild: 0 }
    );
    assert_eq!(
        store.usage_on(today, None, None).await.unwrap(),
        DayUsage::default()
    );
    // A person id and a guild id that happen to be equal are still apart.
    store
        .add_usage(today, Some(UserId::new(7)), None, 1)
        .await
        .unwrap();
    assert_eq!(
        store
            .usage_on(today, Some(UserId::new(7)), Some(guild))
            .await
            .unwrap(),
        DayUsage {
            user: 1,
            guild: 150
        }
    );
    // The next UTC day starts from nothing.
    assert_eq!(
        store
            .usage_on(today.next(), Some(alice), Some(guild))
            .await
            .unwrap(),
        DayUsage::default()
    );
}

on_both!(old_days_are_pruned);

async fn old_days_are_pruned(db: TestDb) {
    let store = db.connect().await;
    let now = afternoon();
    let today = UtcDay::of(now);
    let alice = UserId::new(42);
    let first_kept = UtcDay(today.0 - (USAGE_KEEP_DAYS - 1));
    let too_old = UtcDay(first_kept.0 - 1);
    for day in [too_old, first_kept, today] {
        store.add_usage(day, Some(alice), None, 10).await.unwrap();
    }
    assert_eq!(store.prune_usage(now).await.unwrap(), 1);
    assert_eq!(
        store
            .usage_on(too_old, Some(alice), None)
            .await
            .unwrap()
            .user,
        0
    );
    assert_eq!(
        store
            .usage_on(first_kept, Some(alice), None)
            .await
            .unwrap()
            .user,
        10
    );
    assert_eq!(
        store.usage_on(today, Some(alice), None).await.unwrap().user,
        10
    );
    assert_eq!(store.prune_usage(now).await.unwrap(), 0);
}
