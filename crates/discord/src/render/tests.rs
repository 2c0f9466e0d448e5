//! Unit tests of `render`.

use super::*;
use crate::split::{MESSAGE_LIMIT, fence_count};
use mcpcord_engine::{ApprovalRequest, EngineError, InputPrompt, TurnSummary};
use serde_json::json;
use tokio::sync::oneshot;

fn at(start: Instant, ms: u64) -> Instant {
    start + Duration::from_millis(ms)
}

fn done(text: &str, thinking: &str, interrupted: bool) -> TurnEvent {
    TurnEvent::Done(TurnSummary {
        model: "llama3.2".into(),
        text: text.into(),
        thinking: thinking.into(),
        prompt_tokens: Some(10),
        completion_tokens: 5,
        tool_calls: 0,
        rounds: 1,
        interrupted,
        message_id: None,
    })
}

fn feed(answer: &mut Answer, start: Instant, events: Vec<TurnEvent>) {
    for (i, event) in events.iter().enumerate() {
        answer.apply(event, at(start, i as u64 * 100));
    }
}

#[test]
fn text_streams_with_a_stop_button_and_finishes_with_the_others() {
    let start = Instant::now();
    let mut answer = Answer::new();
    assert!(
        answer.view(start).pieces.is_empty(),
        "nothing to post before the first token"
    );
    feed(
        &mut answer,
        start,
        vec![
            TurnEvent::Started {
                model: "llama3.2".into(),
            },
            TurnEvent::Text("Hello".into()),
            TurnEvent::Text(", world".into()),
        ],
    );
    let view = answer.view(start);
    assert_eq!(view.pieces, ["Hello, world"]);
    assert_eq!(
        view.controls,
        Controls {
            stop: true,
            ..Controls::default()
        }
    );
    assert_eq!(answer.model(), Some("llama3.2"));

    answer.apply(&done("Hello, world", "", false), start);
    let view = answer.view(start);
    assert_eq!(view.pieces, ["Hello, world"]);
    assert_eq!(
        view.controls,
        Controls {
            regenerate: true,
            continue_: true,
            ..Controls::default()
        }
    );
    assert!(answer.is_finished());
}

#[test]
fn thinking_never_reaches_the_answer() {
    let start = Instant::now();
    let mut answer = Answer::new();
    feed(
        &mut answer,
        start,
        vec![TurnEvent::Thinking("Let me think about secrets…".into())],
    );
    assert_eq!(answer.view(start).pieces, [THINKING_PLACEHOLDER]);
    feed(
        &mut answer,
        start,
        vec![
            TurnEvent::Thinking(" more".into()),
            TurnEvent::Text("The answer is 4.".into()),
            done("The answer is 4.", "", false),
        ],
    );
    let view = answer.view(start);
    assert_eq!(view.pieces, ["The answer is 4."]);
    assert!(view.controls.reasoning);
    assert_eq!(answer.thinking(), "Let me think about secrets… more");
    assert_eq!(
        answer.reasoning_pieces(),
        ["Let me think about secrets… more"]
    );
}

#[test]
fn a_tool_call_shows_progress_then_its_outcome() {
    let start = Instant::now();
    let mut answer = Answer::new();
    answer.apply(&TurnEvent::Text("Checking the weather.".into()), start);
    answer.apply(
        &TurnEvent::ToolStarted {
            call: 0,
            server: "weather".into(),
            tool: "get_forecast".into(),
            arguments: json!({"city": "Paris"}),
        },
        start,
    );
    let doc = answer.document(at(start, 2100));
    assert_eq!(
        doc,
        "Checking the weather.\n\n-# 🔧 weather › get\\_forecast … 2.1 s"
    );
    answer.apply(
        &TurnEvent::ToolProgress {
            call: 0,
            progress: 3.0,
            total: Some(10.0),
            message: Some("fetching\nstations".into()),
        },
        at(start, 2500),
    );
    assert!(
        answer
            .document(at(start, 3000))
            .ends_with("… 3.0 s · 3/10 fetching stations")
    );
    answer.apply(
        &TurnEvent::ToolFinished {
            call: 0,
            ok: true,
            elapsed: Duration::from_millis(3200),
            summary: "sunny, 21 °C".into(),
        },
        at(start, 3200),
    );
    answer.apply(
        &TurnEvent::Text("It will be sunny.".into()),
        at(start, 3300),
    );
    let doc = answer.document(at(start, 9000));
    assert_eq!(
        doc,
        "Checking the weather.\n\n-# 🔧 weather › get\\_forecast ✓ 3.2 s — sunny, 21 °C\n\nIt will be sunny."
    );
    answer.apply(
        &TurnEvent::ToolStarted {
            call: 1,
            server: "fs".into(),
            tool: "read".into(),
            arguments: json!({}),
        },
        at(start, 9000),
    );
    answer.apply(
        &TurnEvent::ToolFinished {
            call: 1,
            ok: false,
            elapsed: Duration::from_secs(65),
            summary: "Error: `no` such file".into(),
        },
        at(start, 9000),
    );
    assert!(
        answer
            .document(start)
            .contains("-# 🔧 fs › read ✗ 1 min 5 s — Error: \\`no\\` such file")
    );
    assert_eq!(answer.tools().len(), 2);
}

