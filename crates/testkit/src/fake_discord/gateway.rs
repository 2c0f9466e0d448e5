//! The gateway WebSocket (v10, JSON, no transport compression): Hello, Identify → READY and
//! GUILD_CREATE, heartbeats, Resume with replay, sessions that outlive their connections,
//! dispatches filtered by intents and shard, and the close codes Discord uses.

use super::records::{Identify, Resume};
use super::shapes;
use super::state::Shared;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Gateway opcode: an event was dispatched.
pub const OP_DISPATCH: u64 = 0;
/// Gateway opcode: heartbeat (both ways).
pub const OP_HEARTBEAT: u64 = 1;
/// Gateway opcode: identify.
pub const OP_IDENTIFY: u64 = 2;
/// Gateway opcode: resume.
pub const OP_RESUME: u64 = 6;
/// Gateway opcode: reconnect request.
pub const OP_RECONNECT: u64 = 7;
/// Gateway opcode: invalid session.
pub const OP_INVALID_SESSION: u64 = 9;
/// Gateway opcode: hello.
pub const OP_HELLO: u64 = 10;
/// Gateway opcode: heartbeat ACK.
pub const OP_HEARTBEAT_ACK: u64 = 11;

/// Close code: unknown error (resumable).
pub const CLOSE_UNKNOWN_ERROR: u16 = 4000;
/// Close code: unknown opcode.
pub const CLOSE_UNKNOWN_OPCODE: u16 = 4001;
/// Close code: decode error.
pub const CLOSE_DECODE_ERROR: u16 = 4002;
/// Close code: not authenticated.
pub const CLOSE_NOT_AUTHENTICATED: u16 = 4003;
/// Close code: authentication failed (wrong token).
pub const CLOSE_AUTHENTICATION_FAILED: u16 = 4004;
/// Close code: already authenticated.
pub const CLOSE_ALREADY_AUTHENTICATED: u16 = 4005;
/// Close code: invalid resume sequence.
pub const CLOSE_INVALID_SEQ: u16 = 4007;
/// Close code: session timed out.
pub const CLOSE_SESSION_TIMED_OUT: u16 = 4009;
/// Close code: invalid shard.
pub const CLOSE_INVALID_SHARD: u16 = 4010;
/// Close code: invalid API version.
pub const CLOSE_INVALID_API_VERSION: u16 = 4012;
/// Close code: invalid intents.
pub const CLOSE_INVALID_INTENTS: u16 = 4013;
/// Close code: disallowed (privileged, not enabled) intents.
pub const CLOSE_DISALLOWED_INTENTS: u16 = 4014;

/// Intent: GUILDS.
pub const INTENT_GUILDS: u64 = 1;
/// Intent: GUILD_MESSAGES.
pub const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
/// Intent: GUILD_MESSAGE_REACTIONS.
pub const INTENT_GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
/// Intent: GUILD_MESSAGE_TYPING.
pub const INTENT_GUILD_MESSAGE_TYPING: u64 = 1 << 11;
/// Intent: DIRECT_MESSAGES.
pub const INTENT_DIRECT_MESSAGES: u64 = 1 << 12;
/// Intent: DIRECT_MESSAGE_REACTIONS.
pub const INTENT_DIRECT_MESSAGE_REACTIONS: u64 = 1 << 13;
/// Intent: DIRECT_MESSAGE_TYPING.
pub const INTENT_DIRECT_MESSAGE_TYPING: u64 = 1 << 14;
/// Intent: MESSAGE_CONTENT (privileged).
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;
/// All intent bits Discord defines (up to AUTO_MODERATION_EXECUTION and polls).
const KNOWN_INTENTS: u64 = (1 << 26) - 1;

/// Dispatches kept per session for resuming.
const REPLAY_BUFFER: usize = 10_000;

/// What a connection task should send.
#[derive(Debug, Clone)]
pub(crate) enum Outbound {
    Text(String),
    Close(u16, String),
}

