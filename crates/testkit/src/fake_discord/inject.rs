//! Builders for what tests inject as if users did it (a message, a slash command, a button
//! press, a select, a modal submit, an autocomplete request, a new thread) and the code that
//! turns them into realistic gateway JSON, stores them and dispatches them.
//!
//! Why one long file: one builder per kind of thing a person does in Discord, each with the JSON
//! Discord would send for it; they share the same storing and dispatching, and a test reads
//! them side by side.

use super::ids::random_token;
use super::shapes::{self, UserRec};
use super::state::{InteractionRec, Shared};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Where an injected event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Place {
    /// The fake's first configured channel.
    #[default]
    Default,
    /// A channel (its guild, if known, is used; unknown channels join the default guild).
    Channel(u64),
    /// The author's DM channel with the bot.
    Dm,
}

/// A user message to inject as MESSAGE_CREATE. Mentions are parsed from the content
/// (`<@id>`, `<@&id>`, `@everyone`), as Discord does.
#[derive(Debug, Clone)]
pub struct MessageCreate {
    content: String,
    place: Place,
    author: Option<(u64, String, bool)>,
    reply_to: Option<u64>,
    id: Option<u64>,
    embeds: Vec<Value>,
    attachments: Vec<Upload>,
}

/// A file attached to an injected message; the fake serves its bytes at the attachment's `url`.
#[derive(Debug, Clone)]
struct Upload {
    filename: String,
    content_type: String,
    bytes: Vec<u8>,
}

impl MessageCreate {
    /// A message with this content, by the default user, in the default channel.
    pub fn new(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            place: Place::Default,
            author: None,
            reply_to: None,
            id: None,
            embeds: Vec::new(),
            attachments: Vec::new(),
        }
    }

    /// Sent in this channel.
    pub fn channel(mut self, channel_id: u64) -> Self {
        self.place = Place::Channel(channel_id);
        self
    }

    /// Sent in the author's DM with the bot.
    pub fn dm(mut self) -> Self {
        self.place = Place::Dm;
        self
    }

    /// Written by this user (added to the fake if unknown).
    pub fn author(mut self, user_id: u64, name: impl Into<String>) -> Self {
        self.author = Some((user_id, name.into(), false));
        self
    }

    /// Written by another bot.
    pub fn bot_author(mut self, user_id: u64, name: impl Into<String>) -> Self {
        self.author = Some((user_id, name.into(), true));
        self
    }

    /// A reply to a stored message (sets `message_reference` and `referenced_message`).
    pub fn reply_to(mut self, message_id: u64) -> Self {
        self.reply_to = Some(message_id);
        self
    }

    /// Uses this message id instead of a fresh snowflake.
    pub fn id(mut self, message_id: u64) -> Self {
        self.id = Some(message_id);
        self
    }

    /// Attaches a file. The message's attachment object carries `content_type` and `size`, and
    /// its `url` (and `proxy_url`) point at the fake itself, `http://127.0.0.1:PORT/attachments/
    /// {id}/{filename}` (outside `/api/v10`: a download, not an API request), which serves
    /// `bytes` with that content type.
    pub fn attachment(
        mut self,
        filename: impl Into<String>,
        content_type: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
    ) -> Self {
        self.attachments.push(Upload {
            filename: filename.into(),
            content_type: content_type.into(),
            bytes: bytes.into(),
        });
        self
    }

    /// Adds an embed (a JSON embed object; `type` defaults to `rich`).
    pub fn embed(mut self, embed: Value) -> Self {
        self.embeds.push(embed);
        self
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Command {
        name: String,
        command_type: u8,
        options: Vec<Value>,
        target_id: Option<u64>,
    },
    Autocomplete {
        name: String,
        options: Vec<Value>,
    },
    Component {
        custom_id: String,
        component_type: u8,
        values: Vec<String>,
        message_id: u64,
    },
    Modal {
        custom_id: String,
        fields: Vec<(String, String)>,
        message_id: Option<u64>,
    },
}

/// An interaction to inject as INTERACTION_CREATE.
#[derive(Debug, Clone)]
pub struct InteractionCreate {
    kind: Kind,
    place: Place,
    user: Option<(u64, String)>,
    locale: String,
    roles: Vec<u64>,
}

