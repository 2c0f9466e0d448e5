//! Unit tests of `split`.

use super::*;
use proptest::prelude::*;

fn texts(pieces: &[Piece]) -> Vec<&str> {
    pieces.iter().map(|p| p.text.as_str()).collect()
}

/// Checks every promise of the module for one input; returns the pieces.
fn check(input: &str, limit: usize) -> Vec<Piece> {
    let pieces = split(input, limit);
    let mut previous_end = 0;
    for piece in &pieces {
        let text = piece.text.as_str();
        let n = text.chars().count();
        assert!(n <= limit, "piece of {n} > {limit} chars: {text:?}");
        assert!(!text.trim().is_empty(), "empty piece {piece:?}");
        assert_eq!(
            fence_count(text) % 2,
            0,
            "unbalanced fences in {text:?} (limit {limit})"
        );
        // The piece is its body, with at most a fence added at either end.
        let body = &input[piece.body.clone()];
        let closing = if piece.closed { CLOSING } else { "" };
        let opening_len = text.len() - body.len() - closing.len();
        assert_eq!(&text[opening_len..], format!("{body}{closing}"));
        let opening = &text[..opening_len];
        if piece.reopened {
            let lang = opening.strip_prefix(FENCE).expect("reopened with a fence");
            let lang = lang.strip_suffix('\n').unwrap_or(lang);
            assert!(lang.bytes().all(is_language_byte), "{opening:?}");
        } else {
            assert_eq!(opening, "");
        }
        // Bodies follow each other in order; only whitespace is ever skipped.
        assert!(piece.body.start >= previous_end);
        let skipped = &input[previous_end..piece.body.start];
        assert!(skipped.trim().is_empty(), "lost {skipped:?}");
        previous_end = piece.body.end;
    }
    assert!(input[previous_end..].trim().is_empty(), "lost the tail");
    pieces
}

/// The bodies give back the input exactly, but for blank lines at a cut (a Discord message
/// never starts with them) and trailing whitespace: nothing else is skipped, and a piece that
/// follows skipped blank lines starts at the beginning of a line, so no indentation is lost.
fn assert_exact(input: &str, pieces: &[Piece]) {
    let mut previous_end = 0;
    for piece in pieces {
        let skipped = &input[previous_end..piece.body.start];
        if !skipped.is_empty() {
            assert!(skipped.trim().is_empty(), "lost {skipped:?}");
            assert!(
                input[..piece.body.start].ends_with('\n'),
                "a piece after skipped blank lines starts mid-line: {skipped:?}"
            );
        }
        previous_end = piece.body.end;
    }
    assert!(input[previous_end..].trim().is_empty(), "lost the tail");
}

#[test]
fn short_text_is_one_piece() {
    assert_eq!(split_message("hello"), ["hello"]);
    assert!(split_message("").is_empty());
    assert!(split_message(" \n\t ").is_empty());
    let exactly = "é".repeat(MESSAGE_LIMIT);
    assert_eq!(split_message(&exactly), std::slice::from_ref(&exactly));
}

#[test]
fn counts_characters_not_bytes() {
    let input = "日本語".repeat(1000); // 3000 characters, 9000 bytes
    let pieces = check(&input, MESSAGE_LIMIT);
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[0].text.chars().count(), MESSAGE_LIMIT);
    assert_exact(&input, &pieces);
}

#[test]
fn prefers_paragraphs_then_lines_then_words() {
    let a = "a".repeat(60);
    let b = "b".repeat(60);
    let para = format!("{a} {a}\n{a}\n\n{b}");
    assert_eq!(
        texts(&check(&para, 200)),
        [format!("{a} {a}\n{a}\n\n"), b.clone()]
    );

    let lines = format!("{a} {a}\n{b}");
    assert_eq!(
        texts(&check(&lines, 100)),
        [format!("{a} "), format!("{a}\n"), b.clone()]
    );
    // A line boundary wins over a later word boundary, unless it would leave the piece
    // less than half full.
    let (long, short) = ("a".repeat(80), "a".repeat(40));
    let lines = format!("{long}\n{short} {b}");
    assert_eq!(
        texts(&check(&lines, 150)),
        [format!("{long}\n"), format!("{short} {b}")]
    );
    let lines = format!("{a}\n{b} {b}");
    assert_eq!(
        texts(&check(&lines, 130)),
        [format!("{a}\n{b} "), b.clone()]
    );

    let words = format!("{a} {b}");
    assert_eq!(texts(&check(&words, 100)), [format!("{a} "), b.clone()]);

    let word = "x".repeat(250);
    let lens: Vec<usize> = check(&word, 100).iter().map(|p| p.text.len()).collect();
    assert_eq!(lens, [100, 100, 50]);
}

