use std::time::Duration;

use mcpcord_engine::{AuditEntry, GuildId, UserId};
use serde_json::json;

use super::*;

fn record(id: i64, entry: AuditEntry) -> AuditRecord {
    AuditRecord {
        id,
        entry: entry.at(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
    }
}

#[test]
fn a_tool_call_line_says_when_who_what_and_how_it_ended() {
    let entry = AuditEntry::tool_call(
        Some(UserId::new(42)),
        Some(GuildId::new(1)),
        "web",
        "fetch",
        &json!({"url": "https://example.com/private"}),
    )
    .with_detail("approval", "approved")
    .with_detail("approved_by", "42")
    .with_detail("outcome", "ok");
    let text = view(&[record(1, entry)]).description.unwrap();
    assert_eq!(
        text,
        "<t:1700000000:R> · tool call · **web/fetch** · by <@42> · outcome=ok approval=approved \
         approved\\_by=<@42>"
    );
    assert!(!text.contains("example.com"), "never the arguments");
}

#[test]
fn entries_without_an_actor_are_the_operators_and_subjects_are_named() {
    let reload = AuditEntry::reload(None, "applied", json!({"changed": ["models"]}));
    let export = AuditEntry::data_rights(Some(UserId::new(5)), None, UserId::new(6), "export");
    let text = view(&[record(2, reload), record(1, export)])
        .description
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "<t:1700000000:R> · reload · **applied** · by the operator"
    );
    assert_eq!(
        lines[1],
        "<t:1700000000:R> · data rights · **export** · by <@5> · about <@6>"
    );
}

#[test]
fn nothing_to_show_says_so_and_many_entries_fit_the_embed() {
    assert_eq!(
        view(&[]).description.unwrap(),
        "Nothing recorded that matches."
    );
    let many: Vec<AuditRecord> = (0..500)
        .map(|n| {
            record(
                n,
                AuditEntry::refusal(Some(UserId::new(1)), None, "rate_limited")
                    .with_detail("door", "message"),
            )
        })
        .collect();
    let text = view(&many).description.unwrap();
    assert!(text.chars().count() <= DESCRIPTION_LIMIT);
    assert!(text.lines().count() > 10, "{}", text.lines().count());
}

#[test]
fn every_kind_has_a_choice() {
    let choices = [
        KindChoice::AdminAction,
        KindChoice::ToolCall,
        KindChoice::Refusal,
        KindChoice::DataRights,
        KindChoice::Reload,
    ];
    let kinds: Vec<AuditKind> = choices.into_iter().map(AuditKind::from).collect();
    assert_eq!(kinds, AuditKind::ALL);
}
