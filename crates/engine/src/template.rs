//! The system prompt template: `{date}`, `{time}`, `{user}`, `{server}`, `{channel}`.

use std::time::SystemTime;

/// What the placeholders of a system prompt are filled with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// The user's display name.
    pub user: String,
    /// The server (guild) name, if any.
    pub server: Option<String>,
    /// The channel name, if any.
    pub channel: Option<String>,
}

/// Fills the placeholders of `template` for `place` at `now` (UTC).
pub fn render(template: &str, place: &Place, now: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let (date, time) = stamp
        .trim_end_matches('Z')
        .split_once('T')
        .map(|(d, t)| (d.to_string(), format!("{t} UTC")))
        .unwrap_or_default();
    template
        .replace("{date}", &date)
        .replace("{time}", &time)
        .replace("{user}", &place.user)
        .replace(
            "{server}",
            place.server.as_deref().unwrap_or("a direct message"),
        )
        .replace(
            "{channel}",
            place.channel.as_deref().unwrap_or("direct messages"),
        )
}

/// Replaces raw mention tokens (as the front end gives them) with readable names.
pub fn resolve_mentions(text: &str, mentions: &[(String, String)]) -> String {
    mentions
        .iter()
        .fold(text.to_string(), |acc, (token, name)| {
            acc.replace(token.as_str(), name)
        })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn fills_every_placeholder() {
        let place = Place {
            user: "alice".into(),
            server: Some("Rustaceans".into()),
            channel: Some("help".into()),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_795_611_680);
        let text = render(
            "{user} in {server} #{channel} on {date} at {time}",
            &place,
            now,
        );
        assert_eq!(
            text,
            "alice in Rustaceans #help on 2026-11-25 at 13:01:20 UTC"
        );
        let dm = render("{server}/{channel}", &Place::default(), now);
        assert_eq!(dm, "a direct message/direct messages");
    }

    #[test]
    fn mentions_become_names() {
        let mentions = vec![
            ("<@42>".to_string(), "@alice".to_string()),
            ("<#7>".to_string(), "#general".to_string()),
        ];
        assert_eq!(
            resolve_mentions("hi <@42>, see <#7>", &mentions),
            "hi @alice, see #general"
        );
    }
}
