//! The REST API under `/api/v10`: every request is matched to the OpenAPI spec, authenticated,
//! counted against its rate-limit bucket, checked against Discord's limits and the spec's
//! schemas, handled, and recorded with the answer.

mod commands;
mod interactions;
mod messages;
mod misc;

use super::errors::{FormErrors, Reply};
use super::files;
use super::limits;
use super::ratelimit::{Decision, major_parameter};
use super::records::{RateLimitHit, RecordedRequest, SpecViolation};
use super::spec::{self, Problem, RouteError, RouteMatch};
use super::state::Shared;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::time::Instant;

/// What a handler gets.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub route: &'a RouteMatch,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
    pub at: Instant,
}

impl Ctx<'_> {
    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body, or `null`.
    pub fn body(&self) -> &Value {
        self.body.unwrap_or(&Value::Null)
    }
}

/// The axum fallback that serves every REST request.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let path = uri.path().to_owned();
    let query = parse_query(uri.query());
    let (reply, route, json_body) = process(&shared, &method, &path, &query, &headers, &body, at);
    shared.records().requests.push(RecordedRequest {
        method,
        path,
        route,
        query,
        headers,
        body: json_body,
        raw_body: body,
        status: reply.status.as_u16(),
        response: reply.body.clone(),
        at,
    });
    shared.notify();
    reply.into_response()
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| spec::percent_decode(&s.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

fn violation(
    shared: &Shared,
    method: &Method,
    path: &str,
    route: Option<&str>,
    problems: Vec<Problem>,
    body: Option<Value>,
) {
    let v = SpecViolation {
        method: method.to_string(),
        path: path.to_owned(),
        route: route.map(str::to_owned),
        problems,
        body,
    };
    tracing::warn!("FakeDiscord: request does not fit the spec: {v}");
    shared.records().violations.push(v);
}

/// Routes that take no bot token: interaction callbacks, webhook-token routes, `/gateway`.
fn needs_bot_token(template: &str) -> bool {
    !(template.starts_with("/interactions/")
        || template.starts_with("/webhooks/{webhook_id}/{webhook_token}")
        || template == "/gateway")
}

#[allow(clippy::too_many_arguments)]
fn process(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    raw: &Bytes,
    at: Instant,
) -> (Reply, Option<String>, Option<Value>) {
    let Some(rest) = path.strip_prefix("/api/v10").filter(|r| r.starts_with('/')) else {
        violation(
            shared,
            method,
            path,
            None,
            vec![Problem {
                path: vec!["path".to_owned()],
                code: "NOT_API_V10".to_owned(),
                message: "requests go to /api/v10/...".to_owned(),
            }],
            None,
        );
        return (Reply::not_found(), None, None);
    };
    let route = match spec::match_route(method.as_str(), rest) {
        Ok(r) => r,
        Err(e) => {
            let (reply, message) = match e {
                RouteError::NotFound => (Reply::not_found(), "no path in the spec matches"),
                RouteError::MethodNotAllowed => (
                    Reply::error(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed"),
                    "the spec has no operation for this method on this path",
                ),
            };
            violation(
                shared,
                method,
                path,
                None,
                vec![Problem {
                    path: vec!["path".to_owned()],
                    code: "UNKNOWN_ROUTE".to_owned(),
                    message: message.to_owned(),
                }],
                None,
            );
            return (reply, None, None);
        }
    };
    let template = Some(route.template.to_owned());

    if needs_bot_token(route.template) {
        let expected = format!("Bot {}", shared.config.token);
        let ok = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected);
        if !ok {
            return (Reply::unauthorized(), template, None);
        }
    }

    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (json_body, problems) = spec::validate_request(&route, query, content_type, raw);

    if let Err(retry) = shared.limiter.check_global(route.template, at) {
        shared.records().rate_limited.push(RateLimitHit {
            method: method.to_string(),
            path: path.to_owned(),
            route: route.template.to_owned(),
            bucket: String::new(),
            retry_after: retry,
            global: true,
            at,
        });
        // Discord's global 429: no bucket headers, the scope says global.
        let reply = Reply::with_status(
            StatusCode::TOO_MANY_REQUESTS,
            json!({
                "message": "You are being rate limited.",
                "retry_after": (retry.as_secs_f64() * 1000.0).round() / 1000.0,
                "global": true,
            }),
        )
        .header(
            "retry-after",
            retry.as_secs_f64().ceil().max(1.0).to_string(),
        )
        .header("x-ratelimit-global", "true".to_owned())
        .header("x-ratelimit-scope", "global".to_owned());
        return (reply, template, json_body);
    }

    let state = match shared.limiter.check(
        method.as_str(),
        route.template,
        &major_parameter(&route.params),
    ) {
        Decision::Allowed(state) => state,
        Decision::Limited(state) => {
            let retry = state.reset_after;
            shared.records().rate_limited.push(RateLimitHit {
                method: method.to_string(),
                path: path.to_owned(),
                route: route.template.to_owned(),
                bucket: state.bucket.clone(),
                retry_after: retry,
                global: false,
                at,
            });
            let mut reply = Reply::with_status(
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "message": "You are being rate limited.",
                    "retry_after": (retry.as_secs_f64() * 1000.0).round() / 1000.0,
                    "global": false,
                }),
            )
            .header(
                "retry-after",
                retry.as_secs_f64().ceil().max(1.0).to_string(),
            );
            for (name, value) in state.headers() {
                reply = reply.header(name, value);
            }
            return (reply, template, json_body);
        }
    };
    let with_limits = |mut reply: Reply| {
        for (name, value) in state.headers() {
            reply = reply.header(name, value);
        }
        reply
    };

    if let Some(body) = &json_body {
        let mut errors = FormErrors::new();
        let uploads = Uploads {
            parts: files::file_parts(content_type, raw),
            editing: method == Method::PATCH,
        };
        discord_limits(&route, body, &uploads, &mut errors);
        if !errors.is_empty() {
            return (
                with_limits(Reply::invalid_form(errors)),
                template,
                json_body,
            );
        }
    }
    if !problems.is_empty() {
        let mut errors = FormErrors::new();
        for p in &problems {
            let at = match p.path.first().map(String::as_str) {
                Some("body") => &p.path[1..],
                _ => &p.path[..],
            };
            errors.add(at, &p.code, &p.message);
        }
        violation(
            shared,
            method,
            path,
            Some(route.template),
            problems,
            json_body.clone(),
        );
        return (
            with_limits(Reply::invalid_form(errors)),
            template,
            json_body,
        );
    }

    let ctx = Ctx {
        shared,
        route: &route,
        query,
        body: json_body.as_ref(),
        at,
    };
    let reply = dispatch(&ctx);
    (with_limits(reply), template, json_body)
}

