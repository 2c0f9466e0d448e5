//! Unit tests of `middleware`.

use super::*;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;
use tower::{ServiceBuilder, ServiceExt};

const ALICE: u64 = 10;
const BOB: u64 = 11;
const MODS: u64 = 50;

fn request(
    command: &str,
    access: Access,
    user: u64,
    roles: &[u64],
    body: &str,
) -> CommandRequest<String> {
    CommandRequest {
        command: command.to_owned(),
        access,
        invoker: Invoker {
            user: Id::new(user),
            roles: roles.iter().map(|&r| Id::new(r)).collect(),
            permissions: None,
            guild: Some(Id::new(1)),
            channel: Some(Id::new(2)),
        },
        body: body.to_owned(),
    }
}

/// The real handler the layers wrap: echoes, sleeps, refuses or fails by its input.
async fn handler(request: CommandRequest<String>) -> CommandResult {
    match request.body.as_str() {
        "slow" => {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(CommandResponse::private("slept"))
        }
        "bad" => Err(CommandError::Invalid("that model does not exist".into())),
        "boom" => Err(CommandError::internal(std::io::Error::other(
            "disk on fire",
        ))),
        other => Ok(CommandResponse::private(format!(
            "{} said {other}",
            request.invoker.user
        ))),
    }
}

fn admins() -> AdminPolicy {
    AdminPolicy {
        users: HashSet::from([Id::new(BOB)]),
        roles: HashSet::from([Id::new(MODS)]),
        server_managers: true,
    }
}

fn content(response: CommandResponse) -> String {
    match response {
        CommandResponse::Message {
            content,
            ephemeral: true,
        } => content,
        other => panic!("not an ephemeral message: {other:?}"),
    }
}

/// Captures what tracing writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .finish()
    }
}

#[tokio::test]
async fn the_stack_answers_and_formats_refusals() {
    let mut svc = service(tower::service_fn(handler), admins());
    let ok = svc
        .ready()
        .await
        .unwrap()
        .call(request("chat", Access::Everyone, ALICE, &[], "hi"))
        .await
        .unwrap();
    assert_eq!(content(ok), "10 said hi");

    let refused = svc
        .ready()
        .await
        .unwrap()
        .call(request("status", Access::Admins, ALICE, &[], "x"))
        .await
        .unwrap();
    let text = content(refused);
    assert!(
        text.contains("`/status` is only for the bot's admins"),
        "{text}"
    );
    assert!(text.contains("(error `"), "an error id is shown: {text}");

    let by_user = svc
        .ready()
        .await
        .unwrap()
        .call(request("status", Access::Admins, BOB, &[], "x"))
        .await
        .unwrap();
    assert_eq!(content(by_user), "11 said x");
    let by_role = svc
        .ready()
        .await
        .unwrap()
        .call(request("status", Access::Admins, 99, &[7, MODS], "x"))
        .await
        .unwrap();
    assert_eq!(content(by_role), "99 said x");

    let invalid = svc
        .ready()
        .await
        .unwrap()
        .call(request("model", Access::Everyone, ALICE, &[], "bad"))
        .await
        .unwrap();
    assert!(content(invalid).starts_with("⚠️ that model does not exist"));
}

#[tokio::test]
async fn server_managers_count_as_admins_only_when_configured() {
    let mut manager = request("status", Access::Admins, 77, &[], "x");
    manager.invoker.permissions = Some(Permissions::MANAGE_GUILD | Permissions::SEND_MESSAGES);
    assert!(admins().allows(&manager.invoker));
    assert!(
        !AdminPolicy {
            server_managers: false,
            ..admins()
        }
        .allows(&manager.invoker)
    );
    manager.invoker.guild = None;
    assert!(
        !admins().allows(&manager.invoker),
        "no server, no server manager"
    );
    let mut plain = manager.clone();
    plain.invoker.guild = Some(Id::new(1));
    plain.invoker.permissions = Some(Permissions::SEND_MESSAGES);
    assert!(!admins().allows(&plain.invoker));
}

#[tokio::test]
async fn internal_errors_are_logged_with_the_id_the_person_sees() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber());
    let mut svc = service(tower::service_fn(handler), admins());
    let response = svc
        .ready()
        .await
        .unwrap()
        .call(request("chat", Access::Everyone, ALICE, &[], "boom"))
        .await
        .unwrap();
    let text = content(response);
    assert!(
        !text.contains("disk on fire"),
        "causes stay in the logs: {text}"
    );
    let id = text.split('`').nth(1).expect("an error id");
    assert_eq!(id.len(), 8);
    let logs = captured.text();
    let line = logs
        .lines()
        .find(|l| l.contains("command failed"))
        .expect("logged");
    assert!(line.contains(&format!("error_id={id}")), "{line}");
    assert!(line.contains("disk on fire"), "{line}");
    assert!(logs.contains("outcome=\"internal\""), "{logs}");
}

