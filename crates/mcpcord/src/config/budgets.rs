//! `[budgets]` as validated: tokens per person and per guild per UTC day, and the longest
//! answer, with guilds that have limits of their own (already merged with the defaults).

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use serde::{Serialize, Serializer};

/// The limits in one place; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BudgetLimitsConfig {
    /// Tokens (prompt + answer) one person may spend per UTC day.
    pub tokens_per_user_per_day: Option<u64>,
    /// Tokens everyone in a guild together may spend per UTC day.
    pub tokens_per_guild_per_day: Option<u64>,
    /// Longest answer of one model request, in tokens.
    pub max_tokens: Option<u32>,
}

/// `[budgets]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BudgetsConfig {
    /// The limits outside any guild and in guilds without their own.
    #[serde(flatten)]
    pub default: BudgetLimitsConfig,
    /// Guilds with limits of their own: each key not written there is the default's.
    #[serde(serialize_with = "guild_map")]
    pub guilds: BTreeMap<NonZeroU64, BudgetLimitsConfig>,
}

fn guild_map<S: Serializer>(
    map: &BTreeMap<NonZeroU64, BudgetLimitsConfig>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut out = serializer.serialize_map(Some(map.len()))?;
    for (guild, limits) in map {
        out.serialize_entry(&guild.to_string(), limits)?;
    }
    out.end()
}
