//! Application command registration: global and guild commands, bulk overwrite, create,
//! get, edit, delete. Ids stay stable across overwrites of a command with the same name.

use super::Ctx;
use crate::fake_discord::errors::{self, Reply};
use crate::fake_discord::shapes;
use http::StatusCode;
use serde_json::{Value, json};

/// Fills in what Discord adds to a registered command.
fn complete(shared_app: u64, id: u64, version: u64, guild: Option<u64>, body: &Value) -> Value {
    let mut c = json!({
        "id": id.to_string(),
        "application_id": shared_app.to_string(),
        "version": version.to_string(),
        "type": 1,
        "name": "",
        "description": "",
        "default_member_permissions": null,
        "nsfw": false,
        "integration_types": [0],
        "contexts": null,
        "name_localizations": null,
        "description_localizations": null,
    });
    if let Some(fields) = body.as_object() {
        for (k, v) in fields {
            if !matches!(k.as_str(), "id" | "application_id" | "version" | "guild_id") {
                c[k] = v.clone();
            }
        }
    }
    if let Some(g) = guild {
        c["guild_id"] = json!(g.to_string());
    }
    c
}

/// All `/applications/{application_id}/[guilds/{guild_id}/]commands[/{command_id}]` routes.
pub(super) fn handle(ctx: &Ctx<'_>) -> Reply {
    let shared = ctx.shared;
    let app = shared.config.application_id;
    if ctx.route.id("application_id") != Some(app) {
        return Reply::error(
            StatusCode::FORBIDDEN,
            errors::CODE_MISSING_ACCESS,
            "Missing Access",
        );
    }
    let template = ctx.route.template;
    if template.ends_with("/permissions") {
        return Reply::error(
            StatusCode::NOT_IMPLEMENTED,
            0,
            "FakeDiscord does not model command permissions",
        );
    }
    let guild = ctx.route.id("guild_id");
    let mut world = shared.world();
    if let Some(g) = guild
        && !world.guilds.iter().any(|x| x.id == g)
    {
        return Reply::unknown(errors::CODE_UNKNOWN_GUILD, "Guild");
    }
    let list = match guild {
        Some(g) => world.guild_commands.entry(g).or_default(),
        None => &mut world.global_commands,
    };
    let same = |c: &Value, body: &Value| {
        c["name"] == body["name"] && c["type"] == body.get("type").cloned().unwrap_or(json!(1))
    };
    let command_id = ctx.route.id("command_id");
    match (ctx.route.method.as_str(), command_id) {
        ("get", None) => Reply::ok(Value::Array(list.clone())),
        ("put", None) => {
            let bodies = ctx.body().as_array().cloned().unwrap_or_default();
            let new: Vec<Value> = bodies
                .iter()
                .map(|b| {
                    let id = list
                        .iter()
                        .find(|c| same(c, b))
                        .and_then(|c| shapes::id_of(&c["id"]))
                        .unwrap_or_else(|| shared.ids.next());
                    complete(app, id, shared.ids.next(), guild, b)
                })
                .collect();
            *list = new.clone();
            Reply::ok(Value::Array(new))
        }
        ("post", None) => {
            let body = ctx.body();
            if let Some(existing) = list.iter_mut().find(|c| same(c, body)) {
                let id = shapes::id_of(&existing["id"]).unwrap_or(0);
                *existing = complete(app, id, shared.ids.next(), guild, body);
                Reply::ok(existing.clone())
            } else {
                let c = complete(app, shared.ids.next(), shared.ids.next(), guild, body);
                list.push(c.clone());
                Reply::created(c)
            }
        }
        (method, Some(cid)) => {
            let Some(i) = list
                .iter()
                .position(|c| shapes::id_of(&c["id"]) == Some(cid))
            else {
                return Reply::unknown(errors::CODE_UNKNOWN_COMMAND, "application command");
            };
            match method {
                "get" => Reply::ok(list[i].clone()),
                "delete" => {
                    list.remove(i);
                    Reply::no_content()
                }
                "patch" => {
                    let mut merged = list[i].clone();
                    if let Some(fields) = ctx.body().as_object() {
                        for (k, v) in fields {
                            merged[k] = v.clone();
                        }
                    }
                    let updated = complete(app, cid, shared.ids.next(), guild, &merged);
                    list[i] = updated.clone();
                    Reply::ok(updated)
                }
                _ => Reply::not_found(),
            }
        }
        _ => Reply::not_found(),
    }
}
