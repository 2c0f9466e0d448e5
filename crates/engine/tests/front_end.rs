//! The engine's front-end API, as any front end (Discord, the terminal, a web chat) uses it:
//! listings of tools, prompts and resources from a real MCP server, tool switches per channel,
//! preferences, starting over, and a front end's post ids — all over the real protocols and
//! database, no Discord involved.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Harness, config, harness, tool_model};
use mcpcord_engine::{
    ChannelId, ConversationKey, Engine, EngineError, GuildId, PostId, PreferenceLevel, Scope,
    Source, UserId,
};
use mcpcord_mcp::ToolPolicy;
use mcpcord_testkit::mcp_server::{README_TEXT, README_URI};

/// A harness with the fake model server and, with `tools`, the in-process test MCP server
/// called `test`.
async fn started(tools: bool) -> Harness {
    harness(
        vec![tool_model()],
        tools.then(ToolPolicy::default),
        config("llama3.2"),
    )
    .await
}

async fn stop(engine: &Engine) {
    engine.shutdown(Duration::from_secs(5)).await;
    engine.shutdown(Duration::from_secs(5)).await; // a second stop waits for the first
    assert!(!engine.accepting());
    if let Some(host) = engine.tools() {
        host.shutdown().await;
    }
}

#[tokio::test]
async fn tools_prompts_and_resources_are_listed_and_used_by_name() {
    let h = started(true).await;
    let engine = &h.engine;
    assert!(engine.has_tools());
    assert_eq!(engine.server_names(), vec!["test".to_owned()]);
    assert!(engine.tool_names().contains(&"test › echo".to_owned()));
    assert_eq!(engine.prompt_names().await, vec!["test › greet".to_owned()]);
    assert_eq!(
        engine.resource_names().await,
        vec![format!("test › {README_URI}")]
    );

    // A prompt found by `server › name` or by its own name makes the message it says.
    let greet = engine.find_prompt("test › greet").await.unwrap();
    assert_eq!(greet, engine.find_prompt("greet").await.unwrap());
    let arguments = BTreeMap::from([("name".to_owned(), "Ada".to_owned())]);
    let message = engine
        .prompt_message(&greet.server, &greet.name, arguments)
        .await
        .unwrap();
    assert_eq!(
        message.text,
        "Please greet Ada warmly, in one short sentence."
    );
    let missing = engine.find_prompt("test › nope").await.unwrap_err();
    assert!(
        matches!(&missing, EngineError::NotFound { kind: "prompt", .. }),
        "{missing:?}"
    );

    // A resource by its URI alone (one server lists it) is attached as a document.
    let attached = engine.resource_message(README_URI).await.unwrap();
    assert_eq!(
        attached.documents,
        vec![(README_URI.to_owned(), README_TEXT.to_owned())]
    );
    let unknown = engine.resource_message("test://nothing").await.unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "there is no resource called `test://nothing`"
    );
    let failed = engine
        .resource_message("test › test://nothing")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &failed,
            EngineError::Tools {
                what: "reading the resource",
                ..
            }
        ),
        "{failed:?}"
    );
    stop(engine).await;
}

