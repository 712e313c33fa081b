//! A fake Discord: the REST routes the backend uses, with their documented JSON shapes and
//! 429 answers, and a gateway WebSocket speaking the real opcodes (HELLO, IDENTIFY, READY,
//! HEARTBEAT/ACK, DISPATCH, RECONNECT, RESUME/RESUMED, INVALID_SESSION).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message as Ws, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const TOKEN: &str = "fake.bot.token";
pub const BOT_ID: u64 = 900_000_000_000_000_001;
pub const APP_ID: u64 = 900_000_000_000_000_002;
pub const GUILD_ID: u64 = 900_000_000_000_000_003;
/// The guild's owner, a member with the moderators' role (MANAGE_CHANNELS), one with the
/// administrators' role (ADMINISTRATOR), and someone who is not a member.
pub const OWNER_ID: u64 = 900_000_000_000_000_010;
pub const MOD_ID: u64 = 900_000_000_000_000_011;
pub const ADMIN_ID: u64 = 900_000_000_000_000_012;
pub const STRANGER_ID: u64 = 900_000_000_000_000_013;
const MOD_ROLE: u64 = 900_000_000_000_000_020;
const ADMIN_ROLE: u64 = 900_000_000_000_000_021;
/// A channel whose overwrites take MANAGE_CHANNELS from the moderators, a thread in it, and a
/// direct-message channel.
pub const LOCKED_CHANNEL: u64 = 900_000_000_000_000_030;
pub const LOCKED_THREAD: u64 = 900_000_000_000_000_031;
pub const DM_CHANNEL: u64 = 900_000_000_000_000_032;
/// A channel where the bot lacks MANAGE_CHANNELS (PATCH answers 403, code 50013), and one
/// that does not exist (404, code 10003).
pub const READ_ONLY_CHANNEL: u64 = 900_000_000_000_000_033;
pub const MISSING_CHANNEL: u64 = 900_000_000_000_000_034;
/// Name changes of one channel allowed per window before Discord answers 429, and the
/// window (Discord's well-known two renames per ten minutes).
pub const RENAMES_PER_WINDOW: usize = 2;
pub const RENAME_WINDOW_SECS: f64 = 600.0;

/// A message the bot created (by POST, interaction response or webhook edit).
#[derive(Clone, Debug)]
pub struct Posted {
    pub channel: String,
    pub body: Value,
    /// The message object answered (with `mention_everyone` computed like Discord does).
    pub message: Value,
    pub at: Instant,
    /// `post`, `interaction` or `webhook_edit`.
    pub via: &'static str,
}

#[derive(Default)]
pub struct Counters {
    pub gateway_hits: AtomicUsize,
    pub gateway_bot_hits: AtomicUsize,
    pub identifies: AtomicUsize,
    pub resumes: AtomicUsize,
    pub resumes_refused: AtomicUsize,
    pub heartbeats: AtomicUsize,
    pub connections: AtomicUsize,
}

pub struct FakeState {
    addr: Mutex<Option<SocketAddr>>,
    pub counters: Counters,
    pub intents: Mutex<Option<u64>>,
    pub posts: Mutex<Vec<Posted>>,
    /// Interaction callbacks: (interaction id, body, when).
    pub callbacks: Mutex<Vec<(String, Value, Instant)>>,
    /// Other calls: "METHOD path".
    pub calls: Mutex<Vec<String>>,
    /// 429 answers (retry_after seconds) for the next message posts, with when they were sent.
    pub rate_limits: Mutex<VecDeque<f64>>,
    pub rate_limited_at: Mutex<Vec<Instant>>,
    pub commands: Mutex<Vec<Value>>,
    /// Answer the message post made after this many successful posts with a 429 (once).
    pub rate_limit_after_posts: Mutex<Option<(usize, f64)>>,
    /// Channel names after PATCH /channels/{id} with a `name`, by channel id.
    pub names: Mutex<std::collections::HashMap<String, String>>,
    /// Name changes accepted, by channel id (for the per-channel rename limit).
    renames: Mutex<std::collections::HashMap<String, usize>>,
    /// Channels of the interactions dispatched, by interaction id.
    interaction_channels: Mutex<std::collections::HashMap<String, String>>,
    /// Answer the next RESUME with INVALID_SESSION (d: false).
    pub refuse_resume: AtomicBool,
    control_tx: mpsc::UnboundedSender<Value>,
    control_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Value>>,
    seq: AtomicU64,
    sent: Mutex<Vec<(u64, Value)>>,
    next_id: AtomicU64,
    session: AtomicU64,
}

pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
}

pub fn user_json(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(), "username": name, "discriminator": "0", "global_name": name,
        "avatar": null, "bot": bot, "public_flags": 0
    })
}

pub fn member_json(user: &Value) -> Value {
    json!({
        "user": user, "nick": null, "avatar": null, "roles": [],
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
        "deaf": false, "mute": false, "flags": 0, "pending": false, "permissions": "2147483647",
        "communication_disabled_until": null
    })
}

/// A full Message object.
pub fn message_json(id: u64, channel: &str, author: &Value, content: &str, guild: bool) -> Value {
    let mut m = json!({
        "id": id.to_string(), "channel_id": channel, "author": author, "content": content,
        "timestamp": "2024-05-01T12:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "type": 0, "flags": 0, "components": []
    });
    if guild {
        m["guild_id"] = json!(GUILD_ID.to_string());
        m["member"] = json!({
            "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false,
            "mute": false, "flags": 0, "nick": null
        });
    }
    m
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {TOKEN}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"message": "401: Unauthorized", "code": 0})),
    )
        .into_response()
}

impl FakeState {
    fn id(&self) -> u64 {
        1_200_000_000_000_000_000 + self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    fn ws_url(&self) -> String {
        let addr = self.addr.lock().unwrap().expect("bound");
        format!("ws://{addr}/ws")
    }

    fn interaction_channel(&self, id: &str) -> String {
        let id = id.trim_start_matches("tok-");
        self.interaction_channels
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned())
    }

    fn call(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }

    /// The message Discord would create from a send body.
    fn create(&self, channel: &str, body: &Value, via: &'static str) -> Value {
        let content = body.get("content").and_then(Value::as_str).unwrap_or("");
        let mut message = message_json(
            self.id(),
            channel,
            &user_json(BOT_ID, "ferrbot", true),
            content,
            true,
        );
        // Discord pings everyone only if the text says so and allowed_mentions permits it.
        let allowed = match body.get("allowed_mentions") {
            None => true,
            Some(a) => a["parse"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x == "everyone")),
        };
        let says = content.contains("@everyone") || content.contains("@here");
        message["mention_everyone"] = json!(says && allowed);
        if let Some(embeds) = body.get("embeds") {
            message["embeds"] = embeds.clone();
        }
        if let Some(components) = body.get("components") {
            message["components"] = components.clone();
        }
        self.posts.lock().unwrap().push(Posted {
            channel: channel.to_owned(),
            body: body.clone(),
            message: message.clone(),
            at: Instant::now(),
            via,
        });
        message
    }
}

