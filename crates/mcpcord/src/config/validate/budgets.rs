//! `[budgets]`: daily token limits per person and guild, and `max_tokens`, with per-guild
//! overrides keyed by guild id (as `storage.retention` is).

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use crate::config::budgets::{BudgetLimitsConfig, BudgetsConfig};
use crate::config::raw::{RawBudgetLimit, RawBudgets, RawGuildBudget};
use crate::config::report::Report;

/// What a limit may be, for error messages.
const HOW: &str = "write a number of tokens (e.g. 50000), or \"unlimited\"";

/// Validates `[budgets]`.
pub(super) fn budgets(raw: RawBudgets, report: &mut Report) -> BudgetsConfig {
    let written = RawGuildBudget {
        tokens_per_user_per_day: raw.tokens_per_user_per_day,
        tokens_per_guild_per_day: raw.tokens_per_guild_per_day,
        max_tokens: raw.max_tokens,
    };
    let default = limits(written, &BudgetLimitsConfig::default(), "budgets", report);
    let guilds = raw
        .guilds
        .into_iter()
        .filter_map(|(guild, own)| {
            let at = format!("budgets.guilds.{guild}");
            let id = guild.parse::<u64>().ok().and_then(NonZeroU64::new);
            if id.is_none() {
                report.error(
                    &at,
                    "keys are guild ids, e.g. [budgets.guilds.\"123456789012345678\"]",
                );
            }
            let limits = limits(own, &default, &at, report);
            Some((id?, limits))
        })
        .collect::<BTreeMap<_, _>>();
    BudgetsConfig { default, guilds }
}

/// One set of limits at `at`; a key not written takes `inherited`'s value.
fn limits(
    raw: RawGuildBudget,
    inherited: &BudgetLimitsConfig,
    at: &str,
    report: &mut Report,
) -> BudgetLimitsConfig {
    let mut check =
        |value: Option<RawBudgetLimit>, key: &str, old: Option<u64>, max: u64| match value {
            None => old,
            Some(value) => limit(&value, max)
                .map_err(|problem| report.error(format!("{at}.{key}"), problem))
                .unwrap_or(old),
        };
    let per_user = check(
        raw.tokens_per_user_per_day,
        "tokens_per_user_per_day",
        inherited.tokens_per_user_per_day,
        u64::MAX,
    );
    let per_guild = check(
        raw.tokens_per_guild_per_day,
        "tokens_per_guild_per_day",
        inherited.tokens_per_guild_per_day,
        u64::MAX,
    );
    let max_tokens = check(
        raw.max_tokens,
        "max_tokens",
        inherited.max_tokens.map(u64::from),
        u64::from(u32::MAX),
    );
    BudgetLimitsConfig {
        tokens_per_user_per_day: per_user,
        tokens_per_guild_per_day: per_guild,
        max_tokens: max_tokens.and_then(|n| u32::try_from(n).ok()),
    }
}

/// A limit as written: `Ok(None)` for "unlimited", the tokens otherwise (at least 1, at most
/// `max`); the problem in words when neither.
fn limit(value: &RawBudgetLimit, max: u64) -> Result<Option<u64>, String> {
    match value {
        RawBudgetLimit::Tokens(n) if *n < 1 => Err(format!(
            "{n} is not a limit: {HOW} (0 would refuse everything; to stop the bot somewhere, \
             use permissions.allowed_guilds)"
        )),
        RawBudgetLimit::Tokens(n) => u64::try_from(*n)
            .ok()
            .filter(|n| *n <= max)
            .map(Some)
            .ok_or_else(|| format!("{n} is too large (at most {max})")),
        RawBudgetLimit::Word(word) if word.trim().eq_ignore_ascii_case("unlimited") => Ok(None),
        RawBudgetLimit::Word(word) => Err(format!("{word:?} is not a limit: {HOW}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> (BudgetsConfig, Vec<String>) {
        #[derive(serde::Deserialize)]
        struct File {
            budgets: RawBudgets,
        }
        let file: File = toml::from_str(toml_text).expect("TOML");
        let mut report = Report::default();
        let config = budgets(file.budgets, &mut report);
        let lines = report.errors().iter().map(ToString::to_string).collect();
        (config, lines)
    }

    #[test]
    fn guilds_override_the_defaults_key_by_key_and_may_be_unlimited() {
        let (config, problems) = parse(
            r#"
            [budgets]
            tokens_per_user_per_day = 50000
            tokens_per_guild_per_day = 400000
            max_tokens = 2048
            [budgets.guilds."123456789012345678"]
            tokens_per_guild_per_day = "unlimited"
            max_tokens = 512
            "#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            config.default,
            BudgetLimitsConfig {
                tokens_per_user_per_day: Some(50_000),
                tokens_per_guild_per_day: Some(400_000),
                max_tokens: Some(2048),
            }
        );
        let guild = NonZeroU64::new(123_456_789_012_345_678).unwrap();
        assert_eq!(
            config.guilds[&guild],
            BudgetLimitsConfig {
                tokens_per_user_per_day: Some(50_000),
                tokens_per_guild_per_day: None,
                max_tokens: Some(512),
            }
        );
    }

    #[test]
    fn nothing_written_is_unlimited() {
        let (config, problems) = parse("[budgets]\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config, BudgetsConfig::default());
    }

    #[test]
    fn every_bad_value_is_reported_with_its_path() {
        let (_, problems) = parse(
            r#"
            [budgets]
            tokens_per_user_per_day = 0
            max_tokens = 5000000000
            [budgets.guilds.general]
            tokens_per_guild_per_day = "lots"
            "#,
        );
        let joined = problems.join("\n");
        for expected in [
            "budgets.tokens_per_user_per_day",
            "budgets.max_tokens",
            "budgets.guilds.general: keys are guild ids",
            "budgets.guilds.general.tokens_per_guild_per_day: \"lots\" is not a limit",
        ] {
            assert!(
                joined.contains(expected),
                "{expected} missing in:\n{joined}"
            );
        }
        assert_eq!(problems.len(), 4, "{joined}");
    }
}
