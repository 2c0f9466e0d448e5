//! The one gate every Discord entry point passes before any handler runs: messages, slash and
//! context-menu commands, autocomplete, buttons, select menus and modal submits.
//!
//! Owns two questions, asked in this order, of the person and the place alone (no handler has
//! run, nothing is parsed yet): does the bot serve this person here ([`Audience`]: allowed
//! servers, blocked users, DMs), and is this person within their rate ([`governor`] quotas per
//! user, one per kind of door so that typing in an autocomplete field does not use up the
//! commands a person may run). A refusal says why in words for the person ([`Refusal::says`]);
//! the caller decides how to show it (silence or a ⏳ reaction for messages, an ephemeral
//! message for interactions, no choices for autocomplete).

use std::num::NonZeroU32;
use std::time::Duration;

use arc_swap::ArcSwap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::middleware::UserRateLimit;
use crate::triggers::Audience;

/// Autocomplete requests per user per minute (Discord sends one per keystroke).
pub const AUTOCOMPLETE_PER_MINUTE: NonZeroU32 = NonZeroU32::new(120).expect("non-zero");
/// Autocomplete requests a user may send at once.
pub const AUTOCOMPLETE_BURST: NonZeroU32 = NonZeroU32::new(30).expect("non-zero");

/// How a person reached the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    /// A message that would be answered.
    Message,
    /// A slash or context-menu command.
    Command,
    /// Autocomplete of a command option.
    Autocomplete,
    /// A button or select menu.
    Press,
    /// A modal submit.
    Form,
}

impl Door {
    /// The door's name in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Command => "command",
            Self::Autocomplete => "autocomplete",
            Self::Press => "press",
            Self::Form => "form",
        }
    }
}

/// Why the gate stays shut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The person is on the blocked list.
    Blocked,
    /// A DM, and the bot does not answer DMs.
    NoDms,
    /// A server the bot is not allowed to serve.
    ServerNotServed,
    /// The person is over their rate.
    TooFast {
        /// When they may try again.
        retry_after: Duration,
    },
}

impl Refusal {
    /// What the person is told.
    pub fn says(&self) -> String {
        match self {
            Self::Blocked => "🚫 You can't use this bot.".to_owned(),
            Self::NoDms => {
                "🚫 This bot doesn't answer in direct messages; talk to it in a server.".to_owned()
            }
            Self::ServerNotServed => "🚫 This bot isn't enabled in this server.".to_owned(),
            Self::TooFast { retry_after } => format!(
                "⏳ You're going a bit fast — try again in {} s.",
                retry_after.as_secs().max(1)
            ),
        }
    }

    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Blocked => "blocked",
            Self::NoDms => "no_dms",
            Self::ServerNotServed => "server_not_served",
            Self::TooFast { .. } => "too_fast",
        }
    }
}

/// Who is let in, and how often; see the [module docs](self).
#[derive(Debug)]
pub struct Gate {
    /// Swapped by [`Gate::reconfigure`] (a configuration reload).
    audience: ArcSwap<Audience>,
    /// The message quota, with the rate it was made for (a reload replaces it when that
    /// changes).
    messages: ArcSwap<(NonZeroU32, DefaultKeyedRateLimiter<u64>)>,
    actions: DefaultKeyedRateLimiter<u64>,
    autocomplete: DefaultKeyedRateLimiter<u64>,
}

impl Gate {
    /// A gate for `audience`: `messages_per_minute` answered messages per user, and
    /// `actions` for commands, presses and forms together.
    pub fn new(
        audience: Audience,
        messages_per_minute: NonZeroU32,
        actions: UserRateLimit,
    ) -> Self {
        Self {
            audience: ArcSwap::from_pointee(audience),
            messages: ArcSwap::from_pointee(message_limiter(messages_per_minute)),
            actions: RateLimiter::keyed(actions.quota()),
            autocomplete: RateLimiter::keyed(
                Quota::per_minute(AUTOCOMPLETE_PER_MINUTE).allow_burst(AUTOCOMPLETE_BURST),
            ),
        }
    }

    /// Applies a reloaded configuration: the audience at once; a new message rate starts
    /// every person's quota afresh (an unchanged one keeps their counts).
    pub fn reconfigure(&self, audience: Audience, messages_per_minute: NonZeroU32) {
        self.audience.store(std::sync::Arc::new(audience));
        if self.messages.load().0 != messages_per_minute {
            self.messages
                .store(std::sync::Arc::new(message_limiter(messages_per_minute)));
        }
    }

