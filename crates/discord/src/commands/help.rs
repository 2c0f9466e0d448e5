//! `/help`: the commands, explained from their own declarations.
//!
//! Owns the help embed. Usage lines, parameters and their descriptions are read from the
//! registered [`Command`]s, so help cannot drift from what Discord shows; categories, who may
//! use a command and examples come from each command's `info()`. Each person sees only the
//! commands their bot roles let them use ([`visible`]). The embed keeps within
//! Discord's limits ([`DESCRIPTION_LIMIT`], [`EMBED_LIMIT`]) by leaving out whole lines.

use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::application::command::{Command, CommandOption, CommandOptionType};
use twilight_model::channel::message::Embed;
use twilight_util::builder::embed::{EmbedBuilder, EmbedFooterBuilder};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::components::shorten;
use crate::middleware::{Access, CommandResponse, CommandResult};
use crate::roles::Resolved;

/// The longest embed description.
pub const DESCRIPTION_LIMIT: usize = twilight_validate::embed::DESCRIPTION_LENGTH;
/// The most characters in one embed, all text counted.
pub const EMBED_LIMIT: usize = twilight_validate::embed::EMBED_TOTAL_LENGTH;
/// The longest embed title.
pub const TITLE_LIMIT: usize = twilight_validate::embed::TITLE_LENGTH;
/// The accent colour of help embeds.
pub const HELP_COLOR: u32 = 0x5865F2;

/// `/help [command]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "help",
    desc = "Show what the bot can do, or explain one command",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct HelpCommand {
    /// A command to explain in detail
    #[command(autocomplete = true, max_length = 100)]
    pub command: Option<String>,
}

/// How `/help` presents itself.
pub fn info() -> CommandInfo {
    CommandInfo::new::<HelpCommand>(
        Category::Bot,
        Who::Everyone,
        &["/help", "/help command:model"],
    )
}

/// The names `/help command:` accepts, for autocomplete.
pub fn topics(catalogue: &[CommandInfo]) -> Vec<String> {
    catalogue
        .iter()
        .map(|info| info.command.name.clone())
        .collect()
}

/// The help embed: an overview of every command, or the details of `topic` (a command name,
/// with or without its slash). An unknown topic gets the overview with a note.
pub fn help(catalogue: &[CommandInfo], topic: Option<&str>) -> Embed {
    let Some(topic) = topic
        .map(|t| t.trim().trim_start_matches('/'))
        .filter(|t| !t.is_empty())
    else {
        return overview(catalogue, None);
    };
    match catalogue
        .iter()
        .find(|info| info.command.name.eq_ignore_ascii_case(topic))
    {
        Some(info) => details(info),
        None => overview(catalogue, Some(topic)),
    }
}

/// The usage lines of a command: one per subcommand, options in order (`[optional]`).
pub fn usages(command: &Command) -> Vec<(String, String)> {
    fn walk(
        prefix: &str,
        description: &str,
        options: &[CommandOption],
        out: &mut Vec<(String, String)>,
    ) {
        let subcommands: Vec<&CommandOption> = options
            .iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    CommandOptionType::SubCommand | CommandOptionType::SubCommandGroup
                )
            })
            .collect();
        if subcommands.is_empty() {
            let mut line = prefix.to_owned();
            for option in options {
                if option.required == Some(true) {
                    line.push_str(&format!(" {}", option.name));
                } else {
                    line.push_str(&format!(" [{}]", option.name));
                }
            }
            out.push((line, description.to_owned()));
            return;
        }
        for sub in subcommands {
            let prefix = format!("{prefix} {}", sub.name);
            walk(
                &prefix,
                &sub.description,
                sub.options.as_deref().unwrap_or_default(),
                out,
            );
        }
    }
    let mut out = Vec::new();
    match command.kind {
        twilight_model::application::command::CommandType::ChatInput => walk(
            &format!("/{}", command.name),
            &command.description,
            &command.options,
            &mut out,
        ),
        _ => out.push((format!("Apps › {}", command.name), String::new())),
    }
    out
}

