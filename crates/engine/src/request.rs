//! What a front end asks of the engine.

use mcpcord_memory::{ConversationKey, MessageId, Scope, UserId};

use crate::grants::Grants;
use crate::template::Place;

/// One turn to run.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    /// Which conversation: an opaque key the front end chooses (`discord:thread:123`, `cli:default`).
    pub key: ConversationKey,
    /// Where it happens, for preferences and retention.
    pub scope: Scope,
    /// Who asked.
    pub author: Speaker,
    /// Names for the system prompt's placeholders.
    pub place: Place,
    /// What to do.
    pub action: TurnAction,
    /// A model chosen for this turn, beating every preference.
    pub model: Option<String>,
    /// What the person may use: the model is offered only the tools they may use, and a call
    /// to another is refused.
    pub grants: Grants,
}

/// The person who speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    /// Their id (Discord user id), if they have one.
    pub id: Option<UserId>,
    /// Their display name, shown to the model.
    pub name: String,
}

/// What the turn does.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnAction {
    /// A new message.
    Message(UserMessage),
    /// An answer again. The old answer stays in the database, marked replaced in the same
    /// transaction that stores the new one (a regenerate that fails loses nothing).
    Regenerate {
        /// The answer to write again: it must still be the conversation's latest answer
        /// ([`EngineError::NotLatest`](crate::EngineError::NotLatest) otherwise); `None` for
        /// whichever answer is the latest.
        answer: Option<MessageId>,
    },
    /// Extend an answer.
    Continue {
        /// The answer to extend: it must still be the latest; `None` for the latest.
        answer: Option<MessageId>,
    },
}

impl TurnAction {
    /// Regenerate the latest answer.
    pub const REGENERATE_LATEST: Self = Self::Regenerate { answer: None };
    /// Continue the latest answer.
    pub const CONTINUE_LATEST: Self = Self::Continue { answer: None };
}

/// A person's message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserMessage {
    /// The text, as written.
    pub text: String,
    /// Images, base64-encoded.
    pub images: Vec<String>,
    /// Text attachments read in: (file name, content).
    pub documents: Vec<(String, String)>,
    /// Other attachments, named so the model knows they exist: (file name, why not read).
    pub skipped: Vec<(String, String)>,
    /// Raw mention tokens and the names they stand for (`<@42>` → `@alice`).
    pub mentions: Vec<(String, String)>,
}

impl UserMessage {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The text the model sees: mentions resolved, documents appended, skipped files named.
    pub fn model_text(&self) -> String {
        let mut text = crate::template::resolve_mentions(&self.text, &self.mentions);
        for (name, content) in &self.documents {
            text.push_str(&format!("\n\n[attached file {name}]\n{content}"));
        }
        for (name, why) in &self.skipped {
            text.push_str(&format!("\n\n[attached file {name}: not read, {why}]"));
        }
        text
    }
}
