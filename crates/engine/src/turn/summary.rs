//! The summary in a turn's context. When the history does not fit, the conversation's newest
//! stored summary stands in for its oldest messages: [system + summary block][the newest
//! messages that fit]. The turn only reads the stored summary (and only then); asking for one
//! that covers more is a marker written beside the turn for the background pass
//! (`summariser.rs`), never awaited.

use mcpcord_llm::Message;
use mcpcord_memory::{ConversationId, StoredMessage, Summary};

use super::TurnState;
use crate::context::{self, Context};
use crate::digest;

/// The summary block takes at most this fraction (1/n) of the context budget.
const SUMMARY_SHARE: usize = 4;

impl TurnState {
    /// The context when `converted` (the history as the model reads it, one for one with
    /// `history`) does not fit in `budget`: with the summary if there is one, and a summary
    /// covering more asked for when messages are still left out.
    pub(super) async fn summarised_context(
        &self,
        conversation: ConversationId,
        model: &str,
        system: String,
        (history, mut converted): (&[StoredMessage], Vec<Message>),
        budget: usize,
    ) -> Vec<Message> {
        let summary = self.stored_summary(conversation).await;
        let (system, start) = match &summary {
            Some(summary) => (
                format!(
                    "{system}\n\n{}",
                    digest::block(&clip_tokens(&summary.text, budget / SUMMARY_SHARE))
                ),
                history
                    .iter()
                    .position(|m| m.id > summary.through)
                    .unwrap_or(history.len().saturating_sub(1)),
            ),
            None => (system, 0),
        };
        let newest = converted.split_off(start);
        let Context { messages, left_out } = context::build(
            &self.inner.estimator,
            model,
            Message::system(system),
            newest,
            budget,
        );
        if left_out > 0 {
            self.ask_for_summary(conversation, &history[start..], left_out);
        }
        match summary {
            Some(summary) if !summary.announced => {
                self.notice(format!(
                    "earlier messages of this conversation no longer fit in {model}'s context: \
                     a summary of them stands in for them"
                ))
                .await;
                let store = self.inner.store.clone();
                tokio::spawn(async move {
                    if let Err(error) = store.announce_summary(conversation).await {
                        tracing::warn!(%error, "could not record that the summary was announced");
                    }
                });
            }
            Some(_) => {}
            None => {
                self.notice(format!(
                    "{left_out} earlier message(s) did not fit in {model}'s context and were left \
                     out; a summary of them is being written"
                ))
                .await
            }
        }
        messages
    }

    /// The conversation's newest summary with text, if any (a failed read is logged: the turn
    /// goes on without).
    async fn stored_summary(&self, conversation: ConversationId) -> Option<Summary> {
        match self.inner.store.latest_summary(conversation).await {
            Ok(summary) => summary.filter(|s| !s.text.is_empty()),
            Err(error) => {
                tracing::warn!(%error, "could not read the conversation's summary; going on without");
                None
            }
        }
    }

    /// Leaves a marker asking the background pass to summarise `history` (the messages after
    /// the current summary) up to the middle of what still fits, so the next turns fit without
    /// asking again; wakes the pass. Not awaited.
    fn ask_for_summary(
        &self,
        conversation: ConversationId,
        history: &[StoredMessage],
        left_out: usize,
    ) {
        let Some(through) = summary_target(history, left_out) else {
            return;
        };
        let inner = self.inner.clone();
        tokio::spawn(async move {
            match inner.store.request_summary(conversation, through).await {
                Ok(()) => inner.background.wake(),
                Err(error) => tracing::warn!(%error, "could not ask for a summary"),
            }
        });
    }
}

/// The start of `text` within about `tokens` tokens (three characters a token, on the safe
/// side): a summary longer than its share of the context must not crowd out the newest
/// messages.
fn clip_tokens(text: &str, tokens: usize) -> String {
    match text.char_indices().nth(tokens.saturating_mul(3)) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The last message a new summary should cover: the left-out messages and the older half of
/// those kept (never the newest message). `None` when there is nothing to summarise.
pub(super) fn summary_target(
    history: &[StoredMessage],
    left_out: usize,
) -> Option<mcpcord_memory::MessageId> {
    if history.len() < 2 || left_out == 0 {
        return None;
    }
    let kept = history.len() - left_out;
    let index = (left_out + kept / 2)
        .saturating_sub(1)
        .min(history.len() - 2);
    Some(history[index].id)
}
