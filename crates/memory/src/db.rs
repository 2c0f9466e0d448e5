//! The one place where Rust values become column values and back: Discord ids (`u64`) as `i64`,
//! times as unix milliseconds, durations as milliseconds, JSON as text.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::MemoryError;

/// A Discord id as stored. Snowflakes fit in 63 bits; any `u64` round-trips bit for bit.
pub(crate) fn id(id: u64) -> i64 {
    i64::from_ne_bytes(id.to_ne_bytes())
}

/// A stored Discord id, back as Discord's `u64`.
pub(crate) fn discord_id(stored: i64) -> u64 {
    u64::from_ne_bytes(stored.to_ne_bytes())
}

/// An optional Discord id as stored.
pub(crate) fn opt_id(value: Option<u64>) -> Option<i64> {
    value.map(id)
}

/// An optional stored Discord id, back as `u64`.
pub(crate) fn opt_discord_id(stored: Option<i64>) -> Option<u64> {
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

    #[test]
    fn discord_ids_round_trip() {
        for value in [0, 1, 175_928_847_299_117_063, u64::MAX >> 1, u64::MAX] {
            assert_eq!(discord_id(id(value)), value);
        }
        assert_eq!(id(175_928_847_299_117_063), 175_928_847_299_117_063);
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
