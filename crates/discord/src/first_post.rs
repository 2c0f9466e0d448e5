//! When an answer's first message goes out.
//!
//! Every message costs a create, and every change to it an edit, out of the bot's global budget
//! and the channel's bucket (5 per 5 s, creates and edits together). So the first post waits a
//! short window ([`FIRST_POST_WINDOW`]): an answer complete by then goes out as one create with
//! its final text and buttons, one request in all. A slower answer is posted once the window is
//! over and its text holds a first sentence, or at [`FIRST_POST_LONGEST`] whatever it holds.
//! Under pressure on the global budget both waits widen ([`crate::pacer::stretch`]), so that
//! throughput wins over granularity. A question for the person (a tool approval, a form) is
//! never held back. The typing indicator is independent of this: it shows when the first tokens
//! are slow, not while a streaming answer is held.

use std::time::Duration;

use tokio::time::Instant;

/// How long an answer's first message waits for the answer to be complete.
pub const FIRST_POST_WINDOW: Duration = Duration::from_secs(1);

/// The longest the first message waits for a first sentence, counted like the window.
pub const FIRST_POST_LONGEST: Duration = Duration::from_secs(3);

/// The first-post schedule of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstPost {
    /// The window ends: from then on a first sentence is enough.
    window_end: Instant,
    /// From then on any text is posted.
    longest_end: Instant,
}

impl FirstPost {
    /// The schedule of an answer that started at `started`, with the configured `window`,
    /// widened by `stretch` (at least 1).
    pub fn new(started: Instant, window: Duration, stretch: f64) -> Self {
        let stretch = if stretch.is_finite() {
            stretch.max(1.0)
        } else {
            1.0
        };
        // No window: post at once, as soon as there is text.
        let longest = if window.is_zero() {
            Duration::ZERO
        } else {
            FIRST_POST_LONGEST.max(window)
        };
        Self {
            window_end: started + window.mul_f64(stretch),
            longest_end: started + longest.mul_f64(stretch),
        }
    }

    /// Whether an unfinished answer showing `text` should be posted at `now`; `urgent` when it
    /// asks the person something.
    pub fn due(&self, text: &str, urgent: bool, now: Instant) -> bool {
        urgent || now >= self.longest_end || (now >= self.window_end && has_sentence(text))
    }

    /// The next instant [`due`](Self::due) may change on its own, if any is left.
    pub fn next_check(&self, now: Instant) -> Option<Instant> {
        [self.window_end, self.longest_end]
            .into_iter()
            .find(|at| *at > now)
    }
}

/// Whether `text` holds a whole sentence (or line): something worth showing alone.
fn has_sentence(text: &str) -> bool {
    let text = text.trim_start();
    text.contains('\n')
        || text
            .char_indices()
            .any(|(i, c)| matches!(c, '.' | '!' | '?' | '。' | '…') && i > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_complete_sentence_goes_out_after_the_window_any_text_at_the_longest() {
        let start = Instant::now();
        let first = FirstPost::new(start, FIRST_POST_WINDOW, 1.0);
        assert!(!first.due("Hello there.", false, start));
        assert!(
            first.due("Hello there.", true, start),
            "questions are urgent"
        );
        let after_window = start + FIRST_POST_WINDOW;
        assert!(first.due("Hello there. And", false, after_window));
        assert!(!first.due("Hello there and", false, after_window));
        assert_eq!(first.next_check(start), Some(after_window));
        assert_eq!(
            first.next_check(after_window),
            Some(start + FIRST_POST_LONGEST)
        );
        assert!(first.due("Hello there and", false, start + FIRST_POST_LONGEST));
        assert_eq!(first.next_check(start + FIRST_POST_LONGEST), None);
    }

    #[tokio::test(start_paused = true)]
    async fn pressure_widens_both_waits() {
        let start = Instant::now();
        let first = FirstPost::new(start, FIRST_POST_WINDOW, 2.0);
        assert!(!first.due("Done.", false, start + FIRST_POST_WINDOW));
        assert!(first.due("Done.", false, start + FIRST_POST_WINDOW * 2));
        assert_eq!(
            first.next_check(start + FIRST_POST_WINDOW * 2),
            Some(start + FIRST_POST_LONGEST * 2)
        );
        // A nonsensical stretch is ignored.
        let first = FirstPost::new(start, FIRST_POST_WINDOW, f64::NAN);
        assert!(first.due("Done.", false, start + FIRST_POST_WINDOW));
    }
}
