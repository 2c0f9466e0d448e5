//! Buttons, menus and modals, and the custom ids that bring their presses back.
//!
//! Owns what the bot attaches to its messages and how a press is recognised. A [`CustomId`] is
//! a type: it encodes to the `custom_id` string Discord carries (at most
//! [`CUSTOM_ID_LIMIT`] characters) and parses back; a string this version did not write (an old
//! button, another bot's) parses to [`CustomId::Unknown`] rather than failing. The builders return
//! twilight-model components within Discord's limits: at most [`MAX_ROWS`] action rows of at
//! most [`MAX_BUTTONS_PER_ROW`] buttons, select menus of at most [`MAX_SELECT_OPTIONS`] options.
//!
//! Why one long file: the custom-id grammar and the builders of every control that carries one
//! change together (a new control is one id variant and one builder). Its tests, among them
//! property tests of the grammar, are in `components/tests.rs`.

use std::fmt;
use std::str::FromStr;

use twilight_model::channel::message::EmojiReactionType;
use twilight_model::channel::message::component::{
    ActionRow, Button, ButtonStyle, Component, Label, SelectMenu, SelectMenuOption, SelectMenuType,
    TextInput, TextInputStyle,
};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_validate::component as limits;

/// The longest `custom_id` Discord accepts.
pub const CUSTOM_ID_LIMIT: usize = limits::COMPONENT_CUSTOM_ID_LENGTH;
/// The most action rows on one message.
pub const MAX_ROWS: usize = limits::COMPONENT_COUNT;
/// The most buttons in one action row.
pub const MAX_BUTTONS_PER_ROW: usize = limits::ACTION_ROW_COMPONENT_COUNT;
/// The most options in one select menu.
pub const MAX_SELECT_OPTIONS: usize = limits::SELECT_OPTION_COUNT;
/// The longest select option label, value or description.
pub const MAX_OPTION_TEXT: usize = limits::SELECT_OPTION_VALUE_LENGTH;
/// The longest button label.
pub const MAX_BUTTON_LABEL: usize = limits::COMPONENT_BUTTON_LABEL_LENGTH;
/// The most fields in one modal.
pub const MAX_MODAL_FIELDS: usize = 5;
/// The longest modal title.
pub const MAX_MODAL_TITLE: usize = 45;
/// The longest label over a modal field.
pub const MAX_FIELD_LABEL: usize = limits::TEXT_INPUT_LABEL_MAX;
/// The longest description under a modal field's label.
pub const MAX_FIELD_DESCRIPTION: usize = 100;

/// A person's decision on a tool call that needs approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Run it this once.
    Approve,
    /// Run it, and this tool again without asking, for the same person in this conversation.
    Always,
    /// Do not run it.
    Deny,
}

impl Decision {
    fn code(self) -> &'static str {
        match self {
            Self::Approve => "y",
            Self::Always => "a",
            Self::Deny => "n",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "y" => Some(Self::Approve),
            "a" => Some(Self::Always),
            "n" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// Who a model choice from the model menu applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The person who chose.
    User,
    /// The channel it was chosen in.
    Channel,
    /// The whole server.
    Server,
}

impl Scope {
    fn code(self) -> &'static str {
        match self {
            Self::User => "u",
            Self::Channel => "c",
            Self::Server => "s",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "u" => Some(Self::User),
            "c" => Some(Self::Channel),
            "s" => Some(Self::Server),
            _ => None,
        }
    }
}

