//! What the fake saw and did, for tests to read: REST requests, spec violations, 429s,
//! interaction responses, late interactions and gateway identifies / resumes.

use super::spec::Problem;
use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// One REST request and the fake's answer.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path as sent, e.g. `/api/v10/channels/1/messages`.
    pub path: String,
    /// The spec path template it matched, e.g. `/channels/{channel_id}/messages`.
    pub route: Option<String>,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The JSON body (or multipart `payload_json`), when there was one that parsed.
    pub body: Option<Value>,
    /// The raw body bytes.
    pub raw_body: Bytes,
    /// Status the fake answered.
    pub status: u16,
    /// JSON the fake answered, if any.
    pub response: Option<Value>,
    /// When the request arrived.
    pub at: Instant,
}

impl RecordedRequest {
    /// The files uploaded with it (multipart `files[n]` parts), in the order sent.
    pub fn files(&self) -> Vec<super::files::Part> {
        let content_type = self
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        super::files::file_parts(content_type, &self.raw_body)
    }
}

/// A request that does not fit Discord's OpenAPI spec.
#[derive(Debug, Clone)]
pub struct SpecViolation {
    /// HTTP method.
    pub method: String,
    /// Path as sent.
    pub path: String,
    /// The matched spec template, when the path matched one.
    pub route: Option<String>,
    /// What does not fit.
    pub problems: Vec<Problem>,
    /// The JSON body, if it parsed.
    pub body: Option<Value>,
}

impl fmt::Display for SpecViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(route) = &self.route {
            write!(f, " ({route})")?;
        }
        for p in &self.problems {
            write!(f, "\n    {p}")?;
        }
        if let Some(body) = &self.body {
            let mut text = body.to_string();
            if text.len() > 500 {
                let mut cut = 500;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push('…');
            }
            write!(f, "\n    body: {text}")?;
        }
        Ok(())
    }
}

/// A request answered with 429.
#[derive(Debug, Clone)]
pub struct RateLimitHit {
    /// HTTP method.
    pub method: String,
    /// Path as sent.
    pub path: String,
    /// The spec template.
    pub route: String,
    /// The `X-RateLimit-Bucket` id.
    pub bucket: String,
    /// The `retry_after` the fake answered.
    pub retry_after: Duration,
    /// Refused for the bot's global limit (the bucket is then empty), not the route's.
    pub global: bool,
    /// When.
    pub at: Instant,
}

/// What a bot did with an interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseKind {
    /// `POST /interactions/{id}/{token}/callback` with this callback type.
    Callback(u8),
    /// `POST /webhooks/{app}/{token}`: a followup message.
    Followup,
    /// `GET .../messages/@original`.
    GetOriginal,
    /// `PATCH .../messages/@original`.
    EditOriginal,
    /// `DELETE .../messages/@original`.
    DeleteOriginal,
    /// `GET .../messages/{id}`.
    GetFollowup(u64),
    /// `PATCH .../messages/{id}`.
    EditFollowup(u64),
    /// `DELETE .../messages/{id}`.
    DeleteFollowup(u64),
}

/// One request a bot made about an interaction, with the fake's answer.
#[derive(Debug, Clone)]
pub struct InteractionResponse {
    /// The interaction.
    pub interaction_id: u64,
    /// What kind of request.
    pub kind: ResponseKind,
    /// Its JSON body.
    pub body: Option<Value>,
    /// Status the fake answered.
    pub status: u16,
    /// Time from injection to this request.
    pub since_injection: Duration,
}

/// An interaction whose first callback came after the deadline (or has not come by then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateInteraction {
    /// The interaction.
    pub interaction_id: u64,
    /// Time from injection to the first callback; `None` when none came.
    pub answered_after: Option<Duration>,
    /// The deadline that applied.
    pub deadline: Duration,
}

/// An Identify a gateway session sent.
#[derive(Debug, Clone)]
pub struct Identify {
    /// The session it started.
    pub session_id: String,
    /// The token, as sent (usually `Bot ...`).
    pub token: String,
    /// Intents asked for.
    pub intents: u64,
    /// `[shard_id, shard_count]`, when sent.
    pub shard: Option<[u64; 2]>,
    /// The whole `d` payload.
    pub payload: Value,
}

/// A Resume a gateway session sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The session resumed.
    pub session_id: String,
    /// The last sequence the client had.
    pub seq: u64,
    /// How many missed dispatches were replayed.
    pub replayed: usize,
    /// Whether the resume worked (otherwise the fake sent Invalid Session).
    pub accepted: bool,
}

/// Everything recorded, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub requests: Vec<RecordedRequest>,
    pub violations: Vec<SpecViolation>,
    pub rate_limited: Vec<RateLimitHit>,
    pub responses: Vec<InteractionResponse>,
    pub late: Vec<LateInteraction>,
    pub identifies: Vec<Identify>,
    pub resumes: Vec<Resume>,
    pub heartbeats: u64,
    pub gateway_commands: Vec<Value>,
    pub connections: u64,
}