impl Fake {
    pub async fn start() -> Self {
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let state = Arc::new(FakeState {
            addr: Mutex::new(None),
            counters: Counters::default(),
            intents: Mutex::new(None),
            posts: Mutex::new(Vec::new()),
            callbacks: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            rate_limits: Mutex::new(VecDeque::new()),
            rate_limited_at: Mutex::new(Vec::new()),
            commands: Mutex::new(Vec::new()),
            rate_limit_after_posts: Mutex::new(None),
            names: Mutex::new(std::collections::HashMap::new()),
            renames: Mutex::new(std::collections::HashMap::new()),
            interaction_channels: Mutex::new(std::collections::HashMap::new()),
            refuse_resume: AtomicBool::new(false),
            control_tx,
            control_rx: tokio::sync::Mutex::new(control_rx),
            seq: AtomicU64::new(0),
            sent: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            session: AtomicU64::new(0),
        });
        let api = Router::new()
            .route("/gateway", get(gateway))
            .route("/gateway/bot", get(gateway_bot))
            .route("/users/@me", get(me))
            .route("/users/@me/channels", post(open_dm))
            .route("/users/{id}", get(user))
            .route("/channels/{id}", get(get_channel).patch(modify_channel))
            .route("/guilds/{gid}", get(get_guild))
            .route("/guilds/{gid}/members/{uid}", get(get_member))
            .route("/channels/{id}/messages", post(create_message))
            .route(
                "/channels/{id}/messages/{mid}",
                axum::routing::patch(edit_message),
            )
            .route("/channels/{id}/pins/{mid}", put(pin))
            .route(
                "/channels/{id}/messages/{mid}/reactions/{emoji}/@me",
                put(react),
            )
            .route("/channels/{id}/threads", post(create_thread))
            .route("/channels/{id}/thread-members/{uid}", put(thread_member))
            .route("/guilds/{gid}/channels", post(create_channel))
            .route("/applications/{app}/commands", post(register_command))
            .route(
                "/applications/{app}/guilds/{gid}/commands",
                post(register_command),
            )
            .route(
                "/interactions/{id}/{token}/callback",
                post(interaction_callback),
            )
            .route(
                "/webhooks/{app}/{token}/messages/@original",
                get(get_original)
                    .patch(edit_original)
                    .delete(delete_original),
            );
        let app = Router::new()
            .nest("/api/v10", api)
            .route("/ws", get(ws))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *state.addr.lock().unwrap() = Some(addr);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    pub fn api_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends a DISPATCH event on the gateway.
    pub fn dispatch(&self, t: &str, d: Value) {
        let _ = self
            .state
            .control_tx
            .send(json!({ "op": 0, "t": t, "d": d }));
    }

    /// Sends op 7 RECONNECT.
    pub fn reconnect(&self) {
        let _ = self.state.control_tx.send(json!({ "op": 7, "d": null }));
    }

    /// A user writes `content` in `channel` (a guild channel).
    pub fn user_says(&self, channel: &str, user: (u64, &str), content: &str) -> u64 {
        let id = self.state.id();
        self.dispatch(
            "MESSAGE_CREATE",
            message_json(
                id,
                channel,
                &user_json(user.0, user.1, false),
                content,
                true,
            ),
        );
        id
    }

    /// A user clicks the button `custom_id` on `message` in `channel`.
    pub fn click(
        &self,
        channel: &str,
        user: (u64, &str),
        custom_id: &str,
        message: &Value,
    ) -> String {
        let id = self.state.id().to_string();
        self.state
            .interaction_channels
            .lock()
            .unwrap()
            .insert(id.clone(), channel.to_owned());
        let u = user_json(user.0, user.1, false);
        self.dispatch(
            "INTERACTION_CREATE",
            json!({
                "id": id, "application_id": APP_ID.to_string(), "type": 3,
                "data": { "custom_id": custom_id, "component_type": 2 },
                "guild_id": GUILD_ID.to_string(), "channel_id": channel,
                "member": member_json(&u), "token": format!("tok-{id}"), "version": 1,
                "message": message, "app_permissions": "2147483647", "locale": "en-US",
                "guild_locale": "en-US", "entitlements": [], "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
                "context": 0, "attachment_size_limit": 8_388_608
            }),
        );
        id
    }

    /// A user runs `/ferrbot command:<line>` in `channel`.
    pub fn slash(&self, channel: &str, user: (u64, &str), line: &str) -> String {
        let id = self.state.id().to_string();
        self.state
            .interaction_channels
            .lock()
            .unwrap()
            .insert(id.clone(), channel.to_owned());
        let u = user_json(user.0, user.1, false);
        self.dispatch(
            "INTERACTION_CREATE",
            json!({
                "id": id, "application_id": APP_ID.to_string(), "type": 2,
                "data": { "id": "1", "name": "ferrbot", "type": 1,
                          "options": [{ "name": "command", "type": 3, "value": line }] },
                "guild_id": GUILD_ID.to_string(), "channel_id": channel,
                "member": member_json(&u), "token": format!("tok-{id}"), "version": 1,
                "app_permissions": "2147483647", "locale": "en-US", "guild_locale": "en-US",
                "entitlements": [], "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
                "context": 0, "attachment_size_limit": 8_388_608
            }),
        );
        id
    }

    /// A slash command standing for a bot command (`/whoami args:…`).
    pub fn slash_named(
        &self,
        channel: &str,
        user: (u64, &str),
        name: &str,
        args: Option<&str>,
    ) -> String {
        let id = self.state.id().to_string();
        self.state
            .interaction_channels
            .lock()
            .unwrap()
            .insert(id.clone(), channel.to_owned());
        let u = user_json(user.0, user.1, false);
        let options: Vec<Value> = args
            .map(|a| vec![json!({ "name": "args", "type": 3, "value": a })])
            .unwrap_or_default();
        self.dispatch(
            "INTERACTION_CREATE",
            json!({
                "id": id, "application_id": APP_ID.to_string(), "type": 2,
                "data": { "id": "2", "name": name, "type": 1, "options": options },
                "guild_id": GUILD_ID.to_string(), "channel_id": channel,
                "member": member_json(&u), "token": format!("tok-{id}"), "version": 1,
                "app_permissions": "2147483647", "locale": "en-US", "guild_locale": "en-US",
                "entitlements": [], "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
                "context": 0, "attachment_size_limit": 8_388_608
            }),
        );
        id
    }

    pub fn posts_in(&self, channel: &str) -> Vec<Posted> {
        self.state
            .posts
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.channel == channel)
            .cloned()
            .collect()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Waits until `check` holds, failing the test after `secs` seconds.
    pub async fn wait_for(&self, what: &str, secs: u64, check: impl Fn(&Fake) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; calls: {:?}",
                self.calls()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---- REST ----

type S = State<Arc<FakeState>>;

async fn gateway(State(s): S) -> Response {
    s.counters.gateway_hits.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({ "url": s.ws_url() })).into_response()
}

async fn gateway_bot(State(s): S, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    s.counters.gateway_bot_hits.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "url": s.ws_url(), "shards": 1,
        "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1 }
    }))
    .into_response()
}

