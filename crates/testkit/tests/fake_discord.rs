//! FakeDiscord driven by the real twilight clients (REST and gateway) and by raw HTTP and
//! WebSocket clients where a test needs to send what twilight would refuse to.

use futures::{SinkExt, StreamExt as _};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{
    GuildConfig, InteractionCreate, MessageCreate, ResponseKind, ThreadCreate, spec,
};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};
use twilight_http::Client;
use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::message::component::{ActionRow, Button, ButtonStyle, Component};
use twilight_model::channel::{Channel, ChannelType, Message};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;

const WAIT: Duration = Duration::from_secs(10);

fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http(fake: &FakeDiscord) -> Client {
    Client::builder()
        .token(fake.token().to_owned())
        .proxy(fake.rest_addr_string(), true)
        .build()
}

fn shard_with(fake: &FakeDiscord, token: &str, intents: Intents) -> Shard {
    let config = ConfigBuilder::new(token.to_owned(), intents)
        .proxy_url(fake.gateway_url())
        .build();
    Shard::with_config(ShardId::ONE, config)
}

async fn next_matching(shard: &mut Shard, mut wanted: impl FnMut(&Event) -> bool) -> Event {
    tokio::time::timeout(WAIT, async {
        loop {
            match shard.next_event(EventTypeFlags::all()).await {
                Some(Ok(event)) if wanted(&event) => return event,
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("gateway error: {e:?}"),
                None => panic!("shard closed"),
            }
        }
    })
    .await
    .expect("timed out waiting for a gateway event")
}

fn api_code(err: &twilight_http::Error) -> (u16, u64) {
    match err.kind() {
        ErrorType::Response { error, status, .. } => {
            let code = match error {
                ApiError::General(g) => g.code,
                ApiError::Message(_) => 50035,
                ApiError::Ratelimited(_) => 0,
                _ => 0,
            };
            (status.get(), code)
        }
        other => panic!("not an API error: {other:?}"),
    }
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::new()
}

fn auth(fake: &FakeDiscord) -> String {
    format!("Bot {}", fake.token())
}

#[test]
fn every_request_schema_in_the_spec_compiles() {
    let compiled = spec::compile_all_request_schemas().expect("schemas compile");
    assert!(compiled > 50, "only {compiled} request schemas");
    assert!(spec::operation_exists("POST", "/channels/1/messages"));
    assert!(spec::operation_exists("GET", "/users/@me"));
    assert!(!spec::operation_exists("POST", "/channels/1/nonsense"));
}

#[tokio::test]
async fn twilight_http_creates_edits_and_types() {
    init();
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let channel = Id::new(FakeDiscord::CHANNEL_ID);

    let me = client.current_user().await.unwrap().model().await.unwrap();
    assert_eq!(me.id.get(), FakeDiscord::BOT_USER_ID);
    assert!(me.bot);
    let gateway = client
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(gateway.url, fake.gateway_url());

    let created: Message = client
        .create_message(channel)
        .content("hello from the bot")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(created.content, "hello from the bot");
    assert_eq!(created.author.id.get(), FakeDiscord::BOT_USER_ID);
    assert_eq!(created.guild_id.map(Id::get), Some(FakeDiscord::GUILD_ID));

    let edited: Message = client
        .update_message(channel, created.id)
        .content(Some("edited"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "edited");
    assert!(edited.edited_timestamp.is_some());

    client.create_typing_trigger(channel).await.unwrap();

    // Multipart: the payload_json part is what gets validated and stored.
    let file = twilight_model::http::attachment::Attachment::from_bytes(
        "notes.txt".to_owned(),
        b"hello".to_vec(),
        0,
    );
    let with_file = client
        .create_message(channel)
        .content("see attached")
        .attachments(&[file])
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(with_file.attachments.len(), 1);
    assert_eq!(with_file.attachments[0].filename, "notes.txt");
    client.delete_message(channel, with_file.id).await.unwrap();

    let app = client
        .current_user_application()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(app.id.get(), FakeDiscord::APPLICATION_ID);
    let general = client
        .channel(channel)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(general.kind, ChannelType::GuildText);
    let alice = client
        .user(Id::new(FakeDiscord::USER_ID))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(alice.name, FakeDiscord::USER_NAME);

    let fetched = client
        .message(channel, created.id)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(fetched.content, "edited");

    let stored = fake.messages_in(FakeDiscord::CHANNEL_ID);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["content"], "edited");

    let requests = fake.requests();
    let typing = requests
        .iter()
        .find(|r| r.route.as_deref() == Some("/channels/{channel_id}/typing"))
        .expect("typing was recorded");
    assert_eq!(typing.status, 204);
    assert_eq!(
        typing.headers["authorization"].to_str().unwrap(),
        auth(&fake)
    );
    let post = requests
        .iter()
        .find(|r| r.method == http::Method::POST && r.path.ends_with("/messages"))
        .unwrap();
    assert_eq!(post.body.as_ref().unwrap()["content"], "hello from the bot");

    // Unknown channel: Discord's 404 with code 10003.
    let err = client
        .create_message(Id::new(42))
        .content("x")
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (404, 10003));
}