/// Option type from a JSON value: string 3, integer 4, boolean 5, number 10.
fn option_type(value: &Value) -> u8 {
    match value {
        Value::Bool(_) => 5,
        Value::Number(n) if n.is_i64() || n.is_u64() => 4,
        Value::Number(_) => 10,
        _ => 3,
    }
}

impl InteractionCreate {
    fn with(kind: Kind) -> Self {
        Self {
            kind,
            place: Place::Default,
            user: None,
            locale: "en-US".to_owned(),
            roles: Vec::new(),
        }
    }

    /// A slash (chat input) command; the command id is the registered one if the bot
    /// registered a command of that name.
    pub fn slash_command(name: impl Into<String>) -> Self {
        Self::with(Kind::Command {
            name: name.into(),
            command_type: 1,
            options: Vec::new(),
            target_id: None,
        })
    }

    /// A message context-menu command on a message.
    pub fn message_command(name: impl Into<String>, message_id: u64) -> Self {
        Self::with(Kind::Command {
            name: name.into(),
            command_type: 3,
            options: Vec::new(),
            target_id: Some(message_id),
        })
    }

    /// An autocomplete request for `command` while the user types `partial` into `focused`.
    pub fn autocomplete(
        command: impl Into<String>,
        focused: impl Into<String>,
        partial: impl Into<String>,
    ) -> Self {
        Self::with(Kind::Autocomplete {
            name: command.into(),
            options: vec![json!({
                "name": focused.into(),
                "type": 3,
                "value": partial.into(),
                "focused": true,
            })],
        })
    }

    /// An autocomplete request for `command`'s `subcommand` while the user types `partial`
    /// into its option `focused` (`/memory forget fact:`).
    pub fn autocomplete_in(
        command: impl Into<String>,
        subcommand: impl Into<String>,
        focused: impl Into<String>,
        partial: impl Into<String>,
    ) -> Self {
        Self::with(Kind::Autocomplete {
            name: command.into(),
            options: vec![json!({
                "name": subcommand.into(),
                "type": 1,
                "options": [{
                    "name": focused.into(),
                    "type": 3,
                    "value": partial.into(),
                    "focused": true,
                }],
            })],
        })
    }

    /// A button press on a message.
    pub fn button(custom_id: impl Into<String>, message_id: u64) -> Self {
        Self::with(Kind::Component {
            custom_id: custom_id.into(),
            component_type: 2,
            values: Vec::new(),
            message_id,
        })
    }

    /// A string-select choice on a message.
    pub fn select(custom_id: impl Into<String>, values: &[&str], message_id: u64) -> Self {
        Self::with(Kind::Component {
            custom_id: custom_id.into(),
            component_type: 3,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            message_id,
        })
    }

    /// A modal submit; add text inputs with [`InteractionCreate::field`].
    pub fn modal_submit(custom_id: impl Into<String>) -> Self {
        Self::with(Kind::Modal {
            custom_id: custom_id.into(),
            fields: Vec::new(),
            message_id: None,
        })
    }

    /// Adds a command option (type from the value: string, integer, boolean, number).
    pub fn option(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let value = value.into();
        let ty = option_type(&value);
        self.typed_option(name, ty, value)
    }

    /// Adds a command option of an explicit type (6 user, 7 channel, 8 role, ...).
    pub fn typed_option(
        mut self,
        name: impl Into<String>,
        ty: u8,
        value: impl Into<Value>,
    ) -> Self {
        let option = json!({"name": name.into(), "type": ty, "value": value.into()});
        if let Kind::Command { options, .. } | Kind::Autocomplete { options, .. } = &mut self.kind {
            // After a subcommand, options are its own.
            match options.last_mut() {
                Some(last) if last["type"] == 1 => {
                    if let Some(inner) = last["options"].as_array_mut() {
                        inner.push(option);
                    }
                }
                _ => options.push(option),
            }
        }
        self
    }

    /// Chooses a subcommand (`/tools list`); the options added after it are the subcommand's.
    pub fn subcommand(mut self, name: impl Into<String>) -> Self {
        if let Kind::Command { options, .. } = &mut self.kind {
            options.push(json!({"name": name.into(), "type": 1, "options": []}));
        }
        self
    }

    /// Adds a text input value to a modal submit.
    pub fn field(mut self, custom_id: impl Into<String>, value: impl Into<String>) -> Self {
        if let Kind::Modal { fields, .. } = &mut self.kind {
            fields.push((custom_id.into(), value.into()));
        }
        self
    }