async fn me(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    axum::Json(user_json(BOT_ID, "ferrbot", true)).into_response()
}

async fn user(Path(id): Path<u64>, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    axum::Json(user_json(id, &format!("user{}", id % 1000), false)).into_response()
}

async fn open_dm(State(s): S, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    s.call(format!("POST /users/@me/channels {}", body["recipient_id"]));
    let recipient: u64 = body["recipient_id"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    axum::Json(json!({
        "id": (recipient + 7).to_string(), "type": 1, "last_message_id": null,
        "recipients": [user_json(recipient, "someone", false)]
    }))
    .into_response()
}

async fn create_message(
    State(s): S,
    Path(channel): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let mut limited = s.rate_limits.lock().unwrap().pop_front();
    {
        let mut after = s.rate_limit_after_posts.lock().unwrap();
        if let Some((n, secs)) = *after
            && s.posts.lock().unwrap().len() == n
        {
            *after = None;
            limited = Some(secs);
        }
    }
    if let Some(retry_after) = limited {
        s.rate_limited_at.lock().unwrap().push(Instant::now());
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("retry-after", format!("{}", retry_after.ceil() as u64)),
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset-after", format!("{retry_after}")),
                ("x-ratelimit-bucket", "fakebucket".to_owned()),
                ("x-ratelimit-scope", "user".to_owned()),
            ],
            axum::Json(json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": false })),
        )
            .into_response();
    }
    let message = s.create(&channel, &body, "post");
    (
        [
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset-after", "1.0"),
            ("x-ratelimit-bucket", "fakebucket"),
        ],
        axum::Json(message),
    )
        .into_response()
}

