//! A fake StackStorm for the `!st2` tests: one loopback HTTP server speaking the documented
//! contract (`tests/data/st2-contract.md`, §3) for `/auth/v1`, `/api/v1` and `/stream/v1`.
//!
//! - Auth: `POST /auth/v1/tokens` with Basic auth (tokens with a real expiry, a maximum TTL,
//!   impersonation by service accounts with `user` or `impersonate_user` + `nickname_origin`),
//!   `POST /auth/v1/tokens/validate`.
//! - Every API and stream call needs exactly one of `X-Auth-Token` / `St2-Api-Key` (headers or
//!   the query parameters st2 also accepts): both or neither → 401, with st2's texts.
//! - `GET /api/v1/actionalias` with `X-Total-Count`/`X-Limit` paging, `GET …/help`,
//!   `POST …/actionalias/match`, `POST /api/v1/aliasexecution/match_and_execute` matching with
//!   the plugin's own alias parser (§3.8: ambiguity, immutable parameters, 403, the real error
//!   texts), ack messages rendered with minijinja like st2 renders them with Jinja.
//! - `GET /stream/v1/stream?events=…`: SSE without `id:` lines and bare `\n` heartbeats, which a
//!   test can drop (the TCP connection is aborted), stall (no heartbeat) and resume.
//! - After each execution it plays st2's `notify` rule + `chatops.post_result`: the result is
//!   announced on the execution's `notification_route` (the alias's `result.format`, or st2's
//!   default template; nothing when `result.enabled` is false).
//!
//! Test helpers record every execution (with the StackStorm user whose credential ran it) and
//! every request's credential kind.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use ferrbot_plugin_st2::alias::{AliasError, AliasFormat, Params};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// One execution the fake scheduled.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The execution id.
    pub id: String,
    /// The alias's name.
    pub alias: String,
    /// The command as received.
    pub command: String,
    /// The parameters after extraction and immutable parameters.
    pub parameters: BTreeMap<String, Value>,
    /// `user` from the request (the chat user).
    pub user: String,
    /// `source_channel` from the request.
    pub source_channel: String,
    /// `notification_channel` from the request.
    pub notification_channel: Option<String>,
    /// `notification_route` from the request.
    pub notification_route: Option<String>,
    /// The StackStorm user whose credential ran it.
    pub st2_user: String,
    /// `token` or `api_key`.
    pub auth_kind: &'static str,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The path (no query).
    pub path: String,
    /// `token`, `api_key`, `basic`, `both` or `None` (no credential).
    pub auth_kind: Option<&'static str>,
}

#[derive(Clone)]
struct User {
    password: String,
    service: bool,
    nicknames: HashMap<String, String>,
}

#[derive(Clone)]
struct TokenInfo {
    user: String,
    expiry: jiff::Timestamp,
}

enum Frame {
    Data(String),
    Abort,
}

struct Subscriber {
    id: u64,
    events: Vec<String>,
    tx: mpsc::UnboundedSender<Frame>,
}