#[tokio::test(start_paused = true)]
async fn logging_records_outcome_and_time() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber());
    let mut svc = ServiceBuilder::new()
        .layer_fn(|inner| Logging { inner })
        .service_fn(handler);
    svc.ready()
        .await
        .unwrap()
        .call(request("chat", Access::Everyone, ALICE, &[], "slow"))
        .await
        .unwrap();
    let error = svc
        .ready()
        .await
        .unwrap()
        .call(request("model", Access::Everyone, ALICE, &[], "bad"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "invalid");
    let logs = captured.text();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("command done"))
        .collect();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(
        lines[0].contains("elapsed_ms=1500") && lines[0].contains("outcome=\"ok\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("command=chat") && lines[0].contains("user=10"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("outcome=\"invalid\""), "{}", lines[1]);
}

#[test]
fn responses_become_interaction_responses_that_never_ping() {
    let response = CommandResponse::private("@everyone hi")
        .into_interaction_response()
        .unwrap();
    assert_eq!(
        response.kind,
        InteractionResponseType::ChannelMessageWithSource
    );
    let data = response.data.unwrap();
    assert_eq!(data.flags, Some(MessageFlags::EPHEMERAL));
    assert_eq!(data.allowed_mentions, Some(no_pings()));
    let public = CommandResponse::Message {
        content: "x".into(),
        ephemeral: false,
    };
    assert_eq!(
        public
            .into_interaction_response()
            .unwrap()
            .data
            .unwrap()
            .flags,
        None
    );
    assert!(
        CommandResponse::Handled
            .into_interaction_response()
            .is_none()
    );
}

#[test]
fn the_invoker_is_read_from_an_interaction() {
    let interaction: Interaction = serde_json::from_value(serde_json::json!({
            "id": "1", "application_id": "2", "type": 2, "token": "t", "version": 1,
            "guild_id": "3", "channel": {"id": "4", "type": 0}, "channel_id": "4",
            "member": {"user": {"id": "5", "username": "alice", "discriminator": "0", "avatar": null},
                       "roles": ["6"], "permissions": "32", "joined_at": null, "deaf": false, "mute": false, "flags": 0},
            "data": {"id": "7", "name": "status", "type": 1},
            "entitlements": [], "authorizing_integration_owners": {}, "attachment_size_limit": 1
        }))
        .unwrap();
    let invoker = Invoker::from_interaction(&interaction).unwrap();
    assert_eq!(invoker.user, Id::new(5));
    assert_eq!(invoker.roles, [Id::new(6)]);
    assert_eq!(invoker.guild, Some(Id::new(3)));
    assert_eq!(invoker.channel, Some(Id::new(4)));
    assert!(
        admins().allows(&invoker),
        "MANAGE_GUILD (32) is a server manager"
    );
}

#[tokio::test]
async fn a_command_refused_for_a_role_says_which_role_would_do_and_admins_pass() {
    use crate::roles::{BotRole, Policy, Roles};
    use mcpcord_engine::Allowed;
    const GUESTS: u64 = 61;
    const HELPERS: u64 = 60;
    let guest = BotRole {
        discord_roles: HashSet::from([Id::new(GUESTS)]),
        commands: Allowed::Only(vec!["chat".into()]),
        ..BotRole::ordinary("guest")
    };
    let helper = BotRole {
        discord_roles: HashSet::from([Id::new(HELPERS)]),
        commands: Allowed::Only(vec!["chat".into(), "search".into(), "status".into()]),
        ..BotRole::ordinary("helper")
    };
    let policy = Policy {
        admins: admins(),
        roles: Roles {
            roles: vec![guest, helper],
            ..Roles::default()
        },
        allowed_models: None,
    };
    let mut svc = service(tower::service_fn(handler), policy);
    let mut call = |request| {
        let future = svc.call(request);
        async move { content(future.await.unwrap()) }
    };
    let refused = call(request("search", Access::Everyone, ALICE, &[GUESTS], "x")).await;
    assert!(
        refused.contains("`/search` needs the bot role admin or helper or default; yours: guest"),
        "{refused}"
    );
    assert_eq!(
        call(request("chat", Access::Everyone, ALICE, &[GUESTS], "hi")).await,
        "10 said hi"
    );
    let status = call(request("status", Access::Admins, ALICE, &[GUESTS], "x")).await;
    assert!(
        status.contains("`/status` needs the bot role admin or helper; yours: guest"),
        "{status}"
    );
    assert_eq!(
        call(request("status", Access::Admins, ALICE, &[HELPERS], "x")).await,
        "10 said x"
    );
    // An admin holding the guest role too may do everything.
    assert_eq!(
        call(request("search", Access::Everyone, BOB, &[GUESTS], "x")).await,
        "11 said x"
    );
    let wide = call(request("model set", Access::Wide, ALICE, &[HELPERS], "x")).await;
    assert!(wide.contains("only for the bot's admins"), "{wide}");
}