async fn edit_message(
    State(s): S,
    Path((channel, mid)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    s.call(format!("PATCH /channels/{channel}/messages/{mid}"));
    let author = user_json(BOT_ID, "ferrbot", true);
    let content = body["content"].as_str().unwrap_or("");
    axum::Json(message_json(
        mid.parse().unwrap_or(1),
        &channel,
        &author,
        content,
        true,
    ))
    .into_response()
}

/// PATCH /channels/{id} (Modify Channel): 403 (50013) without MANAGE_CHANNELS, 404 (10003)
/// for an unknown channel, 400 (50035, Invalid Form Body) for a name outside 1–100
/// characters, and a 429 with `retry_after` once a channel was renamed twice in the window.
async fn modify_channel(
    State(s): S,
    headers: HeaderMap,
    Path(channel): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    s.call(format!("PATCH /channels/{channel} {body}"));
    let status = |code: StatusCode, json: Value| (code, axum::Json(json)).into_response();
    if channel == MISSING_CHANNEL.to_string() {
        return status(
            StatusCode::NOT_FOUND,
            json!({"message": "Unknown Channel", "code": 10003}),
        );
    }
    if channel == READ_ONLY_CHANNEL.to_string() {
        return status(
            StatusCode::FORBIDDEN,
            json!({"message": "Missing Permissions", "code": 50013}),
        );
    }
    let mut name = "x".to_owned();
    if let Some(new) = body.get("name") {
        let new = new.as_str().unwrap_or("");
        let len = new.chars().count();
        if !(1..=100).contains(&len) {
            return status(
                StatusCode::BAD_REQUEST,
                json!({"message": "Invalid Form Body", "code": 50035, "errors": {"name": {"_errors": [
                    {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
                ]}}}),
            );
        }
        let mut renames = s.renames.lock().unwrap();
        let done = renames.entry(channel.clone()).or_default();
        if *done >= RENAMES_PER_WINDOW {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", format!("{}", RENAME_WINDOW_SECS as u64)),
                    ("x-ratelimit-limit", RENAMES_PER_WINDOW.to_string()),
                    ("x-ratelimit-remaining", "0".to_owned()),
                    ("x-ratelimit-reset-after", format!("{RENAME_WINDOW_SECS}")),
                    ("x-ratelimit-scope", "shared".to_owned()),
                ],
                axum::Json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": RENAME_WINDOW_SECS, "global": false
                })),
            )
                .into_response();
        }
        *done += 1;
        new.clone_into(&mut name);
        s.names
            .lock()
            .unwrap()
            .insert(channel.clone(), name.clone());
    }
    axum::Json(json!({ "id": channel, "type": 0, "guild_id": GUILD_ID.to_string(), "name": name }))
        .into_response()
}

/// GET /channels/{id}: a Channel object with its permission overwrites.
async fn get_channel(headers: HeaderMap, Path(channel): Path<u64>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let guild = GUILD_ID.to_string();
    let body = match channel {
        DM_CHANNEL => json!({ "id": channel.to_string(), "type": 1, "recipients": [] }),
        LOCKED_THREAD => json!({
            "id": channel.to_string(), "type": 11, "guild_id": guild,
            "parent_id": LOCKED_CHANNEL.to_string(), "name": "thread"
        }),
        LOCKED_CHANNEL => json!({
            "id": channel.to_string(), "type": 0, "guild_id": guild, "name": "locked",
            "permission_overwrites": [
                { "id": MOD_ROLE.to_string(), "type": 0, "allow": "0", "deny": "16" }
            ]
        }),
        _ => json!({
            "id": channel.to_string(), "type": 0, "guild_id": guild, "name": "general",
            "permission_overwrites": []
        }),
    };
    axum::Json(body).into_response()
}

/// GET /guilds/{id}: the guild with its owner and roles.
async fn get_guild(headers: HeaderMap, Path(guild): Path<u64>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if guild != GUILD_ID {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Unknown Guild", "code": 10004})),
        )
            .into_response();
    }
    let role = |id: u64, name: &str, permissions: &str| {
        json!({ "id": id.to_string(), "name": name, "permissions": permissions, "position": 1,
                "color": 0, "hoist": false, "managed": false, "mentionable": false })
    };
    axum::Json(json!({
        "id": GUILD_ID.to_string(), "name": "ops", "owner_id": OWNER_ID.to_string(),
        "roles": [
            role(GUILD_ID, "@everyone", "1024"),
            role(MOD_ROLE, "moderators", "1040"),
            role(ADMIN_ROLE, "administrators", "8"),
        ]
    }))
    .into_response()
}

/// GET /guilds/{id}/members/{user}: a member with their roles; 404 for non-members.
async fn get_member(headers: HeaderMap, Path((_, user)): Path<(u64, u64)>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let roles = match user {
        STRANGER_ID => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"message": "Unknown Member", "code": 10007})),
            )
                .into_response();
        }
        MOD_ID => vec![MOD_ROLE.to_string()],
        ADMIN_ID => vec![ADMIN_ROLE.to_string()],
        _ => vec![],
    };
    let mut member = member_json(&user_json(user, "member", false));
    member["roles"] = json!(roles);
    axum::Json(member).into_response()
}

