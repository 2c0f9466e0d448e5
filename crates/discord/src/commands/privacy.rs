//! `/privacy export|forget`: a person's data rights, for themselves only. `export` answers
//! privately with a JSON file of everything stored about them; `forget` answers privately with
//! a confirm and a cancel button, which only they can press (`interactions/privacy.rs` carries
//! out the press). Both go through the engine (`privacy_export`, `privacy_forget`).

use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::channel::message::component::ButtonStyle;
use twilight_model::http::attachment::Attachment;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::components::{CustomId, button, button_rows};
use crate::ids::ToEngine;
use crate::mentions::no_pings;
use crate::middleware::{CommandError, CommandResponse, CommandResult};

/// What the export's answer says beside the file.
pub const EXPORT_SAYS: &str = "📦 Everything stored about you is in the attached file: your \
    messages and the answers to them, your preferences and your tool switches. Only you see this.";

/// What the forget question says.
pub const FORGET_ASKS: &str = "⚠️ Forget you? Your messages are deleted for good, with the \
    conversations only you took part in, your preferences and your name. In conversations \
    others took part in, each of your messages is replaced by a note and the answers stay. \
    This cannot be undone.";

/// `/privacy`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "privacy",
    desc = "Your data: get a copy of everything stored about you, or have it forgotten",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub enum PrivacyCommand {
    /// A copy of your data.
    #[command(name = "export")]
    Export(PrivacyExport),
    /// Forget you.
    #[command(name = "forget")]
    Forget(PrivacyForget),
}

/// `/privacy export`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "export",
    desc = "Get a file with everything the bot stores about you (only you see it)"
)]
pub struct PrivacyExport;

/// `/privacy forget`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "forget",
    desc = "Have the bot forget your messages, preferences and name (asks to confirm)"
)]
pub struct PrivacyForget;

/// How `/help` presents `/privacy`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<PrivacyCommand>(
        Category::Settings,
        Who::Everyone,
        &["/privacy export", "/privacy forget"],
    )
}

impl PrivacyCommand {
    /// The command as typed, with its subcommand.
    pub fn path(&self) -> &'static str {
        match self {
            Self::Export(_) => "privacy export",
            Self::Forget(_) => "privacy forget",
        }
    }

    /// Runs `/privacy export` or `/privacy forget` for the invoker.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        match self {
            Self::Export(_) => export(call).await,
            Self::Forget(_) => Ok(forget_question(call.invoker.user.get())),
        }
    }
}

/// The file name of an export.
pub fn export_file_name(user: u64) -> String {
    format!("mcpcord-data-{user}.json")
}

/// Sends the invoker's data as a JSON file, as the edit of the private deferred answer.
async fn export(call: Call<'_>) -> CommandResult {
    let user = call.invoker.user;
    let data = call.ctx.engine.privacy_export(user.to_engine()).await?;
    let json = serde_json::to_vec_pretty(&data).map_err(CommandError::internal)?;
    let file = Attachment::from_bytes(export_file_name(user.get()), json, 0);
    let mentions = no_pings();
    call.ctx
        .http
        .interaction(call.ctx.application_id)
        .update_response(&call.interaction.token)
        .content(Some(EXPORT_SAYS))
        .attachments(&[file])
        .allowed_mentions(Some(&mentions))
        .await
        .map_err(CommandError::internal)?;
    Ok(CommandResponse::Handled)
}

/// The question with its two buttons, which name the person they belong to.
fn forget_question(user: u64) -> CommandResponse {
    let buttons = vec![
        button(
            CustomId::Forget {
                user,
                confirm: true,
            },
            "Forget me",
            ButtonStyle::Danger,
            "🗑️",
        ),
        button(
            CustomId::Forget {
                user,
                confirm: false,
            },
            "Cancel",
            ButtonStyle::Secondary,
            "✖️",
        ),
    ];
    CommandResponse::Raw(Box::new(InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some(FORGET_ASKS.to_owned()),
            components: Some(button_rows(buttons)),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        }),
    }))
}
