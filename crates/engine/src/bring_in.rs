//! "Bring in": another of a person's conversations put into the current one as a marked system
//! block, so the model knows what was said there.
//!
//! The block is the other conversation's last exchanges condensed ([`condense`]): the person's
//! own messages and the bot's answers only (never a third person's words, which they did not
//! agree to have copied), each shortened, the whole bounded. When that conversation has a
//! stored summary and nobody else wrote in it, the summary stands in for the messages it
//! covers, followed by the later exchanges condensed the same way (a summary of a conversation
//! others wrote in holds their words too, so it is not copied). The block is stored as the
//! person's (a system row with them as author), so forgetting them removes it like their
//! messages.

use mcpcord_memory::{ConversationId, GuildId, NewMessage, Role, StoredMessage, Summary, UserId};

use crate::{Engine, EngineError};

/// How the block starts; the conversation's label follows, quoted.
pub const BRING_IN_HEADER: &str = "[Brought in by the user from an earlier conversation:";
/// How the block ends.
pub const BRING_IN_FOOTER: &str = "[End of the earlier conversation.]";
/// How many of the other conversation's last messages are condensed.
const LAST_MESSAGES: usize = 8;
/// The longest one message may be in the block, in characters.
const MESSAGE_CHARS: usize = 300;
/// The longest a summary may be in the block, in characters.
const SUMMARY_CHARS: usize = 2_000;
/// How many stored messages are read to find them.
const READ: usize = 200;

impl Engine {
    /// Puts conversation `from` (condensed) into conversation `into` as a marked system block,
    /// for `person` (shown as `name`) in `guild` (`None`: a DM); both must be theirs from
    /// there. Returns the label of the conversation brought in.
    pub async fn bring_in(
        &self,
        from: ConversationId,
        into: ConversationId,
        (person, name): (UserId, &str),
        guild: Option<GuildId>,
    ) -> Result<String, EngineError> {
        if from == into {
            return Err(EngineError::Invalid {
                detail: "that is the conversation here already".into(),
            });
        }
        self.may_reopen(from, person, guild).await?;
        self.may_reopen(into, person, guild).await?;
        let label = self
            .store()
            .listed_conversation(from)
            .await?
            .label()
            .to_owned();
        let Some(block) = self.block_of(from, &label, person).await? else {
            return Err(EngineError::Invalid {
                detail: "there is nothing of yours or the bot's in that conversation to bring in"
                    .into(),
            });
        };
        let message = NewMessage::new(Role::System, block).with_author(person, name);
        // After any turn of that conversation running in this process: not inside its answer.
        let key = self.store().get_conversation(into).await?.key;
        let _order = self.conversation_lock(key.as_str()).lock_owned().await;
        self.store().commit_turn(into, vec![message]).await?;
        Ok(label)
    }

    /// The block for conversation `from` (shown as `label`) brought in by `person`: with its
    /// stored summary when nobody else wrote in it, else its last exchanges condensed; `None`
    /// when there is nothing of theirs or the bot's in it.
    async fn block_of(
        &self,
        from: ConversationId,
        label: &str,
        person: UserId,
    ) -> Result<Option<String>, EngineError> {
        let history = self.store().history(from, READ).await?;
        let summary = match self.store().latest_summary(from).await? {
            Some(summary) if !self.store().others_wrote(from, person).await? => Some(summary),
            _ => None,
        };
        Ok(match summary {
            Some(summary) => Some(summarised(label, &summary, &history, person)),
            None => condense(label, &history, person),
        })
    }
}

/// The block for conversation `label` from its `history`: `person`'s messages and the bot's
/// answers (the last [`LAST_MESSAGES`], each at most [`MESSAGE_CHARS`]), between
/// [`BRING_IN_HEADER`] and [`BRING_IN_FOOTER`]; `None` when there are none.
pub fn condense(label: &str, history: &[StoredMessage], person: UserId) -> Option<String> {
    let kept: Vec<String> = history.iter().filter_map(|m| line(m, person)).collect();
    if kept.is_empty() {
        return None;
    }
    let start = kept.len().saturating_sub(LAST_MESSAGES);
    Some(framed(label, &kept[start..]))
}

/// The block for conversation `label` with its stored `summary`: the summary (at most
/// [`SUMMARY_CHARS`]), then the lines [`condense`] keeps of the messages after it.
pub fn summarised(
    label: &str,
    summary: &Summary,
    history: &[StoredMessage],
    person: UserId,
) -> String {
    let text = summary
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut lines = vec![format!("Summary: {}", shortened(text, SUMMARY_CHARS))];
    let later: Vec<String> = history
        .iter()
        .filter(|m| m.id > summary.through)
        .filter_map(|m| line(m, person))
        .collect();
    lines.extend_from_slice(&later[later.len().saturating_sub(LAST_MESSAGES)..]);
    framed(label, &lines)
}

