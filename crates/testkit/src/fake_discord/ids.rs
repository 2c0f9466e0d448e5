//! Snowflake ids, ISO 8601 timestamps and random tokens, made the way Discord makes them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds from the Unix epoch to Discord's epoch (2015-01-01T00:00:00Z).
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Hands out increasing snowflakes whose timestamp part is the current time.
#[derive(Debug, Default)]
pub(crate) struct SnowflakeGen {
    last: AtomicU64,
    worker: u64,
}

impl SnowflakeGen {
    /// A generator whose ids carry this worker id (0–31), so two generators never collide.
    pub(crate) fn with_worker(worker: u64) -> Self {
        Self {
            last: AtomicU64::new(0),
            worker: worker & 31,
        }
    }

    /// The next snowflake: `(ms since Discord epoch) << 22 | worker << 17 | counter`,
    /// strictly greater than every earlier one of this generator.
    pub(crate) fn next(&self) -> u64 {
        let now_ms = unix_ms().saturating_sub(DISCORD_EPOCH_MS);
        let candidate = (now_ms << 22) | (self.worker << 17);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            // Keep the worker bits when the counter has to move past the last id.
            let next = if candidate > prev {
                candidate
            } else {
                let bumped = prev + 1;
                if (bumped >> 17) & 31 == self.worker {
                    bumped
                } else {
                    ((prev >> 22) + 1) << 22 | (self.worker << 17)
                }
            };
            match self
                .last
                .compare_exchange(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => prev = actual,
            }
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The current time as Discord writes it: `2024-05-01T12:34:56.789000+00:00`.
pub fn now_iso() -> String {
    iso_from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

/// The creation time of a snowflake, as Discord writes timestamps.
pub fn snowflake_iso(id: u64) -> String {
    iso_from_unix(Duration::from_millis((id >> 22) + DISCORD_EPOCH_MS))
}

/// Formats a duration since the Unix epoch as an RFC 3339 UTC timestamp with microseconds.
pub fn iso_from_unix(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let micros = since_epoch.subsec_micros();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A random URL-safe token like the ones Discord gives interactions.
pub fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(
            iso_from_unix(Duration::from_millis(DISCORD_EPOCH_MS)),
            "2015-01-01T00:00:00.000000+00:00"
        );
        assert_eq!(
            iso_from_unix(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000+00:00"
        );
    }

    #[test]
    fn snowflakes_increase() {
        let g = SnowflakeGen::default();
        let a = g.next();
        let b = g.next();
        assert!(b > a);
        assert!(snowflake_iso(a).starts_with("20"));
    }
}
