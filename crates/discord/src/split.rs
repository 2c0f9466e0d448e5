//! The message splitter: an answer longer than one Discord message continues in new messages.
//!
//! Owns where an answer is cut. Cuts fall at paragraph, then line, then word boundaries (in that
//! preference, and not so early that a piece is left mostly empty), never inside a UTF-8
//! character nor inside a run of backticks. A code fence (```` ```lang ````) open at a cut is
//! closed at the end of the piece and reopened, with the same language, at the start of the next,
//! so every piece renders on its own. Lengths count characters (Unicode scalar values), as
//! Discord and `twilight-validate` do.
//!
//! Nothing visible is lost: each piece carries a slice of the input (its [`Piece::body`]), the
//! slices follow each other in order, and what lies between them can only be whitespace that
//! Discord would trim anyway (a run of whitespace too long to fit a message, or whitespace at the
//! very end). Ordinary text is carried exactly.
//!
//! Why one long file: the splitter's rules (paragraph, line, word; code fences reopened) are one
//! algorithm; about 250 of its lines are its tests, among them property tests.

use std::ops::Range;

/// The most characters one Discord message may hold.
pub const MESSAGE_LIMIT: usize = twilight_validate::message::MESSAGE_CONTENT_LENGTH_MAX;

/// The smallest limit [`split`] accepts: room for a reopened fence with its language, a closing
/// fence, and some content.
pub const MIN_LIMIT: usize = 64;

/// A code fence, as Discord's markdown counts them: three backticks anywhere.
pub const FENCE: &str = "```";

/// The longest fence language carried over to a reopened fence; a longer info string is treated
/// as code, so that reopening can never crowd out the content.
pub const MAX_FENCE_LANGUAGE: usize = 32;

/// What closes a fence cut at the end of a piece.
const CLOSING: &str = "\n```";

/// One message's worth of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// What to send: the reopened fence (if any), the body, and the closing fence (if any).
    pub text: String,
    /// The byte range of the input this piece carries.
    pub body: Range<usize>,
    /// Whether a fence was added at the start, reopening a code block cut by the previous piece.
    pub reopened: bool,
    /// Whether a fence was added at the end, closing a code block the piece ends inside of.
    pub closed: bool,
}

/// Splits `text` into Discord messages of at most [`MESSAGE_LIMIT`] characters.
///
/// Empty (or whitespace-only) text gives no message at all.
pub fn split_message(text: &str) -> Vec<String> {
    split(text, MESSAGE_LIMIT)
        .into_iter()
        .map(|piece| piece.text)
        .collect()
}

/// Splits `text` into pieces of at most `limit` characters; see the [module docs](self).
///
/// # Panics
///
/// If `limit` is below [`MIN_LIMIT`].
pub fn split(text: &str, limit: usize) -> Vec<Piece> {
    assert!(
        limit >= MIN_LIMIT,
        "split limit {limit} is below MIN_LIMIT ({MIN_LIMIT})"
    );
    Splitter::new(text, limit).run()
}

/// Counts the fences in `text` as [`split`] does: non-overlapping triple backticks, left to right.
/// An even count means every code block the text opens, it also closes.
pub fn fence_count(text: &str) -> usize {
    fence_tokens(text.as_bytes()).len()
}

/// One code block of the input.
#[derive(Debug)]
struct Fence<'a> {
    /// Where its opening backticks start.
    open: usize,
    /// Where the opening line ends (after its newline), or right after the backticks when the
    /// block does not start with a language line.
    line_end: usize,
    /// The language, when the opening line names one.
    lang: Option<&'a str>,
    /// Where its closing backticks start; the input's end when it is never closed.
    close: usize,
}

/// A kind of boundary, in order of preference.
#[derive(Debug, Clone, Copy)]
enum Seam {
    /// After a run of two or more newlines.
    Paragraph,
    /// After a newline.
    Line,
    /// After a run of spaces or tabs.
    Word,
}

