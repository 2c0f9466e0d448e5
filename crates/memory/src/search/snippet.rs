//! Query terms and snippets: the words a query looks for, and the part of a message that shows
//! them.

/// The most terms a query uses; the rest are ignored (each term costs the index a list walk).
pub(crate) const MAX_TERMS: usize = 12;

/// The words of a person's query as both indexes see them: runs of letters and digits, lower
/// case, each once, in order. Punctuation and operators are never passed through, so no query
/// can be a syntax error.
pub(crate) fn terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word = word.to_lowercase();
        if !terms.contains(&word) {
            terms.push(word);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// About `max_chars` characters of `content` around the first of `terms` it holds (its start
/// when none is found, as when the index matched an accent-folded form), on one line, with `…`
/// where it was cut.
pub(crate) fn snippet(content: &str, terms: &[String], max_chars: usize) -> String {
    let flat: String = content
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let chars: Vec<char> = flat.chars().collect();
    if chars.len() <= max_chars {
        return flat.trim().to_owned();
    }
    let first = first_term_at(&chars, terms).unwrap_or(0);
    // A third of the room before the word, the rest after it.
    let start = first.saturating_sub(max_chars / 3);
    let start = start.min(chars.len().saturating_sub(max_chars));
    let end = (start + max_chars).min(chars.len());
    let mut text: String = chars[start..end].iter().collect();
    text = text.trim().to_owned();
    if start > 0 {
        text.insert(0, '…');
    }
    if end < chars.len() {
        text.push('…');
    }
    text
}

/// The character position of the first word of `chars` that is one of `terms`.
fn first_term_at(chars: &[char], terms: &[String]) -> Option<usize> {
    let mut index = 0;
    while index < chars.len() {
        if !chars[index].is_alphanumeric() {
            index += 1;
            continue;
        }
        let start = index;
        while index < chars.len() && chars[index].is_alphanumeric() {
            index += 1;
        }
        let word: String = chars[start..index]
            .iter()
            .collect::<String>()
            .to_lowercase();
        if terms.contains(&word) {
            return Some(start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercase_words_once_without_operators() {
        assert_eq!(
            terms("Pasta OR \"carbonara\" -pasta* NEAR(x) ünïcode"),
            vec!["pasta", "or", "carbonara", "near", "x", "ünïcode"]
        );
        assert!(terms("  ?!* ").is_empty());
        assert_eq!(terms(&"w ".repeat(100)).len(), 1);
    }

    #[test]
    fn snippets_centre_on_the_first_term() {
        let content = format!(
            "{} the carbonara recipe {}",
            "a ".repeat(100),
            "b ".repeat(100)
        );
        let text = snippet(&content, &["carbonara".into()], 60);
        assert!(text.contains("carbonara"), "{text}");
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        assert!(text.chars().count() <= 62);
    }

    #[test]
    fn short_messages_are_whole_and_on_one_line() {
        assert_eq!(snippet("one\ntwo", &[], 60), "one two");
        let long = "x".repeat(200);
        let text = snippet(&long, &["nothing".into()], 50);
        assert!(text.starts_with('x') && text.ends_with('…'));
    }
}
