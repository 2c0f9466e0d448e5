//! The slash commands and the message context-menu command.
//!
//! Owns what the bot declares to Discord and how an invocation is read back. Each command is a
//! type in its own file, declared with twilight-interactions derives (name, description,
//! options, contexts as attributes) beside an `info()` that adds what `/help` shows (category,
//! who may use it, examples). [`catalogue`] lists them all, [`all_commands`] gives what to
//! register, [`BotCommand::parse`] reads an invocation (an unknown name is a variant, not an
//! error), and [`help`] builds the help embed from the declarations themselves.
//!
//! Each command's execution sits beside its declaration: `<name>.rs` has the type and its
//! `run`, which talks to the engine only. [`BotCommand::run`] is the dispatch table; [`Call`]
//! carries what every `run` needs (the bot, the interaction, the invoker).

pub mod ask_message;
pub mod audit;
mod call;
pub mod chat;
pub mod r#continue;
pub mod conversations;
pub mod help;
pub mod memory;
pub mod model;
pub mod models;
pub mod new;
pub mod privacy;
pub mod prompt;
pub mod resource;
pub mod search;
pub mod status;
pub mod system;
pub mod tag;
pub mod tools;

use twilight_interactions::command::{
    CommandInputData, CommandModel, CommandOption, CreateCommand, CreateOption,
};
use twilight_interactions::error::ParseError;
use twilight_model::application::command::{
    Command, CommandOptionChoice, CommandOptionChoiceValue, CommandType,
};
use twilight_model::application::interaction::application_command::{
    CommandData, CommandDataOption, CommandOptionValue,
};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::MessageMarker;

use crate::components::Scope;
use crate::middleware::{Access, CommandError, CommandResult};

pub use self::audit::AuditCommand;
pub use self::call::{Call, invoker_name, level, may_pick, scope_words};
pub use self::chat::ChatCommand;
pub use self::r#continue::ContinueCommand;
pub use self::conversations::ConversationsCommand;
pub use self::help::HelpCommand;
pub use self::memory::MemoryCommand;
pub use self::model::ModelCommand;
pub use self::models::ModelsCommand;
pub use self::new::NewCommand;
pub use self::privacy::PrivacyCommand;
pub use self::prompt::PromptCommand;
pub use self::resource::ResourceCommand;
pub use self::search::SearchCommand;
pub use self::status::StatusCommand;
pub use self::system::SystemCommand;
pub use self::tag::TagCommand;
pub use self::tools::ToolsCommand;

/// The most choices an autocomplete answer may hold.
pub const MAX_AUTOCOMPLETE_CHOICES: usize = twilight_validate::command::CHOICES_LIMIT;
/// The longest choice name or string value.
pub const MAX_CHOICE_TEXT: usize = twilight_validate::command::OPTION_CHOICE_NAME_LENGTH_MAX;

/// Where `/help` files a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Talking to the model.
    Conversation,
    /// Choosing models.
    Models,
    /// MCP tools, prompts and resources.
    Tools,
    /// Preferences such as the system prompt.
    Settings,
    /// About the bot itself.
    Bot,
}

impl Category {
    /// Every category, in the order `/help` shows them.
    pub const ALL: [Category; 5] = [
        Self::Conversation,
        Self::Models,
        Self::Tools,
        Self::Settings,
        Self::Bot,
    ];

    /// The heading `/help` shows.
    pub fn title(self) -> &'static str {
        match self {
            Self::Conversation => "Conversation",
            Self::Models => "Models",
            Self::Tools => "Tools, prompts and resources",
            Self::Settings => "Settings",
            Self::Bot => "The bot",
        }
    }
}

/// Who may use a command, as `/help` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Everyone.
    Everyone,
    /// The bot's admins.
    Admins,
    /// Depends on the subcommand or option; the text says how.
    Mixed(&'static str),
}

impl Who {
    /// The text `/help` shows.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Admins => "the bot's admins",
            Self::Mixed(text) => text,
        }
    }
}

/// A command's declaration and what `/help` adds to it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandInfo {
    /// What is registered with Discord.
    pub command: Command,
    /// Where `/help` files it.
    pub category: Category,
    /// Who may use it.
    pub who: Who,
    /// What `/help` says it does, when not the registered description (context-menu commands
    /// have none).
    pub about: Option<&'static str>,
    /// Example invocations.
    pub examples: &'static [&'static str],
}