    /// Whether `user` may come in through `door` in `guild` (`None`: a DM). A refusal for
    /// who or where uses none of the person's rate.
    pub fn check(&self, door: Door, user: u64, guild: Option<u64>) -> Result<(), Refusal> {
        self.serves(user, guild)?;
        let messages = self.messages.load();
        let limiter = match door {
            Door::Message => &messages.1,
            Door::Autocomplete => &self.autocomplete,
            Door::Command | Door::Press | Door::Form => &self.actions,
        };
        limiter
            .check_key(&user)
            .map_err(|not_until| Refusal::TooFast {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }

    /// The audience rules alone.
    pub fn serves(&self, user: u64, guild: Option<u64>) -> Result<(), Refusal> {
        let audience = self.audience.load();
        if audience.blocked_users.contains(&user) {
            return Err(Refusal::Blocked);
        }
        match guild {
            None if !audience.allow_dms => Err(Refusal::NoDms),
            Some(guild)
                if !audience.allowed_guilds.is_empty()
                    && !audience.allowed_guilds.contains(&guild) =>
            {
                Err(Refusal::ServerNotServed)
            }
            _ => Ok(()),
        }
    }

    /// Forgets users whose quotas are full again; call now and then to bound memory.
    pub fn retain_recent(&self) {
        self.messages.load().1.retain_recent();
        self.actions.retain_recent();
        self.autocomplete.retain_recent();
    }
}

fn message_limiter(per_minute: NonZeroU32) -> (NonZeroU32, DefaultKeyedRateLimiter<u64>) {
    (
        per_minute,
        RateLimiter::keyed(Quota::per_minute(per_minute)),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn gate(audience: Audience) -> Gate {
        Gate::new(
            audience,
            NonZeroU32::new(2).unwrap(),
            UserRateLimit {
                per_minute: NonZeroU32::new(3).unwrap(),
                burst: NonZeroU32::new(3).unwrap(),
            },
        )
    }

    #[test]
    fn the_audience_rules_hold_at_every_door() {
        let audience = Audience {
            allowed_guilds: HashSet::from([1]),
            allow_dms: false,
            blocked_users: HashSet::from([66]),
        };
        let gate = gate(audience);
        for door in [
            Door::Message,
            Door::Command,
            Door::Autocomplete,
            Door::Press,
            Door::Form,
        ] {
            assert_eq!(gate.check(door, 5, Some(1)), Ok(()), "{door:?}");
            assert_eq!(gate.check(door, 66, Some(1)), Err(Refusal::Blocked));
            assert_eq!(gate.check(door, 5, Some(2)), Err(Refusal::ServerNotServed));
            assert_eq!(gate.check(door, 5, None), Err(Refusal::NoDms));
        }
    }

    #[test]
    fn an_empty_allow_list_serves_every_server() {
        let gate = gate(Audience {
            allow_dms: true,
            ..Audience::default()
        });
        assert_eq!(gate.serves(5, Some(123)), Ok(()));
        assert_eq!(gate.serves(5, None), Ok(()));
    }

    #[test]
    fn each_door_has_its_own_rate_and_refusals_cost_nothing() {
        let gate = gate(Audience {
            allowed_guilds: HashSet::from([1]),
            allow_dms: true,
            ..Audience::default()
        });
        // Refused for the place: no rate used.
        for _ in 0..10 {
            assert_eq!(
                gate.check(Door::Press, 7, Some(2)),
                Err(Refusal::ServerNotServed)
            );
        }
        // Commands, presses and forms share one quota of 3.
        assert!(gate.check(Door::Command, 7, Some(1)).is_ok());
        assert!(gate.check(Door::Press, 7, Some(1)).is_ok());
        assert!(gate.check(Door::Form, 7, Some(1)).is_ok());
        let refused = gate.check(Door::Press, 7, Some(1)).unwrap_err();
        assert!(matches!(refused, Refusal::TooFast { .. }), "{refused:?}");
        assert!(refused.says().contains("try again in"));
        // Messages and autocomplete are counted apart.
        assert!(gate.check(Door::Message, 7, Some(1)).is_ok());
        assert!(gate.check(Door::Autocomplete, 7, Some(1)).is_ok());
        // Another person is not affected.
        assert!(gate.check(Door::Press, 8, Some(1)).is_ok());
    }

    #[test]
    fn a_reload_changes_who_is_served_and_the_message_rate() {
        let gate = gate(Audience {
            allow_dms: true,
            ..Audience::default()
        });
        assert_eq!(gate.serves(5, Some(9)), Ok(()));
        assert!(gate.check(Door::Message, 5, Some(9)).is_ok());
        assert!(gate.check(Door::Message, 5, Some(9)).is_ok());
        assert!(gate.check(Door::Message, 5, Some(9)).is_err(), "2 a minute");
        gate.reconfigure(
            Audience {
                allowed_guilds: HashSet::from([1]),
                allow_dms: false,
                blocked_users: HashSet::new(),
            },
            NonZeroU32::new(5).unwrap(),
        );
        assert_eq!(gate.serves(5, Some(9)), Err(Refusal::ServerNotServed));
        assert_eq!(gate.serves(5, None), Err(Refusal::NoDms));
        for _ in 0..5 {
            assert!(
                gate.check(Door::Message, 5, Some(1)).is_ok(),
                "5 a minute now"
            );
        }
        assert!(gate.check(Door::Message, 5, Some(1)).is_err());
    }
}
