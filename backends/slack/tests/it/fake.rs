//! A fake Slack on loopback: the Web API methods the backend uses, with their documented
//! JSON shapes, `ok:false` errors and HTTP 429 + `Retry-After`, a `response_url` endpoint, and
//! a Socket Mode WebSocket that sends `hello`, envelopes (`events_api`, `interactive`,
//! `slash_commands`) and `disconnect`, records acknowledgements, and can drop the socket.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message as Ws, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const BOT_TOKEN: &str = "xoxb-fake-bot-token-1234";
pub const APP_TOKEN: &str = "xapp-fake-app-token-5678";
pub const BOT_USER: &str = "U0FERRBOT";
pub const BOT_ID: &str = "B0FERRBOT";
pub const ALICE: &str = "U0ALICE";
pub const BOB: &str = "U0BOB";
pub const ADMIN: &str = "U0ADMIN";
pub const CREATOR: &str = "U0CREATOR";
pub const GENERAL: &str = "C0GENERAL";
pub const MISSING: &str = "C0MISSING";

/// A Web API call the fake answered.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// The JSON body (POST) or the query (GET) as an object.
    pub args: Value,
}

/// A message `chat.postMessage` accepted.
#[derive(Clone, Debug)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    pub body: Value,
    pub at: Instant,
}

impl Posted {
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or("")
    }
}

enum Control {
    Send(Value),
    Disconnect,
    Drop,
}

pub struct FakeState {
    addr: Mutex<Option<SocketAddr>>,
    pub calls: Mutex<Vec<Call>>,
    pub posts: Mutex<Vec<Posted>>,
    /// Retry-After seconds for the next `chat.postMessage` calls, answered 429.
    pub rate_limits: Mutex<VecDeque<u64>>,
    pub rate_limited_at: Mutex<Vec<Instant>>,
    /// Bodies POSTed to response URLs, by URL path.
    pub responses: Mutex<Vec<(String, Value)>>,
    pub connections: AtomicUsize,
    pub hellos: AtomicUsize,
    /// Envelope ids sent, and acks received (envelope ids, in order).
    pub sent: Mutex<Vec<String>>,
    pub acks: Mutex<Vec<String>>,
    pins: Mutex<Vec<(String, String)>>,
    /// Channel names by id, after `conversations.rename` (others have the fake's defaults).
    pub names: Mutex<HashMap<String, String>>,
    /// Channels `conversations.rename` refuses with `not_authorized` (created by someone else).
    pub not_ours: Mutex<Vec<String>>,
    /// Channels archived with `conversations.archive`.
    archived: Mutex<Vec<String>>,
    current: Mutex<Option<mpsc::UnboundedSender<Control>>>,
    next: AtomicU64,
}

pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
}

type S = State<Arc<FakeState>>;

fn ok(mut v: Value) -> Response {
    v["ok"] = json!(true);
    axum::Json(v).into_response()
}