#[tokio::test]
async fn twilight_interaction_callback_followup_and_original() {
    init();
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let ic = client.interaction(Id::new(fake.application_id()));

    let injected = fake
        .inject_interaction_create(InteractionCreate::slash_command("ask").option("prompt", "hi"));
    let interaction: Interaction = serde_json::from_value(injected.json.clone()).unwrap();
    assert_eq!(interaction.kind, InteractionType::ApplicationCommand);
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("no command data");
    };
    assert_eq!(data.name, "ask");

    let defer = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: None,
    };
    ic.create_response(interaction.id, &interaction.token, &defer)
        .await
        .unwrap();
    let again = ic
        .create_response(interaction.id, &interaction.token, &defer)
        .await
        .unwrap_err();
    assert_eq!(api_code(&again), (400, 40060));

    let original = ic
        .update_response(&interaction.token)
        .content(Some("done thinking"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(original.content, "done thinking");
    assert!(original.flags.is_none_or(|f| f.bits() & 128 == 0));

    let followup = ic
        .create_followup(&interaction.token)
        .content("one more thing")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(followup.content, "one more thing");

    let kinds: Vec<(ResponseKind, u16)> = fake
        .interaction_responses(injected.id)
        .into_iter()
        .map(|r| (r.kind, r.status))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ResponseKind::Callback(5), 204),
            (ResponseKind::Callback(5), 400),
            (ResponseKind::EditOriginal, 200),
            (ResponseKind::Followup, 200),
        ]
    );
    let stored = fake.messages_in(FakeDiscord::CHANNEL_ID);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["content"], "done thinking");
    assert!(fake.late_interactions().is_empty());
}