struct State_ {
    users: HashMap<String, User>,
    api_keys: HashMap<String, String>,
    tokens: HashMap<String, TokenInfo>,
    max_ttl: Duration,
    aliases: Vec<Value>,
    forbidden: Vec<String>,
    executions: Vec<Execution>,
    requests: Vec<Request>,
    subscribers: Vec<Subscriber>,
    pending: Vec<(String, String)>,
    connections: usize,
    next_id: u64,
    heartbeat: Duration,
    stalled: bool,
    down: bool,
    fail_next: Option<(u16, String)>,
    auto_result: bool,
    result: Value,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<State_>>,
    connected: Arc<Notify>,
    base: Arc<String>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake StackStorm; the server stops when this is dropped.
pub struct FakeSt2 {
    shared: Shared,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSt2 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSt2 {
    /// Starts the fake on 127.0.0.1 on a free port.
    pub async fn start() -> FakeSt2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared {
            state: Arc::new(Mutex::new(State_ {
                users: HashMap::new(),
                api_keys: HashMap::new(),
                tokens: HashMap::new(),
                max_ttl: Duration::from_secs(86_400),
                aliases: Vec::new(),
                forbidden: Vec::new(),
                executions: Vec::new(),
                requests: Vec::new(),
                subscribers: Vec::new(),
                pending: Vec::new(),
                connections: 0,
                next_id: 1,
                heartbeat: Duration::from_secs(25),
                stalled: false,
                down: false,
                fail_next: None,
                auto_result: true,
                result: json!({"succeeded": true, "failed": false, "return_code": 0, "stdout": "ok", "stderr": ""}),
            })),
            connected: Arc::new(Notify::new()),
            base: Arc::new(format!("http://{addr}")),
        };
        let app = Router::new()
            .route("/auth/v1/tokens", post(create_token))
            .route("/auth/v1/tokens/validate", post(validate_token))
            .route("/api/v1/actionalias", get(list_aliases))
            .route("/api/v1/actionalias/help", get(alias_help))
            .route("/api/v1/actionalias/match", post(match_alias))
            .route(
                "/api/v1/aliasexecution/match_and_execute",
                post(match_and_execute),
            )
            .route("/stream/v1/stream", get(stream))
            .fallback(|| async { fault(StatusCode::NOT_FOUND, "The resource could not be found.") })
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSt2 {
            shared,
            addr,
            server,
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`), under which `/auth/v1`, `/api/v1` and
    /// `/stream/v1` live.
    pub fn url(&self) -> String {
        self.shared.base.to_string()
    }

    /// Adds a StackStorm user; service accounts may request tokens for other users.
    pub fn add_user(&self, name: &str, password: &str, service: bool) {
        self.shared.lock().users.insert(
            name.to_owned(),
            User {
                password: password.to_owned(),
                service,
                nicknames: HashMap::new(),
            },
        );
    }

    /// Gives `user` the chat nickname `nick` for `origin` (st2's `UserDB.nicknames`).
    pub fn add_nickname(&self, user: &str, origin: &str, nick: &str) {
        if let Some(u) = self.shared.lock().users.get_mut(user) {
            u.nicknames.insert(origin.to_owned(), nick.to_owned());
        }
    }

    /// Adds an API key belonging to `user`.
    pub fn add_api_key(&self, key: &str, user: &str) {
        self.shared
            .lock()
            .api_keys
            .insert(key.to_owned(), user.to_owned());
    }

    /// Issues a token for `user` directly (as `st2 auth` would), valid for `ttl`.
    pub fn issue_token(&self, user: &str, ttl: Duration) -> String {
        let token = random_hex(16);
        self.shared.lock().tokens.insert(
            token.clone(),
            TokenInfo {
                user: user.to_owned(),
                expiry: now() + jiff::SignedDuration::try_from(ttl).unwrap(),
            },
        );
        token
    }

    /// Makes every token of `user` expired (StackStorm then answers `Token has expired.`).
    pub fn expire_tokens_of(&self, user: &str) {
        let past = now() - jiff::SignedDuration::from_secs(1);
        for info in self.shared.lock().tokens.values_mut() {
            if info.user == user {
                info.expiry = past;
            }
        }
    }

    /// How many live tokens `user` has.
    pub fn live_tokens_of(&self, user: &str) -> usize {
        let now = now();
        self.shared
            .lock()
            .tokens
            .values()
            .filter(|t| t.user == user && t.expiry > now)
            .count()
    }

    /// Sets the largest TTL a token may be requested with (`auth.token_ttl`).
    pub fn set_max_ttl(&self, ttl: Duration) {
        self.shared.lock().max_ttl = ttl;
    }

    /// Adds an action alias (the JSON of `GET /api/v1/actionalias` items). Connected streams
    /// subscribed to it get `st2.actionalias__create`.
    pub fn add_alias(&self, alias: Value) {
        let mut state = self.shared.lock();
        let mut alias = alias;
        if alias.get("id").is_none() {
            let id = format!("alias{:04}", state.next_id);
            state.next_id += 1;
            alias["id"] = Value::String(id);
        }
        let data = json!({"payload": alias.clone()}).to_string();
        state.aliases.push(alias);
        publish(&mut state, "st2.actionalias__create", &data, false);
    }

    /// Executions as StackStorm user `user` are refused with 403.
    pub fn forbid(&self, user: &str) {
        self.shared.lock().forbidden.push(user.to_owned());
    }

    /// The next `match_and_execute` fails with `status` and this `faultstring`.
    pub fn fail_next(&self, status: u16, faultstring: &str) {
        self.shared.lock().fail_next = Some((status, faultstring.to_owned()));
    }

    /// The result every execution gets (default: a succeeded `stdout: ok`).
    pub fn set_result(&self, result: Value) {
        self.shared.lock().result = result;
    }

    /// Whether executions announce their result on their route (default true).
    pub fn set_auto_result(&self, on: bool) {
        self.shared.lock().auto_result = on;
    }

    /// Every execution so far.
    pub fn executions(&self) -> Vec<Execution> {
        self.shared.lock().executions.clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Publishes an announcement on route `route` (what `chatops.post_message` does). Held and
    /// delivered on the next stream connection when no subscriber is connected.
    pub async fn announce(&self, route: &str, payload: Value) {
        let event = format!("st2.announcement__{route}");
        let data = json!({"payload": payload, "trace_context": null}).to_string();
        let mut state = self.shared.lock();
        publish(&mut state, &event, &data, true);
    }

    /// Aborts every open stream connection at once (the TCP connection is reset mid-body).
    pub fn drop_streams(&self) {
        let mut state = self.shared.lock();
        for sub in state.subscribers.drain(..) {
            let _ = sub.tx.send(Frame::Abort);
        }
    }

    /// While on, open streams stay connected but send nothing, not even heartbeats.
    pub fn stall_streams(&self, on: bool) {
        self.shared.lock().stalled = on;
    }

    /// The heartbeat period (st2's `stream.heartbeat`, 25 s by default).
    pub fn set_heartbeat(&self, every: Duration) {
        self.shared.lock().heartbeat = every;
    }

    /// While on, every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.shared.lock().down = down;
    }

    /// How many stream connections were accepted so far.
    pub fn stream_connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// How many stream connections are open now.
    pub fn open_streams(&self) -> usize {
        self.shared
            .lock()
            .subscribers
            .iter()
            .filter(|s| !s.tx.is_closed())
            .count()
    }

    /// Waits (at most 30 s) until at least `n` stream connections were accepted.
    pub async fn wait_stream_connections(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.shared.connected.notified();
            if self.stream_connections() >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "waited 30 s for {n} stream connections, saw {}",
                    self.stream_connections()
                );
            }
        }
    }
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn fault(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "faultstring": text }))).into_response()
}

/// Sends `data` as event `event` to matching subscribers; when none matched and `hold` is set,
/// keeps it for the next connection.
fn publish(state: &mut State_, event: &str, data: &str, hold: bool) {
    state.subscribers.retain(|s| !s.tx.is_closed());
    let mut delivered = false;
    for sub in &state.subscribers {
        if sub.events.iter().any(|glob| glob_match(glob, event))
            && sub.tx.send(Frame::Data(sse(event, data))).is_ok()
        {
            delivered = true;
        }
    }
    if !delivered && hold {
        state.pending.push((event.to_owned(), data.to_owned()));
    }
}

fn sse(event: &str, data: &str) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// fnmatch with `*` and `?` (what st2 applies to `events`).
fn glob_match(glob: &str, text: &str) -> bool {
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut gi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ti;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while gi < g.len() && g[gi] == '*' {
        gi += 1;
    }
    gi == g.len()
}

/// Who a request authenticates as, per st2's router rules.
enum Auth {
    User { user: String, kind: &'static str },
    Denied(Response),
}

fn header_or_query(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    name: &str,
) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.get(&name.to_ascii_lowercase()).cloned())
}

fn authenticate(
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Auth {
    let token = header_or_query(headers, query, "X-Auth-Token");
    let key = header_or_query(headers, query, "St2-Api-Key");
    let mut state = shared.lock();
    let kind = match (&token, &key) {
        (Some(_), Some(_)) => Some("both"),
        (Some(_), None) => Some("token"),
        (None, Some(_)) => Some("api_key"),
        (None, None) => None,
    };
    state.requests.push(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        auth_kind: kind,
    });
    if state.down {
        return Auth::Denied(fault(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
        ));
    }
    match (token, key) {
        (Some(_), Some(_)) => Auth::Denied(fault(
            StatusCode::UNAUTHORIZED,
            "Unauthorized - Only one of Token or API key expected.",
        )),
        (None, None) => Auth::Denied(fault(
            StatusCode::UNAUTHORIZED,
            "Unauthorized - One of Token or API key required.",
        )),
        (Some(token), None) => match state.tokens.get(&token) {
            None => Auth::Denied(fault(StatusCode::UNAUTHORIZED, "Unauthorized")),
            Some(info) if info.expiry <= now() => Auth::Denied(fault(
                StatusCode::UNAUTHORIZED,
                "Unauthorized - Token has expired.",
            )),
            Some(info) => Auth::User {
                user: info.user.clone(),
                kind: "token",
            },
        },
        (None, Some(key)) => match state.api_keys.get(&key) {
            Some(user) => Auth::User {
                user: user.clone(),
                kind: "api_key",
            },
            None => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                key.hash(&mut h);
                Auth::Denied(fault(
                    StatusCode::UNAUTHORIZED,
                    &format!(
                        "Unauthorized - ApiKey with key_hash={:x} not found.",
                        h.finish()
                    ),
                ))
            }
        },
    }
}

macro_rules! auth_or_return {
    ($shared:expr, $method:expr, $path:expr, $headers:expr, $query:expr) => {
        match authenticate(&$shared, $method, $path, &$headers, &$query) {
            Auth::User { user, kind } => (user, kind),
            Auth::Denied(resp) => return resp,
        }
    };
}

async fn create_token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let mut state = shared.lock();
    state.requests.push(Request {
        method: "POST".into(),
        path: "/auth/v1/tokens".into(),
        auth_kind: basic.as_ref().map(|_| "basic"),
    });
    if state.down {
        return fault(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    let Some((name, password)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
        return fault(StatusCode::UNAUTHORIZED, "Invalid or missing credentials");
    };
    let Some(user) = state.users.get(name).cloned() else {
        return fault(StatusCode::UNAUTHORIZED, "Invalid or missing credentials");
    };
    if user.password != password {
        return fault(StatusCode::UNAUTHORIZED, "Invalid or missing credentials");
    }
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return fault(
                    StatusCode::BAD_REQUEST,
                    &format!("Failed to parse request body: {e}"),
                );
            }
        }
    };
    let ttl = match request.get("ttl").and_then(Value::as_u64) {
        Some(ttl) if ttl > state.max_ttl.as_secs() => {
            return fault(
                StatusCode::BAD_REQUEST,
                &format!(
                    "TTL specified {ttl} is greater than max allowed {}.",
                    state.max_ttl.as_secs()
                ),
            );
        }
        Some(ttl) => ttl,
        None => state.max_ttl.as_secs(),
    };
    let impersonated = request.get("user").and_then(Value::as_str);
    let nick = request.get("impersonate_user").and_then(Value::as_str);
    let owner = if impersonated.is_some() || nick.is_some() {
        if !user.service {
            return fault(
                StatusCode::BAD_REQUEST,
                "Current user is not a service and cannot request impersonated tokens",
            );
        }
        if let Some(target) = impersonated {
            target.to_owned()
        } else {
            let nick = nick.unwrap_or_default();
            let Some(origin) = request.get("nickname_origin").and_then(Value::as_str) else {
                return fault(
                    StatusCode::BAD_REQUEST,
                    &format!("Nickname origin is not provided for nickname '{nick}'"),
                );
            };
            let found: Vec<String> = state
                .users
                .iter()
                .filter(|(_, u)| u.nicknames.get(origin).is_some_and(|n| n == nick))
                .map(|(name, _)| name.clone())
                .collect();
            match found.as_slice() {
                [one] => one.clone(),
                [] => {
                    return fault(
                        StatusCode::BAD_REQUEST,
                        &format!("Could not locate user {nick}@{origin}"),
                    );
                }
                _ => {
                    return fault(
                        StatusCode::BAD_REQUEST,
                        &format!("{nick}@{origin} matched more than one username"),
                    );
                }
            }
        }
    } else {
        name.to_owned()
    };
    let token = random_hex(16);
    let expiry = now() + jiff::SignedDuration::from_secs(ttl as i64);
    state.tokens.insert(
        token.clone(),
        TokenInfo {
            user: owner.clone(),
            expiry,
        },
    );
    let id = random_hex(12);
    let body = json!({
        "id": id, "user": owner, "token": token,
        "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(), "metadata": {}
    });
    (
        StatusCode::CREATED,
        [("X-API-URL", format!("{}/api", shared.base))],
        Json(body),
    )
        .into_response()
}

async fn validate_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let _ = auth_or_return!(shared, "POST", "/auth/v1/tokens/validate", headers, query);
    let request: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let Some(token) = request.get("token").and_then(Value::as_str) else {
        return fault(StatusCode::BAD_REQUEST, "Token is not provided.");
    };
    let state = shared.lock();
    let valid = state.tokens.get(token).is_some_and(|t| t.expiry > now());
    Json(json!({ "valid": valid })).into_response()
}

fn page_of<'a>(
    items: &'a [Value],
    query: &HashMap<String, String>,
) -> Result<(Vec<&'a Value>, i64), Response> {
    let limit: i64 = match query.get("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(l)) if l == -1 || l > 0 => l,
        Some(_) => {
            return Err(fault(
                StatusCode::BAD_REQUEST,
                "Limit, \"0\" specified, must be a positive number.",
            ));
        }
    };
    let offset: usize = query
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let take = if limit == -1 {
        usize::MAX
    } else {
        limit as usize
    };
    Ok((items.iter().skip(offset).take(take).collect(), limit))
}

async fn list_aliases(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let _ = auth_or_return!(shared, "GET", "/api/v1/actionalias", headers, query);
    let state = shared.lock();
    let filtered: Vec<Value> = state
        .aliases
        .iter()
        .filter(|a| query.get("pack").is_none_or(|p| a["pack"] == p.as_str()))
        .filter(|a| query.get("name").is_none_or(|n| a["name"] == n.as_str()))
        .cloned()
        .collect();
    let (page, limit) = match page_of(&filtered, &query) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    (
        [
            ("X-Total-Count", filtered.len().to_string()),
            ("X-Limit", limit.to_string()),
        ],
        Json(Value::Array(page.into_iter().cloned().collect())),
    )
        .into_response()
}

async fn alias_help(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let _ = auth_or_return!(shared, "GET", "/api/v1/actionalias/help", headers, query);
    let filter = match query.get("filter").filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => match regex::RegexBuilder::new(f).case_insensitive(true).build() {
            Ok(re) => Some(re),
            Err(e) => return fault(StatusCode::BAD_REQUEST, &format!("Invalid filter: {e}")),
        },
    };
    let state = shared.lock();
    let mut helpstrings = Vec::new();
    for alias in state.aliases.iter().filter(|a| a["enabled"] != false) {
        if query
            .get("pack")
            .is_some_and(|p| alias["pack"] != p.as_str())
        {
            continue;
        }
        for format in alias["formats"].as_array().into_iter().flatten() {
            let display = match format {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("display").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            let Some(display) = display else { continue };
            if filter.as_ref().is_some_and(|re| !re.is_match(&display)) {
                continue;
            }
            helpstrings.push(json!({
                "pack": alias["pack"], "display": display,
                "description": alias.get("description").cloned().unwrap_or(Value::String(String::new())),
            }));
        }
    }
    let available = helpstrings.len();
    let (page, _) = match page_of(&helpstrings, &query) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let page: Vec<Value> = page.into_iter().cloned().collect();
    Json(json!({"available": available, "helpstrings": page})).into_response()
}

/// The (alias, representation, parameters) pairs matching `command`, per st2 §3.8.
type Matched = (Value, String, Params);

fn representations(alias: &Value) -> Vec<(String, Option<String>, bool)> {
    let mut out = Vec::new();
    for format in alias["formats"].as_array().into_iter().flatten() {
        match format {
            Value::String(s) => out.push((s.clone(), Some(s.clone()), false)),
            Value::Object(o) => {
                let display = o.get("display").and_then(Value::as_str).map(str::to_owned);
                let multiple = o
                    .get("match_multiple")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                match o.get("representation") {
                    Some(Value::Array(reps)) => {
                        for r in reps.iter().filter_map(Value::as_str) {
                            out.push((r.to_owned(), display.clone(), multiple));
                        }
                    }
                    Some(Value::String(r)) => out.push((r.clone(), display, multiple)),
                    _ => out.push((String::new(), display, multiple)),
                }
            }
            _ => {}
        }
    }
    out
}

fn find_matches(aliases: &[Value], command: &str) -> Result<Vec<Matched>, Response> {
    for multiple_pass in [false, true] {
        let mut found = Vec::new();
        for alias in aliases.iter().filter(|a| a["enabled"] != false) {
            for (rep, display, multiple) in representations(alias) {
                if multiple != multiple_pass {
                    continue;
                }
                let parsed = AliasFormat::parse(&rep).and_then(|f| f.extract(command));
                match parsed {
                    Ok(params) => found.push((
                        alias.clone(),
                        display.clone().unwrap_or_else(|| rep.clone()),
                        params,
                    )),
                    Err(AliasError::NoMatch { .. } | AliasError::NoValue) => {}
                    Err(e @ AliasError::InvalidFormat { .. }) => {
                        return Err(fault(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()));
                    }
                }
            }
        }
        if found.len() > 1 && !multiple_pass {
            return Err(fault(
                StatusCode::BAD_REQUEST,
                &format!("Command '{command}' matched more than 1 pattern"),
            ));
        }
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Err(fault(
        StatusCode::BAD_REQUEST,
        &format!("Command '{command}' matched no patterns"),
    ))
}

async fn match_alias(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let _ = auth_or_return!(shared, "POST", "/api/v1/actionalias/match", headers, query);
    let request: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let command = request["command"].as_str().unwrap_or_default().to_owned();
    let aliases = shared.lock().aliases.clone();
    match find_matches(&aliases, &command) {
        Ok(found) => {
            let (alias, display, _) = &found[0];
            Json(json!({"actionalias": alias, "display": display, "representation": display}))
                .into_response()
        }
        Err(resp) => resp,
    }
}

fn render(template: &str, context: &Value) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.add_template("t", template).map_err(|e| e.to_string())?;
    env.get_template("t")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(context))))
        .map_err(|e| e.to_string())
}

fn render_value(value: &Value, context: &Value) -> Value {
    match value {
        Value::String(s) => render(s, context).map_or_else(|_| value.clone(), Value::String),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_value(v, context)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render_value(v, context)))
                .collect(),
        ),
        other => other.clone(),
    }
}

const ALLOWED_KEYS: [&str; 5] = [
    "command",
    "user",
    "source_channel",
    "notification_route",
    "notification_channel",
];

async fn match_and_execute(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = "/api/v1/aliasexecution/match_and_execute";
    let (st2_user, auth_kind) = auth_or_return!(shared, "POST", path, headers, query);
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return fault(StatusCode::BAD_REQUEST, "Failed to parse request body"),
    };
    if let Some(extra) = request
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .find(|k| !ALLOWED_KEYS.contains(&k.as_str()))
    {
        return fault(
            StatusCode::BAD_REQUEST,
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        );
    }
    for required in ["command", "source_channel", "user"] {
        if !request[required].is_string() {
            return fault(
                StatusCode::BAD_REQUEST,
                &format!("'{required}' is a required property"),
            );
        }
    }
    if let Some((status, text)) = shared.lock().fail_next.take() {
        return fault(StatusCode::from_u16(status).unwrap(), &text);
    }
    let command = request["command"].as_str().unwrap_or_default().to_owned();
    let aliases = shared.lock().aliases.clone();
    let found = match find_matches(&aliases, &command) {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let mut results = Vec::new();
    let mut announcements = Vec::new();
    for (alias, _display, params) in found {
        let immutable = alias["immutable_parameters"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let overridden: Vec<&String> = params
            .keys()
            .filter(|k| immutable.contains_key(k.as_str()))
            .collect();
        if !overridden.is_empty() {
            let names: Vec<&str> = overridden.iter().map(|s| s.as_str()).collect();
            return fault(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Immutable arguments cannot be overriden: {}",
                    names.join(", ")
                ),
            );
        }
        let action_ref = alias["action_ref"].as_str().unwrap_or_default().to_owned();
        if shared.lock().forbidden.contains(&st2_user) {
            return fault(
                StatusCode::FORBIDDEN,
                &format!(
                    "User \"{st2_user}\" doesn't have required permission \"action_execute\" on resource \"action:{}\"",
                    action_ref.replace('.', ":")
                ),
            );
        }
        let mut parameters: BTreeMap<String, Value> = params
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, Value::String(v))))
            .collect();
        for (k, v) in immutable {
            parameters.insert(k, v);
        }
        let (id, result) = {
            let mut state = shared.lock();
            let id = format!("{:024x}", state.next_id);
            state.next_id += 1;
            (id, state.result.clone())
        };
        let user = request["user"].as_str().unwrap_or_default().to_owned();
        let source_channel = request["source_channel"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let execution = json!({
            "id": id, "status": "requested", "action": {"ref": action_ref},
            "parameters": parameters,
            "web_url": format!("{}/#/history/{id}/general", shared.base),
            "context": {
                "action_alias_ref": {"id": alias["id"], "name": alias["name"]},
                "api_user": user, "user": st2_user, "source_channel": source_channel,
            },
        });
        let context = json!({"execution": execution, "actionalias": alias});
        let mut item = json!({"execution": execution, "actionalias": alias});
        if let Some(format) = alias["ack"]["format"].as_str() {
            item["message"] = Value::String(render(format, &context).unwrap_or_else(|e| {
                format!("Cannot render \"format\" in field \"ack\" for alias. {e}")
            }));
        }
        if let Some(extra) = alias["ack"].get("extra") {
            item["extra"] = render_value(extra, &context);
        }
        results.push(item);
        shared.lock().executions.push(Execution {
            id: id.clone(),
            alias: alias["name"].as_str().unwrap_or_default().to_owned(),
            command: command.clone(),
            parameters,
            user: user.clone(),
            source_channel: source_channel.clone(),
            notification_channel: request["notification_channel"].as_str().map(str::to_owned),
            notification_route: request["notification_route"].as_str().map(str::to_owned),
            st2_user: st2_user.clone(),
            auth_kind,
        });
        // st2's notify rule + chatops.post_result, once the execution "completed".
        if alias["result"]["enabled"] != false {
            let mut done = execution.clone();
            done["status"] = json!("succeeded");
            done["result"] = result;
            let route = request["notification_route"]
                .as_str()
                .or(request["notification_channel"].as_str())
                .unwrap_or("chatops")
                .to_owned();
            let result_ctx = json!({"execution": done, "alias": alias});
            let message = match alias["result"]["format"].as_str() {
                Some(format) => render(format, &result_ctx).unwrap_or_else(|e| e),
                None => format!(
                    "Action {action_ref} completed.\nstatus : succeeded\nexecution: {id}\nweb_url: {}\nresult :\n{}",
                    done["web_url"].as_str().unwrap_or_default(),
                    serde_json::to_string_pretty(&done["result"]).unwrap_or_default()
                ),
            };
            let extra = alias["result"]
                .get("extra")
                .map(|e| render_value(e, &result_ctx))
                .unwrap_or(json!({}));
            announcements.push((
                route,
                json!({"message": message, "channel": source_channel, "user": user,
                       "whisper": false, "extra": extra, "context": null}),
            ));
        }
    }
    if shared.lock().auto_result {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            for (route, payload) in announcements {
                let event = format!("st2.announcement__{route}");
                let data = json!({"payload": payload, "trace_context": null}).to_string();
                publish(&mut shared.lock(), &event, &data, true);
            }
        });
    }
    (StatusCode::CREATED, Json(json!({ "results": results }))).into_response()
}

async fn stream(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let _ = auth_or_return!(shared, "GET", "/stream/v1/stream", headers, query);
    let events: Vec<String> = match query.get("events") {
        Some(e) => e.split(',').map(|s| s.trim().to_owned()).collect(),
        None => vec![
            "st2.announcement__*".into(),
            "st2.execution__create".into(),
            "st2.execution__update".into(),
            "st2.execution__delete".into(),
            "st2.liveaction__create".into(),
            "st2.liveaction__update".into(),
            "st2.liveaction__delete".into(),
        ],
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let heartbeat = {
        let mut state = shared.lock();
        state.connections += 1;
        let id = state.connections as u64;
        let pending = std::mem::take(&mut state.pending);
        for (event, data) in pending {
            if events.iter().any(|g| glob_match(g, &event)) {
                let _ = tx.send(Frame::Data(sse(&event, &data)));
            } else {
                state.pending.push((event, data));
            }
        }
        state.subscribers.push(Subscriber {
            id,
            events,
            tx: tx.clone(),
        });
        state.heartbeat
    };
    shared.connected.notify_waiters();
    let beat_shared = shared.clone();
    let beat_tx = tx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(heartbeat);
        tick.tick().await;
        loop {
            tick.tick().await;
            if beat_tx.is_closed() {
                return;
            }
            if !beat_shared.lock().stalled && beat_tx.send(Frame::Data("\n".into())).is_err() {
                return;
            }
        }
    });
    drop(tx);
    let body = futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await? {
            Frame::Data(text) => Some((Ok::<Bytes, std::io::Error>(Bytes::from(text)), Some(rx))),
            Frame::Abort => Some((
                Err(std::io::Error::other("stream dropped by the test")),
                None,
            )),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=UTF-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::from_stream(body))
        .unwrap()
}
