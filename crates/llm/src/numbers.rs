//! Numbers read from a model server (headers, JSON fields) without ever panicking: a value out
//! of range or of the wrong kind reads as absent (or is clamped), never as an error that loses
//! the whole answer, and never as a panic (`Duration::from_secs_f64(-1.0)` panics).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The longest wait a `Retry-After` may ask for; longer ones are clamped to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A `Retry-After` header value at `now`: delay-seconds (`120`, and the decimal `1.5` some
/// servers send) or an HTTP date; clamped to [`MAX_RETRY_AFTER`]. A date in the past is zero;
/// anything else (negative, NaN, infinite, garbage) is `None`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        let seconds: f64 = value.parse().ok()?;
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        let clamped = seconds.min(MAX_RETRY_AFTER.as_secs_f64());
        // Finite and within 0..=3600: cannot panic.
        return Some(Duration::from_secs_f64(clamped));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// A non-negative whole number from JSON, whatever the server wrote: an integer (negative:
/// `None`), a float with no fraction (`131072.0`), or a string of digits (`"131072"`);
/// saturating at `u64::MAX`. Anything else is `None`.
pub fn whole(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => whole_number(n),
        Value::String(s) => whole_text(s),
        _ => None,
    }
}

/// A JSON number as a whole number: an integer, or a float with no fraction (saturating).
fn whole_number(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        if n.as_i64().is_some() {
            return None; // negative
        }
        let f = n.as_f64()?;
        // `as` saturates: 1e300 reads as u64::MAX.
        (f.is_finite() && f >= 0.0 && f.fract() == 0.0).then_some(f as u64)
    })
}

/// Digits (around spaces) as a whole number, saturating at `u64::MAX`.
fn whole_text(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().unwrap_or(u64::MAX))
}

/// [`whole`], saturating at `u32::MAX`.
pub fn whole_u32(value: &Value) -> Option<u32> {
    whole(value).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Deserializes an optional `u64` leniently (see [`whole`]); never fails.
pub fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<Value>::deserialize(deserializer)?
        .as_ref()
        .and_then(whole))
}

/// Deserializes an optional `u32` leniently (see [`whole_u32`]); never fails.
pub fn lenient_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    Ok(Option::<Value>::deserialize(deserializer)?
        .as_ref()
        .and_then(whole_u32))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> Option<Duration> {
        retry_after(
            text,
            httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap(),
        )
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(at("120"), Some(Duration::from_secs(120)));
        assert_eq!(at(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(at("0"), Some(Duration::ZERO));
        assert_eq!(at("99999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(at("1e300"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            at("Wed, 21 Oct 2015 07:29:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(at("Wed, 21 Oct 2015 07:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(at("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
        for bad in [
            "-1", "NaN", "nan", "inf", "-inf", "infinity", "", "soon", "1s", "+5",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn whole_numbers_read_what_servers_write() {
        assert_eq!(whole(&json!(131072)), Some(131072));
        assert_eq!(whole(&json!(131072.0)), Some(131072));
        assert_eq!(whole(&json!("131072")), Some(131072));
        assert_eq!(whole(&json!(1e300)), Some(u64::MAX));
        assert_eq!(whole_u32(&json!(1u64 << 40)), Some(u32::MAX));
        for bad in [
            json!(-1),
            json!(1.5),
            json!("-1"),
            json!("x"),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(whole(&bad), None, "{bad}");
        }
    }

    #[derive(Debug, Deserialize)]
    struct Counts {
        #[serde(default, deserialize_with = "lenient_u32")]
        tokens: Option<u32>,
    }

    #[test]
    fn a_strange_count_does_not_lose_the_message() {
        for (text, expected) in [
            (r#"{"tokens": 7}"#, Some(7)),
            (r#"{"tokens": -7}"#, None),
            (r#"{"tokens": "7"}"#, Some(7)),
            (r#"{"tokens": {"a": 1}}"#, None),
            (r#"{"tokens": null}"#, None),
            (r#"{}"#, None),
        ] {
            let counts: Counts = serde_json::from_str(text).unwrap();
            assert_eq!(counts.tokens, expected, "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_retry_after_is_a_bounded_delay_or_none(
            text in prop_oneof![
                any::<String>(),
                any::<f64>().prop_map(|f| f.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[0-9]{0,400}(\\.[0-9]{0,40})?(e[+-]?[0-9]{1,4})?",
                "(Mon|Tue|Sun), [0-9]{1,2} (Jan|Feb|Dec) [0-9]{1,5} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
            ],
            now in 0u64..=u64::from(u32::MAX) * 4,
        ) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
            if let Some(delay) = retry_after(&text, now) {
                prop_assert!(delay <= MAX_RETRY_AFTER);
            }
        }

        #[test]
        fn any_json_number_or_string_is_a_count_or_none(
            value in prop_oneof![
                any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
                any::<i64>().prop_map(|n| json!(n)),
                any::<u64>().prop_map(|n| json!(n)),
                any::<String>().prop_map(Value::String),
                "[0-9]{0,40}".prop_map(Value::String),
            ]
        ) {
            let _ = whole(&value);
            let _ = whole_u32(&value);
            let text = format!(r#"{{"tokens": {value}}}"#);
            prop_assert!(serde_json::from_str::<Counts>(&text).is_ok());
        }
    }
}