impl CommandInfo {
    /// The info of a derived slash command.
    pub fn new<T: CreateCommand>(
        category: Category,
        who: Who,
        examples: &'static [&'static str],
    ) -> Self {
        Self {
            command: T::create_command().into(),
            category,
            who,
            about: None,
            examples,
        }
    }

    /// What it does, in one line.
    pub fn summary(&self) -> &str {
        self.about.unwrap_or(&self.command.description)
    }

    /// How it is invoked: `/name` for slash commands, the menu path for context-menu ones.
    pub fn title(&self) -> String {
        match self.command.kind {
            CommandType::ChatInput => format!("/{}", self.command.name),
            _ => format!("Apps › {}", self.command.name),
        }
    }
}

/// Every command, in `/help` order.
pub fn catalogue() -> Vec<CommandInfo> {
    vec![
        chat::info(),
        new::info(),
        ask_message::info(),
        search::info(),
        conversations::info(),
        r#continue::info(),
        tag::info(),
        model::info(),
        models::info(),
        tools::info(),
        prompt::info(),
        resource::info(),
        system::info(),
        memory::info(),
        privacy::info(),
        help::info(),
        status::info(),
        audit::info(),
    ]
}

/// What to register with Discord (globally, or per guild for development).
pub fn all_commands() -> Vec<Command> {
    catalogue().into_iter().map(|info| info.command).collect()
}

/// Who a `/model` or `/system` choice applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, CommandOption, CreateOption)]
pub enum ScopeChoice {
    /// Just the person.
    #[option(name = "me", value = "user")]
    User,
    /// This channel.
    #[option(name = "this channel", value = "channel")]
    Channel,
    /// The whole server.
    #[option(name = "this server", value = "server")]
    Server,
}

impl From<ScopeChoice> for Scope {
    fn from(choice: ScopeChoice) -> Self {
        match choice {
            ScopeChoice::User => Scope::User,
            ScopeChoice::Channel => Scope::Channel,
            ScopeChoice::Server => Scope::Server,
        }
    }
}

/// A command invocation, read from the interaction.
#[derive(Debug, Clone, PartialEq)]
pub enum BotCommand {
    /// `/chat` (boxed: it carries an attachment).
    Chat(Box<ChatCommand>),
    /// `/model`.
    Model(ModelCommand),
    /// `/models`.
    Models(ModelsCommand),
    /// `/system`.
    System(SystemCommand),
    /// `/memory`.
    Memory(MemoryCommand),
    /// `/privacy`.
    Privacy(PrivacyCommand),
    /// `/tools`.
    Tools(ToolsCommand),
    /// `/prompt`.
    Prompt(PromptCommand),
    /// `/resource`.
    Resource(ResourceCommand),
    /// `/new`.
    New(NewCommand),
    /// `/search`.
    Search(SearchCommand),
    /// `/conversations`.
    Conversations(ConversationsCommand),
    /// `/continue`.
    Continue(ContinueCommand),
    /// `/tag`.
    Tag(TagCommand),
    /// `/help`.
    Help(HelpCommand),
    /// `/status`.
    Status(StatusCommand),
    /// `/audit`.
    Audit(AuditCommand),
    /// "Ask about this message", on this message.
    AskAboutMessage {
        /// The message asked about.
        message: Id<MessageMarker>,
    },
    /// A command this version does not declare (left over from an older registration).
    Unknown(String),
}