/// Writes `text` and every dispatch already queued behind it, then flushes once: a burst goes
/// out in as few writes as the socket takes, as a real server's buffered connection sends it
/// (one flush per event would cost the fake, on the bot's machine, a system call per event).
/// Returns the close that was queued behind them, if any; `Err` when the socket failed.
async fn send_queued(
    socket: &mut WebSocket,
    text: String,
    rx: &mut mpsc::UnboundedReceiver<Outbound>,
) -> Result<Option<(u16, String)>, ()> {
    use futures::SinkExt;
    let mut next = Some(text);
    let mut closing = None;
    while let Some(text) = next.take() {
        socket
            .feed(Message::Text(Utf8Bytes::from(text)))
            .await
            .map_err(|_| ())?;
        match rx.try_recv() {
            Ok(Outbound::Text(text)) => next = Some(text),
            Ok(Outbound::Close(code, reason)) => closing = Some((code, reason)),
            Err(_) => {}
        }
    }
    SinkExt::flush(socket).await.map_err(|_| ())?;
    Ok(closing)
}

/// A gateway session; it lives on while disconnected so it can be resumed.
#[derive(Debug)]
pub(crate) struct Session {
    pub seq: u64,
    pub intents: u64,
    pub shard: [u64; 2],
    pub buffer: VecDeque<(u64, String)>,
    /// The connection it is attached to, if any.
    pub conn: Option<(u64, mpsc::UnboundedSender<Outbound>)>,
}

/// All sessions.
#[derive(Debug, Default)]
pub(crate) struct GatewayState {
    pub sessions: HashMap<String, Session>,
    pub next_conn: u64,
}

/// Query of the gateway URL (`?v=10&encoding=json`).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct GatewayQuery {
    v: Option<String>,
    encoding: Option<String>,
    compress: Option<String>,
}

/// Upgrades `GET /?v=10&encoding=json` to the gateway.
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<GatewayQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let problem = if query.v.as_deref() != Some("10") {
        Some((CLOSE_INVALID_API_VERSION, "Invalid API version."))
    } else if query.encoding.as_deref().is_some_and(|e| e != "json") {
        Some((CLOSE_DECODE_ERROR, "This fake speaks only JSON."))
    } else if query.compress.is_some() {
        Some((CLOSE_DECODE_ERROR, "This fake does not compress."))
    } else {
        None
    };
    ws.on_upgrade(move |socket| connection(shared, socket, problem))
}

fn frame(payload: &Value) -> Message {
    Message::Text(Utf8Bytes::from(payload.to_string()))
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_owned()),
    }))
}

