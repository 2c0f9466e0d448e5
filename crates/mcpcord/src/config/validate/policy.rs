//! `[policy]`: the content policy's rules, checked (names, actions, guild ids) and compiled
//! (every regex; a bad one is reported with the rule it is in), and its moderation model
//! (named, with an action a verdict can take: block or warn).

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use mcpcord_engine::{ContentPolicy, GuildId, Moderation, PolicyAction, PolicyRule, PolicyRules};

use crate::config::raw::{RawModeration, RawPolicy, RawPolicyRule};
use crate::config::report::Report;
use crate::config::types::{ModerationConfig, PolicyConfig, PolicyRuleConfig, PolicyRulesConfig};

/// Validates `[policy]` and compiles it.
pub(super) fn policy(raw: RawPolicy, report: &mut Report) -> PolicyConfig {
    let default = PolicyRulesConfig {
        input: rules(raw.input, "policy.input", report),
        output: rules(raw.output, "policy.output", report),
        moderation: raw
            .moderation
            .and_then(|m| moderation(m, "policy.moderation", report)),
    };
    // The lists each guild took from the default: their problems are the default's.
    let mut inherited = Vec::new();
    let mut guilds = BTreeMap::new();
    for (guild, own) in raw.guilds {
        let at = format!("policy.guilds.{guild}");
        let id = guild.parse::<u64>().ok().and_then(NonZeroU64::new);
        let Some(id) = id else {
            report.error(
                &at,
                "keys are guild ids, e.g. [policy.guilds.\"123456789012345678\"]",
            );
            continue;
        };
        let mut list = |own: Option<Vec<RawPolicyRule>>, direction: &str, default: &[_]| match own {
            Some(own) => rules(own, &format!("{at}.{direction}"), report),
            None => {
                inherited.push(format!("{at}.{direction}"));
                default.to_vec()
            }
        };
        let input = list(own.input, "input", &default.input);
        let output = list(own.output, "output", &default.output);
        let moderation = match own.moderation {
            Some(own) => moderation(own, &format!("{at}.moderation"), report),
            None => default.moderation.clone(),
        };
        guilds.insert(
            id,
            PolicyRulesConfig {
                input,
                output,
                moderation,
            },
        );
    }
    let compiled = compile(&default, &guilds, &inherited, report);
    PolicyConfig {
        default,
        guilds,
        compiled,
    }
}

/// Compiles the rules for the engine; each pattern that does not compile is reported at its
/// rule's path (once: not again for every guild that took the default's list).
fn compile(
    default: &PolicyRulesConfig,
    guilds: &BTreeMap<NonZeroU64, PolicyRulesConfig>,
    inherited: &[String],
    report: &mut Report,
) -> ContentPolicy {
    let engine_guilds: BTreeMap<GuildId, PolicyRules> = guilds
        .iter()
        .map(|(id, rules)| (GuildId::new(id.get()), engine_rules(rules)))
        .collect();
    match ContentPolicy::compile(&engine_rules(default), &engine_guilds) {
        Ok(policy) => policy,
        Err(errors) => {
            for error in errors {
                let place = match error.guild {
                    None => "policy".to_owned(),
                    Some(guild) => format!("policy.guilds.{}", guild.get()),
                };
                let list = format!("{place}.{}", error.direction.as_str());
                if !inherited.contains(&list) {
                    report.error(
                        format!("{list}[{}]", error.index),
                        format!("(rule {:?}) {}", error.rule, error.problem),
                    );
                }
            }
            ContentPolicy::default()
        }
    }
}

/// One place's rules as the engine takes them.
fn engine_rules(rules: &PolicyRulesConfig) -> PolicyRules {
    let convert = |list: &[PolicyRuleConfig]| {
        list.iter()
            .map(|rule| PolicyRule {
                name: rule.name.clone(),
                action: action_of(rule.action),
                words: rule.words.clone(),
                regexes: rule.regexes.clone(),
            })
            .collect()
    };
    PolicyRules {
        input: convert(&rules.input),
        output: convert(&rules.output),
        moderation: rules.moderation.as_ref().map(|m| Moderation {
            model: m.model.clone(),
            action: action_of(m.action),
            output: m.output,
            timeout: m.timeout,
            fail_closed: m.fail_closed,
        }),
    }
}

/// A moderation model at `path`: named, with `block` or `warn`; none when switched off (or
/// wrong, reported).
fn moderation(raw: RawModeration, path: &str, report: &mut Report) -> Option<ModerationConfig> {
    if raw.enabled == Some(false) {
        return None;
    }
    let model = raw.model.filter(|m| !m.trim().is_empty());
    if model.is_none() {
        report.error(
            format!("{path}.model"),
            "is missing: name the moderation model as a backend knows it, e.g. model = \"llama-guard3:1b\" (or enabled = false)",
        );
    }
    let action = moderation_action(raw.action.as_deref(), path, report);
    let timeout = super::duration(raw.timeout, "10s", &format!("{path}.timeout"), report);
    Some(ModerationConfig {
        model: model?,
        action: action?,
        output: raw.output.unwrap_or(false),
        timeout,
        fail_closed: raw.fail_closed.unwrap_or(false),
    })
}

/// The engine's action for a validated action name.
fn action_of(name: &str) -> PolicyAction {
    match name {
        "block" => PolicyAction::Block,
        "redact" => PolicyAction::Redact,
        _ => PolicyAction::Warn,
    }
}

/// A list of rules at `path`: each named, with a known action.
fn rules(raw: Vec<RawPolicyRule>, path: &str, report: &mut Report) -> Vec<PolicyRuleConfig> {
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, rule)| self::rule(rule, &format!("{path}[{i}]"), report))
        .collect()
}

fn rule(raw: RawPolicyRule, path: &str, report: &mut Report) -> Option<PolicyRuleConfig> {
    let name = raw.name.filter(|n| !n.trim().is_empty());
    if name.is_none() {
        report.error(
            format!("{path}.name"),
            "is missing: name the rule, e.g. name = \"insults\" (people are told this name when it acts)",
        );
    }
    let action = match raw.action.as_deref() {
        Some(a @ ("block" | "redact" | "warn")) => Some(action_of(a).as_str()),
        Some(other) => {
            report.error(
                format!("{path}.action"),
                format!("{other:?} is not an action; allowed: block, redact, warn"),
            );
            None
        }
        None => {
            report.error(
                format!("{path}.action"),
                "is missing; allowed: block, redact, warn",
            );
            None
        }
    };
    Some(PolicyRuleConfig {
        name: name?,
        action: action?,
        words: raw.words,
        regexes: raw.regexes,
    })
}

/// A moderation model's action: `block` (the default) or `warn`; a verdict marks no span, so
/// `redact` is refused with why.
fn moderation_action(
    action: Option<&str>,
    path: &str,
    report: &mut Report,
) -> Option<&'static str> {
    let problem = match action {
        None | Some("block") => return Some("block"),
        Some("warn") => return Some("warn"),
        Some("redact") => "redact does not apply to a moderation model: its verdict is on the whole text and marks no part to redact; use block or warn".to_owned(),
        Some(other) => format!("{other:?} is not an action for a moderation model; allowed: block, warn"),
    };
    report.error(format!("{path}.action"), problem);
    None
}
