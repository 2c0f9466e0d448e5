//! How token budgets look in Discord: a refused turn says whose budget is spent and when it
//! resets, and `/status` what is left. The reset time is a Discord timestamp (`<t:…:R>`), shown
//! in each person's own time zone as "in 5 hours". Pure functions: no I/O, no clock.

use std::time::{SystemTime, UNIX_EPOCH};

use mcpcord_engine::{Allowance, BudgetScope, BudgetStatus, EngineError};

/// `time` as a Discord relative timestamp (`<t:1796342400:R>`, "in 6 hours").
pub fn relative_time(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    format!("<t:{seconds}:R>")
}

/// What a person is told when their turn was refused for a spent budget; `None` for any other
/// error.
pub fn refusal(error: &EngineError) -> Option<String> {
    let EngineError::OverBudget {
        scope,
        limit,
        resets_at,
        ..
    } = error
    else {
        return None;
    };
    let whose = match scope {
        BudgetScope::Person => "You have used your",
        BudgetScope::Guild => "This server has used its",
    };
    Some(format!(
        "{whose} {limit} tokens for today; the budget resets {} (midnight UTC). `/status` shows what is left.",
        relative_time(*resets_at)
    ))
}

/// One budget's line: `used of limit — left`, or the use alone when unlimited.
fn allowance_line(label: &str, allowance: Allowance) -> String {
    match (allowance.limit, allowance.left()) {
        (Some(limit), Some(left)) => {
            format!(
                "**{label}:** {left} left of {limit} ({} used)",
                allowance.used
            )
        }
        _ => format!("**{label}:** no limit ({} used)", allowance.used),
    }
}

/// The lines `/status` shows everyone about their budgets today.
pub fn status_lines(status: &BudgetStatus) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(user) = status.user {
        lines.push(allowance_line("Your tokens today", user));
    }
    if let Some(guild) = status.guild {
        lines.push(allowance_line("This server's tokens today", guild));
    }
    lines.push(format!(
        "**Budgets reset:** {} (midnight UTC)",
        relative_time(status.resets_at)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn midnight() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_342_400)
    }

    #[test]
    fn a_refusal_names_whose_budget_and_when_it_resets_as_a_discord_timestamp() {
        let error = EngineError::OverBudget {
            scope: BudgetScope::Guild,
            used: 120,
            limit: 100,
            resets_at: midnight(),
        };
        assert_eq!(
            refusal(&error).unwrap(),
            "This server has used its 100 tokens for today; the budget resets \
             <t:1796342400:R> (midnight UTC). `/status` shows what is left."
        );
        assert_eq!(refusal(&EngineError::ShuttingDown), None);
    }

    #[test]
    fn status_shows_what_is_left_or_that_there_is_no_limit() {
        let status = BudgetStatus {
            user: Some(Allowance {
                used: 70,
                limit: Some(100),
            }),
            guild: Some(Allowance {
                used: 500,
                limit: None,
            }),
            resets_at: midnight(),
        };
        assert_eq!(
            status_lines(&status),
            [
                "**Your tokens today:** 30 left of 100 (70 used)",
                "**This server's tokens today:** no limit (500 used)",
                "**Budgets reset:** <t:1796342400:R> (midnight UTC)",
            ]
        );
    }
}