fn overview(catalogue: &[CommandInfo], unknown: Option<&str>) -> Embed {
    let mut lines = Vec::new();
    if let Some(unknown) = unknown {
        lines.push(format!(
            "There is no command named `{}`; here are all of them.\n",
            shorten(unknown, 32)
        ));
    }
    lines.push(
        "Mention me, reply to one of my messages or DM me to talk to the model; or use these:"
            .to_owned(),
    );
    for category in Category::ALL {
        let infos: Vec<&CommandInfo> = catalogue
            .iter()
            .filter(|i| i.category == category)
            .collect();
        if infos.is_empty() {
            continue;
        }
        lines.push(format!("\n**{}**", category.title()));
        for info in infos {
            let admins = if info.who == Who::Admins {
                " · *admins*"
            } else {
                ""
            };
            lines.push(format!("`{}` — {}{admins}", info.title(), info.summary()));
        }
    }
    EmbedBuilder::new()
        .title("What I can do")
        .color(HELP_COLOR)
        .description(fit_lines(&lines))
        .footer(EmbedFooterBuilder::new(
            "/help command:<name> explains one command, with examples",
        ))
        .build()
}

fn details(info: &CommandInfo) -> Embed {
    let mut lines = vec![
        info.summary().to_owned(),
        String::new(),
        "**Usage**".to_owned(),
    ];
    for (usage, description) in usages(&info.command) {
        if description.is_empty() || description == info.command.description {
            lines.push(format!("`{usage}`"));
        } else {
            lines.push(format!("`{usage}` — {description}"));
        }
    }
    let parameters = parameters(&info.command.options);
    if !parameters.is_empty() {
        lines.push(String::new());
        lines.push("**Parameters**".to_owned());
        lines.extend(parameters);
    }
    lines.push(String::new());
    lines.push(format!("**Who may use it**: {}", info.who.describe()));
    if !info.examples.is_empty() {
        lines.push(String::new());
        lines.push("**Examples**".to_owned());
        lines.extend(info.examples.iter().map(|e| format!("`{e}`")));
    }
    EmbedBuilder::new()
        .title(shorten(&info.title(), TITLE_LIMIT))
        .color(HELP_COLOR)
        .description(fit_lines(&lines))
        .footer(EmbedFooterBuilder::new(format!(
            "Category: {}",
            info.category.title()
        )))
        .build()
}

/// One line per distinct parameter (through subcommands), with its description.
fn parameters(options: &[CommandOption]) -> Vec<String> {
    let mut seen: Vec<(String, String)> = Vec::new();
    fn walk(options: &[CommandOption], seen: &mut Vec<(String, String)>) {
        for option in options {
            match option.kind {
                CommandOptionType::SubCommand | CommandOptionType::SubCommandGroup => {
                    walk(option.options.as_deref().unwrap_or_default(), seen);
                }
                _ => {
                    let mut text = option.description.clone();
                    if let Some(choices) = &option.choices {
                        let names: Vec<&str> = choices.iter().map(|c| c.name.as_str()).collect();
                        text.push_str(&format!(" ({})", names.join(", ")));
                    }
                    if !seen.iter().any(|(name, _)| *name == option.name) {
                        seen.push((option.name.clone(), text));
                    }
                }
            }
        }
    }
    walk(options, &mut seen);
    seen.into_iter()
        .map(|(name, text)| format!("`{name}` — {text}"))
        .collect()
}