/// What a component press (or modal submit) is about.
///
/// `turn` and `request` are keys the adapter hands out (a turn in progress or finished, a
/// pending elicitation or prompt form); what they point to lives in the adapter, not in Discord.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomId {
    /// Stop the answer being generated.
    Stop {
        /// The turn.
        turn: u64,
    },
    /// Answer the same message again.
    Regenerate {
        /// The turn whose answer is replaced.
        turn: u64,
    },
    /// Go on where the answer stopped.
    Continue {
        /// The turn to continue.
        turn: u64,
    },
    /// Show the model's reasoning privately.
    Reasoning {
        /// The turn whose reasoning to show.
        turn: u64,
    },
    /// A decision on a tool call waiting for approval.
    Approval {
        /// The turn.
        turn: u64,
        /// The call within the turn.
        call: u32,
        /// What was pressed.
        decision: Decision,
    },
    /// The model select menu.
    ModelMenu {
        /// Who the choice applies to.
        scope: Scope,
    },
    /// Open the form an MCP server asked for during a tool call.
    Elicit {
        /// The turn.
        turn: u64,
        /// The tool call that asked.
        call: u32,
    },
    /// The submitted form of an MCP server's request.
    ElicitForm {
        /// The turn.
        turn: u64,
        /// The tool call that asked.
        call: u32,
    },
    /// The submitted arguments of an MCP prompt.
    PromptForm {
        /// The pending prompt run.
        request: u64,
    },
    /// "Continue this conversation" on a `/search` result: the stored conversation, brought
    /// back where the button is pressed.
    Resume {
        /// The stored conversation's id.
        conversation: u64,
    },
    /// Continue on a `/conversations` entry: the stored conversation, picked up where it
    /// lived (reopened if it was put aside; see `commands::continue`).
    PickUp {
        /// The stored conversation's id.
        conversation: u64,
    },
    /// Bring in on a `/conversations` entry: the stored conversation, condensed into the
    /// conversation where the button is pressed.
    BringIn {
        /// The stored conversation's id.
        conversation: u64,
    },
    /// `/privacy forget`'s answer: forget the person it names (`confirm`), or leave it.
    Forget {
        /// The person who asked, the only one who may press it.
        user: u64,
        /// Forget (or cancel).
        confirm: bool,
    },
    /// A custom id this version does not know (an old message, a changed format).
    Unknown(String),
}

impl CustomId {
    /// The `custom_id` string; always at most [`CUSTOM_ID_LIMIT`] characters for known ids.
    pub fn encode(&self) -> String {
        self.to_string()
    }

    /// The turn this control acts on, if it acts on one.
    pub fn turn(&self) -> Option<u64> {
        match self {
            Self::Stop { turn }
            | Self::Regenerate { turn }
            | Self::Continue { turn }
            | Self::Reasoning { turn }
            | Self::Approval { turn, .. }
            | Self::Elicit { turn, .. }
            | Self::ElicitForm { turn, .. } => Some(*turn),
            Self::ModelMenu { .. }
            | Self::PromptForm { .. }
            | Self::Resume { .. }
            | Self::PickUp { .. }
            | Self::BringIn { .. }
            | Self::Forget { .. }
            | Self::Unknown(_) => None,
        }
    }

    /// Parses a `custom_id`; anything unrecognised is [`CustomId::Unknown`].
    pub fn parse(raw: &str) -> Self {
        Self::parse_known(raw).unwrap_or_else(|| Self::Unknown(raw.to_owned()))
    }

