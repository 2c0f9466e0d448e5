//! The commands, components and responses of the adapter, sent through the real twilight HTTP
//! client to FakeDiscord, which checks every request against Discord's OpenAPI description.

use mcpcord_discord::commands::{
    self, BotCommand, all_commands, autocomplete_choices, autocomplete_response, catalogue, focused,
};
use mcpcord_discord::components::{
    self, ApprovalPrompt, Controls, CustomId, ElicitationPrompt, FormField, ModelChoice, Scope,
};
use mcpcord_discord::mentions::no_pings;
use mcpcord_discord::middleware::{
    self, AdminPolicy, CommandError, CommandRequest, CommandResponse, CommandResult, Invoker,
};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InteractionCreate, ResponseKind};
use tower::{Service, ServiceExt};
use twilight_http::Client;
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::id::Id;

fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http(fake: &FakeDiscord) -> Client {
    Client::builder()
        .token(fake.token().to_owned())
        .proxy(fake.rest_addr_string(), true)
        .default_allowed_mentions(no_pings())
        .build()
}

fn interaction(json: &serde_json::Value) -> Interaction {
    serde_json::from_value(json.clone()).expect("an interaction twilight reads")
}

fn command_data(
    interaction: &Interaction,
) -> twilight_model::application::interaction::application_command::CommandData {
    match &interaction.data {
        Some(InteractionData::ApplicationCommand(data)) => (**data).clone(),
        other => panic!("not a command: {other:?}"),
    }
}

#[tokio::test]
async fn every_command_registers_without_spec_violations_and_help_lists_them() {
    init();
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let ic = client.interaction(Id::new(fake.application_id()));
    let commands = all_commands();

    let registered = ic
        .set_global_commands(&commands)
        .await
        .expect("Discord accepts the commands")
        .models()
        .await
        .unwrap();
    assert_eq!(registered.len(), commands.len());
    // Per guild, as for development.
    ic.set_guild_commands(Id::new(FakeDiscord::GUILD_ID), &commands)
        .await
        .unwrap();
    let violations = fake.take_spec_violations();
    assert!(violations.is_empty(), "{violations:#?}");

    let stored: Vec<String> = fake
        .global_commands()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored.len(), catalogue().len());
    let overview = commands::help::help(&catalogue(), None)
        .description
        .unwrap();
    for name in &stored {
        let shown = format!("`/{name}`");
        let menu = format!("`Apps › {name}`");
        assert!(
            overview.contains(&shown) || overview.contains(&menu),
            "/help does not list {name}"
        );
    }
    assert_eq!(
        fake.guild_commands(FakeDiscord::GUILD_ID).len(),
        stored.len()
    );
}

#[tokio::test]
async fn help_autocomplete_and_modals_answer_within_the_spec() {
    init();
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let ic = client.interaction(Id::new(fake.application_id()));
    ic.set_global_commands(&all_commands()).await.unwrap();

    // /help → the overview embed.
    let injected = fake.inject_interaction_create(InteractionCreate::slash_command("help"));
    let help = interaction(&injected.json);
    let BotCommand::Help(args) = BotCommand::parse(command_data(&help)).unwrap() else {
        panic!("not /help");
    };
    let embed = commands::help::help(&catalogue(), args.command.as_deref());
    let response = CommandResponse::Embed {
        embed: Box::new(embed),
        ephemeral: true,
    }
    .into_interaction_response()
    .unwrap();
    ic.create_response(help.id, &help.token, &response)
        .await
        .unwrap();

    // Typing in /help command: → choices.
    let injected =
        fake.inject_interaction_create(InteractionCreate::autocomplete("help", "command", "mo"));
    let typing = interaction(&injected.json);
    let focus = focused(&command_data(&typing)).expect("a focused option");
    assert_eq!(
        (focus.path.as_str(), focus.option.as_str()),
        ("help", "command")
    );
    let choices = autocomplete_choices(commands::help::topics(&catalogue()), &focus.typed);
    let names: Vec<&str> = choices.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["model", "models", "memory"], "prefixes first");
    ic.create_response(typing.id, &typing.token, &autocomplete_response(choices))
        .await
        .unwrap();

    // /prompt → its arguments in a modal.
    let injected = fake.inject_interaction_create(
        InteractionCreate::slash_command("prompt").option("name", "git › summarize"),
    );
    let prompt = interaction(&injected.json);
    let BotCommand::Prompt(args) = BotCommand::parse(command_data(&prompt)).unwrap() else {
        panic!("not /prompt");
    };
    assert_eq!(args.name, "git › summarize");
    let fields = [
        FormField {
            key: "since".into(),
            label: "Since when".into(),
            description: Some("A date or a commit".into()),
            required: true,
            long: false,
            value: None,
        },
        FormField {
            key: "notes".into(),
            label: "Anything else".into(),
            description: None,
            required: false,
            long: true,
            value: Some("none".into()),
        },
    ];
    let modal = components::modal(
        CustomId::PromptForm { request: 1 },
        "git › summarize",
        &fields,
    )
    .unwrap();
    ic.create_response(prompt.id, &prompt.token, &modal)
        .await
        .unwrap();

    let violations = fake.take_spec_violations();
    assert!(violations.is_empty(), "{violations:#?}");
    for id in [help.id, typing.id, prompt.id] {
        let responses = fake.interaction_responses(id.get());
        assert_eq!(responses.len(), 1);
        assert!(matches!(responses[0].kind, ResponseKind::Callback(_)));
        assert_eq!(responses[0].status, 204, "{responses:?}");
    }
}

