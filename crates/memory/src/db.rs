//! The one place where Rust values become column values and back: front-end ids (`UserId`,
//! `GuildId`, `ChannelId`, `PostId`: Discord's `u64` snowflakes) as `i64`,
//! times as unix milliseconds, durations as milliseconds, JSON as text.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::MemoryError;
use crate::ids::FrontEndId;

/// A front end's id as stored. Snowflakes fit in 63 bits; any `u64` round-trips bit for bit.
pub(crate) fn id(id: impl FrontEndId) -> i64 {
    i64::from_ne_bytes(id.raw().to_ne_bytes())
}

/// A stored id, back as the front end's typed id (the type says which kind it is).
pub(crate) fn discord_id<T: FrontEndId>(stored: i64) -> T {
    T::from_raw(u64::from_ne_bytes(stored.to_ne_bytes()))
}

/// An optional front end's id as stored.
pub(crate) fn opt_id(value: Option<impl FrontEndId>) -> Option<i64> {
    value.map(id)
}

/// An optional stored id, back as the front end's typed id.
pub(crate) fn opt_discord_id<T: FrontEndId>(stored: Option<i64>) -> Option<T> {
    stored.map(discord_id)
}

/// A time as unix milliseconds (negative before 1970, saturating far away).
pub(crate) fn millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Unix milliseconds as a time.
pub(crate) fn time(millis: i64) -> SystemTime {
    let offset = Duration::from_millis(millis.unsigned_abs());
    if millis >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

/// The time now, as stored.
pub(crate) fn now() -> i64 {
    millis(SystemTime::now())
}

/// A duration in milliseconds (saturating).
pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Stored milliseconds as a duration (negative values, which the schema forbids, read as zero).
pub(crate) fn duration(millis: i64) -> Duration {
    Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// A count or token number as stored (saturating).
pub(crate) fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored count, back as `u64`; `column` names it in the error.
pub(crate) fn stored_count(value: i64, column: &str) -> Result<u64, MemoryError> {
    u64::try_from(value).map_err(|_| MemoryError::Corrupt {
        detail: format!("{column} is negative ({value})"),
    })
}

/// JSON as stored text.
pub(crate) fn json(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

/// Stored text back as JSON; `column` names it in the error.
pub(crate) fn stored_json(
    text: Option<String>,
    column: &str,
) -> Result<Option<serde_json::Value>, MemoryError> {
    text.map(|text| {
        serde_json::from_str(&text).map_err(|error| MemoryError::Corrupt {
            detail: format!("{column} is not JSON: {error}"),
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChannelId, GuildId, PostId, UserId};

    #[test]
    fn discord_ids_round_trip() {
        for value in [0, 1, 175_928_847_299_117_063, u64::MAX >> 1, u64::MAX] {
            assert_eq!(
                discord_id::<UserId>(id(UserId::new(value))),
                UserId::new(value)
            );
            assert_eq!(
                discord_id::<PostId>(id(PostId::new(value))),
                PostId::new(value)
            );
        }
        assert_eq!(
            id(GuildId::new(175_928_847_299_117_063)),
            175_928_847_299_117_063
        );
        assert_eq!(
            opt_discord_id::<ChannelId>(opt_id(Some(ChannelId::new(7)))),
            Some(ChannelId::new(7))
        );
        assert_eq!(opt_id(None::<ChannelId>), None);
    }

    #[test]
    fn times_round_trip_to_the_millisecond() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(time(millis(t)), t);
        let before = UNIX_EPOCH - Duration::from_millis(5);
        assert_eq!(millis(before), -5);
        assert_eq!(time(-5), before);
    }
}