async fn connection(shared: Arc<Shared>, mut socket: WebSocket, problem: Option<(u16, &str)>) {
    if let Some((code, reason)) = problem {
        let _ = socket.send(close(code, reason)).await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn_id = {
        let mut gw = shared.gateway.lock().unwrap_or_else(|e| e.into_inner());
        gw.next_conn += 1;
        gw.next_conn
    };
    shared.records().connections += 1;
    shared.notify();
    let hello = json!({
        "op": OP_HELLO,
        "d": {"heartbeat_interval": shared.config.heartbeat_interval.as_millis() as u64},
        "s": null,
        "t": null,
    });
    if socket.send(frame(&hello)).await.is_err() {
        return;
    }
    let mut session_id: Option<String> = None;
    let mut client_close: Option<u16> = None;
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => {
                let _ = socket.send(close(1001, "FakeDiscord stopped")).await;
                break;
            }
            out = rx.recv() => match out {
                Some(Outbound::Text(text)) => {
                    match send_queued(&mut socket, text, &mut rx).await {
                        Ok(None) => {}
                        Ok(Some((code, reason))) => {
                            let _ = socket.send(close(code, &reason)).await;
                            break;
                        }
                        Err(()) => break,
                    }
                }
                Some(Outbound::Close(code, reason)) => {
                    let _ = socket.send(close(code, &reason)).await;
                    break;
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let reply = handle_payload(&shared, conn_id, &tx, &mut session_id, text.as_str());
                    if let Some((code, reason)) = reply {
                        let _ = socket.send(close(code, reason)).await;
                        break;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = socket.send(close(CLOSE_DECODE_ERROR, "Error while decoding payload.")).await;
                    break;
                }
                Some(Ok(Message::Close(frame))) => {
                    client_close = Some(frame.map_or(1005, |f| f.code));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    detach(&shared, conn_id, session_id.as_deref(), client_close);
}

/// Detaches a closed connection from its session; a normal close by the client ends the
/// session (it cannot be resumed), as on Discord.
fn detach(shared: &Shared, conn_id: u64, session_id: Option<&str>, client_close: Option<u16>) {
    let mut gw = shared.gateway.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = session_id {
        let ends = matches!(client_close, Some(1000 | 1001));
        if let Some(session) = gw.sessions.get_mut(id)
            && session.conn.as_ref().is_some_and(|(c, _)| *c == conn_id)
        {
            session.conn = None;
        }
        if ends {
            gw.sessions.remove(id);
        }
    }
    drop(gw);
    shared.notify();
}

fn token_matches(shared: &Shared, token: &str) -> bool {
    let token = token.strip_prefix("Bot ").unwrap_or(token);
    token == shared.config.token
}

/// Handles one client payload; returns a close code to end the connection with.
fn handle_payload(
    shared: &Arc<Shared>,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<Outbound>,
    session_id: &mut Option<String>,
    text: &str,
) -> Option<(u16, &'static str)> {
    let Ok(payload) = serde_json::from_str::<Value>(text) else {
        return Some((CLOSE_DECODE_ERROR, "Error while decoding payload."));
    };
    shared.records().gateway_commands.push(payload.clone());
    let op = payload["op"].as_u64();
    let d = &payload["d"];
    match op {
        Some(OP_HEARTBEAT) => {
            shared.records().heartbeats += 1;
            shared.notify();
            let _ = tx.send(Outbound::Text(json!({"op": OP_HEARTBEAT_ACK}).to_string()));
            None
        }
        Some(OP_IDENTIFY) => {
            if session_id.is_some() {
                return Some((CLOSE_ALREADY_AUTHENTICATED, "Already authenticated."));
            }
            let token = d["token"].as_str().unwrap_or_default();
            if !token_matches(shared, token) {
                return Some((CLOSE_AUTHENTICATION_FAILED, "Authentication failed."));
            }
            let Some(intents) = d["intents"].as_u64() else {
                return Some((CLOSE_DECODE_ERROR, "Error while decoding payload."));
            };
            if intents & !KNOWN_INTENTS != 0 {
                return Some((CLOSE_INVALID_INTENTS, "Invalid intent(s)."));
            }
            let privileged = intents & super::config::PRIVILEGED_INTENTS;
            if privileged & !shared.config.allowed_privileged_intents != 0 {
                return Some((CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s)."));
            }
            let shard = match d.get("shard").and_then(Value::as_array) {
                Some(s) => {
                    let (Some(id), Some(count)) = (
                        s.first().and_then(Value::as_u64),
                        s.get(1).and_then(Value::as_u64),
                    ) else {
                        return Some((CLOSE_INVALID_SHARD, "Invalid shard."));
                    };
                    if count == 0 || id >= count {
                        return Some((CLOSE_INVALID_SHARD, "Invalid shard."));
                    }
                    Some([id, count])
                }
                None => None,
            };
            let id = uuid::Uuid::new_v4().simple().to_string();
            {
                let mut gw = shared.gateway.lock().unwrap_or_else(|e| e.into_inner());
                gw.sessions.insert(
                    id.clone(),
                    Session {
                        seq: 0,
                        intents,
                        shard: shard.unwrap_or([0, 1]),
                        buffer: VecDeque::new(),
                        conn: Some((conn_id, tx.clone())),
                    },
                );
            }
            *session_id = Some(id.clone());
            send_ready(shared, &id, shard);
            shared.records().identifies.push(Identify {
                session_id: id,
                token: token.to_owned(),
                intents,
                shard,
                payload: d.clone(),
            });
            shared.notify();
            None
        }
        Some(OP_RESUME) => {
            if session_id.is_some() {
                return Some((CLOSE_ALREADY_AUTHENTICATED, "Already authenticated."));
            }
            let token = d["token"].as_str().unwrap_or_default();
            if !token_matches(shared, token) {
                return Some((CLOSE_AUTHENTICATION_FAILED, "Authentication failed."));
            }
            let wanted = d["session_id"].as_str().unwrap_or_default().to_owned();
            let seq = d["seq"].as_u64().unwrap_or(0);
            let replayed = resume(shared, conn_id, tx, &wanted, seq);
            let accepted = replayed.is_some();
            if accepted {
                *session_id = Some(wanted.clone());
            } else {
                let _ = tx.send(Outbound::Text(
                    json!({"op": OP_INVALID_SESSION, "d": false, "s": null, "t": null}).to_string(),
                ));
            }
            shared.records().resumes.push(Resume {
                session_id: wanted,
                seq,
                replayed: replayed.unwrap_or(0),
                accepted,
            });
            shared.notify();
            None
        }
        Some(3 | 4 | 8 | 31) => {
            if session_id.is_none() {
                return Some((CLOSE_NOT_AUTHENTICATED, "Not authenticated."));
            }
            shared.notify();
            None
        }
        _ => Some((CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")),
    }
}

/// Sends READY and the GUILD_CREATEs of the session's shard.
fn send_ready(shared: &Shared, session_id: &str, shard: Option<[u64; 2]>) {
    let [shard_id, shard_count] = shard.unwrap_or([0, 1]);
    let (guild_ids, guilds): (Vec<u64>, Vec<Value>) = {
        let world = shared.world();
        world
            .guilds
            .iter()
            .filter(|g| (g.id >> 22) % shard_count == shard_id)
            .map(|g| {
                let channels = g
                    .channels
                    .iter()
                    .filter_map(|c| world.channels.get(c))
                    .map(|c| {
                        let mut j = c.json.clone();
                        if let Some(o) = j.as_object_mut() {
                            o.remove("guild_id");
                        }
                        j
                    })
                    .collect();
                let members = g
                    .members
                    .iter()
                    .map(|m| shapes::member(g.id, &world.user(*m)))
                    .collect();
                let owner = g
                    .members
                    .get(1)
                    .copied()
                    .unwrap_or(shared.config.bot_user_id);
                (g.id, shapes::guild(g.id, &g.name, owner, channels, members))
            })
            .unzip()
    };
    let mut ready = json!({
        "v": 10,
        "user": shapes::current_user(&shared.bot()),
        "guilds": guild_ids
            .iter()
            .map(|id| json!({"id": id.to_string(), "unavailable": true}))
            .collect::<Vec<_>>(),
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": shared.gateway_url(),
        "application": {"id": shared.config.application_id.to_string(), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "user_settings": {},
        "geo_ordered_rtc_regions": [],
        "_trace": ["[\"fake-discord\",{\"micros\":0}]"],
    });
    if let Some(s) = shard {
        ready["shard"] = json!(s);
    }
    let mut gw = shared.gateway.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(session) = gw.sessions.get_mut(session_id) {
        push(session, "READY", &ready);
        for g in &guilds {
            push(session, "GUILD_CREATE", g);
        }
    }
}

/// Re-attaches a session and replays what it missed; `None` when it cannot be resumed.
fn resume(
    shared: &Shared,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<Outbound>,
    session_id: &str,
    seq: u64,
) -> Option<usize> {
    let mut gw = shared.gateway.lock().unwrap_or_else(|e| e.into_inner());
    let session = gw.sessions.get_mut(session_id)?;
    if seq > session.seq {
        return None;
    }
    let oldest = session.buffer.front().map_or(session.seq + 1, |(s, _)| *s);
    if seq + 1 < oldest {
        return None;
    }
    if let Some((_, old)) = session.conn.take() {
        let _ = old.send(Outbound::Close(
            CLOSE_UNKNOWN_ERROR,
            "Session resumed elsewhere.".to_owned(),
        ));
    }
    let mut replayed = 0;
    for (s, text) in &session.buffer {
        if *s > seq {
            let _ = tx.send(Outbound::Text(text.clone()));
            replayed += 1;
        }
    }
    session.conn = Some((conn_id, tx.clone()));
    push(session, "RESUMED", &json!({"_trace": ["fake-discord"]}));
    Some(replayed)
}

/// Gives a dispatch the session's next sequence number, keeps it for replay and sends it.
fn push(session: &mut Session, event: &str, data: &Value) {
    session.seq += 1;
    let text = json!({"op": OP_DISPATCH, "s": session.seq, "t": event, "d": data}).to_string();
    session.buffer.push_back((session.seq, text.clone()));
    while session.buffer.len() > REPLAY_BUFFER {
        session.buffer.pop_front();
    }
    if let Some((_, tx)) = &session.conn {
        let _ = tx.send(Outbound::Text(text));
    }
}

/// The intent a dispatch needs, if any (guild or DM variant).
fn required_intent(event: &str, in_guild: bool) -> Option<u64> {
    let pick = |guild: u64, dm: u64| Some(if in_guild { guild } else { dm });
    match event {
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" | "MESSAGE_DELETE_BULK" => {
            pick(INTENT_GUILD_MESSAGES, INTENT_DIRECT_MESSAGES)
        }
        "MESSAGE_REACTION_ADD" | "MESSAGE_REACTION_REMOVE" | "MESSAGE_REACTION_REMOVE_ALL" => pick(
            INTENT_GUILD_MESSAGE_REACTIONS,
            INTENT_DIRECT_MESSAGE_REACTIONS,
        ),
        "TYPING_START" => pick(INTENT_GUILD_MESSAGE_TYPING, INTENT_DIRECT_MESSAGE_TYPING),
        "GUILD_CREATE"
        | "GUILD_UPDATE"
        | "GUILD_DELETE"
        | "CHANNEL_CREATE"
        | "CHANNEL_UPDATE"
        | "CHANNEL_DELETE"
        | "THREAD_CREATE"
        | "THREAD_UPDATE"
        | "THREAD_DELETE"
        | "THREAD_LIST_SYNC"
        | "THREAD_MEMBER_UPDATE" => Some(INTENT_GUILDS),
        _ => None,
    }
}

/// Without MESSAGE_CONTENT a bot sees no content, embeds, attachments, components or poll of
/// guild messages that neither mention it nor are its own.
fn strip_content(data: &mut Value, bot_id: u64) {
    let own = shapes::id_of(&data["author"]["id"]) == Some(bot_id);
    let mentioned = data["mentions"]
        .as_array()
        .is_some_and(|m| m.iter().any(|u| shapes::id_of(&u["id"]) == Some(bot_id)));
    if own || mentioned || data.get("guild_id").is_none() {
        return;
    }
    data["content"] = json!("");
    data["embeds"] = json!([]);
    data["attachments"] = json!([]);
    data["components"] = json!([]);
    if let Some(o) = data.as_object_mut() {
        o.remove("poll");
    }
}

impl Shared {
    /// Sends a dispatch to every session that should get it; returns how many did.
    pub fn dispatch(&self, event: &str, data: &Value) -> usize {
        self.dispatch_all(event, std::slice::from_ref(data))
    }

    /// Dispatches each of `events` (all named `event`) as [`Shared::dispatch`] does, under one
    /// lock, waking waiters once; returns how many dispatches went to a session.
    pub fn dispatch_all(&self, event: &str, events: &[Value]) -> usize {
        let mut gw = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        let sent = events
            .iter()
            .map(|data| self.dispatch_locked(&mut gw, event, data))
            .sum();
        drop(gw);
        self.notify();
        sent
    }

    fn dispatch_locked(&self, gw: &mut GatewayState, event: &str, data: &Value) -> usize {
        let guild_id = shapes::id_of(&data["guild_id"]);
        let needed = required_intent(event, guild_id.is_some());
        let is_message = matches!(event, "MESSAGE_CREATE" | "MESSAGE_UPDATE");
        let bot_id = self.config.bot_user_id;
        let mut sent = 0;
        for session in gw.sessions.values_mut() {
            let [shard_id, shard_count] = session.shard;
            let shard_of = guild_id.map_or(0, |g| (g >> 22) % shard_count.max(1));
            if shard_of != shard_id {
                continue;
            }
            if needed.is_some_and(|i| session.intents & i == 0) {
                continue;
            }
            if is_message && session.intents & INTENT_MESSAGE_CONTENT == 0 {
                let mut stripped = data.clone();
                strip_content(&mut stripped, bot_id);
                push(session, event, &stripped);
            } else {
                push(session, event, data);
            }
            sent += 1;
        }
        sent
    }

    /// Sends a raw payload to every connected session.
    pub fn send_raw(&self, payload: &Value) {
        let gw = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        for session in gw.sessions.values() {
            if let Some((_, tx)) = &session.conn {
                let _ = tx.send(Outbound::Text(payload.to_string()));
            }
        }
    }

    /// Closes every connection with `code`; sessions stay resumable unless the code says
    /// otherwise (4007, 4009 and the fatal 4004, 4010–4014).
    pub fn disconnect_all(&self, code: u16) {
        let mut gw = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        let ends = matches!(code, 4004 | 4007 | 4009 | 4010..=4014);
        for session in gw.sessions.values_mut() {
            if let Some((_, tx)) = session.conn.take() {
                let _ = tx.send(Outbound::Close(
                    code,
                    format!("FakeDiscord closed with {code}"),
                ));
            }
        }
        if ends {
            gw.sessions.clear();
        }
        drop(gw);
        self.notify();
    }

    /// Sessions currently attached to a connection.
    pub fn connected_sessions(&self) -> usize {
        let gw = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        gw.sessions.values().filter(|s| s.conn.is_some()).count()
    }

    /// The last sequence number of every session, by session id.
    pub fn session_sequences(&self) -> HashMap<String, u64> {
        let gw = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        gw.sessions
            .iter()
            .map(|(k, s)| (k.clone(), s.seq))
            .collect()
    }
}