    /// For a modal submit: the message whose component opened the modal.
    pub fn from_message(mut self, message_id: u64) -> Self {
        if let Kind::Modal { message_id: m, .. } = &mut self.kind {
            *m = Some(message_id);
        }
        self
    }

    /// Happens in this channel.
    pub fn channel(mut self, channel_id: u64) -> Self {
        self.place = Place::Channel(channel_id);
        self
    }

    /// Happens in the user's DM with the bot.
    pub fn dm(mut self) -> Self {
        self.place = Place::Dm;
        self
    }

    /// Done by this user (added to the fake if unknown).
    pub fn user(mut self, user_id: u64, name: impl Into<String>) -> Self {
        self.user = Some((user_id, name.into()));
        self
    }

    /// The user's locale (default `en-US`).
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = locale.into();
        self
    }

    /// The roles (ids) the member holds in the server (none by default; ignored in DMs).
    pub fn roles(mut self, roles: &[u64]) -> Self {
        self.roles = roles.to_vec();
        self
    }
}

/// An interaction the fake injected: answer it at `/interactions/{id}/{token}/callback`.
#[derive(Debug, Clone)]
pub struct InjectedInteraction {
    /// Interaction id.
    pub id: u64,
    /// Interaction token.
    pub token: String,
    /// The INTERACTION_CREATE payload (`d`).
    pub json: Value,
}

/// A thread to inject as THREAD_CREATE (as if a user created it).
#[derive(Debug, Clone)]
pub struct ThreadCreate {
    name: String,
    parent: Option<u64>,
    owner: Option<u64>,
    id: Option<u64>,
    private: bool,
}

impl ThreadCreate {
    /// A public thread in the default channel, owned by the default user.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            parent: None,
            owner: None,
            id: None,
            private: false,
        }
    }

    /// In this parent channel.
    pub fn parent(mut self, channel_id: u64) -> Self {
        self.parent = Some(channel_id);
        self
    }

    /// Owned by this user.
    pub fn owner(mut self, user_id: u64) -> Self {
        self.owner = Some(user_id);
        self
    }

    /// With this id (e.g. the id of the message it starts from).
    pub fn id(mut self, thread_id: u64) -> Self {
        self.id = Some(thread_id);
        self
    }

    /// A private thread.
    pub fn private(mut self) -> Self {
        self.private = true;
        self
    }
}

impl Shared {
    fn default_channel(&self) -> (u64, Option<u64>) {
        self.config
            .guilds
            .iter()
            .find_map(|g| g.channels.first().map(|(c, _)| (*c, Some(g.id))))
            .unwrap_or((super::FakeDiscord::CHANNEL_ID, None))
    }

    fn default_guild(&self) -> Option<u64> {
        self.config.guilds.first().map(|g| g.id)
    }

    /// Resolves a place to (channel, guild), registering unknown channels and the user.
    fn resolve(&self, place: Place, user: &UserRec) -> (u64, Option<u64>) {
        let mut world = self.world();
        world.users.entry(user.id).or_insert_with(|| user.clone());
        match place {
            Place::Default => self.default_channel(),
            Place::Channel(id) => {
                let guild = match world.channels.get(&id) {
                    Some(c) => c.guild_id,
                    None => {
                        let g = self.default_guild();
                        world.ensure_channel(id, g);
                        g
                    }
                };
                if let Some(g) = guild
                    && let Some(rec) = world.guilds.iter_mut().find(|x| x.id == g)
                    && !rec.members.contains(&user.id)
                {
                    rec.members.push(user.id);
                }
                (id, guild)
            }
            Place::Dm => (world.dm_channel(user.id, || self.ids.next()), None),
        }
    }

    fn default_user(&self) -> UserRec {
        let world = self.world();
        let (id, name, bot) = self.config.users.first().cloned().unwrap_or((
            super::FakeDiscord::USER_ID,
            super::FakeDiscord::USER_NAME.to_owned(),
            false,
        ));
        world
            .users
            .get(&id)
            .cloned()
            .unwrap_or(UserRec { id, name, bot })
    }

    /// Stores and dispatches a user message.
    pub fn inject_message(&self, m: MessageCreate) -> Value {
        let msg = self.store_message_create(m);
        self.dispatch("MESSAGE_CREATE", &msg);
        msg
    }

