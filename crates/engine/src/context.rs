//! Context building: the system prompt, then the conversation's messages newest first until the
//! token budget is spent.
//!
//! Budget = context length − tokens reserved for the answer − tool definitions. Tokens are
//! estimated from characters, calibrated per model by the prompt token counts the backend
//! reports.

use std::collections::HashMap;
use std::sync::Mutex;

use mcpcord_llm::{Message, ToolSpec};

/// Characters per token assumed before a model has reported any counts.
const DEFAULT_CHARS_PER_TOKEN: f64 = 4.0;

/// Tokens counted for each message's framing (role markers and the like).
const PER_MESSAGE_OVERHEAD: usize = 4;

/// Learns, per model, how many characters make a token.
#[derive(Debug, Default)]
pub struct TokenEstimator {
    ratios: Mutex<HashMap<String, f64>>,
}

impl TokenEstimator {
    /// Estimated tokens of `text` for `model`.
    pub fn tokens(&self, model: &str, text: &str) -> usize {
        let ratio = self.ratio(model);
        (text.chars().count() as f64 / ratio).ceil() as usize
    }

    /// Estimated tokens of `chars` characters of text for `model`.
    pub fn chars_tokens(&self, model: &str, chars: usize) -> usize {
        (chars as f64 / self.ratio(model)).ceil() as usize
    }

    /// Estimated tokens of a message (its text, images at a flat rate, tool calls).
    pub fn message_tokens(&self, model: &str, message: &Message) -> usize {
        let calls: usize = message
            .tool_calls
            .iter()
            .map(|c| self.tokens(model, &c.name) + self.tokens(model, &c.arguments.to_string()))
            .sum();
        self.tokens(model, &message.content)
            + calls
            + message.images.len() * 768
            + PER_MESSAGE_OVERHEAD
    }

    /// Estimated tokens of the tool definitions.
    pub fn tools_tokens(&self, model: &str, tools: &[ToolSpec]) -> usize {
        tools
            .iter()
            .map(|t| {
                self.tokens(
                    model,
                    &format!("{}{}{}", t.name, t.description, t.parameters),
                )
            })
            .sum()
    }

    /// Learns from a request of `chars` characters that the backend counted as `tokens`.
    pub fn calibrate(&self, model: &str, chars: usize, tokens: u32) {
        if chars < 200 || tokens == 0 {
            return; // Too small to say anything about the ratio.
        }
        let observed = chars as f64 / f64::from(tokens);
        let mut ratios = self.ratios.lock().unwrap_or_else(|e| e.into_inner());
        let ratio = ratios
            .entry(model.to_string())
            .or_insert(DEFAULT_CHARS_PER_TOKEN);
        // Move a third of the way: stable, yet quick to learn.
        *ratio = (*ratio * 2.0 + observed) / 3.0;
        *ratio = ratio.clamp(1.0, 8.0);
    }

    fn ratio(&self, model: &str) -> f64 {
        let ratios = self.ratios.lock().unwrap_or_else(|e| e.into_inner());
        ratios
            .get(model)
            .copied()
            .unwrap_or(DEFAULT_CHARS_PER_TOKEN)
    }
}

/// The messages to send, and how many of the history had to be left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// System prompt first, then history in order.
    pub messages: Vec<Message>,
    /// History messages that did not fit.
    pub left_out: usize,
}

/// How many of the newest `history` messages (oldest first; the last one is the new message)
/// fit beside `system` in the budget. The newest message always counts; a tool result whose
/// call would be left out does not.
pub fn fitting(
    estimator: &TokenEstimator,
    model: &str,
    system: &Message,
    history: &[Message],
    budget: usize,
) -> usize {
    let mut remaining = budget.saturating_sub(estimator.message_tokens(model, system));
    let mut kept = 0;
    for (i, message) in history.iter().rev().enumerate() {
        let cost = estimator.message_tokens(model, message);
        if cost > remaining && i > 0 {
            break;
        }
        remaining = remaining.saturating_sub(cost);
        kept += 1;
    }
    // A tool result must not lead: its call was left out.
    let first = history.len() - kept;
    kept - history[first..]
        .iter()
        .take_while(|m| m.role == mcpcord_llm::Role::Tool)
        .count()
}

/// Fits `system` and as much of `history` (oldest first; the last one is the new message) as the
/// budget allows. The newest message is always kept.
pub fn build(
    estimator: &TokenEstimator,
    model: &str,
    system: Message,
    history: Vec<Message>,
    budget: usize,
) -> Context {
    let kept = fitting(estimator, model, &system, &history, budget);
    keep(system, history, kept)
}

/// `system` and the newest `kept` messages of `history` (as [`fitting`] counted them).
pub fn keep(system: Message, mut history: Vec<Message>, kept: usize) -> Context {
    let left_out = history.len().saturating_sub(kept);
    let mut messages = Vec::with_capacity(kept + 1);
    messages.push(system);
    messages.extend(history.drain(left_out..));
    Context { messages, left_out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_messages_that_fit() {
        let estimator = TokenEstimator::default();
        let history: Vec<Message> = (0..10)
            .map(|i| Message::user(format!("{i}").repeat(40)))
            .collect();
        // Each message: 40 chars / 4 = 10 tokens + 4 overhead = 14. System "sys" = 1 + 4 = 5.
        let context = build(&estimator, "m", Message::system("sys"), history, 5 + 14 * 3);
        assert_eq!(context.left_out, 7);
        assert_eq!(context.messages.len(), 4);
        assert!(context.messages[3].content.starts_with('9'));
        assert!(context.messages[1].content.starts_with('7'));
    }

    #[test]
    fn always_keeps_the_new_message() {
        let estimator = TokenEstimator::default();
        let context = build(
            &estimator,
            "m",
            Message::system("sys"),
            vec![Message::user("x".repeat(1000))],
            10,
        );
        assert_eq!(context.messages.len(), 2);
        assert_eq!(context.left_out, 0);
    }

    #[test]
    fn calibration_moves_toward_what_the_backend_counts() {
        let estimator = TokenEstimator::default();
        let before = estimator.tokens("m", &"a".repeat(1200));
        estimator.calibrate("m", 1200, 600); // 2 chars a token
        let after = estimator.tokens("m", &"a".repeat(1200));
        assert!(after > before, "{before} -> {after}");
    }
}