/// `lines` between [`BRING_IN_HEADER`] (with `label`, on one line) and [`BRING_IN_FOOTER`].
fn framed(label: &str, lines: &[String]) -> String {
    let label = shortened(label.split_whitespace().collect::<Vec<_>>().join(" "), 100);
    format!(
        "{BRING_IN_HEADER} \"{label}\"]\n{}\n{BRING_IN_FOOTER}",
        lines.join("\n")
    )
}

/// One message as a line of the block, if it is kept: `User: …` or `Assistant: …`.
fn line(message: &StoredMessage, person: UserId) -> Option<String> {
    let who = match message.role {
        Role::User if message.author.as_ref().is_some_and(|a| a.id == person) => "User",
        Role::Assistant if message.tool_calls.is_none() => "Assistant",
        _ => return None,
    };
    let text = message
        .content
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then(|| format!("{who}: {}", shortened(text, MESSAGE_CHARS)))
}

/// `text` cut to `max` characters, with `…` when cut.
fn shortened(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use mcpcord_memory::{Author, MessageId};

    const ALICE: UserId = UserId::new(7);
    const BOB: UserId = UserId::new(8);

    fn stored(role: Role, author: Option<UserId>, content: &str) -> StoredMessage {
        StoredMessage {
            id: MessageId(1),
            conversation_id: ConversationId(1),
            role,
            author: author.map(|id| Author {
                id,
                name: "x".into(),
            }),
            content: content.into(),
            attachments: None,
            tool_calls: None,
            tool_name: None,
            tool_call_id: None,
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            interrupted: false,
            replaced: false,
            created_at: UNIX_EPOCH,
            turn: "t".into(),
        }
    }

    #[test]
    fn the_persons_words_and_the_answers_are_condensed_between_marks() {
        let history = vec![
            stored(Role::System, None, "a system prompt"),
            stored(Role::User, Some(ALICE), "plan the\n lisbon   trip"),
            stored(Role::User, Some(BOB), "bob's own words"),
            stored(Role::Tool, None, "tool output"),
            stored(Role::Assistant, None, &"Alfama ".repeat(100)),
        ];
        let block = condense("Trip\nto Lisbon", &history, ALICE).unwrap();
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines[0], format!("{BRING_IN_HEADER} \"Trip to Lisbon\"]"));
        assert_eq!(lines[1], "User: plan the lisbon trip");
        assert!(lines[2].starts_with("Assistant: Alfama Alfama"));
        assert_eq!(
            lines[2].chars().count(),
            "Assistant: ".len() + MESSAGE_CHARS
        );
        assert!(lines[2].ends_with('…'));
        assert_eq!(lines[3], BRING_IN_FOOTER);
        assert_eq!(
            lines.len(),
            4,
            "no third person, tool or system text: {block}"
        );
    }

    #[test]
    fn a_summary_stands_in_for_what_it_covers_and_later_exchanges_follow() {
        let history: Vec<_> = (1..=6)
            .map(|n| StoredMessage {
                id: MessageId(n),
                ..stored(Role::User, Some(ALICE), &format!("message {n}"))
            })
            .collect();
        let summary = Summary {
            conversation: ConversationId(1),
            version: 2,
            through: MessageId(4),
            text: "Alice planned\n a trip to Lisbon.".into(),
            model: "m".into(),
            tokens: 10,
            vector: None,
            announced: false,
            created_at: UNIX_EPOCH,
        };
        let block = summarised("Trip", &summary, &history, ALICE);
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines[0], format!("{BRING_IN_HEADER} \"Trip\"]"));
        assert_eq!(
            lines[1..],
            [
                "Summary: Alice planned a trip to Lisbon.",
                "User: message 5",
                "User: message 6",
                BRING_IN_FOOTER,
            ]
        );
        let long = Summary {
            text: "w".repeat(SUMMARY_CHARS * 2),
            through: MessageId(6),
            ..summary
        };
        let block = summarised("Trip", &long, &history, ALICE);
        assert_eq!(
            block.lines().count(),
            3,
            "nothing after the summary: {block}"
        );
        assert_eq!(
            block.lines().nth(1).unwrap().chars().count(),
            "Summary: ".len() + SUMMARY_CHARS
        );
    }

    #[test]
    fn only_the_last_messages_and_nothing_when_there_are_none() {
        let history: Vec<_> = (0..20)
            .map(|n| stored(Role::User, Some(ALICE), &format!("message {n}")))
            .collect();
        let block = condense("x", &history, ALICE).unwrap();
        assert!(block.contains("User: message 19"));
        assert!(block.contains("User: message 12"));
        assert!(!block.contains("User: message 11"));
        assert_eq!(condense("x", &history, BOB), None);
        assert_eq!(condense("x", &[], ALICE), None);
    }
}