async fn pin(
    State(s): S,
    headers: HeaderMap,
    Path((channel, mid)): Path<(String, String)>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    s.call(format!("PUT /channels/{channel}/pins/{mid}"));
    StatusCode::NO_CONTENT.into_response()
}

async fn react(
    State(s): S,
    headers: HeaderMap,
    Path((channel, mid, emoji)): Path<(String, String, String)>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    s.call(format!(
        "PUT /channels/{channel}/messages/{mid}/reactions/{emoji}/@me"
    ));
    StatusCode::NO_CONTENT.into_response()
}

async fn create_thread(
    State(s): S,
    Path(channel): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let id = s.id().to_string();
    s.call(format!("POST /channels/{channel}/threads {body}"));
    axum::Json(json!({
        "id": id, "type": body["type"], "guild_id": GUILD_ID.to_string(), "parent_id": channel,
        "name": body["name"], "owner_id": BOT_ID.to_string(),
        "thread_metadata": { "archived": false, "auto_archive_duration": 10080, "archive_timestamp": "2024-05-01T12:00:00.000000+00:00", "locked": false }
    }))
    .into_response()
}

async fn thread_member(State(s): S, Path((channel, uid)): Path<(String, String)>) -> Response {
    s.call(format!("PUT /channels/{channel}/thread-members/{uid}"));
    StatusCode::NO_CONTENT.into_response()
}

async fn create_channel(
    State(s): S,
    headers: HeaderMap,
    Path(guild): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let id = s.id().to_string();
    s.call(format!("POST /guilds/{guild}/channels {body}"));
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": id, "type": 0, "guild_id": guild, "name": body["name"], "topic": body["topic"],
            "position": 0, "permission_overwrites": body.get("permission_overwrites").cloned().unwrap_or(json!([])),
            "nsfw": false, "parent_id": body.get("parent_id").cloned().unwrap_or(Value::Null)
        })),
    )
        .into_response()
}