    /// Builds and stores a user message without dispatching it.
    pub fn store_message_create(&self, m: MessageCreate) -> Value {
        let author = match &m.author {
            Some((id, name, bot)) => UserRec {
                id: *id,
                name: name.clone(),
                bot: *bot,
            },
            None => self.default_user(),
        };
        let (channel_id, _) = self.resolve(m.place, &author);
        let id = m.id.unwrap_or_else(|| self.ids.next());
        let mut body = json!({"content": m.content});
        if !m.embeds.is_empty() {
            body["embeds"] = Value::Array(m.embeds);
        }
        if let Some(r) = m.reply_to {
            body["message_reference"] = json!({"message_id": r.to_string()});
        }
        let mut world = self.world();
        let mut msg = world.build_message(id, channel_id, &author, &body);
        if !m.attachments.is_empty() {
            let attachments: Vec<Value> = m
                .attachments
                .into_iter()
                .map(|upload| {
                    let id = world.attachment_ids.next();
                    let url = format!("http://{}/attachments/{id}/{}", self.addr, upload.filename);
                    let json = json!({
                        "id": id.to_string(),
                        "filename": upload.filename,
                        "content_type": upload.content_type,
                        "size": upload.bytes.len(),
                        "url": url,
                        "proxy_url": url,
                    });
                    world
                        .files
                        .insert(id, (upload.content_type, upload.bytes.into()));
                    json
                })
                .collect();
            msg["attachments"] = Value::Array(attachments);
        }
        world.store_message(channel_id, msg.clone());
        msg
    }

    /// Registers and dispatches an interaction.
    pub fn inject_interaction(&self, i: InteractionCreate) -> InjectedInteraction {
        let user = match &i.user {
            Some((id, name)) => UserRec {
                id: *id,
                name: name.clone(),
                bot: false,
            },
            None => self.default_user(),
        };
        let (channel_id, guild_id) = self.resolve(i.place, &user);
        let id = self.ids.next();
        let token = random_token("aW50ZXJhY3Rpb246");
        let app_id = self.config.application_id;
        let (kind, data, message_id) = {
            let world = self.world();
            let command_id = |name: &str| {
                let registered = guild_id
                    .and_then(|g| world.guild_commands.get(&g))
                    .into_iter()
                    .flatten()
                    .chain(world.global_commands.iter())
                    .find(|c| c["name"] == name)
                    .and_then(|c| shapes::id_of(&c["id"]));
                registered.unwrap_or_else(|| self.ids.next())
            };
            match &i.kind {
                Kind::Command {
                    name,
                    command_type,
                    options,
                    target_id,
                } => {
                    let mut data = json!({
                        "id": command_id(name).to_string(),
                        "name": name,
                        "type": command_type,
                    });
                    if !options.is_empty() {
                        data["options"] = Value::Array(options.clone());
                    }
                    if let Some(t) = target_id {
                        data["target_id"] = json!(t.to_string());
                        if let Some(m) = world.find_message(*t) {
                            data["resolved"] = json!({"messages": {t.to_string(): m}});
                        }
                    }
                    if let Some(g) = guild_id {
                        data["guild_id"] = json!(g.to_string());
                    }
                    (2u8, data, None)
                }
                Kind::Autocomplete { name, options } => {
                    let data = json!({
                        "id": command_id(name).to_string(),
                        "name": name,
                        "type": 1,
                        "options": options,
                    });
                    (4, data, None)
                }
                Kind::Component {
                    custom_id,
                    component_type,
                    values,
                    message_id,
                } => {
                    let mut data =
                        json!({"custom_id": custom_id, "component_type": component_type});
                    if *component_type != 2 {
                        data["values"] = json!(values);
                    }
                    (3, data, Some(*message_id))
                }
                Kind::Modal {
                    custom_id,
                    fields,
                    message_id,
                } => {
                    let components: Vec<Value> = fields
                        .iter()
                        .enumerate()
                        .map(|(n, (cid, value))| {
                            json!({
                                "type": 1,
                                "id": n * 2 + 1,
                                "components": [{"type": 4, "id": n * 2 + 2, "custom_id": cid, "value": value}],
                            })
                        })
                        .collect();
                    (
                        5,
                        json!({"custom_id": custom_id, "components": components}),
                        *message_id,
                    )
                }
            }
        };
        let mut payload = {
            let world = self.world();
            let channel = world
                .channels
                .get(&channel_id)
                .map(|c| c.json.clone())
                .unwrap_or_else(|| {
                    shapes::channel(channel_id, shapes::CHANNEL_DM, None, None, None)
                });
            let mut p = json!({
                "id": id.to_string(),
                "application_id": app_id.to_string(),
                "type": kind,
                "data": data,
                "channel": channel,
                "channel_id": channel_id.to_string(),
                "token": token,
                "version": 1,
                "locale": i.locale,
                "app_permissions": shapes::DEFAULT_PERMISSIONS,
                "entitlements": [],
                "attachment_size_limit": shapes::ATTACHMENT_SIZE_LIMIT,
            });
            match guild_id {
                Some(g) => {
                    let mut member = shapes::member(g, &user);
                    member["permissions"] = json!(shapes::DEFAULT_PERMISSIONS);
                    member["roles"] =
                        json!(i.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>());
                    p["guild_id"] = json!(g.to_string());
                    p["guild_locale"] = json!("en-US");
                    p["guild"] = json!({"id": g.to_string(), "locale": "en-US", "features": []});
                    p["member"] = member;
                    p["authorizing_integration_owners"] = json!({"0": g.to_string()});
                    p["context"] = json!(0);
                }
                None => {
                    p["user"] = shapes::user(&user);
                    p["authorizing_integration_owners"] = json!({"0": "0"});
                    p["context"] = json!(1);
                }
            }
            if let Some(m) = message_id {
                let message = world.find_message(m).cloned().unwrap_or_else(|| {
                    let mut msg = shapes::message(m, channel_id, guild_id, &self.bot(), "");
                    msg["application_id"] = json!(app_id.to_string());
                    msg
                });
                p["message"] = message;
            }
            p
        };
        if let Some(o) = payload.as_object_mut()
            && o.get("message")
                .is_some_and(|m| m.get("guild_id").is_some())
        {
            // Messages inside interactions carry no member object.
            if let Some(m) = o.get_mut("message").and_then(Value::as_object_mut) {
                m.remove("member");
            }
        }
        self.world().interactions.insert(
            id,
            InteractionRec {
                id,
                token: token.clone(),
                kind,
                channel_id,
                message_id,
                injected_at: Instant::now(),
                callback: None,
                expired: false,
                original_message_id: None,
                followups: Vec::new(),
            },
        );
        self.dispatch("INTERACTION_CREATE", &payload);
        InjectedInteraction {
            id,
            token,
            json: payload,
        }
    }

