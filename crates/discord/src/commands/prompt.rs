//! `/prompt`: run a prompt an MCP server offers.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, Who};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use mcpcord_engine::{ITEM_SEPARATOR, TurnAction};
use twilight_model::id::Id;
use twilight_model::id::marker::UserMarker;

use crate::commands::Call;
use crate::components::{self, CustomId, FormField};
use crate::conversation;
use crate::middleware::{CommandError, CommandResponse, CommandResult};

/// `/prompt name`: the prompt's arguments are asked for in a form.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "prompt",
    desc = "Run a prompt from an MCP server (its arguments open in a form)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct PromptCommand {
    /// The prompt (server › prompt)
    #[command(autocomplete = true, max_length = 100)]
    pub name: String,
}

/// How `/help` presents `/prompt`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<PromptCommand>(
        Category::Tools,
        Who::Everyone,
        &["/prompt name:git › summarize_changes"],
    )
}

/// `/prompt` forms waiting to be submitted.
#[derive(Debug, Default)]
pub struct PendingPrompts {
    next: AtomicU64,
    forms: Mutex<HashMap<u64, PendingPrompt>>,
}

/// A `/prompt` run waiting for its arguments.
#[derive(Debug, Clone)]
pub struct PendingPrompt {
    /// The MCP server.
    pub server: String,
    /// The prompt.
    pub name: String,
    /// Who ran it.
    pub owner: Id<UserMarker>,
}

/// Who may submit a `/prompt` form.
#[derive(Debug)]
pub enum FormClaim {
    /// The person who ran `/prompt`: here is the form.
    Mine(PendingPrompt),
    /// Someone else.
    NotYours,
    /// Submitted already, or forgotten.
    Gone,
}

/// Forms remembered at most; past it, the oldest are forgotten.
const KEEP_FORMS: usize = 1000;

impl PendingPrompts {
    fn add(&self, prompt: PendingPrompt) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut forms = self.forms.lock().unwrap_or_else(|e| e.into_inner());
        if forms.len() >= KEEP_FORMS {
            forms.retain(|&kept, _| kept + KEEP_FORMS as u64 / 2 > id);
        }
        forms.insert(id, prompt);
        id
    }

    /// Takes the form `id` if `user` ran it; someone else's submit leaves it for its owner.
    pub fn take_for(&self, id: u64, user: Id<UserMarker>) -> FormClaim {
        let mut forms = self.forms.lock().unwrap_or_else(|e| e.into_inner());
        match forms.get(&id) {
            None => FormClaim::Gone,
            Some(prompt) if prompt.owner != user => FormClaim::NotYours,
            Some(_) => forms.remove(&id).map_or(FormClaim::Gone, FormClaim::Mine),
        }
    }
}

impl PromptCommand {
    /// Runs `/prompt`: a prompt without arguments runs at once; one with arguments opens a form
    /// for them (submitted to [`run_prompt`]).
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let prompt = call.ctx.engine.find_prompt(&self.name).await?;
        if prompt.arguments.is_empty() {
            return run_prompt(call, &prompt.server, &prompt.name, BTreeMap::new()).await;
        }
        let fields: Vec<FormField> = prompt
            .arguments
            .iter()
            .take(components::MAX_MODAL_FIELDS)
            .map(|a| FormField {
                key: a.name.clone(),
                label: a.name.clone(),
                description: a.description.clone(),
                required: a.required,
                long: false,
                value: None,
            })
            .collect();
        let request = call.ctx.prompts.add(PendingPrompt {
            server: prompt.server.clone(),
            name: prompt.name.clone(),
            owner: call.invoker.user,
        });
        let title = prompt.title.clone().unwrap_or_else(|| prompt.name.clone());
        let modal = components::modal(CustomId::PromptForm { request }, &title, &fields)
            .map_err(CommandError::internal)?;
        Ok(CommandResponse::Raw(Box::new(modal)))
    }
}

/// Runs prompt `name` of `server` with `arguments`: its text is said in the conversation here
/// (a channel's rolling conversation gets a chain of its own), and the model answers.
pub async fn run_prompt(
    call: Call<'_>,
    server: &str,
    name: &str,
    arguments: BTreeMap<String, String>,
) -> CommandResult {
    call.room()?;
    let message = call
        .ctx
        .engine
        .prompt_message(server, name, arguments)
        .await?;
    let (key, channel) = call.here_or_refuse()?;
    let key = if key.as_str().starts_with("discord:channel:") {
        conversation::chain_key(call.interaction.id.get())
    } else {
        key
    };
    let request = call.request(key, TurnAction::Message(message), None);
    call.screen(&request).await?;
    call.start(request, channel, None)?;
    Ok(CommandResponse::Message {
        content: format!(
            "▶️ **{}** ran the prompt `{server}{ITEM_SEPARATOR}{name}`",
            call.name()
        ),
        ephemeral: false,
    })
}