/// Joins whole lines while they fit the description limit (leaving room for a last line
/// saying some were left out).
fn fit_lines(lines: &[String]) -> String {
    const MORE: &str = "\n…";
    let mut out = String::new();
    let mut used = 0;
    for (i, line) in lines.iter().enumerate() {
        let cost = line.chars().count() + usize::from(i > 0);
        if used + cost + MORE.len() > DESCRIPTION_LIMIT {
            out.push_str(MORE);
            return out;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        used += cost;
    }
    out
}

/// The commands of `catalogue` a person who may do what `resolved` says can use (in part, for
/// commands whose subcommands differ): what `/help` shows them.
pub fn visible(catalogue: Vec<CommandInfo>, resolved: &Resolved) -> Vec<CommandInfo> {
    catalogue
        .into_iter()
        .filter(|info| {
            let access = match info.who {
                Who::Admins => Access::Admins,
                Who::Everyone | Who::Mixed(_) => Access::Everyone,
            };
            paths(&info.command)
                .iter()
                .any(|path| resolved.may_run(path, access))
        })
        .collect()
}

/// The paths a command runs under: its name, or `name sub` for each subcommand.
fn paths(command: &Command) -> Vec<String> {
    let subcommands: Vec<String> = command
        .options
        .iter()
        .filter(|o| o.kind == CommandOptionType::SubCommand)
        .map(|o| format!("{} {}", command.name, o.name))
        .collect();
    if subcommands.is_empty() {
        vec![command.name.clone()]
    } else {
        subcommands
    }
}

impl HelpCommand {
    /// Runs `/help`: the commands the asker may use, or one command's usage, as an embed only
    /// the asker sees.
    pub fn run(self, call: Call<'_>) -> CommandResult {
        let catalogue = visible(super::catalogue(), &call.resolved());
        Ok(CommandResponse::Embed {
            embed: Box::new(help(&catalogue, self.command.as_deref())),
            ephemeral: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::catalogue;

    fn check_limits(embed: &Embed) {
        twilight_validate::embed::embed(embed).expect("within embed limits");
        assert!(twilight_validate::embed::chars(embed) <= EMBED_LIMIT);
        assert!(embed.description.as_ref().unwrap().chars().count() <= DESCRIPTION_LIMIT);
    }

    #[test]
    fn the_overview_lists_every_command_by_category() {
        let catalogue = catalogue();
        let embed = help(&catalogue, None);
        check_limits(&embed);
        let text = embed.description.unwrap();
        for info in &catalogue {
            assert!(
                text.contains(&format!("`{}`", info.title())),
                "{} missing",
                info.title()
            );
        }
        assert!(text.find("**Conversation**").unwrap() < text.find("**Models**").unwrap());
        assert!(text.contains(
            "`/status` — Show what is left of your token budget today (admins: also backends and MCP servers)"
        ));
    }

    #[test]
    fn details_come_from_the_declaration() {
        let catalogue = catalogue();
        let embed = help(&catalogue, Some("/Model"));
        check_limits(&embed);
        assert_eq!(embed.title.as_deref(), Some("/model"));
        let text = embed.description.unwrap();
        assert!(
            text.contains("`/model set name [scope]` — Choose the model that answers"),
            "{text}"
        );
        assert!(
            text.contains("`/model show` — Show the model in use"),
            "{text}"
        );
        assert!(
            text.contains(
                "`scope` — Who the choice applies to (default: you) (me, this channel, this server)"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "**Who may use it**: everyone; the `channel` and `server` scopes: admins"
            )
        );
        assert!(text.contains("`/model set name:llama3.2`"));

        let menu = help(&catalogue, Some("ask about this message"));
        check_limits(&menu);
        assert_eq!(menu.title.as_deref(), Some("Apps › Ask about this message"));

        for info in &catalogue {
            check_limits(&help(&catalogue, Some(&info.command.name)));
        }
    }

    #[test]
    fn each_person_sees_only_the_commands_their_roles_allow() {
        use mcpcord_engine::{Allowed, Grants};
        let titles = |resolved: &Resolved| -> Vec<String> {
            visible(catalogue(), resolved)
                .iter()
                .map(|i| i.command.name.clone())
                .collect()
        };
        let admin = Resolved {
            admin: true,
            roles: vec!["admin".into()],
            grants: Grants::everything(),
        };
        assert_eq!(titles(&admin).len(), catalogue().len());
        let everyone = Resolved {
            admin: false,
            roles: vec!["default".into()],
            grants: Grants {
                approve_for_others: false,
                ..Grants::everything()
            },
        };
        let seen = titles(&everyone);
        // `/status` is everyone's (what is left of their budgets).
        assert!(seen.contains(&"status".to_owned()), "{seen:?}");
        assert!(seen.contains(&"tools".to_owned()), "`tools list`: {seen:?}");
        assert!(!seen.contains(&"audit".to_owned()), "{seen:?}");
        assert_eq!(seen.len(), catalogue().len() - 1, "all but /audit");
        let guest = Resolved {
            admin: false,
            roles: vec!["guest".into()],
            grants: Grants {
                commands: Allowed::Only(vec!["chat".into(), "help".into(), "status".into()]),
                ..Grants::nothing()
            },
        };
        assert_eq!(titles(&guest), ["chat", "help", "status"]);
        let text = help(&visible(catalogue(), &guest), None)
            .description
            .unwrap();
        assert!(
            text.contains("`/chat`") && !text.contains("`/search`"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_topic_gets_the_overview_with_a_note() {
        let embed = help(&catalogue(), Some("nope"));
        assert!(
            embed
                .description
                .unwrap()
                .starts_with("There is no command named `nope`")
        );
    }

    #[test]
    fn a_huge_catalogue_is_cut_at_whole_lines() {
        let mut catalogue = catalogue();
        let template = catalogue[0].clone();
        for _ in 0..200 {
            catalogue.push(template.clone());
        }
        let embed = help(&catalogue, None);
        check_limits(&embed);
        assert!(embed.description.unwrap().ends_with("\n…"));
        assert_eq!(
            topics(&catalogue[..3]),
            ["chat", "new", "Ask about this message"]
        );
    }
}
