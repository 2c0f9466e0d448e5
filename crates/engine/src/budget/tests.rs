use std::time::{Duration, UNIX_EPOCH};

use super::*;

#[test]
fn a_guild_with_limits_of_its_own_uses_them_and_others_the_default() {
    let default = BudgetLimits {
        tokens_per_user_per_day: Some(100),
        tokens_per_guild_per_day: None,
        max_tokens: Some(50),
    };
    let own = BudgetLimits {
        tokens_per_user_per_day: None,
        tokens_per_guild_per_day: Some(1000),
        max_tokens: None,
    };
    let config = BudgetConfig {
        default,
        guilds: HashMap::from([(GuildId::new(7), own)]),
    };
    assert_eq!(config.limits(None), &default);
    assert_eq!(config.limits(Some(GuildId::new(8))), &default);
    assert_eq!(config.limits(Some(GuildId::new(7))), &own);
}

#[test]
fn an_allowance_says_what_is_left_and_the_first_exhausted_budget_is_the_persons() {
    let spent = Allowance {
        used: 120,
        limit: Some(100),
    };
    let open = Allowance {
        used: 5,
        limit: None,
    };
    assert_eq!(spent.left(), Some(0));
    assert!(spent.exhausted());
    assert_eq!(open.left(), None);
    assert!(!open.exhausted());
    let status = BudgetStatus {
        user: Some(spent),
        guild: Some(spent),
        resets_at: UNIX_EPOCH,
    };
    assert_eq!(status.exhausted(), Some((BudgetScope::Person, spent)));
    let guild_only = BudgetStatus {
        user: Some(open),
        ..status
    };
    assert_eq!(guild_only.exhausted(), Some((BudgetScope::Guild, spent)));
    assert_eq!(
        BudgetStatus {
            user: None,
            guild: Some(open),
            resets_at: UNIX_EPOCH
        }
        .exhausted(),
        None
    );
}

#[test]
fn budgets_reset_at_the_next_midnight_utc() {
    let evening = UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 3600 * 23);
    assert_eq!(
        next_reset(evening),
        UNIX_EPOCH + Duration::from_secs(86_400 * 4)
    );
    let midnight = UNIX_EPOCH + Duration::from_secs(86_400 * 4);
    assert_eq!(
        next_reset(midnight),
        UNIX_EPOCH + Duration::from_secs(86_400 * 5)
    );
}

#[test]
fn recorded_tokens_grow_kept_counts_and_a_new_day_forgets_them() {
    let book = UsageBook::default();
    let (day, alice, guild) = (UtcDay(10), UserId::new(1), GuildId::new(2));
    assert_eq!(book.cached(day, Subject::User(alice)), None);
    book.merge(
        day,
        &[(Subject::User(alice), 40), (Subject::Guild(guild), 90)],
    );
    book.record(day, Some(alice), Some(guild), 10);
    assert_eq!(book.cached(day, Subject::User(alice)), Some((50, false)));
    assert_eq!(book.cached(day, Subject::Guild(guild)), Some((100, false)));
    // A read that comes back lower than memory (this process's answer not yet written) keeps
    // memory's count.
    book.merge(day, &[(Subject::User(alice), 45)]);
    assert_eq!(book.cached(day, Subject::User(alice)), Some((50, false)));
    // The next day starts empty; yesterday's late read is dropped.
    assert_eq!(book.cached(day.next(), Subject::User(alice)), None);
    book.merge(day, &[(Subject::User(alice), 45)]);
    book.record(day, Some(alice), None, 5);
    assert_eq!(book.cached(day.next(), Subject::User(alice)), None);
}