impl BotCommand {
    /// Reads an invocation; a name this version does not declare is [`BotCommand::Unknown`].
    /// An error means the data does not match the declaration (a stale registration).
    pub fn parse(data: CommandData) -> Result<Self, ParseError> {
        if data.kind == CommandType::Message {
            return Ok(match data.target_id {
                Some(target) if data.name == ask_message::NAME => Self::AskAboutMessage {
                    message: target.cast(),
                },
                _ => Self::Unknown(data.name),
            });
        }
        let name = data.name.clone();
        let input = CommandInputData::from(data);
        Ok(match name.as_str() {
            "chat" => Self::Chat(Box::new(ChatCommand::from_interaction(input)?)),
            "model" => Self::Model(ModelCommand::from_interaction(input)?),
            "models" => Self::Models(ModelsCommand::from_interaction(input)?),
            "system" => Self::System(SystemCommand::from_interaction(input)?),
            "memory" => Self::Memory(MemoryCommand::from_interaction(input)?),
            "privacy" => Self::Privacy(PrivacyCommand::from_interaction(input)?),
            "tools" => Self::Tools(ToolsCommand::from_interaction(input)?),
            "prompt" => Self::Prompt(PromptCommand::from_interaction(input)?),
            "resource" => Self::Resource(ResourceCommand::from_interaction(input)?),
            "new" => Self::New(NewCommand::from_interaction(input)?),
            "search" => Self::Search(SearchCommand::from_interaction(input)?),
            "conversations" => Self::Conversations(ConversationsCommand::from_interaction(input)?),
            "continue" => Self::Continue(ContinueCommand::from_interaction(input)?),
            "tag" => Self::Tag(TagCommand::from_interaction(input)?),
            "help" => Self::Help(HelpCommand::from_interaction(input)?),
            "status" => Self::Status(StatusCommand::from_interaction(input)?),
            "audit" => Self::Audit(AuditCommand::from_interaction(input)?),
            _ => Self::Unknown(name),
        })
    }

    /// Who may run this invocation: admins (and bot roles naming the command) for `/audit` and
    /// `/tools enable|disable`; admins alone for channel- or server-wide `/model set`,
    /// `/system set|clear`, `/memory recall`; everyone (as their roles allow) otherwise
    /// (`/status` too: it shows each person their budgets, and admins the bot's parts).
    pub fn access(&self) -> Access {
        if self.wide() {
            Access::Wide
        } else if self.admins_only() {
            Access::Admins
        } else {
            Access::Everyone
        }
    }

    /// Whether it makes a choice for a whole channel or server.
    fn wide(&self) -> bool {
        let wide = |scope: Option<ScopeChoice>| {
            matches!(scope, Some(ScopeChoice::Channel | ScopeChoice::Server))
        };
        match self {
            Self::Model(ModelCommand::Set(set)) => wide(set.scope),
            Self::System(SystemCommand::Set(set)) => wide(set.scope),
            Self::System(SystemCommand::Clear(clear)) => wide(clear.scope),
            Self::Memory(memory) => memory.wide(),
            _ => false,
        }
    }

    /// Whether it is for admins (and roles that name it): `/audit`, `/tools enable|disable`.
    fn admins_only(&self) -> bool {
        match self {
            Self::Audit(_) => true,
            Self::Tools(tools) => !matches!(tools, ToolsCommand::List(_)),
            _ => false,
        }
    }

