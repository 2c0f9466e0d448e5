use std::time::UNIX_EPOCH;

use super::*;
use crate::{ConversationId, NewMessage};

const ALICE: UserId = UserId::new(11);
const BOB: UserId = UserId::new(22);

fn stored(id: i64, message: NewMessage) -> StoredMessage {
    StoredMessage::written(
        MessageId(id),
        ConversationId(1),
        format!("t{id}"),
        message.at(UNIX_EPOCH),
    )
}

#[test]
fn a_persons_part_is_their_messages_and_the_answers_up_to_the_next_person() {
    let messages = vec![
        stored(
            1,
            NewMessage::user("alice asks").with_author(ALICE, "alice"),
        ),
        stored(
            2,
            NewMessage::assistant("calling").with_tool_calls(serde_json::json!([])),
        ),
        stored(3, NewMessage::tool_result("echo", "echoed")),
        stored(4, NewMessage::assistant("answer to alice")),
        stored(5, NewMessage::user("bob asks").with_author(BOB, "bob")),
        stored(6, NewMessage::assistant("answer to bob")),
        stored(7, NewMessage::new(Role::System, "a note")),
        stored(8, NewMessage::assistant("still bob's")),
        stored(
            9,
            NewMessage::user("alice again").with_author(ALICE, "alice"),
        ),
    ];
    let alice: Vec<i64> = theirs(ALICE, messages.clone())
        .iter()
        .map(|m| m.id.0)
        .collect();
    assert_eq!(alice, [1, 2, 3, 4, 9]);
    let bob = theirs(BOB, messages);
    assert_eq!(bob.iter().map(|m| m.id.0).collect::<Vec<_>>(), [5, 6, 8]);
    assert!(bob[0].yours && !bob[1].yours);
}

#[test]
fn personal_data_serialises_ids_as_strings_and_times_as_rfc3339() {
    let data = PersonalData {
        user: UserId::new(175_928_847_299_117_063),
        exported_at: UNIX_EPOCH,
        profile: None,
        conversations: Vec::new(),
        preferences: None,
        tool_switches: vec![ToolSwitchData {
            channel: ChannelId::new(5),
            server: "s".into(),
            tool: "t".into(),
            disabled_at: UNIX_EPOCH,
        }],
        token_usage: Vec::new(),
        audit: Vec::new(),
        facts: Vec::new(),
    };
    let json = serde_json::to_value(&data).unwrap();
    assert_eq!(json["user"], "175928847299117063");
    assert_eq!(json["exported_at"], "1970-01-01T00:00:00.000Z");
    assert_eq!(json["tool_switches"][0]["channel"], "5");
}
