//! Discord's OpenAPI 3.1 description (`specs/discord-openapi.json`, compiled in): matching a
//! request path to a spec path template, and validating path parameters, query parameters and
//! JSON / `payload_json` bodies with `jsonschema`. The spec document is registered once as a
//! schema resource; each operation's schema gets its `#/components/...` references pointed
//! at that resource, and compiled validators are cached for the whole process.

use super::multipart;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Registry, Validator};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// The spec text, as shipped in `crates/testkit/specs/discord-openapi.json`.
pub const SPEC_JSON: &str = include_str!("../../specs/discord-openapi.json");

/// The URI under which the spec document is registered as a schema resource.
const SPEC_URI: &str = "https://fake-discord.invalid/openapi.json";

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let mut spec = serde_json::from_str(SPEC_JSON).unwrap_or_else(|e| {
        tracing::error!("discord-openapi.json does not parse: {e}");
        Value::Null
    });
    relax_snowflakes(&mut spec);
    spec
});

/// The spec types snowflakes as strings only, but Discord accepts JSON integers too, and
/// clients send them (twilight sends `attachments[].id` as a number): allow both.
fn relax_snowflakes(spec: &mut Value) {
    if let Some(snowflake) = spec.pointer_mut("/components/schemas/SnowflakeType") {
        let as_string = snowflake.clone();
        *snowflake = serde_json::json!({
            "anyOf": [as_string, {"type": "integer", "minimum": 0}],
        });
    }
}

static REGISTRY: LazyLock<Option<Registry<'static>>> = LazyLock::new(|| {
    let spec: &'static Value = LazyLock::force(&SPEC);
    match Registry::new()
        .add(SPEC_URI, spec)
        .and_then(|builder| builder.prepare())
    {
        Ok(registry) => Some(registry),
        Err(e) => {
            tracing::error!("discord-openapi.json cannot be registered as a schema: {e}");
            None
        }
    }
});

static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    let spec: &'static Value = LazyLock::force(&SPEC);
    spec.get("paths")
        .and_then(Value::as_object)
        .map(|paths| {
            paths
                .iter()
                .map(|(template, item)| Route {
                    template: template.as_str(),
                    segments: template
                        .trim_start_matches('/')
                        .split('/')
                        .map(|s| {
                            if s.starts_with('{') && s.ends_with('}') {
                                Segment::Param(&s[1..s.len() - 1])
                            } else {
                                Segment::Literal(s)
                            }
                        })
                        .collect(),
                    item,
                })
                .collect()
        })
        .unwrap_or_default()
});

/// Compiled validators by key (`METHOD template#part`); `None` when the schema did not compile.
type ValidatorCache = Mutex<HashMap<String, Option<Arc<Validator>>>>;
static VALIDATORS: LazyLock<ValidatorCache> = LazyLock::new(Default::default);

#[derive(Debug)]
struct Route {
    template: &'static str,
    segments: Vec<Segment>,
    item: &'static Value,
}

#[derive(Debug)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

/// A request path matched to a spec operation.
#[derive(Debug, Clone)]
pub(crate) struct RouteMatch {
    /// The spec path template, e.g. `/channels/{channel_id}/messages`.
    pub template: &'static str,
    /// Lower-case method, as the spec spells it.
    pub method: String,
    /// Path parameters by name, percent-decoded.
    pub params: HashMap<String, String>,
    operation: &'static Value,
    item: &'static Value,
}

/// Why a path did not match the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteError {
    /// No path template matches.
    NotFound,
    /// A template matches but has no operation for this method.
    MethodNotAllowed,
}

/// One way a request does not fit the spec (or Discord's limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `body`, `path`, `query`, then field names and indexes.
    pub path: Vec<String>,
    /// A Discord-style error code, e.g. `BASE_TYPE_BAD_TYPE`.
    pub code: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.path.join("."),
            self.message,
            self.code
        )
    }
}

impl RouteMatch {
    /// A path parameter, or `""`.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// A path parameter parsed as a snowflake.
    pub fn id(&self, name: &str) -> Option<u64> {
        self.param(name).parse().ok()
    }
}

/// Matches `path` (below `/api/v10`, starting with `/`) and `method` to a spec operation.
pub(crate) fn match_route(method: &str, path: &str) -> Result<RouteMatch, RouteError> {
    let method = method.to_ascii_lowercase();
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let mut best: Option<(Vec<bool>, &Route)> = None;
    let mut path_matched = false;
    for route in ROUTES.iter() {
        if route.segments.len() != parts.len() {
            continue;
        }
        let mut score = Vec::with_capacity(parts.len());
        let fits = route
            .segments
            .iter()
            .zip(&parts)
            .all(|(seg, part)| match seg {
                Segment::Literal(lit) => {
                    score.push(true);
                    lit == part
                }
                Segment::Param(_) => {
                    score.push(false);
                    !part.is_empty()
                }
            });
        if !fits {
            continue;
        }
        path_matched = true;
        if route.item.get(&method).is_none() {
            continue;
        }
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, route));
        }
    }
    let Some((_, route)) = best else {
        return Err(if path_matched {
            RouteError::MethodNotAllowed
        } else {
            RouteError::NotFound
        });
    };
    let params = route
        .segments
        .iter()
        .zip(parts)
        .filter_map(|(seg, part)| match seg {
            Segment::Param(name) => Some(((*name).to_owned(), part)),
            Segment::Literal(_) => None,
        })
        .collect();
    Ok(RouteMatch {
        template: route.template,
        operation: &route.item[method.as_str()],
        item: route.item,
        method,
        params,
    })
}