struct Splitter<'a> {
    text: &'a str,
    limit: usize,
    /// `chars[i]`: characters in `text[..i]` (meaningful at char boundaries).
    chars: Vec<usize>,
    /// `next_visible[i]`: the first byte at or after `i` that starts a non-whitespace character.
    next_visible: Vec<usize>,
    fences: Vec<Fence<'a>>,
}

/// Start positions of the fences in `bytes`, scanning left to right without overlap.
fn fence_tokens(bytes: &[u8]) -> Vec<usize> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i + FENCE.len() <= bytes.len() {
        if &bytes[i..i + FENCE.len()] == FENCE.as_bytes() {
            tokens.push(i);
            i += FENCE.len();
        } else {
            i += 1;
        }
    }
    tokens
}

/// Characters Discord accepts in a code block's language.
fn is_language_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.' | b'#')
}

impl<'a> Splitter<'a> {
    fn new(text: &'a str, limit: usize) -> Self {
        let len = text.len();
        let mut chars = vec![0; len + 1];
        let mut count = 0;
        for (i, _) in text.char_indices() {
            chars[i] = count;
            count += 1;
        }
        chars[len] = count;

        let mut next_visible = vec![len; len + 1];
        let mut next = len;
        for (i, c) in text.char_indices().rev() {
            if !c.is_whitespace() {
                next = i;
            }
            next_visible[i] = next;
        }

        let bytes = text.as_bytes();
        let tokens = fence_tokens(bytes);
        let fences = tokens
            .chunks(2)
            .map(|pair| {
                let open = pair[0];
                let after = open + FENCE.len();
                let close = pair.get(1).copied().unwrap_or(len);
                let mut j = after;
                while j < len && is_language_byte(bytes[j]) {
                    j += 1;
                }
                let run = j - after;
                let (line_end, lang) = if j < len && bytes[j] == b'\n' && run <= MAX_FENCE_LANGUAGE
                {
                    (j + 1, (run > 0).then(|| &text[after..j]))
                } else {
                    (after, None)
                };
                Fence {
                    open,
                    line_end,
                    lang,
                    close,
                }
            })
            .collect();

        Self {
            text,
            limit,
            chars,
            next_visible,
            fences,
        }
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    /// Characters in `text[from..to]`.
    fn count(&self, from: usize, to: usize) -> usize {
        self.chars[to] - self.chars[from]
    }

    /// The code block a piece ending (or starting) at `at` would be inside of.
    fn fence_at(&self, at: usize) -> Option<&Fence<'a>> {
        let i = self.fences.partition_point(|f| f.open < at);
        let fence = self.fences.get(i.checked_sub(1)?)?;
        (at <= fence.close).then_some(fence)
    }

    /// What reopens the code block a piece starting at `at` continues.
    fn reopening(&self, at: usize) -> String {
        match self.fence_at(at) {
            None => String::new(),
            // Cut inside the opening line itself (last resort): recreate just the backticks, and
            // the rest of the line follows as it was.
            Some(f) if at < f.line_end => FENCE.to_owned(),
            Some(f) => format!("{FENCE}{}\n", f.lang.unwrap_or("")),
        }
    }

    /// Characters a piece ending at `at` adds to close its code block.
    fn closing_chars(&self, at: usize) -> usize {
        if self.fence_at(at).is_some() {
            CLOSING.len()
        } else {
            0
        }
    }

    /// Whether a piece starting at `pos` may end at `at`. Never inside a run of backticks
    /// (except between whole fences); when `strict`, also not where the piece would end with an
    /// empty code block, nor where nothing but whitespace is left before the block closes (the
    /// next piece would be an empty block).
    fn may_cut(&self, pos: usize, at: usize, strict: bool) -> bool {
        if self.splits_backticks(at) {
            return false;
        }
        if strict && let Some(f) = self.fence_at(at) {
            let content_from = f.line_end.max(pos);
            return at > content_from
                && self.next_visible[content_from] < at
                && self.next_visible[at] < f.close;
        }
        true
    }