    /// Runs the command: the dispatch table to each command's own `run`.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        match self {
            Self::Chat(chat) => chat.run(call).await,
            Self::Model(model) => model.run(call).await,
            Self::Models(models) => models.run(call).await,
            Self::System(system) => system.run(call).await,
            Self::Memory(memory) => memory.run(call).await,
            Self::Privacy(privacy) => privacy.run(call).await,
            Self::Tools(tools) => tools.run(call).await,
            Self::Prompt(prompt) => prompt.run(call).await,
            Self::Resource(resource) => resource.run(call).await,
            Self::New(new) => new.run(call).await,
            Self::Search(search) => search.run(call).await,
            Self::Conversations(conversations) => conversations.run(call).await,
            Self::Continue(pick) => pick.run(call).await,
            Self::Tag(tag) => tag.run(call).await,
            Self::Help(help) => help.run(call),
            Self::Status(status) => status.run(call).await,
            Self::Audit(audit) => audit.run(call).await,
            Self::AskAboutMessage { message } => ask_message::run(message, call).await,
            Self::Unknown(name) => Err(CommandError::Invalid(format!(
                "`/{name}` no longer exists; `/help` lists the commands"
            ))),
        }
    }

    /// Whether the command answers at once (a modal, or pure computation) rather than
    /// deferring first.
    pub fn immediate(&self) -> bool {
        matches!(self, Self::Help(_) | Self::Prompt(_))
    }

    /// Whether the command's answer is for everyone to see.
    pub fn public(&self) -> bool {
        matches!(
            self,
            Self::Chat(_) | Self::AskAboutMessage { .. } | Self::Resource(_)
        )
    }

    /// The command as typed, with its subcommand (`"tools enable"`), for logs and messages.
    pub fn path(&self) -> String {
        let sub = match self {
            Self::Model(ModelCommand::Set(_)) => "model set",
            Self::Model(ModelCommand::Show(_)) => "model show",
            Self::System(SystemCommand::Set(_)) => "system set",
            Self::System(SystemCommand::Show(_)) => "system show",
            Self::System(SystemCommand::Clear(_)) => "system clear",
            Self::Memory(memory) => memory.path(),
            Self::Privacy(privacy) => privacy.path(),
            Self::Tools(ToolsCommand::List(_)) => "tools list",
            Self::Tools(ToolsCommand::Enable(_)) => "tools enable",
            Self::Tools(ToolsCommand::Disable(_)) => "tools disable",
            Self::Chat(_) => "chat",
            Self::Models(_) => "models",
            Self::Prompt(_) => "prompt",
            Self::Resource(_) => "resource",
            Self::New(_) => "new",
            Self::Search(_) => "search",
            Self::Conversations(_) => "conversations",
            Self::Continue(_) => "continue",
            Self::Tag(_) => "tag",
            Self::Help(_) => "help",
            Self::Status(_) => "status",
            Self::Audit(_) => "audit",
            Self::AskAboutMessage { .. } => ask_message::NAME,
            Self::Unknown(name) => name,
        };
        sub.to_owned()
    }
}

/// The option being typed in an autocomplete interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focused {
    /// The command and subcommand path (`"model set"`).
    pub path: String,
    /// The option's name.
    pub option: String,
    /// What has been typed so far.
    pub typed: String,
}

/// Finds the focused option of an autocomplete interaction, through subcommands.
pub fn focused(data: &CommandData) -> Option<Focused> {
    fn walk(path: &mut String, options: &[CommandDataOption]) -> Option<(String, String)> {
        for option in options {
            match &option.value {
                CommandOptionValue::Focused(typed, _) => {
                    return Some((option.name.clone(), typed.clone()));
                }
                CommandOptionValue::SubCommand(inner)
                | CommandOptionValue::SubCommandGroup(inner) => {
                    path.push(' ');
                    path.push_str(&option.name);
                    return walk(path, inner);
                }
                _ => {}
            }
        }
        None
    }
    let mut path = data.name.clone();
    let (option, typed) = walk(&mut path, &data.options)?;
    Some(Focused {
        path,
        option,
        typed,
    })
}

/// Autocomplete choices: candidates matching what was typed (case-insensitively, those that
/// start with it first), at most [`MAX_AUTOCOMPLETE_CHOICES`], each short enough for Discord.
pub fn autocomplete_choices<I, S>(candidates: I, typed: &str) -> Vec<CommandOptionChoice>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let typed = typed.trim().to_lowercase();
    let mut matches: Vec<(bool, String)> = candidates
        .into_iter()
        .map(|c| c.as_ref().to_owned())
        .filter(|c| !c.is_empty() && c.chars().count() <= MAX_CHOICE_TEXT)
        .filter_map(|c| {
            let lower = c.to_lowercase();
            lower
                .contains(&typed)
                .then(|| (!lower.starts_with(&typed), c))
        })
        .collect();
    matches.sort();
    matches.dedup_by(|a, b| a.1 == b.1);
    matches
        .into_iter()
        .take(MAX_AUTOCOMPLETE_CHOICES)
        .map(|(_, c)| CommandOptionChoice {
            name: c.clone(),
            name_localizations: None,
            value: CommandOptionChoiceValue::String(c),
        })
        .collect()
}

/// The interaction response carrying autocomplete choices.
pub fn autocomplete_response(choices: Vec<CommandOptionChoice>) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::ApplicationCommandAutocompleteResult,
        data: Some(InteractionResponseData {
            choices: Some(choices),
            ..InteractionResponseData::default()
        }),
    }
}

#[cfg(test)]
mod tests;