fn err(code: &str) -> Response {
    axum::Json(json!({ "ok": false, "error": code })).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

fn user_json(id: &str) -> Option<Value> {
    let (name, display, admin) = match id {
        ALICE => ("alice", "Alice", false),
        BOB => ("bob", "Bobby", false),
        ADMIN => ("admin", "", true),
        CREATOR => ("creator", "Cree", false),
        BOT_USER => ("ferrbot", "ferrbot", false),
        _ => return None,
    };
    Some(json!({
        "id": id, "team_id": "T0FAKE", "name": name, "deleted": false, "real_name": format!("{name} real"),
        "tz": "Europe/London", "is_admin": admin, "is_owner": false, "is_primary_owner": false,
        "is_restricted": false, "is_ultra_restricted": false, "is_bot": id == BOT_USER,
        "updated": 1_700_000_000, "is_app_user": false,
        "profile": { "display_name": display, "real_name": format!("{name} real"), "team": "T0FAKE" }
    }))
}

fn channel_json(id: &str, name: &str) -> Value {
    json!({
        "id": id, "name": name, "is_channel": true, "is_group": false, "is_im": false,
        "is_private": false, "created": 1_700_000_000, "creator": CREATOR, "is_archived": false,
        "is_general": id == GENERAL, "is_member": true,
        "topic": { "value": "", "creator": "", "last_set": 0 },
        "purpose": { "value": "", "creator": "", "last_set": 0 }
    })
}

fn known_channel(id: &str) -> bool {
    id != MISSING && (id.starts_with('C') || id.starts_with('D') || id.starts_with('G'))
}

impl FakeState {
    /// `conversations.rename` as documented: the caller must be allowed, the name must be
    /// lower-case letters, digits, `-` and `_`, at most 80 characters, and free.
    fn rename(&self, channel: &str, name: &str) -> Response {
        if !known_channel(channel) {
            return err("channel_not_found");
        }
        if self.not_ours.lock().unwrap().iter().any(|c| c == channel) {
            return err("not_authorized");
        }
        if self.archived.lock().unwrap().iter().any(|c| c == channel) {
            return err("is_archived");
        }
        if name.is_empty() {
            return err("invalid_name_required");
        }
        if name.chars().count() > 80 {
            return err("invalid_name_maxlength");
        }
        if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
            return err("invalid_name_punctuation");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return err("invalid_name_specials");
        }
        let mut names = self.names.lock().unwrap();
        let taken = name == "general"
            || name == "taken"
            || names.iter().any(|(id, n)| n == name && id != channel);
        if taken {
            return err("name_taken");
        }
        names.insert(channel.to_owned(), name.to_owned());
        let mut channel = channel_json(channel, name);
        channel["name_normalized"] = json!(name);
        ok(json!({ "channel": channel }))
    }

    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn ts(&self) -> String {
        format!("1700001000.{:06}", self.next())
    }

    fn record(&self, method: &str, args: &Value) {
        self.calls.lock().unwrap().push(Call {
            method: method.to_owned(),
            args: args.clone(),
        });
    }

    fn answer(&self, method: &str, token: Option<String>, args: &Value) -> Response {
        let needed = if method == "apps.connections.open" {
            APP_TOKEN
        } else {
            BOT_TOKEN
        };
        match token {
            None => return err("not_authed"),
            Some(t) if t != needed => return err("invalid_auth"),
            Some(_) => {}
        }
        self.record(method, args);
        let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match method {
            "auth.test" => ok(json!({
                "url": "https://fake.slack.com/", "team": "Fake", "user": "ferrbot",
                "team_id": "T0FAKE", "user_id": BOT_USER, "bot_id": BOT_ID,
                "is_enterprise_install": false
            })),
            "apps.connections.open" => {
                let addr = self.addr.lock().unwrap().unwrap();
                ok(json!({ "url": format!("ws://{addr}/link/?ticket={}", self.next()) }))
            }
            "chat.postMessage" => {
                if let Some(secs) = self.rate_limits.lock().unwrap().pop_front() {
                    self.rate_limited_at.lock().unwrap().push(Instant::now());
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", secs.to_string())],
                        axum::Json(json!({ "ok": false, "error": "ratelimited" })),
                    )
                        .into_response();
                }
                let channel = arg("channel");
                if !known_channel(&channel) {
                    return err("channel_not_found");
                }
                if args.get("text").is_none()
                    && args.get("blocks").is_none()
                    && args.get("attachments").is_none()
                {
                    return err("no_text");
                }
                let ts = self.ts();
                self.posts.lock().unwrap().push(Posted {
                    channel: channel.clone(),
                    ts: ts.clone(),
                    body: args.clone(),
                    at: Instant::now(),
                });
                ok(json!({
                    "channel": channel, "ts": ts,
                    "message": { "type": "message", "subtype": "bot_message", "text": args["text"],
                                 "user": BOT_USER, "bot_id": BOT_ID, "ts": ts }
                }))
            }
            "chat.update" => {
                ok(json!({ "channel": arg("channel"), "ts": arg("ts"), "text": args["text"] }))
            }
            "conversations.create" => {
                let name = arg("name");
                if name == "taken" {
                    return err("name_taken");
                }
                ok(json!({ "channel": channel_json(&format!("C0NEW{}", self.next()), &name) }))
            }
            "conversations.invite" | "conversations.setTopic" | "conversations.archive" => {
                let channel = arg("channel");
                if !known_channel(&channel) {
                    return err("channel_not_found");
                }
                if method == "conversations.archive" {
                    self.archived.lock().unwrap().push(channel.clone());
                }
                ok(json!({ "channel": channel_json(&channel, "x") }))
            }
            "conversations.rename" => self.rename(&arg("channel"), &arg("name")),
            "conversations.open" => {
                ok(json!({ "channel": { "id": format!("D{}", &arg("users")[1..]) } }))
            }
            "conversations.info" => {
                let channel = arg("channel");
                if !known_channel(&channel) {
                    return err("channel_not_found");
                }
                ok(json!({ "channel": channel_json(&channel, "general") }))
            }
            "users.info" => match user_json(&arg("user")) {
                Some(user) => ok(json!({ "user": user })),
                None => err("user_not_found"),
            },
            "pins.add" => {
                let key = (arg("channel"), arg("timestamp"));
                let mut pins = self.pins.lock().unwrap();
                if pins.contains(&key) {
                    return err("already_pinned");
                }
                pins.push(key);
                ok(json!({}))
            }
            "reactions.add" => {
                if arg("name").is_empty() {
                    return err("invalid_name");
                }
                ok(json!({}))
            }
            _ => err("unknown_method"),
        }
    }
}