#[test]
fn an_approval_waits_with_buttons_until_decided() {
    let start = Instant::now();
    let mut answer = Answer::new();
    let (reply, _answer) = oneshot::channel();
    feed(
        &mut answer,
        start,
        vec![
            TurnEvent::ToolStarted {
                call: 2,
                server: "shell".into(),
                tool: "run".into(),
                arguments: json!({"cmd": "ls"}),
            },
            TurnEvent::ApprovalNeeded(ApprovalRequest {
                call: 2,
                server: "shell".into(),
                tool: "run".into(),
                arguments: json!({"cmd": "ls"}),
                reply,
                approver: Default::default(),
            }),
        ],
    );
    let view = answer.view(start);
    assert_eq!(
        view.pieces,
        ["-# 🔧 shell › run ⏸️ waiting for approval\n```json\n{\n  \"cmd\": \"ls\"\n}\n```"]
    );
    assert_eq!(view.controls.approvals, [ApprovalPrompt { call: 2 }]);
    assert!(view.controls.stop);
    answer.approval_decided(2);
    let view = answer.view(at(start, 1500));
    assert!(view.controls.approvals.is_empty());
    assert_eq!(view.pieces, ["-# 🔧 shell › run … 1.5 s"]);
}

#[test]
fn approval_arguments_hide_secrets_and_fit() {
    let shown = approval_arguments(&json!({
        "path": "/etc/hosts",
        "api_key": "sk-123",
        "headers": {"Authorization": "Bearer abc", "X-Trace": "1"},
        "nested": [{"db-password": "hunter2"}],
        "max_tokens": 5,
    }));
    assert!(
        shown.starts_with("```json\n") && shown.ends_with("\n```"),
        "{shown}"
    );
    for secret in ["sk-123", "Bearer abc", "hunter2"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    for kept in ["/etc/hosts", "X-Trace", "\"max_tokens\": 5"] {
        assert!(shown.contains(kept), "{shown}");
    }
    let long = approval_arguments(&json!({"text": "x".repeat(10_000)}));
    assert!(
        long.chars().count() < APPROVAL_ARGUMENTS_CHARS + 20,
        "{long}"
    );
    let fenced = approval_arguments(&json!({"code": "```rust\nfn main() {}\n```"}));
    assert_eq!(fenced.matches("```").count(), 2, "{fenced}");
    // Found by the property test below: four backticks.
    let four = approval_arguments(&json!({"": "````"}));
    assert_eq!(four.matches("```").count(), 2, "{four}");
}

proptest::proptest! {
    /// Whatever a model passes as arguments, the prompt is one closed code block that fits.
    #[test]
    fn any_arguments_render_as_one_bounded_block(text in "\\PC{0,3000}", key in "\\PC{0,40}") {
        let shown = approval_arguments(&json!({ key: text }));
        proptest::prop_assert!(shown.chars().count() <= APPROVAL_ARGUMENTS_CHARS + 20);
        proptest::prop_assert_eq!(shown.matches("```").count(), 2);
    }
}

#[test]
fn server_questions_become_form_or_link_buttons() {
    let start = Instant::now();
    let mut answer = Answer::new();
    let (reply, _a) = oneshot::channel();
    let (reply_url, _b) = oneshot::channel();
    feed(
        &mut answer,
        start,
        vec![
            TurnEvent::ToolStarted {
                call: 0,
                server: "travel".into(),
                tool: "book".into(),
                arguments: json!({}),
            },
            TurnEvent::InputRequested(InputPrompt {
                call: 0,
                request: mcpcord_engine::InputRequest {
                    server: "travel".into(),
                    message: "Which seat?".into(),
                    mode: InputMode::Form {
                        schema: json!({"type": "object"}),
                    },
                },
                reply,
            }),
            TurnEvent::InputRequested(InputPrompt {
                call: 0,
                request: mcpcord_engine::InputRequest {
                    server: "travel".into(),
                    message: "Pay here".into(),
                    mode: InputMode::Url {
                        url: "https://pay.example".into(),
                        elicitation_id: "e1".into(),
                    },
                },
                reply: reply_url,
            }),
        ],
    );
    let view = answer.view(start);
    assert!(
        view.pieces[0].contains("❓ **travel** asks: Which seat?"),
        "{:?}",
        view.pieces
    );
    assert_eq!(
        view.controls.elicitations,
        [
            ElicitationPrompt::Form {
                call: 0,
                label: "Answer travel".into()
            },
            ElicitationPrompt::Url {
                url: "https://pay.example".into(),
                label: "Open the page".into()
            },
        ]
    );
    answer.question_answered(0);
    let view = answer.view(start);
    assert!(view.controls.elicitations.is_empty());
    assert!(view.pieces[0].contains("-# ❓ **travel** asked: Which seat? ✓"));
}

#[test]
fn interrupted_failed_and_empty_answers_say_so() {
    let start = Instant::now();
    let mut stopped = Answer::new();
    feed(
        &mut stopped,
        start,
        vec![
            TurnEvent::Text("Half an ans".into()),
            done("Half an ans", "", true),
        ],
    );
    assert_eq!(
        stopped.view(start).pieces,
        [format!("Half an ans\n\n{INTERRUPTED_MARK}")]
    );

    let mut cut = Answer::new();
    feed(&mut cut, start, vec![TurnEvent::Text("Going".into())]);
    cut.interrupt();
    assert_eq!(cut.phase(), &Phase::Done { interrupted: true });
    assert!(cut.view(start).pieces[0].ends_with(INTERRUPTED_MARK));

    let mut failed = Answer::new();
    feed(
        &mut failed,
        start,
        vec![
            TurnEvent::Text("Partial".into()),
            TurnEvent::Failed(EngineError::ShuttingDown),
        ],
    );
    let view = failed.view(start);
    assert_eq!(
        view.pieces,
        ["Partial\n\n⚠️ the bot is shutting down; try again in a moment"]
    );
    assert_eq!(
        view.controls,
        Controls {
            regenerate: true,
            ..Controls::default()
        }
    );

    let mut empty = Answer::new();
    feed(&mut empty, start, vec![done("", "", false)]);
    assert_eq!(empty.view(start).pieces, [EMPTY_ANSWER]);

    let mut whole = Answer::new();
    feed(
        &mut whole,
        start,
        vec![
            TurnEvent::Notice("2 older messages were left out".into()),
            done("Not streamed", "why", false),
        ],
    );
    assert_eq!(
        whole.view(start).pieces,
        ["-# ℹ️ 2 older messages were left out\n\nNot streamed"]
    );
    assert_eq!(whole.thinking(), "why");
}

#[test]
fn a_long_answer_with_code_continues_in_new_messages() {
    let start = Instant::now();
    let mut answer = Answer::new();
    let code: String = (0..150)
        .map(|i| format!("    let value_{i} = compute({i});\n"))
        .collect();
    let text = format!("Here is the code:\n\n```rust\nfn main() {{\n{code}}}\n```\n\nThat's all.");
    for chunk in text.as_bytes().chunks(7) {
        answer.apply(
            &TurnEvent::Text(String::from_utf8_lossy(chunk).into_owned()),
            start,
        );
    }
    answer.apply(&done(&text, "", false), start);
    let view = answer.view(start);
    assert!(view.pieces.len() >= 3);
    for piece in &view.pieces {
        assert!(piece.chars().count() <= MESSAGE_LIMIT);
        assert_eq!(fence_count(piece) % 2, 0);
    }
    assert!(view.pieces[1].starts_with("```rust\n"));
    assert!(view.pieces.last().unwrap().ends_with("That's all."));
}

#[test]
fn durations_read_naturally() {
    assert_eq!(format_duration(Duration::from_millis(2140)), "2.1 s");
    assert_eq!(format_duration(Duration::from_millis(59_990)), "59.9 s");
    assert_eq!(format_duration(Duration::from_secs(125)), "2 min 5 s");
    assert_eq!(format_progress(0.5, Some(2.0), None), "25%");
    assert_eq!(format_progress(7.0, None, Some("files")), "7 files");
}