    /// Whether a cut at `at` falls inside a run of backticks other than between whole fences.
    fn splits_backticks(&self, at: usize) -> bool {
        let bytes = self.text.as_bytes();
        if at == 0 || at >= bytes.len() || bytes[at - 1] != b'`' || bytes[at] != b'`' {
            return false;
        }
        let run_start = bytes[..at]
            .iter()
            .rposition(|&b| b != b'`')
            .map_or(0, |i| i + 1);
        !(at - run_start).is_multiple_of(FENCE.len())
    }

    fn run(&self) -> Vec<Piece> {
        let len = self.len();
        let mut pieces = Vec::new();
        let mut pos = 0;
        while pos < len {
            let visible = self.next_visible[pos];
            if visible == len {
                break; // only whitespace left: Discord would trim it
            }
            let opening = self.reopening(pos);
            let budget = self.limit - opening.chars().count();
            if self.count(pos, visible) >= budget / 2 {
                pos = visible; // a run of whitespace too long to carry
                continue;
            }
            let end = if self.count(pos, len) + self.closing_chars(len) <= budget {
                len
            } else {
                self.cut(pos, budget)
            };
            let closed = self.fence_at(end).is_some();
            let mut text = String::with_capacity(opening.len() + (end - pos) + CLOSING.len());
            text.push_str(&opening);
            text.push_str(&self.text[pos..end]);
            if closed {
                text.push_str(CLOSING);
            }
            pieces.push(Piece {
                text,
                body: pos..end,
                reopened: !opening.is_empty(),
                closed,
            });
            pos = end;
        }
        pieces
    }

    /// The best end for a piece starting at `pos` that must cut the rest.
    fn cut(&self, pos: usize, budget: usize) -> usize {
        // The furthest end that could fit, before counting a closing fence.
        let window = self.text[pos..]
            .char_indices()
            .nth(budget)
            .map_or(self.len(), |(i, _)| pos + i);
        let visible = self.next_visible[pos];
        let fits = |at: usize| self.count(pos, at) + self.closing_chars(at) <= budget;
        let good = |at: usize| at > visible && fits(at) && self.may_cut(pos, at, true);

        for min_fill in [budget / 2, 1] {
            for seam in [Seam::Paragraph, Seam::Line, Seam::Word] {
                let found = self
                    .seams(seam, pos, window)
                    .into_iter()
                    .rev()
                    .take_while(|&at| self.count(pos, at) >= min_fill)
                    .find(|&at| good(at));
                if let Some(at) = found {
                    return at;
                }
            }
        }
        let boundaries = || {
            (pos + 1..=window)
                .rev()
                .filter(|&at| self.text.is_char_boundary(at))
        };
        boundaries()
            .find(|&at| good(at))
            .or_else(|| {
                boundaries().find(|&at| at > visible && fits(at) && self.may_cut(pos, at, false))
            })
            .or_else(|| boundaries().find(|&at| fits(at)))
            .expect("a limit of at least MIN_LIMIT always leaves room for one character")
    }

    /// Ends of the boundaries of one kind within `text[pos..window]`, in increasing order.
    fn seams(&self, seam: Seam, pos: usize, window: usize) -> Vec<usize> {
        let bytes = self.text.as_bytes();
        match seam {
            Seam::Line => (pos..window)
                .filter(|&i| bytes[i] == b'\n')
                .map(|i| i + 1)
                .collect(),
            // A paragraph break is a run of two or more newlines.
            Seam::Paragraph => run_ends(bytes, pos, window, 2, |b| b == b'\n'),
            Seam::Word => run_ends(bytes, pos, window, 1, |b| b == b' ' || b == b'\t'),
        }
    }
}

/// Ends of the runs of at least `min` bytes for which `in_run` holds, starting in
/// `bytes[pos..window]` after `pos` and ending by `window`.
fn run_ends(
    bytes: &[u8],
    pos: usize,
    window: usize,
    min: usize,
    in_run: impl Fn(u8) -> bool,
) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut i = pos;
    while i < window {
        if !in_run(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && in_run(bytes[i]) {
            i += 1;
        }
        if i - start >= min && i <= window && start > pos {
            ends.push(i);
        }
    }
    ends
}

#[cfg(test)]
mod tests;