    fn parse_known(raw: &str) -> Option<Self> {
        let mut parts = raw.split(':');
        let tag = parts.next()?;
        let fields: Vec<&str> = parts.collect();
        let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
        let id = match (tag, fields.len()) {
            ("stop", 1) => Self::Stop { turn: number(0)? },
            ("regen", 1) => Self::Regenerate { turn: number(0)? },
            ("cont", 1) => Self::Continue { turn: number(0)? },
            ("think", 1) => Self::Reasoning { turn: number(0)? },
            ("tool", 3) => Self::Approval {
                turn: number(0)?,
                call: fields[1].parse().ok()?,
                decision: Decision::from_code(fields[2])?,
            },
            ("model", 1) => Self::ModelMenu {
                scope: Scope::from_code(fields[0])?,
            },
            ("elicit", 2) => Self::Elicit {
                turn: number(0)?,
                call: fields[1].parse().ok()?,
            },
            ("form", 2) => Self::ElicitForm {
                turn: number(0)?,
                call: fields[1].parse().ok()?,
            },
            ("prompt", 1) => Self::PromptForm {
                request: number(0)?,
            },
            ("resume", 1) => Self::Resume {
                conversation: number(0)?,
            },
            ("pickup", 1) => Self::PickUp {
                conversation: number(0)?,
            },
            ("bringin", 1) => Self::BringIn {
                conversation: number(0)?,
            },
            ("forget", 1) => Self::Forget {
                user: number(0)?,
                confirm: true,
            },
            ("keep", 1) => Self::Forget {
                user: number(0)?,
                confirm: false,
            },
            _ => return None,
        };
        // Only the canonical spelling is ours ("stop:01" is not).
        (id.to_string() == raw).then_some(id)
    }
}

impl fmt::Display for CustomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stop { turn } => write!(f, "stop:{turn}"),
            Self::Regenerate { turn } => write!(f, "regen:{turn}"),
            Self::Continue { turn } => write!(f, "cont:{turn}"),
            Self::Reasoning { turn } => write!(f, "think:{turn}"),
            Self::Approval {
                turn,
                call,
                decision,
            } => write!(f, "tool:{turn}:{call}:{}", decision.code()),
            Self::ModelMenu { scope } => write!(f, "model:{}", scope.code()),
            Self::Elicit { turn, call } => write!(f, "elicit:{turn}:{call}"),
            Self::ElicitForm { turn, call } => write!(f, "form:{turn}:{call}"),
            Self::PromptForm { request } => write!(f, "prompt:{request}"),
            Self::Resume { conversation } => write!(f, "resume:{conversation}"),
            Self::PickUp { conversation } => write!(f, "pickup:{conversation}"),
            Self::BringIn { conversation } => write!(f, "bringin:{conversation}"),
            Self::Forget {
                user,
                confirm: true,
            } => write!(f, "forget:{user}"),
            Self::Forget {
                user,
                confirm: false,
            } => write!(f, "keep:{user}"),
            Self::Unknown(raw) => f.write_str(raw),
        }
    }
}

impl FromStr for CustomId {
    type Err = std::convert::Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(raw))
    }
}

/// The controls an answer message shows at one moment; see [`Controls::rows`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Controls {
    /// While the answer is being generated.
    pub stop: bool,
    /// Once it is finished (or failed): answer again.
    pub regenerate: bool,
    /// Once it is finished: go on.
    pub continue_: bool,
    /// When the model reasoned: show it privately.
    pub reasoning: bool,
    /// Tool calls waiting for approval, in order: one row each.
    pub approvals: Vec<ApprovalPrompt>,
    /// Forms MCP servers asked to be filled in: one button each.
    pub elicitations: Vec<ElicitationPrompt>,
}

/// A tool call waiting for a person's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPrompt {
    /// The call within the turn.
    pub call: u32,
}

/// A request from an MCP server for input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElicitationPrompt {
    /// A form, opened as a modal by a button.
    Form {
        /// The tool call that asked.
        call: u32,
        /// The button's label (shortened to fit).
        label: String,
    },
    /// A page to visit (URL mode), shown as a link button.
    Url {
        /// Where to go.
        url: String,
        /// The button's label (shortened to fit).
        label: String,
    },
}

/// Components that do not fit Discord's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentError {
    /// More rows than a message may hold.
    #[error("{rows} action rows are needed, a message holds at most {MAX_ROWS}")]
    TooManyRows {
        /// Rows that would be needed.
        rows: usize,
    },
    /// More fields than a modal may hold.
    #[error("{fields} fields are needed, a modal holds at most {MAX_MODAL_FIELDS}")]
    TooManyFields {
        /// Fields that would be needed.
        fields: usize,
    },
}