#[tokio::test]
async fn components_modal_and_autocomplete_round_trip() {
    init();
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let ic = client.interaction(Id::new(fake.application_id()));
    let channel = Id::new(FakeDiscord::CHANNEL_ID);

    let row = Component::ActionRow(ActionRow {
        id: None,
        components: vec![Component::Button(Button {
            custom_id: Some("stop".to_owned()),
            disabled: false,
            emoji: None,
            id: None,
            label: Some("Stop".to_owned()),
            sku_id: None,
            style: ButtonStyle::Danger,
            url: None,
        })],
    });
    let msg = client
        .create_message(channel)
        .content("working…")
        .components(&[row])
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(msg.components.len(), 1);

    let press = fake.inject_interaction_create(InteractionCreate::button("stop", msg.id.get()));
    let interaction: Interaction = serde_json::from_value(press.json.clone()).unwrap();
    assert_eq!(interaction.kind, InteractionType::MessageComponent);
    assert_eq!(interaction.message.as_ref().map(|m| m.id), Some(msg.id));
    let update = InteractionResponse {
        kind: InteractionResponseType::UpdateMessage,
        data: Some(InteractionResponseData {
            content: Some("stopped".to_owned()),
            components: Some(Vec::new()),
            ..Default::default()
        }),
    };
    ic.create_response(interaction.id, &interaction.token, &update)
        .await
        .unwrap();
    let stored = fake.message(msg.id.get()).unwrap();
    assert_eq!(stored["content"], "stopped");

    let select =
        fake.inject_interaction_create(InteractionCreate::select("model", &["a"], msg.id.get()));
    let _: Interaction = serde_json::from_value(select.json).unwrap();

    let modal = fake.inject_interaction_create(
        InteractionCreate::modal_submit("ask-modal").field("question", "why?"),
    );
    let interaction: Interaction = serde_json::from_value(modal.json.clone()).unwrap();
    assert!(matches!(
        interaction.data,
        Some(InteractionData::ModalSubmit(_))
    ));

    let auto =
        fake.inject_interaction_create(InteractionCreate::autocomplete("ask", "model", "ll"));
    let interaction: Interaction = serde_json::from_value(auto.json.clone()).unwrap();
    assert_eq!(
        interaction.kind,
        InteractionType::ApplicationCommandAutocomplete
    );
    let url = format!(
        "{}/interactions/{}/{}/callback",
        fake.api_base(),
        auto.id,
        auto.token
    );
    let choices: Vec<Value> = (0..26)
        .map(|i| json!({"name": format!("m{i}"), "value": format!("m{i}")}))
        .collect();
    let too_many = reqwest_client()
        .post(&url)
        .json(&json!({"type": 8, "data": {"choices": choices}}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_many.status(), 400);
    let body: Value = too_many.json().await.unwrap();
    assert_eq!(body["code"], 50035);
    assert_eq!(
        body["errors"]["data"]["choices"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let ok = reqwest_client()
        .post(&url)
        .json(&json!({"type": 8, "data": {"choices": [{"name": "llama", "value": "llama"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);

    // A thread from a user, and one the bot makes from its own message.
    let thread = fake.inject_thread_create(ThreadCreate::new("user thread"));
    let thread: Channel = serde_json::from_value(thread).unwrap();
    assert_eq!(thread.kind, ChannelType::PublicThread);
    let bot_thread = client
        .create_thread_from_message(channel, msg.id, "bot thread")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(bot_thread.id.get(), msg.id.get());
    assert_eq!(fake.threads_in(FakeDiscord::CHANNEL_ID).len(), 2);
}

#[tokio::test]
async fn twilight_gateway_gets_ready_guilds_and_injected_message() {
    init();
    let fake = FakeDiscord::start().await;
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
    let mut shard = shard_with(&fake, FakeDiscord::TOKEN, intents);

    let Event::Ready(ready) = next_matching(&mut shard, |e| matches!(e, Event::Ready(_))).await
    else {
        unreachable!()
    };
    assert_eq!(ready.user.id.get(), FakeDiscord::BOT_USER_ID);
    assert_eq!(ready.application.id.get(), FakeDiscord::APPLICATION_ID);
    assert_eq!(ready.guilds.len(), 1);
    assert_eq!(ready.resume_gateway_url, fake.gateway_url());

    let Event::GuildCreate(guild) =
        next_matching(&mut shard, |e| matches!(e, Event::GuildCreate(_))).await
    else {
        unreachable!()
    };
    assert_eq!(guild.id().get(), FakeDiscord::GUILD_ID);

    let identify = fake.wait_for_identify().await.unwrap();
    assert_eq!(identify.intents, intents.bits());
    assert_eq!(identify.shard, Some([0, 1]));

    let sent = fake.inject_message_create(MessageCreate::new("hello bot"));
    let Event::MessageCreate(m) =
        next_matching(&mut shard, |e| matches!(e, Event::MessageCreate(_))).await
    else {
        unreachable!()
    };
    assert_eq!(m.content, "hello bot");
    assert_eq!(m.author.id.get(), FakeDiscord::USER_ID);
    assert_eq!(m.id.get().to_string(), sent["id"].as_str().unwrap());
    assert_eq!(m.guild_id.map(Id::get), Some(FakeDiscord::GUILD_ID));

    // A reply that mentions the bot, and a DM.
    fake.inject_message_create(
        MessageCreate::new(format!("{} what about this?", fake.bot_mention())).reply_to(m.id.get()),
    );
    let Event::MessageCreate(reply) =
        next_matching(&mut shard, |e| matches!(e, Event::MessageCreate(_))).await
    else {
        unreachable!()
    };
    assert_eq!(reply.mentions[0].id.get(), FakeDiscord::BOT_USER_ID);
    assert_eq!(reply.referenced_message.as_ref().map(|r| r.id), Some(m.id));

    // Direct messages need DIRECT_MESSAGES, which this shard did not ask for.
    let dm = fake.inject_message_create(MessageCreate::new("psst").dm());
    assert!(dm.get("guild_id").is_none());
    let dm_command = fake.inject_interaction_create(InteractionCreate::slash_command("ask").dm());
    let dm_interaction: Interaction = serde_json::from_value(dm_command.json).unwrap();
    assert!(dm_interaction.guild_id.is_none());
    assert_eq!(
        dm_interaction.user.as_ref().map(|u| u.id.get()),
        Some(FakeDiscord::USER_ID)
    );
    let Event::InteractionCreate(_) = next_matching(&mut shard, |e| {
        matches!(e, Event::InteractionCreate(_) | Event::MessageCreate(_))
    })
    .await
    else {
        panic!("a DM message reached a shard without DIRECT_MESSAGES")
    };

    let interaction = fake.inject_interaction_create(InteractionCreate::slash_command("ask"));
    let Event::InteractionCreate(got) =
        next_matching(&mut shard, |e| matches!(e, Event::InteractionCreate(_))).await
    else {
        unreachable!()
    };
    assert_eq!(got.id.get(), interaction.id);
}

#[tokio::test]
async fn message_content_intent_is_privileged() {
    init();
    let fake = FakeDiscord::start().await;
    let mut shard = shard_with(
        &fake,
        FakeDiscord::TOKEN,
        Intents::GUILDS | Intents::GUILD_MESSAGES,
    );
    next_matching(&mut shard, |e| matches!(e, Event::Ready(_))).await;
    fake.inject_message_create(MessageCreate::new("secret"));
    let Event::MessageCreate(m) =
        next_matching(&mut shard, |e| matches!(e, Event::MessageCreate(_))).await
    else {
        unreachable!()
    };
    assert_eq!(m.content, "");
    fake.inject_message_create(MessageCreate::new(format!("{} hi", fake.bot_mention())));
    let Event::MessageCreate(m) =
        next_matching(&mut shard, |e| matches!(e, Event::MessageCreate(_))).await
    else {
        unreachable!()
    };
    assert!(m.content.ends_with("hi"));

    // An application without the MESSAGE_CONTENT privilege that asks for it: 4014.
    let strict = FakeDiscord::builder()
        .allowed_privileged_intents(0)
        .start()
        .await;
    let mut shard = shard_with(
        &strict,
        FakeDiscord::TOKEN,
        Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
    );
    let Event::GatewayClose(Some(frame)) =
        next_matching(&mut shard, |e| matches!(e, Event::GatewayClose(_))).await
    else {
        panic!("no close frame")
    };
    assert_eq!(frame.code, 4014);
}

#[tokio::test]
async fn wrong_token_gets_401_and_4004() {
    init();
    let fake = FakeDiscord::start().await;
    let wrong = Client::builder()
        .token("not-the-token".to_owned())
        .proxy(fake.rest_addr_string(), true)
        .build();
    let err = wrong.current_user().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorType::Unauthorized) || api_code(&err).0 == 401);

    let raw = reqwest_client()
        .get(format!("{}/users/@me", fake.api_base()))
        .header("authorization", "Bot nope")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body, json!({"message": "401: Unauthorized", "code": 0}));

    let mut shard = shard_with(&fake, "not-the-token", Intents::GUILDS);
    let Event::GatewayClose(Some(frame)) =
        next_matching(&mut shard, |e| matches!(e, Event::GatewayClose(_))).await
    else {
        panic!("no close frame")
    };
    assert_eq!(frame.code, 4004);
    assert!(fake.identifies().is_empty());
}

#[tokio::test]
async fn content_over_2000_characters_is_rejected_like_discord() {
    init();
    let fake = FakeDiscord::start().await;
    let url = format!(
        "{}/channels/{}/messages",
        fake.api_base(),
        FakeDiscord::CHANNEL_ID
    );
    let response = reqwest_client()
        .post(&url)
        .header("authorization", auth(&fake))
        .json(&json!({"content": "x".repeat(2001)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {"content": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]}}
        })
    );

    // Embeds and components have their limits too.
    let rows: Vec<Value> = (0..6)
        .map(|i| json!({"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": format!("b{i}")}]}))
        .collect();
    let embed = json!({"title": "t", "description": "d".repeat(4000)});
    let response = reqwest_client()
        .post(&url)
        .header("authorization", auth(&fake))
        .json(&json!({"embeds": [embed.clone(), embed], "components": rows}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"]["embeds"]["_errors"][0]["code"],
        "MAX_EMBED_SIZE_EXCEEDED"
    );
    assert_eq!(
        body["errors"]["components"]["_errors"][0]["message"],
        "Must be 5 or fewer in length."
    );
    assert!(fake.messages_in(FakeDiscord::CHANNEL_ID).is_empty());
    assert!(
        fake.spec_violations().is_empty(),
        "limits are not spec violations"
    );
}

#[tokio::test]
async fn deliberately_wrong_request_is_caught() {
    init();
    let fake = FakeDiscord::start().await;
    let url = format!(
        "{}/channels/{}/messages",
        fake.api_base(),
        FakeDiscord::CHANNEL_ID
    );
    let response = reqwest_client()
        .post(&url)
        .header("authorization", auth(&fake))
        .json(&json!({"content": "fine", "tts": "yes please"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 50035);
    assert!(body["errors"]["tts"]["_errors"].is_array(), "{body}");

    // A path that is not in the spec, and a path parameter that is not a snowflake.
    let unknown = reqwest_client()
        .post(format!("{}/channels/1/nonsense", fake.api_base()))
        .header("authorization", auth(&fake))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad_id = reqwest_client()
        .get(format!("{}/channels/general", fake.api_base()))
        .header("authorization", auth(&fake))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 400);

    let violations = fake.take_spec_violations();
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert_eq!(violations[0].problems[0].path, vec!["body", "tts"]);
    assert_eq!(
        violations[0].route.as_deref(),
        Some("/channels/{channel_id}/messages")
    );
    assert!(violations[1].route.is_none());
    assert_eq!(violations[2].problems[0].path, vec!["path", "channel_id"]);
    assert!(fake.messages_in(FakeDiscord::CHANNEL_ID).is_empty());
}

#[tokio::test]
#[should_panic(expected = "did not fit Discord's OpenAPI spec")]
async fn an_untaken_violation_fails_the_test() {
    init();
    let fake = FakeDiscord::start().await;
    let _ = reqwest_client()
        .post(format!(
            "{}/channels/{}/messages",
            fake.api_base(),
            FakeDiscord::CHANNEL_ID
        ))
        .header("authorization", auth(&fake))
        .json(&json!({"content": 5}))
        .send()
        .await
        .unwrap();
    drop(fake);
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    init();
    let fake = FakeDiscord::builder()
        .message_rate_limit(2, Duration::from_secs(30))
        .start()
        .await;
    let url = format!(
        "{}/channels/{}/messages",
        fake.api_base(),
        FakeDiscord::CHANNEL_ID
    );
    let client = reqwest_client();
    let mut ids = Vec::new();
    for (i, remaining) in [(0, "1"), (1, "0")] {
        let r = client
            .post(&url)
            .header("authorization", auth(&fake))
            .json(&json!({"content": format!("m{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["x-ratelimit-limit"], "2");
        assert_eq!(h["x-ratelimit-remaining"], remaining);
        assert!(h.contains_key("x-ratelimit-bucket"));
        assert!(h.contains_key("x-ratelimit-reset"));
        let reset_after: f64 = h["x-ratelimit-reset-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset_after > 0.0 && reset_after <= 30.0);
        let m: Value = r.json().await.unwrap();
        ids.push(m["id"].as_str().unwrap().to_owned());
    }
    let limited = client
        .post(&url)
        .header("authorization", auth(&fake))
        .json(&json!({"content": "too many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let bucket = limited.headers()["x-ratelimit-bucket"].clone();
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    assert!(body["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(fake.rate_limited().len(), 1);
    assert_eq!(fake.messages_in(FakeDiscord::CHANNEL_ID).len(), 2);

    // Creating and editing messages in one channel share its bucket, as on Discord: with both
    // creates spent, an edit is refused too, and both name the same bucket.
    let r = client
        .patch(format!("{url}/{}", ids[0]))
        .header("authorization", auth(&fake))
        .json(&json!({"content": "edit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the edit spends the creates' bucket");
    assert_eq!(r.headers()["x-ratelimit-bucket"], bucket);
}

/// The global limit counts any rolling second (not fixed windows), interaction endpoints
/// excepted, and its 429 says so.
#[tokio::test]
async fn the_global_limit_refuses_one_request_too_many_in_a_second() {
    init();
    // A lowered limit, so that the requests surely fall within one second.
    let fake = FakeDiscord::builder()
        .global_rate_limit(Some(3))
        .start()
        .await;
    let url = format!(
        "{}/channels/{}/typing",
        fake.api_base(),
        FakeDiscord::CHANNEL_ID
    );
    let client = reqwest_client();
    for _ in 0..3 {
        let r = client
            .get(format!("{}/users/@me", fake.api_base()))
            .header("authorization", auth(&fake))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // …then the 4th, within the second of the first.
    let r = client
        .post(&url)
        .header("authorization", auth(&fake))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-scope"], "global");
    assert_eq!(r.headers()["x-ratelimit-global"], "true");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["global"], true);
    let hits = fake.rate_limited();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].global);
}

#[tokio::test]
async fn twilight_waits_on_the_headers_instead_of_hitting_429() {
    init();
    let fake = FakeDiscord::builder()
        .message_rate_limit(2, Duration::from_millis(600))
        .start()
        .await;
    let client = http(&fake);
    let channel = Id::new(FakeDiscord::CHANNEL_ID);
    for i in 0..5 {
        client
            .create_message(channel)
            .content(&format!("n{i}"))
            .await
            .unwrap();
    }
    assert_eq!(fake.messages_in(FakeDiscord::CHANNEL_ID).len(), 5);
    assert!(fake.rate_limited().is_empty(), "{:?}", fake.rate_limited());
}

#[tokio::test]
async fn late_interactions_are_noted() {
    init();
    let fake = FakeDiscord::builder()
        .interaction_deadline(Duration::from_millis(100))
        .start()
        .await;
    let answered_late = fake.inject_interaction_create(InteractionCreate::slash_command("ask"));
    let never = fake.inject_interaction_create(InteractionCreate::slash_command("ask"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = reqwest_client()
        .post(format!(
            "{}/interactions/{}/{}/callback",
            fake.api_base(),
            answered_late.id,
            answered_late.token
        ))
        .json(&json!({"type": 4, "data": {"content": "sorry, slow"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 10062);

    let late = fake.late_interactions();
    assert_eq!(late.len(), 2);
    assert_eq!(late[0].interaction_id, answered_late.id);
    assert!(late[0].answered_after.unwrap() >= Duration::from_millis(100));
    assert_eq!(late[1].interaction_id, never.id);
    assert_eq!(late[1].answered_after, None);
}

async fn recv_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out")
            .expect("stream ended")
            .expect("ws error");
        match msg {
            WsMessage::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            WsMessage::Close(frame) => {
                return json!({"close": frame.map(|f| u16::from(f.code))});
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn raw_gateway_heartbeats_and_resume_replays() {
    init();
    let fake = FakeDiscord::builder()
        .heartbeat_interval(Duration::from_millis(500))
        .start()
        .await;
    let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let hello = recv_json(&mut ws).await;
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 500);

    ws.send(WsMessage::Text(
        json!({"op": 1, "d": null}).to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(recv_json(&mut ws).await["op"], 11);

    let identify = json!({"op": 2, "d": {
        "token": format!("Bot {}", FakeDiscord::TOKEN),
        "intents": 513 | (1 << 15),
        "properties": {"os": "linux", "browser": "test", "device": "test"},
    }});
    ws.send(WsMessage::Text(identify.to_string().into()))
        .await
        .unwrap();
    let ready = recv_json(&mut ws).await;
    assert_eq!(
        (ready["t"].as_str(), ready["s"].as_u64()),
        (Some("READY"), Some(1))
    );
    let session_id = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let guild = recv_json(&mut ws).await;
    assert_eq!(
        (guild["t"].as_str(), guild["s"].as_u64()),
        (Some("GUILD_CREATE"), Some(2))
    );

    fake.request_heartbeat();
    assert_eq!(recv_json(&mut ws).await["op"], 1);

    fake.disconnect_all(4000);
    assert_eq!(recv_json(&mut ws).await["close"], 4000);
    fake.inject_message_create(MessageCreate::new("missed one"));
    fake.inject_message_create(MessageCreate::new("missed two"));

    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(recv_json(&mut ws).await["op"], 10);
    let resume = json!({"op": 6, "d": {
        "token": format!("Bot {}", FakeDiscord::TOKEN),
        "session_id": session_id,
        "seq": 2,
    }});
    ws.send(WsMessage::Text(resume.to_string().into()))
        .await
        .unwrap();
    let first = recv_json(&mut ws).await;
    let second = recv_json(&mut ws).await;
    let resumed = recv_json(&mut ws).await;
    assert_eq!(
        (first["s"].as_u64(), first["d"]["content"].as_str()),
        (Some(3), Some("missed one"))
    );
    assert_eq!(
        (second["s"].as_u64(), second["d"]["content"].as_str()),
        (Some(4), Some("missed two"))
    );
    assert_eq!(
        (resumed["t"].as_str(), resumed["s"].as_u64()),
        (Some("RESUMED"), Some(5))
    );
    let r = fake.wait_for_resume().await.unwrap();
    assert_eq!((r.seq, r.replayed), (2, 2));

    // A session that does not exist cannot be resumed.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    recv_json(&mut ws).await;
    let bad = json!({"op": 6, "d": {"token": format!("Bot {}", FakeDiscord::TOKEN), "session_id": "nope", "seq": 1}});
    ws.send(WsMessage::Text(bad.to_string().into()))
        .await
        .unwrap();
    let invalid = recv_json(&mut ws).await;
    assert_eq!(
        (invalid["op"].as_u64(), invalid["d"].as_bool()),
        (Some(9), Some(false))
    );
}

#[tokio::test]
async fn twilight_shard_resumes_after_disconnect() {
    init();
    let fake = FakeDiscord::start().await;
    let mut shard = shard_with(
        &fake,
        FakeDiscord::TOKEN,
        Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
    );
    next_matching(&mut shard, |e| matches!(e, Event::GuildCreate(_))).await;
    fake.disconnect_all(4000);
    fake.inject_message_create(MessageCreate::new("while you were away"));
    let Event::MessageCreate(m) =
        next_matching(&mut shard, |e| matches!(e, Event::MessageCreate(_))).await
    else {
        unreachable!()
    };
    assert_eq!(m.content, "while you were away");
    next_matching(&mut shard, |e| matches!(e, Event::Resumed)).await;
    let r = fake.wait_for_resume().await.unwrap();
    assert_eq!(r.replayed, 1);
    assert_eq!(fake.identifies().len(), 1);
}

#[tokio::test]
async fn allowed_mentions_decide_who_is_pinged() {
    init();
    let fake = FakeDiscord::start().await;
    let url = format!(
        "{}/channels/{}/messages",
        fake.api_base(),
        FakeDiscord::CHANNEL_ID
    );
    let content = format!("@everyone look, <@{}>", FakeDiscord::USER_ID);
    let send = |body: Value| {
        reqwest_client()
            .post(&url)
            .header("authorization", auth(&fake))
            .json(&body)
            .send()
    };
    let quiet: Value = send(json!({"content": content, "allowed_mentions": {"parse": []}}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quiet["mention_everyone"], false);
    assert_eq!(quiet["mentions"], json!([]));
    let loud: Value = send(json!({"content": content}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(loud["mention_everyone"], true);
    assert_eq!(loud["mentions"][0]["id"], FakeDiscord::USER_ID.to_string());
    let _: Message = serde_json::from_value(loud).unwrap();
}

#[tokio::test]
async fn commands_register_and_injected_commands_use_their_ids() {
    init();
    let fake = FakeDiscord::builder()
        .guild(
            GuildConfig::new(1_200_000_000_000_009_000, "Second")
                .text_channel(1_200_000_000_000_009_001, "chat"),
        )
        .start()
        .await;
    let client = http(&fake);
    let ic = client.interaction(Id::new(fake.application_id()));
    let command: twilight_model::application::command::Command = serde_json::from_value(json!({
        "type": 1,
        "name": "ask",
        "description": "Ask the model",
        "version": "1",
        "options": [{"type": 3, "name": "prompt", "description": "What to ask", "required": true}],
    }))
    .unwrap();
    let registered = ic
        .set_global_commands(&[command])
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(registered.len(), 1);
    let id = registered[0].id.unwrap().get();
    assert_eq!(fake.global_commands().len(), 1);

    let injected = fake.inject_interaction_create(
        InteractionCreate::slash_command("ask")
            .option("prompt", "hello")
            .channel(1_200_000_000_000_009_001),
    );
    assert_eq!(injected.json["data"]["id"], id.to_string());
    assert_eq!(injected.json["guild_id"], "1200000000000009000");
}

#[tokio::test]
async fn attachments_of_injected_messages_are_served_and_parse_in_twilight() {
    init();
    let fake = FakeDiscord::start().await;
    let json = fake.inject_message_create(
        MessageCreate::new("see attached")
            .attachment("notes.txt", "text/plain", "hello file")
            .attachment("pixel.png", "image/png", vec![0x89, 0x50, 0x4e, 0x47]),
    );
    let message: Message = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(message.attachments.len(), 2);
    let notes = &message.attachments[0];
    assert_eq!(notes.filename, "notes.txt");
    assert_eq!(notes.content_type.as_deref(), Some("text/plain"));
    assert_eq!(notes.size, 10);
    assert!(
        notes
            .url
            .starts_with(&format!("http://{}/attachments/", fake.rest_addr())),
        "{}",
        notes.url
    );
    let client = reqwest::Client::new();
    let response = client.get(&notes.url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "hello file");
    let png = client
        .get(&message.attachments[1].url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        png.bytes().await.unwrap().as_ref(),
        &[0x89, 0x50, 0x4e, 0x47]
    );
    // Another name for the same id, or an unknown id: not found; and no spec violation, since
    // downloads are not API requests.
    let wrong = notes.url.replace("notes.txt", "other.txt");
    assert_eq!(client.get(&wrong).send().await.unwrap().status(), 404);
    let unknown = format!("http://{}/attachments/1/notes.txt", fake.rest_addr());
    assert_eq!(client.get(&unknown).send().await.unwrap().status(), 404);
    assert!(fake.spec_violations().is_empty());
}