async fn register_command(
    State(s): S,
    headers: HeaderMap,
    uri: axum::http::Uri,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    s.call(format!("POST {}", uri.path()));
    s.commands.lock().unwrap().push(body.clone());
    let mut answer = body;
    answer["id"] = json!(s.id().to_string());
    answer["application_id"] = json!(APP_ID.to_string());
    answer["version"] = json!("1");
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

async fn interaction_callback(
    State(s): S,
    Path((id, token)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if token != format!("tok-{id}") {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Unknown interaction", "code": 10062})),
        )
            .into_response();
    }
    s.callbacks
        .lock()
        .unwrap()
        .push((id.clone(), body.clone(), Instant::now()));
    if body["type"] == 4 {
        let channel = s.interaction_channel(&id);
        let message = s.create(&channel, &body["data"], "interaction");
        return axum::Json(json!({
            "interaction": { "id": id, "type": 3 },
            "resource": { "type": 4, "message": message }
        }))
        .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_original(State(s): S, Path((_app, token)): Path<(String, String)>) -> Response {
    s.call(format!("GET original {token}"));
    let author = user_json(BOT_ID, "ferrbot", true);
    axum::Json(message_json(s.id(), "interaction", &author, "", true)).into_response()
}

async fn edit_original(
    State(s): S,
    Path((_app, token)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    s.call(format!("PATCH original {token}"));
    let message = s.create(&s.interaction_channel(&token), &body, "webhook_edit");
    axum::Json(message).into_response()
}

async fn delete_original(State(s): S, Path((_app, token)): Path<(String, String)>) -> Response {
    s.call(format!("DELETE original {token}"));
    StatusCode::NO_CONTENT.into_response()
}

// ---- gateway ----

async fn ws(State(s): S, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(s, socket))
}

fn text(v: &Value) -> Ws {
    Ws::Text(v.to_string().into())
}

async fn send_dispatch(
    s: &FakeState,
    tx: &mut futures_util::stream::SplitSink<WebSocket, Ws>,
    t: &str,
    d: Value,
) -> bool {
    let seq = s.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let frame = json!({ "op": 0, "t": t, "s": seq, "d": d });
    s.sent.lock().unwrap().push((seq, frame.clone()));
    tx.send(text(&frame)).await.is_ok()
}

async fn session(s: Arc<FakeState>, socket: WebSocket) {
    s.counters.connections.fetch_add(1, Ordering::SeqCst);
    let (mut tx, mut rx) = socket.split();
    if tx
        .send(text(
            &json!({ "op": 10, "s": null, "t": null, "d": { "heartbeat_interval": 1000 } }),
        ))
        .await
        .is_err()
    {
        return;
    }
    // Handshake: IDENTIFY or RESUME (answering heartbeats meanwhile).
    loop {
        let Some(Ok(frame)) = rx.next().await else {
            return;
        };
        let Ws::Text(t) = frame else {
            if matches!(frame, Ws::Close(_)) {
                return;
            }
            continue;
        };
        let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
        match v["op"].as_u64() {
            Some(1) => {
                s.counters.heartbeats.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(text(&json!({ "op": 11, "d": null }))).await;
            }
            Some(2) => {
                let token = v["d"]["token"].as_str().unwrap_or("");
                if token.trim_start_matches("Bot ") != TOKEN {
                    let _ = tx
                        .send(Ws::Close(Some(axum::extract::ws::CloseFrame {
                            code: 4004,
                            reason: "Authentication failed.".into(),
                        })))
                        .await;
                    return;
                }
                *s.intents.lock().unwrap() = v["d"]["intents"].as_u64();
                s.counters.identifies.fetch_add(1, Ordering::SeqCst);
                s.seq.store(0, Ordering::SeqCst);
                s.sent.lock().unwrap().clear();
                let n = s.session.fetch_add(1, Ordering::SeqCst);
                let ready = json!({
                    "v": 10, "user": user_json(BOT_ID, "ferrbot", true), "guilds": [],
                    "session_id": format!("session-{n}"), "resume_gateway_url": s.ws_url(),
                    "application": { "id": APP_ID.to_string(), "flags": 0 }
                });
                if !send_dispatch(&s, &mut tx, "READY", ready).await {
                    return;
                }
                break;
            }
            Some(6) => {
                if s.refuse_resume.swap(false, Ordering::SeqCst) {
                    s.counters.resumes_refused.fetch_add(1, Ordering::SeqCst);
                    let _ = tx.send(text(&json!({ "op": 9, "d": false }))).await;
                    continue;
                }
                s.counters.resumes.fetch_add(1, Ordering::SeqCst);
                let from = v["d"]["seq"].as_u64().unwrap_or(0);
                let missed: Vec<Value> = s
                    .sent
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(seq, _)| *seq > from)
                    .map(|(_, f)| f.clone())
                    .collect();
                for frame in missed {
                    if tx.send(text(&frame)).await.is_err() {
                        return;
                    }
                }
                if !send_dispatch(&s, &mut tx, "RESUMED", json!({})).await {
                    return;
                }
                break;
            }
            _ => {}
        }
    }
    // Connected: forward the test's frames; answer heartbeats.
    let mut control = s.control_rx.lock().await;
    loop {
        tokio::select! {
            frame = rx.next() => match frame {
                Some(Ok(Ws::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["op"] == 1 {
                        s.counters.heartbeats.fetch_add(1, Ordering::SeqCst);
                        if tx.send(text(&json!({ "op": 11, "d": null }))).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            out = control.recv() => {
                let Some(out) = out else { return };
                if out["op"] == 0 {
                    let t = out["t"].as_str().unwrap_or("").to_owned();
                    if !send_dispatch(&s, &mut tx, &t, out["d"].clone()).await {
                        return;
                    }
                } else {
                    // RECONNECT: say it, then stop reading the test's frames on this socket.
                    let _ = tx.send(text(&out)).await;
                    drop(control);
                    while let Some(Ok(frame)) = rx.next().await {
                        if matches!(frame, Ws::Close(_)) {
                            break;
                        }
                    }
                    return;
                }
            }
        }
    }
}