#[test]
fn an_early_paragraph_does_not_leave_a_tiny_piece() {
    let input = format!("intro\n\n{}\n{}", "a".repeat(80), "b".repeat(80));
    let pieces = check(&input, 100);
    assert_eq!(pieces[0].text, format!("intro\n\n{}\n", "a".repeat(80)));
    assert_exact(&input, &pieces);
}

#[test]
fn code_fences_close_and_reopen_with_their_language() {
    let code: String = (0..40).map(|i| format!("let x{i} = {i};\n")).collect();
    let input = format!("Here:\n\n```rust\n{code}```\nDone.");
    let pieces = check(&input, 200);
    assert!(pieces.len() > 2);
    assert!(pieces[0].closed && !pieces[0].reopened);
    assert!(pieces[0].text.ends_with(";\n\n```"), "{:?}", pieces[0].text);
    for middle in &pieces[1..pieces.len() - 1] {
        assert!(
            middle.text.starts_with("```rust\nlet x"),
            "{:?}",
            middle.text
        );
    }
    assert!(pieces.last().unwrap().text.ends_with("```\nDone."));
    assert_exact(&input, &pieces);
}

#[test]
fn a_five_thousand_character_answer_with_a_code_block() {
    let prose = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(30);
    let code: String = (0..80)
        .map(|i| format!("    print(\"line {i}\")  # ünïcödé\n"))
        .collect();
    let input = format!("{prose}\n\n```python\ndef main():\n{code}```\n\n{prose}");
    assert!(input.chars().count() > 5000);
    let pieces = check(&input, MESSAGE_LIMIT);
    assert!(pieces.len() >= 3);
    assert_exact(&input, &pieces);
    let reopened = pieces
        .iter()
        .find(|p| p.reopened)
        .expect("the block was cut");
    assert!(
        reopened.text.starts_with("```python\n    print("),
        "indentation kept: {:?}",
        &reopened.text[..40]
    );
}

#[test]
fn an_unclosed_fence_is_closed_at_the_end() {
    let pieces = check("```js\nconsole.log(1)", 100);
    assert_eq!(texts(&pieces), ["```js\nconsole.log(1)\n```"]);
    // While streaming, an opening fence alone is still balanced.
    assert_eq!(texts(&check("text ```py", 100)), ["text ```py\n```"]);
}

#[test]
fn no_empty_block_around_a_cut() {
    let input = format!("{}\n```\n{}\n```\nafter", "p".repeat(50), "c".repeat(90));
    for piece in check(&input, 100) {
        assert!(!piece.text.starts_with("```\n```"), "{:?}", piece.text);
        assert!(!piece.text.ends_with("```\n\n```"), "{:?}", piece.text);
    }
}

#[test]
fn long_whitespace_runs_are_dropped_not_sent() {
    let input = format!("a{}b", "\n".repeat(500));
    let pieces = check(&input, 100);
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[1].text, "b");
}

#[test]
fn backtick_runs_are_cut_only_between_whole_fences() {
    let input = "`".repeat(400);
    for piece in check(&input, 100) {
        assert_eq!(fence_count(&piece.text) % 2, 0);
    }
}

/// Fragments that make splitting hard: boundaries of every kind, fences with and without a
/// language, stray backticks, multi-byte characters.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z]{1,12}",
        1 => "[a-zé日🦀]{1,80}",
        3 => Just(" ".to_owned()),
        2 => Just("\n".to_owned()),
        1 => Just("\n\n".to_owned()),
        1 => Just("```".to_owned()),
        1 => Just("```rust\n".to_owned()),
        1 => "```[a-z+#]{1,40}\n",
        1 => Just("`".to_owned()),
        1 => "[ \t\n]{1,200}",
        1 => Just("    ".to_owned()),
    ]
}

/// Ordinary prose and code: words, single separators, short indents, fences on lines.
fn ordinary_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9é日🦀.,]{1,15}",
        4 => Just(" ".to_owned()),
        2 => Just("\n".to_owned()),
        1 => Just("\n\n".to_owned()),
        1 => Just("\n    ".to_owned()),
        1 => Just("\n```\n".to_owned()),
        1 => Just("\n```python\n".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_piece_fits_balances_and_nothing_visible_is_lost(
        fragments in prop::collection::vec(fragment(), 0..300),
        limit in MIN_LIMIT..400,
    ) {
        check(&fragments.concat(), limit);
    }

    #[test]
    fn ordinary_text_rejoins_exactly(
        fragments in prop::collection::vec(ordinary_fragment(), 1..400),
        limit in MIN_LIMIT..300,
    ) {
        let input = format!("{}end", fragments.concat());
        let pieces = check(&input, limit);
        assert_exact(&input, &pieces);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn the_discord_limit_holds_for_long_answers(
        fragments in prop::collection::vec(fragment(), 500..1500),
    ) {
        check(&fragments.concat(), MESSAGE_LIMIT);
    }
}