    /// Registers and dispatches a thread.
    pub fn inject_thread(&self, t: ThreadCreate) -> Value {
        let (parent, guild) = match t.parent {
            Some(p) => {
                let g = self.world().guild_of(p).or_else(|| self.default_guild());
                self.world().ensure_channel(p, g);
                (p, g)
            }
            None => self.default_channel(),
        };
        let owner = t.owner.unwrap_or_else(|| self.default_user().id);
        let id = t.id.unwrap_or_else(|| self.ids.next());
        let kind = if t.private {
            shapes::CHANNEL_PRIVATE_THREAD
        } else {
            shapes::CHANNEL_PUBLIC_THREAD
        };
        let thread = self.create_thread(id, parent, guild, &t.name, owner, kind, 1440);
        let mut event = thread.clone();
        event["newly_created"] = json!(true);
        self.dispatch("THREAD_CREATE", &event);
        thread
    }

    /// Stores a new thread channel; returns its JSON.
    #[allow(clippy::too_many_arguments)]
    pub fn create_thread(
        &self,
        id: u64,
        parent: u64,
        guild: Option<u64>,
        name: &str,
        owner: u64,
        kind: u8,
        auto_archive: u64,
    ) -> Value {
        let mut thread = shapes::channel(id, kind, guild, Some(name), Some(parent));
        shapes::make_thread(&mut thread, owner, kind, auto_archive);
        let mut world = self.world();
        world.channels.insert(
            id,
            super::state::ChannelRec {
                json: thread.clone(),
                guild_id: guild,
                messages: Vec::new(),
            },
        );
        if let Some(g) = guild
            && let Some(rec) = world.guilds.iter_mut().find(|x| x.id == g)
        {
            rec.channels.push(id);
        }
        thread
    }
}
