//! Unit tests of `commands`.

use super::*;
use serde_json::json;

fn data(value: serde_json::Value) -> CommandData {
    serde_json::from_value(value).unwrap()
}

#[test]
fn every_declaration_is_valid_for_discord() {
    let commands = all_commands();
    assert_eq!(commands.len(), 18);
    for command in &commands {
        twilight_validate::command::command(command)
            .unwrap_or_else(|e| panic!("{}: {e}", command.name));
    }
    let mut names: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), commands.len(), "names are unique");
}

#[test]
fn tag_continue_and_conversations_parse() {
    let tag = BotCommand::parse(data(json!({
        "id": "1", "name": "tag", "type": 1,
        "options": [{"name": "name", "type": 3, "value": "recipes"},
                    {"name": "remove", "type": 5, "value": true}]
    })))
    .unwrap();
    assert_eq!(
        tag,
        BotCommand::Tag(TagCommand {
            name: "recipes".into(),
            remove: Some(true)
        })
    );
    assert_eq!((tag.access(), tag.path()), (Access::Everyone, "tag".into()));
    let pick = BotCommand::parse(data(json!({
        "id": "1", "name": "continue", "type": 1,
        "options": [{"name": "conversation", "type": 3, "value": "42"}]
    })))
    .unwrap();
    assert_eq!(
        pick,
        BotCommand::Continue(ContinueCommand {
            conversation: "42".into()
        })
    );
    let list = BotCommand::parse(data(json!({"id": "1", "name": "conversations", "type": 1})));
    assert_eq!(
        list.unwrap(),
        BotCommand::Conversations(ConversationsCommand)
    );
}

#[test]
fn invocations_parse_into_types() {
    let chat = BotCommand::parse(data(json!({
        "id": "1", "name": "chat", "type": 1,
        "options": [{"name": "prompt", "type": 3, "value": "hello"}]
    })))
    .unwrap();
    assert_eq!(
        chat,
        BotCommand::Chat(Box::new(ChatCommand {
            prompt: "hello".into(),
            model: None,
            file: None
        }))
    );
    assert_eq!(chat.access(), Access::Everyone);

    let set = BotCommand::parse(data(json!({
        "id": "1", "name": "model", "type": 1,
        "options": [{"name": "set", "type": 1, "options": [
            {"name": "name", "type": 3, "value": "llama3.2"},
            {"name": "scope", "type": 3, "value": "server"}
        ]}]
    })))
    .unwrap();
    assert_eq!(set.path(), "model set");
    assert_eq!(set.access(), Access::Wide);
    let BotCommand::Model(ModelCommand::Set(set)) = set else {
        panic!()
    };
    assert_eq!(set.name, "llama3.2");
    assert_eq!(Scope::from(set.scope.unwrap()), Scope::Server);

    let mine = BotCommand::parse(data(json!({
        "id": "1", "name": "system", "type": 1,
        "options": [{"name": "clear", "type": 1, "options": []}]
    })))
    .unwrap();
    assert_eq!(mine.access(), Access::Everyone);

    let tools = BotCommand::parse(data(json!({
            "id": "1", "name": "tools", "type": 1,
            "options": [{"name": "disable", "type": 1, "options": [{"name": "tool", "type": 3, "value": "fs › write"}]}]
        })))
        .unwrap();
    assert_eq!(
        (tools.path().as_str(), tools.access()),
        ("tools disable", Access::Admins)
    );

    let switch = |sub: &str, scope: Option<&str>| {
        let mut options = vec![json!({"name": "state", "type": 3, "value": "off"})];
        if let Some(scope) = scope {
            options.push(json!({"name": "scope", "type": 3, "value": scope}));
        }
        BotCommand::parse(data(json!({
            "id": "1", "name": "memory", "type": 1,
            "options": [{"name": sub, "type": 1, "options": options}]
        })))
        .unwrap()
    };
    for sub in ["recall", "related"] {
        assert_eq!(switch(sub, None).access(), Access::Everyone);
        assert_eq!(switch(sub, Some("user")).path(), format!("memory {sub}"));
        assert_eq!(switch(sub, Some("server")).access(), Access::Wide);
    }

    let status = BotCommand::parse(data(json!({"id": "1", "name": "status", "type": 1}))).unwrap();
    assert_eq!(status.access(), Access::Everyone, "budgets for everyone");

    let menu = BotCommand::parse(data(json!({
        "id": "1", "name": ask_message::NAME, "type": 3, "target_id": "99"
    })))
    .unwrap();
    assert_eq!(
        menu,
        BotCommand::AskAboutMessage {
            message: Id::new(99)
        }
    );

    let old = BotCommand::parse(data(json!({"id": "1", "name": "ask", "type": 1}))).unwrap();
    assert_eq!(old, BotCommand::Unknown("ask".into()));

    let stale = BotCommand::parse(data(json!({"id": "1", "name": "chat", "type": 1})));
    assert!(
        stale.is_err(),
        "a /chat without its prompt does not match the declaration"
    );
}

#[test]
fn the_focused_option_is_found_through_subcommands() {
    let typing = data(json!({
        "id": "1", "name": "model", "type": 1,
        "options": [{"name": "set", "type": 1, "options": [
            {"name": "name", "type": 3, "value": "lla", "focused": true}
        ]}]
    }));
    assert_eq!(
        focused(&typing),
        Some(Focused {
            path: "model set".into(),
            option: "name".into(),
            typed: "lla".into()
        })
    );
    let none = data(json!({"id": "1", "name": "new", "type": 1}));
    assert_eq!(focused(&none), None);
}

#[test]
fn autocomplete_prefers_prefixes_and_stays_within_limits() {
    let mut candidates: Vec<String> = (0..40).map(|i| format!("model-{i}")).collect();
    candidates.extend([
        "llama3.2".into(),
        "tinyllama".into(),
        "x".repeat(101),
        "llama3.2".into(),
    ]);
    let choices = autocomplete_choices(&candidates, "LLA");
    let names: Vec<&str> = choices.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["llama3.2", "tinyllama"]);
    assert_eq!(
        autocomplete_choices(&candidates, "").len(),
        MAX_AUTOCOMPLETE_CHOICES
    );
    let response = autocomplete_response(choices);
    assert_eq!(
        response.kind,
        InteractionResponseType::ApplicationCommandAutocompleteResult
    );
}