/// Validates path parameters, query parameters and the body of a matched request.
/// Returns the JSON body (or the `payload_json` part of a multipart body), if any.
pub(crate) fn validate_request(
    route: &RouteMatch,
    query: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
) -> (Option<Value>, Vec<Problem>) {
    let mut problems = Vec::new();
    let key = format!("{} {}", route.method, route.template);
    let params = parameters(route);

    for (name, value) in &route.params {
        if let Some(schema) = params
            .iter()
            .find(|p| p["in"] == "path" && p["name"] == name.as_str())
            .map(|p| &p["schema"])
        {
            let instance = typed_value(schema, value);
            validate(
                &format!("{key}#path:{name}"),
                schema,
                &instance,
                &["path".to_owned(), name.clone()],
                &mut problems,
            );
        }
    }

    for (name, value) in query {
        match params
            .iter()
            .find(|p| p["in"] == "query" && p["name"] == name.as_str())
        {
            Some(param) => {
                let instance = typed_value(&param["schema"], value);
                validate(
                    &format!("{key}#query:{name}"),
                    &param["schema"],
                    &instance,
                    &["query".to_owned(), name.clone()],
                    &mut problems,
                );
            }
            None => problems.push(Problem {
                path: vec!["query".to_owned(), name.clone()],
                code: "UNKNOWN_QUERY_PARAMETER".to_owned(),
                message: format!("the spec has no query parameter `{name}` for this operation"),
            }),
        }
    }
    for param in params
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
    {
        let name = param["name"].as_str().unwrap_or_default();
        if !query.iter().any(|(n, _)| n == name) {
            problems.push(Problem {
                path: vec!["query".to_owned(), name.to_owned()],
                code: "BASE_TYPE_REQUIRED".to_owned(),
                message: "This field is required".to_owned(),
            });
        }
    }

    let request_body = route.operation.get("requestBody");
    let body_path = vec!["body".to_owned()];
    if body.iter().all(u8::is_ascii_whitespace) {
        if request_body.is_some_and(|rb| rb["required"] == true) {
            problems.push(Problem {
                path: body_path,
                code: "BASE_TYPE_REQUIRED".to_owned(),
                message: "this operation requires a request body".to_owned(),
            });
        }
        return (None, problems);
    }
    let Some(request_body) = request_body else {
        problems.push(Problem {
            path: body_path,
            code: "UNEXPECTED_BODY".to_owned(),
            message: "this operation takes no request body".to_owned(),
        });
        return (None, problems);
    };
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = match media.as_str() {
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(v) => v,
            Err(e) => {
                problems.push(Problem {
                    path: body_path,
                    code: "INVALID_JSON".to_owned(),
                    message: format!("the request body contains invalid JSON: {e}"),
                });
                return (None, problems);
            }
        },
        "multipart/form-data" => {
            let parts = content_type
                .and_then(multipart::boundary)
                .map(|b| multipart::parse(body, &b))
                .unwrap_or_default();
            match parts.iter().find(|p| p.name == "payload_json") {
                Some(part) => match serde_json::from_slice::<Value>(&part.data) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(Problem {
                            path: vec!["body".to_owned(), "payload_json".to_owned()],
                            code: "INVALID_JSON".to_owned(),
                            message: format!("payload_json is not valid JSON: {e}"),
                        });
                        return (None, problems);
                    }
                },
                None => Value::Object(Map::new()),
            }
        }
        other => {
            problems.push(Problem {
                path: body_path,
                code: "UNSUPPORTED_CONTENT_TYPE".to_owned(),
                message: format!("content type `{other}` is not one this fake accepts"),
            });
            return (None, problems);
        }
    };
    let content = &request_body["content"];
    let schema = content
        .get("application/json")
        .or_else(|| content.get(media.as_str()))
        .map(|c| &c["schema"]);
    match schema {
        Some(schema) => validate(
            &format!("{key}#body"),
            schema,
            &json,
            &body_path,
            &mut problems,
        ),
        None => problems.push(Problem {
            path: body_path,
            code: "UNSUPPORTED_CONTENT_TYPE".to_owned(),
            message: format!("the spec has no `{media}` body for this operation"),
        }),
    }
    (Some(json), problems)
}