#[tokio::test]
async fn answer_controls_and_menus_are_valid_messages_that_never_ping() {
    init();
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let channel = Id::new(FakeDiscord::CHANNEL_ID);

    let generating = Controls {
        stop: true,
        approvals: vec![ApprovalPrompt { call: 0 }],
        elicitations: vec![
            ElicitationPrompt::Form {
                call: 4,
                label: "Answer the weather server".into(),
            },
            ElicitationPrompt::Url {
                url: "https://example.com/login".into(),
                label: "Sign in".into(),
            },
        ],
        ..Controls::default()
    };
    let message = client
        .create_message(channel)
        .content("@everyone thinking…")
        .components(&generating.rows(1).unwrap())
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let finished = Controls {
        regenerate: true,
        continue_: true,
        reasoning: true,
        ..Controls::default()
    };
    client
        .update_message(channel, message.id)
        .content(Some("done <@&1>"))
        .components(Some(&finished.rows(1).unwrap()))
        .await
        .unwrap();
    let models: Vec<ModelChoice> = (0..30)
        .map(|i| ModelChoice {
            name: format!("model-{i}"),
            description: Some("8B · tools · vision".into()),
        })
        .collect();
    let (menu, left_out) = components::model_menu(&models, Some("model-3"), Scope::Channel);
    assert_eq!(left_out, 5);
    client
        .create_message(channel)
        .content("Choose a model")
        .components(&[menu])
        .await
        .unwrap();

    let violations = fake.take_spec_violations();
    assert!(violations.is_empty(), "{violations:#?}");
    let stored = fake.messages_in(FakeDiscord::CHANNEL_ID);
    assert_eq!(stored[0]["mention_everyone"], false);
    assert_eq!(stored[0]["mention_roles"], serde_json::json!([]));
    for request in fake.requests() {
        if let Some(body) = request.body.as_ref().filter(|b| b.get("content").is_some()) {
            assert_eq!(
                body["allowed_mentions"],
                serde_json::json!({"parse": []}),
                "{body}"
            );
        }
    }
}

/// The handler behind the middleware in these tests: answers from the parsed command.
async fn handle(request: CommandRequest<Interaction>) -> CommandResult {
    match BotCommand::parse(command_data(&request.body)) {
        Ok(BotCommand::Tools(_)) => Ok(CommandResponse::private("all good")),
        Ok(other) => Err(CommandError::Invalid(format!(
            "/{} is not wired yet",
            other.path()
        ))),
        Err(error) => Err(CommandError::internal(error)),
    }
}

#[tokio::test]
async fn middleware_refusals_are_ephemeral_responses() {
    init();
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let ic = client.interaction(Id::new(fake.application_id()));
    ic.set_global_commands(&all_commands()).await.unwrap();
    let admins = AdminPolicy {
        users: [Id::new(FakeDiscord::USER_ID)].into(),
        ..AdminPolicy::default()
    };
    let mut service = middleware::service(tower::service_fn(handle), admins);

    for (user, expected) in [
        (FakeDiscord::USER_ID, "all good"),
        (1_200_000_000_000_000_999, "only for the bot's admins"),
    ] {
        let injected = fake.inject_interaction_create(
            InteractionCreate::slash_command("tools")
                .subcommand("disable")
                .option("tool", "test › echo")
                .user(user, "someone"),
        );
        let body = interaction(&injected.json);
        let command = BotCommand::parse(command_data(&body)).unwrap();
        let request = CommandRequest {
            command: command.path(),
            access: command.access(),
            invoker: Invoker::from_interaction(&body).unwrap(),
            body: body.clone(),
        };
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        let CommandResponse::Message { content, ephemeral } = &response else {
            panic!("{response:?}");
        };
        assert!(content.contains(expected), "{content}");
        assert!(ephemeral);
        ic.create_response(
            body.id,
            &body.token,
            &response.into_interaction_response().unwrap(),
        )
        .await
        .unwrap();
        let recorded = fake.interaction_responses(injected.id);
        assert_eq!(recorded[0].status, 204);
    }
    let violations = fake.take_spec_violations();
    assert!(violations.is_empty(), "{violations:#?}");
}