#[tokio::test]
async fn tools_switch_off_and_on_per_channel_by_any_of_their_names() {
    let h = started(true).await;
    let engine = &h.engine;
    let channel = ChannelId::new(7);

    let off = engine
        .switch_tools(channel, "test › echo", false, Some(UserId::new(42)))
        .await
        .unwrap();
    assert_eq!(off.changed, vec!["test › echo".to_owned()]);
    assert!(off.unchanged.is_empty());
    let again = engine
        .switch_tools(channel, "echo", false, Some(UserId::new(42)))
        .await
        .unwrap();
    assert_eq!(again.unchanged, vec!["test › echo".to_owned()], "{again:?}");

    let listing = engine
        .tool_listing(Some(channel), Some("test"))
        .await
        .unwrap();
    let echo = listing.iter().find(|t| t.tool == "echo").unwrap();
    assert!(echo.off_here);
    assert!(
        listing
            .iter()
            .filter(|t| t.tool != "echo")
            .all(|t| !t.off_here)
    );
    let elsewhere = engine
        .tool_listing(Some(ChannelId::new(8)), None)
        .await
        .unwrap();
    assert!(elsewhere.iter().all(|t| !t.off_here), "only channel 7");

    // A whole server by its name.
    let all = engine
        .switch_tools(channel, "test", true, None)
        .await
        .unwrap();
    assert_eq!(all.changed, vec!["test › echo".to_owned()]);
    assert!(all.unchanged.len() > 1, "{all:?}");
    let nothing = engine
        .switch_tools(channel, "nope", false, None)
        .await
        .unwrap_err();
    assert_eq!(
        nothing.to_string(),
        "there is no tool or MCP server called `nope`"
    );
    stop(engine).await;
}

#[tokio::test]
async fn without_mcp_servers_listings_are_empty_and_uses_say_why() {
    let h = started(false).await;
    let engine = &h.engine;
    assert!(!engine.has_tools());
    assert!(engine.servers().is_empty() && engine.tool_names().is_empty());
    assert!(engine.prompt_names().await.is_empty());
    let error = engine.tool_listing(None, None).await.unwrap_err();
    assert!(matches!(error, EngineError::NoTools), "{error:?}");
    let error = engine.find_prompt("greet").await.unwrap_err();
    assert_eq!(error.to_string(), "no MCP servers are configured");
    let backends = engine.backends().await;
    assert_eq!(backends.len(), 1);
    assert!(backends[0].models.as_ref().is_ok_and(|m| !m.is_empty()));
    stop(engine).await;
}

#[tokio::test]
async fn preferences_start_over_and_posts_go_through_the_engine() {
    let h = started(false).await;
    let engine = &h.engine;
    let model = tool_model().name().to_owned();
    let scope = Scope {
        guild_id: Some(GuildId::new(1)),
        channel_id: Some(ChannelId::new(2)),
        user_id: Some(UserId::new(3)),
    };

    // Only models a backend offers can be chosen.
    let unknown = engine
        .set_model_preference(PreferenceLevel::User(UserId::new(3)), "no-such-model")
        .await
        .unwrap_err();
    assert!(matches!(
        unknown,
        EngineError::NotFound { kind: "model", .. }
    ));
    engine
        .set_model_preference(PreferenceLevel::Channel(ChannelId::new(2)), &model)
        .await
        .unwrap();
    engine
        .set_system_prompt(PreferenceLevel::User(UserId::new(3)), "be brief")
        .await
        .unwrap();
    let settings = engine.settings(&scope, None).await.unwrap();
    assert_eq!(settings.model, model);
    assert_eq!(settings.model_source, Source::Channel);
    assert_eq!(settings.system_prompt, "be brief");
    engine
        .clear_system_prompt(PreferenceLevel::User(UserId::new(3)))
        .await
        .unwrap();
    let settings = engine.settings(&scope, None).await.unwrap();
    assert_eq!(settings.system_prompt, config("llama3.2").system_prompt);

    // An answer's posts lead back to its conversation; starting over archives it.
    let key = ConversationKey::new("web:room:1");
    let (_, summary) = common::run(engine, common::say(key.as_str(), "hello")).await;
    let answer = summary.message_id.expect("the answer was stored");
    engine
        .record_posts(answer, &[PostId::new(900), PostId::new(901)])
        .await
        .unwrap();
    assert_eq!(
        engine.conversation_of_post(PostId::new(901)).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        engine.conversation_of_post(PostId::new(902)).await.unwrap(),
        None
    );
    assert_eq!(engine.latest_answer(&key).await.unwrap(), Some(answer));
    engine
        .start_over(&key, scope, Some(UserId::new(3)))
        .await
        .unwrap();
    assert_eq!(engine.latest_answer(&key).await.unwrap(), None);
    stop(engine).await;
}
