//! Discord's error bodies (`{"message", "code", "errors"}`) and the reply type every REST
//! handler returns.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

/// JSON error code: general error (used with 401/404/405 route errors).
pub const CODE_GENERAL: u32 = 0;
/// JSON error code: Unknown Channel.
pub const CODE_UNKNOWN_CHANNEL: u32 = 10003;
/// JSON error code: Unknown Guild.
pub const CODE_UNKNOWN_GUILD: u32 = 10004;
/// JSON error code: Unknown Message.
pub const CODE_UNKNOWN_MESSAGE: u32 = 10008;
/// JSON error code: Unknown User.
pub const CODE_UNKNOWN_USER: u32 = 10013;
/// JSON error code: Unknown Webhook.
pub const CODE_UNKNOWN_WEBHOOK: u32 = 10015;
/// JSON error code: Unknown application command.
pub const CODE_UNKNOWN_COMMAND: u32 = 10063;
/// JSON error code: Unknown interaction.
pub const CODE_UNKNOWN_INTERACTION: u32 = 10062;
/// JSON error code: Missing Access.
pub const CODE_MISSING_ACCESS: u32 = 50001;
/// JSON error code: Cannot edit a message authored by another user.
pub const CODE_NOT_AUTHOR: u32 = 50005;
/// JSON error code: Cannot send an empty message.
pub const CODE_EMPTY_MESSAGE: u32 = 50006;
/// JSON error code: Invalid Webhook Token.
pub const CODE_INVALID_WEBHOOK_TOKEN: u32 = 50027;
/// JSON error code: Invalid Form Body.
pub const CODE_INVALID_FORM_BODY: u32 = 50035;
/// JSON error code: Interaction has already been acknowledged.
pub const CODE_ALREADY_ACKNOWLEDGED: u32 = 40060;

/// What a REST handler answers: status, extra headers and an optional JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Value>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self::with_status(StatusCode::OK, body)
    }

    /// 201 with a JSON body.
    pub fn created(body: Value) -> Self {
        Self::with_status(StatusCode::CREATED, body)
    }

    /// 204 without a body.
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Any status with a JSON body.
    pub fn with_status(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    /// A Discord error: `{"message": message, "code": code}`.
    pub fn error(status: StatusCode, code: u32, message: &str) -> Self {
        Self::with_status(status, json!({"message": message, "code": code}))
    }

    /// 401 as Discord sends it for a missing or wrong token.
    pub fn unauthorized() -> Self {
        Self::error(StatusCode::UNAUTHORIZED, CODE_GENERAL, "401: Unauthorized")
    }

    /// 404 for a route that does not exist.
    pub fn not_found() -> Self {
        Self::error(StatusCode::NOT_FOUND, CODE_GENERAL, "404: Not Found")
    }

    /// 404 Unknown X (`code` says which).
    pub fn unknown(code: u32, what: &str) -> Self {
        Self::error(StatusCode::NOT_FOUND, code, &format!("Unknown {what}"))
    }

    /// 400 Invalid Form Body with an `errors` tree.
    pub fn invalid_form(errors: FormErrors) -> Self {
        Self::with_status(
            StatusCode::BAD_REQUEST,
            json!({
                "message": "Invalid Form Body",
                "code": CODE_INVALID_FORM_BODY,
                "errors": errors.into_value(),
            }),
        )
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut builder = Response::builder().status(self.status);
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        let body = match self.body {
            Some(v) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        builder
            .body(body)
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// Discord's nested `errors` object: `{"field": {"0": {"_errors": [{"code", "message"}]}}}`.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    tree: Map<String, Value>,
    count: usize,
}

impl FormErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an error at `path` (field names and array indexes, outermost first).
    pub fn add(&mut self, path: &[String], code: &str, message: &str) {
        self.count += 1;
        let mut node = &mut self.tree;
        for seg in path {
            let entry = node
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            node = match entry.as_object_mut() {
                Some(m) => m,
                None => return,
            };
        }
        let errors = node
            .entry("_errors")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = errors.as_array_mut() {
            list.push(json!({"code": code, "message": message}));
        }
    }

    /// Adds a "Must be N or fewer in length." error.
    pub fn max_length(&mut self, path: &[String], max: usize) {
        self.add(
            path,
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {max} or fewer in length."),
        );
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many errors were added.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The `errors` object.
    pub fn into_value(self) -> Value {
        Value::Object(self.tree)
    }

    /// `Err(self)` when any error was added.
    pub fn into_result(self) -> Result<(), FormErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}