/// Path-level and operation-level parameters (operation ones win).
fn parameters(route: &RouteMatch) -> Vec<&'static Value> {
    let mut out: Vec<&'static Value> = route.operation["parameters"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if let Some(item_params) = route.item["parameters"].as_array() {
        for p in item_params {
            if !out
                .iter()
                .any(|o| o["name"] == p["name"] && o["in"] == p["in"])
            {
                out.push(p);
            }
        }
    }
    out
}

/// Turns a path or query string into the JSON type its schema asks for.
fn typed_value(schema: &Value, raw: &str) -> Value {
    let schema = resolve_local(schema);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"boolean") {
        match raw {
            "true" | "True" => return Value::Bool(true),
            "false" | "False" => return Value::Bool(false),
            _ => {}
        }
    }
    if types.contains(&"integer")
        && let Ok(n) = raw.parse::<i64>()
    {
        return Value::from(n);
    }
    if types.contains(&"number")
        && let Ok(n) = raw.parse::<f64>()
    {
        return Value::from(n);
    }
    Value::String(raw.to_owned())
}

/// Follows a top-level `#/...` reference inside the spec.
fn resolve_local(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) if r.starts_with("#/") => SPEC.pointer(&r[1..]).unwrap_or(schema),
        _ => schema,
    }
}

/// Copies a schema, pointing its `#/...` references at the registered spec document.
fn rebase_refs(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) if r.starts_with('#') => {
                            Value::String(format!("{SPEC_URI}{r}"))
                        }
                        _ => rebase_refs(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(rebase_refs).collect()),
        other => other.clone(),
    }
}

/// The cached validator for `schema`, compiling it on first use.
fn validator(key: &str, schema: &Value) -> Option<Arc<Validator>> {
    if let Ok(cache) = VALIDATORS.lock()
        && let Some(found) = cache.get(key)
    {
        return found.clone();
    }
    let compiled = compile(schema).map_err(|e| {
        tracing::error!("FakeDiscord cannot compile the spec schema for {key}: {e}");
    });
    let compiled = compiled.ok().map(Arc::new);
    if let Ok(mut cache) = VALIDATORS.lock() {
        cache.insert(key.to_owned(), compiled.clone());
    }
    compiled
}

fn compile(schema: &Value) -> Result<Validator, String> {
    let registry = REGISTRY
        .as_ref()
        .ok_or_else(|| "the spec is not registered".to_owned())?;
    jsonschema::options()
        .with_registry(registry)
        .build(&rebase_refs(schema))
        .map_err(|e| e.to_string())
}

fn validate(key: &str, schema: &Value, instance: &Value, at: &[String], out: &mut Vec<Problem>) {
    let Some(validator) = validator(key, schema) else {
        return;
    };
    for error in validator.iter_errors(instance).take(MAX_PROBLEMS) {
        let mut path = at.to_vec();
        path.extend(error.instance_path().segments().map(|s| s.to_string()));
        let (code, message) = match error.kind() {
            ValidationErrorKind::Required { property } => {
                path.push(property.as_str().unwrap_or_default().to_owned());
                ("BASE_TYPE_REQUIRED", "This field is required".to_owned())
            }
            ValidationErrorKind::MaxLength { limit } | ValidationErrorKind::MaxItems { limit } => (
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {limit} or fewer in length."),
            ),
            ValidationErrorKind::MinLength { limit } | ValidationErrorKind::MinItems { limit } => (
                "BASE_TYPE_MIN_LENGTH",
                format!("Must be {limit} or more in length."),
            ),
            ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => {
                ("BASE_TYPE_CHOICES", error.to_string())
            }
            ValidationErrorKind::Type { .. } => ("BASE_TYPE_BAD_TYPE", error.to_string()),
            _ => ("SPEC_VIOLATION", error.to_string()),
        };
        out.push(Problem {
            path,
            code: code.to_owned(),
            message,
        });
    }
}

/// At most this many problems are reported per validated value.
const MAX_PROBLEMS: usize = 20;

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the spec has an operation for `method` at `path` (below `/api/v10`).
pub fn operation_exists(method: &str, path: &str) -> bool {
    match_route(method, path).is_ok()
}

/// Compiles the JSON request-body schema of every operation in the spec; returns how many
/// compiled, or the ones that did not. A self-check for the fake's tests.
pub fn compile_all_request_schemas() -> Result<usize, Vec<String>> {
    let mut ok = 0;
    let mut failed = Vec::new();
    for route in ROUTES.iter() {
        for method in METHODS {
            let Some(schema) = route
                .item
                .get(method)
                .and_then(|op| op.pointer("/requestBody/content/application~1json/schema"))
            else {
                continue;
            };
            let key = format!("{method} {}#body", route.template);
            match validator(&key, schema) {
                Some(_) => ok += 1,
                None => failed.push(key),
            }
        }
    }
    if failed.is_empty() {
        Ok(ok)
    } else {
        Err(failed)
    }
}