async fn api_post(
    State(s): S,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let args: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return err("invalid_json"),
        }
    };
    s.answer(&method, bearer(&headers), &args)
}

async fn api_get(
    State(s): S,
    Path(method): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let args = serde_json::to_value(query).unwrap();
    s.answer(&method, bearer(&headers), &args)
}

async fn response_url(
    State(s): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    assert!(
        bearer(&headers).is_none(),
        "no token may be sent to a response_url"
    );
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.responses.lock().unwrap().push((id, value));
    "ok".into_response()
}

async fn link(State(s): S, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(s, socket))
}

async fn session(s: Arc<FakeState>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    *s.current.lock().unwrap() = Some(tx);
    s.connections.fetch_add(1, Ordering::SeqCst);
    let hello = json!({
        "type": "hello", "num_connections": 1,
        "debug_info": { "host": "fake-slack", "build_number": 1, "approximate_connection_time": 18060 },
        "connection_info": { "app_id": "A0FAKE" }
    });
    if socket
        .send(Ws::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    s.hellos.fetch_add(1, Ordering::SeqCst);
    loop {
        tokio::select! {
            control = rx.recv() => match control {
                Some(Control::Send(v)) => {
                    if socket.send(Ws::Text(v.to_string().into())).await.is_err() { return; }
                }
                Some(Control::Disconnect) => {
                    let d = json!({ "type": "disconnect", "reason": "refresh_requested",
                                    "debug_info": { "host": "fake-slack" } });
                    let _ = socket.send(Ws::Text(d.to_string().into())).await;
                }
                // Gone without a close frame, like a dropped connection.
                Some(Control::Drop) | None => return,
            },
            frame = socket.next() => match frame {
                Some(Ok(Ws::Text(text))) => {
                    let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    if let Some(id) = v.get("envelope_id").and_then(Value::as_str) {
                        s.acks.lock().unwrap().push(id.to_owned());
                    }
                }
                Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

impl Fake {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            addr: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
            posts: Mutex::new(Vec::new()),
            rate_limits: Mutex::new(VecDeque::new()),
            rate_limited_at: Mutex::new(Vec::new()),
            responses: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            hellos: AtomicUsize::new(0),
            sent: Mutex::new(Vec::new()),
            acks: Mutex::new(Vec::new()),
            pins: Mutex::new(Vec::new()),
            names: Mutex::new(HashMap::new()),
            not_ours: Mutex::new(Vec::new()),
            archived: Mutex::new(Vec::new()),
            current: Mutex::new(None),
            next: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/api/{method}", post(api_post).get(api_get))
            .route("/response/{id}", post(response_url))
            .route("/link/", get(link))
            .fallback(any(|| async { (StatusCode::NOT_FOUND, "no such route") }))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *state.addr.lock().unwrap() = Some(addr);
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state }
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn response_url(&self, id: &str) -> String {
        format!("http://{}/response/{id}", self.addr)
    }

    pub async fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&Fake) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !pred(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn posts(&self) -> Vec<Posted> {
        self.state.posts.lock().unwrap().clone()
    }

    pub fn posts_in(&self, channel: &str) -> Vec<Posted> {
        self.posts()
            .into_iter()
            .filter(|p| p.channel == channel)
            .collect()
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    fn control(&self, c: Control) {
        let current = self.state.current.lock().unwrap();
        let sent = current.as_ref().expect("a Socket Mode connection").send(c);
        assert!(sent.is_ok(), "the connection is open");
    }

    /// Sends an envelope; returns its id.
    pub fn envelope(&self, kind: &str, payload: Value) -> String {
        let id = format!("env-{}", self.state.next());
        self.state.sent.lock().unwrap().push(id.clone());
        self.control(Control::Send(json!({
            "envelope_id": id, "type": kind, "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0, "retry_reason": "", "payload": payload
        })));
        id
    }

    /// An `events_api` envelope with this event.
    pub fn event(&self, event: Value) -> String {
        let n = self.state.next();
        self.envelope(
            "events_api",
            json!({
                "token": "XXYYZZ", "team_id": "T0FAKE", "api_app_id": "A0FAKE",
                "event": event, "type": "event_callback", "event_id": format!("Ev{n:08}"),
                "event_time": 1_700_001_000, "authorizations": [{
                    "enterprise_id": null, "team_id": "T0FAKE", "user_id": BOT_USER,
                    "is_bot": true, "is_enterprise_install": false
                }]
            }),
        )
    }

    /// A user's message; returns its `ts`.
    pub fn says(&self, channel: &str, user: &str, text: &str, thread_ts: Option<&str>) -> String {
        let ts = self.state.ts();
        let mut event = json!({
            "type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
            "event_ts": ts, "team": "T0FAKE",
            "channel_type": if channel.starts_with('D') { "im" } else { "channel" }
        });
        if let Some(t) = thread_ts {
            event["thread_ts"] = json!(t);
        }
        self.event(event);
        ts
    }

    /// A click on a button (`block_actions`) of the message `ts`.
    pub fn click(&self, channel: &str, user: &str, action: &Value, ts: &str) -> String {
        let mut action = action.clone();
        action["block_id"] = json!("b1");
        action["action_ts"] = json!(self.state.ts());
        self.envelope(
            "interactive",
            json!({
                "type": "block_actions",
                "user": { "id": user, "username": "someone", "team_id": "T0FAKE" },
                "api_app_id": "A0FAKE", "token": "XXYYZZ", "trigger_id": "1.2.3",
                "team": { "id": "T0FAKE", "domain": "fake" },
                "container": { "type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false },
                "channel": { "id": channel, "name": "general" },
                "message": { "type": "message", "ts": ts, "text": "", "user": BOT_USER },
                "response_url": self.response_url("actions"),
                "actions": [action]
            }),
        )
    }

    /// A slash command.
    pub fn slash(&self, channel: &str, user: &str, command: &str, text: &str) -> String {
        let id = format!("slash{}", self.state.next());
        self.envelope(
            "slash_commands",
            json!({
                "token": "XXYYZZ", "team_id": "T0FAKE", "team_domain": "fake",
                "channel_id": channel, "channel_name": "general", "user_id": user,
                "user_name": "someone", "command": command, "text": text, "api_app_id": "A0FAKE",
                "is_enterprise_install": "false", "response_url": self.response_url(&id),
                "trigger_id": "4.5.6"
            }),
        )
    }

    pub fn disconnect(&self) {
        self.control(Control::Disconnect);
    }

    pub fn drop_socket(&self) {
        self.control(Control::Drop);
    }

    pub async fn wait_acked(&self, envelope: &str) {
        self.wait_for(&format!("the ack of {envelope}"), 10, |f| {
            f.state.acks.lock().unwrap().iter().any(|a| a == envelope)
        })
        .await;
    }

    /// The id of the last envelope sent.
    pub fn last_sent(&self) -> String {
        self.state.sent.lock().unwrap().last().cloned().unwrap()
    }

    /// Every envelope sent was acknowledged exactly once.
    pub async fn assert_each_acked_once(&self) {
        let sent = self.state.sent.lock().unwrap().len();
        self.wait_for("every ack", 10, |f| {
            f.state.acks.lock().unwrap().len() >= sent
        })
        .await;
        let acks = self.state.acks.lock().unwrap().clone();
        for id in self.state.sent.lock().unwrap().iter() {
            let n = acks.iter().filter(|a| *a == id).count();
            assert_eq!(n, 1, "envelope {id} acknowledged {n} times");
        }
    }
}