impl Controls {
    /// Whether there is anything to show.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The action rows for `turn`: approvals first (one row each), then the answer's buttons
    /// and form buttons packed [`MAX_BUTTONS_PER_ROW`] to a row.
    pub fn rows(&self, turn: u64) -> Result<Vec<Component>, ComponentError> {
        let mut rows: Vec<Component> = self
            .approvals
            .iter()
            .map(|approval| approval_row(turn, approval.call))
            .collect();
        let mut buttons = Vec::new();
        if self.stop {
            buttons.push(button(
                CustomId::Stop { turn },
                "Stop",
                ButtonStyle::Danger,
                "⏹️",
            ));
        }
        if self.regenerate {
            buttons.push(button(
                CustomId::Regenerate { turn },
                "Regenerate",
                ButtonStyle::Secondary,
                "🔄",
            ));
        }
        if self.continue_ {
            buttons.push(button(
                CustomId::Continue { turn },
                "Continue",
                ButtonStyle::Secondary,
                "⏩",
            ));
        }
        if self.reasoning {
            buttons.push(button(
                CustomId::Reasoning { turn },
                "Reasoning",
                ButtonStyle::Secondary,
                "💭",
            ));
        }
        buttons.extend(
            self.elicitations
                .iter()
                .map(|e| elicitation_button(turn, e)),
        );
        rows.extend(button_rows(buttons));
        if rows.len() > MAX_ROWS {
            return Err(ComponentError::TooManyRows { rows: rows.len() });
        }
        Ok(rows)
    }
}

/// A button with a custom id, a label and an emoji.
pub fn button(id: CustomId, label: &str, style: ButtonStyle, emoji: &str) -> Button {
    Button {
        custom_id: Some(id.encode()),
        disabled: false,
        emoji: Some(EmojiReactionType::Unicode {
            name: emoji.to_owned(),
        }),
        id: None,
        label: Some(shorten(label, MAX_BUTTON_LABEL)),
        sku_id: None,
        style,
        url: None,
    }
}

/// A link button (no custom id: Discord opens the URL).
pub fn link_button(url: &str, label: &str) -> Button {
    Button {
        custom_id: None,
        disabled: false,
        emoji: None,
        id: None,
        label: Some(shorten(label, MAX_BUTTON_LABEL)),
        sku_id: None,
        style: ButtonStyle::Link,
        url: Some(url.to_owned()),
    }
}

/// Packs buttons into action rows of at most [`MAX_BUTTONS_PER_ROW`].
pub fn button_rows(buttons: Vec<Button>) -> Vec<Component> {
    buttons
        .chunks(MAX_BUTTONS_PER_ROW)
        .map(|chunk| {
            Component::ActionRow(ActionRow {
                components: chunk.iter().cloned().map(Component::Button).collect(),
                id: None,
            })
        })
        .collect()
}

/// The row asking whether tool call `call` of `turn` may run.
pub fn approval_row(turn: u64, call: u32) -> Component {
    let id = |decision| CustomId::Approval {
        turn,
        call,
        decision,
    };
    let buttons = vec![
        button(id(Decision::Approve), "Approve", ButtonStyle::Success, "✅"),
        button(
            id(Decision::Always),
            "Always (me, here)",
            ButtonStyle::Primary,
            "♾️",
        ),
        button(id(Decision::Deny), "Deny", ButtonStyle::Danger, "✖️"),
    ];
    button_rows(buttons).remove(0)
}

/// The button for an MCP server's request for input during `turn`.
pub fn elicitation_button(turn: u64, prompt: &ElicitationPrompt) -> Button {
    match prompt {
        ElicitationPrompt::Form { call, label } => button(
            CustomId::Elicit { turn, call: *call },
            label,
            ButtonStyle::Primary,
            "📝",
        ),
        ElicitationPrompt::Url { url, label } => link_button(url, label),
    }
}

