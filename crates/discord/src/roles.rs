//! Bot roles: which Discord roles (and users) hold which bot role, and what that lets a person
//! do — commands, tools, models, approving tool calls for others.
//!
//! Owns the resolution of one [`Invoker`] into what they may do ([`Resolved`]): admins (as
//! [`AdminPolicy`] says) hold the built-in `admin` role, which may do everything; a person
//! holding configured roles gets everything any of them grants; everyone else gets the
//! `default` role, which by default is exactly what a person who is not an admin could always
//! do. The tools part travels to the engine as [`Grants`] with each turn; commands, models and
//! approvals are checked here, at the adapter's entry points. Every refusal goes through
//! [`record_refusal`] (the log, and the audit log).

use std::collections::HashSet;

use mcpcord_engine::{Allowed, Grants};
use twilight_model::id::Id;
use twilight_model::id::marker::{RoleMarker, UserMarker};

use crate::middleware::{Access, AdminPolicy, Invoker};

/// The built-in role of admins: everything.
pub const ADMIN: &str = "admin";
/// The role of everyone holding no configured role.
pub const DEFAULT: &str = "default";

/// One configured bot role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRole {
    /// Its name, as configured and shown in refusals.
    pub name: String,
    /// Members holding any of these Discord roles hold it (role ids are unique across Discord,
    /// so each names a role of one server).
    pub discord_roles: HashSet<Id<RoleMarker>>,
    /// These users hold it anywhere (DMs included).
    pub users: HashSet<Id<UserMarker>>,
    /// Commands, by name (`chat`, `tools`, `tools list`): a name grants the command with its
    /// subcommands. `*` grants every command that is not admins-only; admins-only commands
    /// (`audit`, `tools enable`, …) must be named.
    pub commands: Allowed,
    /// Tools, as `server.tool` globs (`fetch.*`).
    pub tools: Allowed,
    /// Models the holder may choose; `None`: those of `models.allowed`, like everyone.
    pub models: Option<Allowed>,
    /// Whether the holder may approve tool calls of other people's turns.
    pub approve_for_others: bool,
}

impl BotRole {
    /// A role named `name` granting what a person who is not an admin could always do: every
    /// command open to everyone, every tool, the models of `models.allowed`, no approvals for
    /// others; held by nobody.
    pub fn ordinary(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            discord_roles: HashSet::new(),
            users: HashSet::new(),
            commands: Allowed::All,
            tools: Allowed::All,
            models: None,
            approve_for_others: false,
        }
    }

    /// Whether `invoker` holds this role.
    pub fn held_by(&self, invoker: &Invoker) -> bool {
        self.users.contains(&invoker.user)
            || invoker
                .roles
                .iter()
                .any(|role| self.discord_roles.contains(role))
    }

    /// What it grants, with `allowed_models` standing in for unset models.
    fn grants(&self, allowed_models: Option<&HashSet<String>>) -> Grants {
        let models = self.models.clone().unwrap_or_else(|| {
            let mut names: Vec<String> = allowed_models.into_iter().flatten().cloned().collect();
            names.sort_unstable();
            Allowed::Only(names)
        });
        Grants {
            commands: self.commands.clone(),
            tools: self.tools.clone(),
            models,
            approve_for_others: self.approve_for_others,
        }
    }
}

/// The configured bot roles and the default one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    /// Configured roles (never `admin` or `default`), in the order refusals name them.
    pub roles: Vec<BotRole>,
    /// What everyone holding none of them may do.
    pub default: BotRole,
}

impl Default for Roles {
    /// No roles; the default role is [`BotRole::ordinary`]: nothing changes for anyone.
    fn default() -> Self {
        Self {
            roles: Vec::new(),
            default: BotRole::ordinary(DEFAULT),
        }
    }
}

/// Everything that decides what a person may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Who is an admin (the built-in `admin` role).
    pub admins: AdminPolicy,
    /// The other roles.
    pub roles: Roles,
    /// `models.allowed`: the models of roles that name none.
    pub allowed_models: Option<HashSet<String>>,
}