/// The files sent with a request, and whether it edits (kept attachments allowed).
struct Uploads {
    parts: Vec<files::Part>,
    editing: bool,
}

/// Discord's limits for the body of this route, uploads included.
fn discord_limits(route: &RouteMatch, body: &Value, uploads: &Uploads, errors: &mut FormErrors) {
    let data = ["data".to_owned()];
    match (route.method.as_str(), route.template) {
        ("post" | "patch", t)
            if t.starts_with("/channels/{channel_id}/messages")
                && !t.ends_with("/threads")
                && !t.contains("bulk-delete") =>
        {
            limits::check_message(body, &[], errors);
            files::check(body, &uploads.parts, uploads.editing, errors);
        }
        ("post" | "patch", t) if t.starts_with("/webhooks/{webhook_id}/{webhook_token}") => {
            limits::check_message(body, &[], errors);
            files::check(body, &uploads.parts, uploads.editing, errors);
        }
        ("post", "/channels/{channel_id}/threads") => {
            if let Some(message) = body.get("message") {
                limits::check_message(message, &["message".to_owned()], errors);
            }
        }
        ("post", "/interactions/{interaction_id}/{interaction_token}/callback") => {
            let d = &body["data"];
            match body["type"].as_u64() {
                Some(4 | 7) => {
                    limits::check_message(d, &data, errors);
                    files::check(d, &uploads.parts, false, errors);
                }
                Some(8) => limits::check_autocomplete(d, &data, errors),
                Some(9) => limits::check_modal(d, &data, errors),
                _ => {}
            }
        }
        ("put", t) if t.ends_with("/commands") => {
            if let Some(list) = body.as_array() {
                if list.len() > limits::MAX_COMMANDS {
                    errors.max_length(&[], limits::MAX_COMMANDS);
                }
                for (i, c) in list.iter().enumerate() {
                    limits::check_command(c, &[i.to_string()], errors);
                }
            }
        }
        ("post" | "patch", t) if t.contains("/commands") => {
            limits::check_command(body, &[], errors);
        }
        _ => {}
    }
}

fn dispatch(ctx: &Ctx<'_>) -> Reply {
    let m = ctx.route.method.as_str();
    match (m, ctx.route.template) {
        ("get", "/gateway") => misc::gateway(ctx),
        ("get", "/gateway/bot") => misc::gateway_bot(ctx),
        ("get", "/users/@me") => misc::current_user(ctx),
        ("get", "/users/{user_id}") => misc::user(ctx),
        ("post", "/users/@me/channels") => misc::create_dm(ctx),
        ("get", "/applications/@me" | "/oauth2/applications/@me") => misc::application(ctx),
        ("get", "/channels/{channel_id}") => misc::channel(ctx),
        ("post", "/channels/{channel_id}/typing") => misc::typing(ctx),
        ("post", "/channels/{channel_id}/threads") => misc::create_thread(ctx),
        ("post", "/channels/{channel_id}/messages/{message_id}/threads") => {
            misc::create_thread_from_message(ctx)
        }
        ("get", "/channels/{channel_id}/messages") => messages::list(ctx),
        ("post", "/channels/{channel_id}/messages") => messages::create(ctx),
        ("get", "/channels/{channel_id}/messages/{message_id}") => messages::get(ctx),
        ("patch", "/channels/{channel_id}/messages/{message_id}") => messages::edit(ctx),
        ("delete", "/channels/{channel_id}/messages/{message_id}") => messages::delete(ctx),
        ("post", "/interactions/{interaction_id}/{interaction_token}/callback") => {
            interactions::callback(ctx)
        }
        (_, t) if t.starts_with("/webhooks/{webhook_id}/{webhook_token}") => {
            interactions::webhook(ctx)
        }
        (_, t) if t.starts_with("/applications/{application_id}") && t.contains("/commands") => {
            commands::handle(ctx)
        }
        // Routes the spec has but the fake does not model: accept idempotent writes
        // (reactions, pins, ...) and say so for the rest.
        ("put" | "delete", _) => Reply::no_content(),
        (_, t) => Reply::error(
            StatusCode::NOT_IMPLEMENTED,
            0,
            &format!("FakeDiscord does not model {} {t}", m.to_ascii_uppercase()),
        ),
    }
}