/// One model in the model menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// The model's name, sent back as the chosen value.
    pub name: String,
    /// A short description (size, capabilities), if any.
    pub description: Option<String>,
}

/// The model select menu, with `current` preselected. Names longer than a select value may be
/// are left out; past [`MAX_SELECT_OPTIONS`], the current model is kept and the rest cut.
/// Returns the row and how many models were left out.
pub fn model_menu(
    choices: &[ModelChoice],
    current: Option<&str>,
    scope: Scope,
) -> (Component, usize) {
    let usable: Vec<&ModelChoice> = choices
        .iter()
        .filter(|c| !c.name.is_empty() && c.name.chars().count() <= MAX_OPTION_TEXT)
        .collect();
    let mut shown: Vec<&ModelChoice> = usable.iter().copied().take(MAX_SELECT_OPTIONS).collect();
    if let Some(current) = current
        && !shown.iter().any(|c| c.name == current)
        && let Some(chosen) = usable.iter().find(|c| c.name == current)
    {
        shown.pop();
        shown.push(chosen);
    }
    let options = shown
        .iter()
        .map(|choice| SelectMenuOption {
            default: Some(choice.name.as_str()) == current,
            description: choice
                .description
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| shorten(d, MAX_OPTION_TEXT)),
            emoji: None,
            label: choice.name.clone(),
            value: choice.name.clone(),
        })
        .collect();
    let menu = SelectMenu {
        channel_types: None,
        custom_id: CustomId::ModelMenu { scope }.encode(),
        default_values: None,
        disabled: false,
        id: None,
        kind: SelectMenuType::Text,
        max_values: Some(1),
        min_values: Some(1),
        options: Some(options),
        placeholder: Some("Choose a model".to_owned()),
        required: None,
    };
    let row = Component::ActionRow(ActionRow {
        components: vec![Component::SelectMenu(menu)],
        id: None,
    });
    (row, choices.len() - shown.len())
}

/// One field of a modal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The key the value comes back under.
    pub key: String,
    /// The label over the field (shortened to fit).
    pub label: String,
    /// A description under the label, if any (shortened to fit).
    pub description: Option<String>,
    /// Whether it must be filled in.
    pub required: bool,
    /// A multi-line field rather than one line.
    pub long: bool,
    /// A prefilled value, if any.
    pub value: Option<String>,
}

/// A modal with up to [`MAX_MODAL_FIELDS`] text fields, as an interaction response.
pub fn modal(
    id: CustomId,
    title: &str,
    fields: &[FormField],
) -> Result<InteractionResponse, ComponentError> {
    if fields.len() > MAX_MODAL_FIELDS || fields.is_empty() {
        return Err(ComponentError::TooManyFields {
            fields: fields.len(),
        });
    }
    let components = fields
        .iter()
        .map(|field| {
            #[allow(deprecated, reason = "the label lives on the Label component instead")]
            let input = TextInput {
                custom_id: shorten(&field.key, CUSTOM_ID_LIMIT),
                id: None,
                label: None,
                max_length: None,
                min_length: None,
                placeholder: None,
                required: Some(field.required),
                style: if field.long {
                    TextInputStyle::Paragraph
                } else {
                    TextInputStyle::Short
                },
                value: field.value.clone().filter(|v| !v.is_empty()),
            };
            Component::Label(Label {
                component: Box::new(Component::TextInput(input)),
                description: field
                    .description
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .map(|d| shorten(d, MAX_FIELD_DESCRIPTION)),
                id: None,
                label: shorten(&field.label, MAX_FIELD_LABEL),
            })
        })
        .collect();
    Ok(InteractionResponse {
        kind: InteractionResponseType::Modal,
        data: Some(InteractionResponseData {
            components: Some(components),
            custom_id: Some(id.encode()),
            title: Some(shorten(title, MAX_MODAL_TITLE)),
            ..InteractionResponseData::default()
        }),
    })
}

/// `text` cut to at most `max` characters, ending in "…" when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