/// What one person may do, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Whether they are an admin.
    pub admin: bool,
    /// The names of the bot roles they hold (`admin`, `default`, or configured ones).
    pub roles: Vec<String>,
    /// What those roles grant together.
    pub grants: Grants,
}

impl Policy {
    /// What `invoker` may do.
    pub fn resolve(&self, invoker: &Invoker) -> Resolved {
        if self.admins.allows(invoker) {
            return Resolved {
                admin: true,
                roles: vec![ADMIN.to_owned()],
                grants: Grants::everything(),
            };
        }
        let allowed = self.allowed_models.as_ref();
        let held: Vec<&BotRole> = self
            .roles
            .roles
            .iter()
            .filter(|r| r.held_by(invoker))
            .collect();
        let held = if held.is_empty() {
            vec![&self.roles.default]
        } else {
            held
        };
        let grants = held
            .iter()
            .map(|r| r.grants(allowed))
            .reduce(|a, b| a.union(&b))
            .unwrap_or_else(Grants::nothing);
        Resolved {
            admin: false,
            roles: held.iter().map(|r| r.name.clone()).collect(),
            grants,
        }
    }

    /// The bot roles that may run `command` with `access`, `admin` first.
    pub fn roles_allowing(&self, command: &str, access: Access) -> Vec<String> {
        let allowed = self.allowed_models.as_ref();
        let mut names = vec![ADMIN.to_owned()];
        names.extend(
            self.roles
                .roles
                .iter()
                .chain(std::iter::once(&self.roles.default))
                .filter(|r| may_run(&r.grants(allowed), command, access))
                .map(|r| r.name.clone()),
        );
        names
    }
}

impl Resolved {
    /// Whether they may run `command` (its path, `tools enable`) needing `access`.
    pub fn may_run(&self, command: &str, access: Access) -> bool {
        self.admin || may_run(&self.grants, command, access)
    }

    /// Whether they may choose `model`.
    pub fn may_pick(&self, model: &str) -> bool {
        self.admin || self.grants.models.allows(model)
    }

    /// Whether they may approve a tool call of someone else's turn.
    pub fn may_approve_for_others(&self) -> bool {
        self.admin || self.grants.approve_for_others
    }
}

/// Whether `grants` allow `command` needing `access`: a name grants the command and its
/// subcommands; admins-only commands must be named (a `*` does not reach them); channel- and
/// server-wide choices stay with admins.
fn may_run(grants: &Grants, command: &str, access: Access) -> bool {
    let top = command.split(' ').next().unwrap_or(command);
    match access {
        Access::Everyone => grants.commands.allows(command) || grants.commands.allows(top),
        Access::Admins => grants.commands.names(command) || grants.commands.names(top),
        Access::Wide => false,
    }
}

/// What was refused, for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A command (its path).
    Command(String),
    /// Choosing a model.
    Model(String),
    /// Approving a tool call of someone else's turn.
    Approval,
}

/// Records a refusal by the roles: the one place every refusal of the adapter goes through.
/// Logged always; given `ctx`, also written to the audit log (command refusals reach it through
/// the permission layer's report instead, so the middleware passes none).
pub fn record_refusal(
    ctx: Option<&crate::bot::Context>,
    invoker: &Invoker,
    resolved: &Resolved,
    refused: &Refused,
) {
    let (kind, what) = match refused {
        Refused::Command(command) => ("command", command.as_str()),
        Refused::Model(model) => ("model", model.as_str()),
        Refused::Approval => ("approval", ""),
    };
    tracing::info!(
        user = invoker.user.get(),
        guild = invoker.guild.map(Id::get),
        roles = %resolved.roles.join(","),
        kind,
        what,
        "refused by the roles"
    );
    if let Some(ctx) = ctx {
        ctx.engine.audit(crate::audit::role_refusal(
            invoker,
            &resolved.roles,
            kind,
            what,
        ));
    }
}

#[cfg(test)]
mod tests;
