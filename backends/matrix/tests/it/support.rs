//! Test support: the Synapse from `scripts/e2e/synapse.sh`, users registered through the
//! shared-secret admin API, a plain client-server API client for the human side, and a real
//! `ferrbot::Bot` running the Matrix backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrbot::config::BotConfig;
use ferrbot::registry::BackendSetup;
use ferrbot::store::Store;
use ferrbot::{Bot, Plugin, PluginContext};
use ferrbot_backend_matrix::MatrixBackend;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

/// Tests that stop Synapse take this for writing; every other test for reading.
pub static SYNAPSE: RwLock<()> = RwLock::const_new(());

/// The homeserver under test.
#[derive(Clone, Debug)]
pub struct Synapse {
    pub url: String,
    pub secret: String,
    pub ctl: Option<String>,
}

impl Synapse {
    /// The Synapse the environment names, or `None` (after printing why) when there is none
    /// and end-to-end tests are optional.
    pub fn from_env() -> Option<Self> {
        let url = std::env::var("FERRBOT_TEST_SYNAPSE_URL").ok();
        let secret = std::env::var("FERRBOT_TEST_SYNAPSE_SECRET").ok();
        match (url, secret) {
            (Some(url), Some(secret)) if !url.is_empty() && !secret.is_empty() => Some(Self {
                url: url.trim_end_matches('/').to_owned(),
                secret,
                ctl: std::env::var("FERRBOT_TEST_SYNAPSE_CTL").ok(),
            }),
            _ => {
                let reason = "FERRBOT_TEST_SYNAPSE_URL/FERRBOT_TEST_SYNAPSE_SECRET are not set \
                              (run `eval \"$(scripts/e2e/synapse.sh start)\"`)";
                assert!(
                    std::env::var("FERRBOT_E2E_REQUIRED").as_deref() != Ok("1"),
                    "FERRBOT_E2E_REQUIRED=1 but {reason}"
                );
                println!("SKIPPED: {reason}");
                None
            }
        }
    }

    /// Stops or starts the homeserver through its control script.
    pub async fn ctl(&self, action: &str) {
        let ctl = self
            .ctl
            .clone()
            .expect("FERRBOT_TEST_SYNAPSE_CTL is needed to restart Synapse");
        let out = tokio::process::Command::new(&ctl)
            .arg(action)
            .output()
            .await
            .expect("run the Synapse control script");
        assert!(
            out.status.success(),
            "{ctl} {action} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Registers a user through the shared-secret admin API.
    pub async fn register(&self, name: &str, password: &str) -> User {
        self.register_as(name, password, false).await
    }

    /// Slows down the messages `user` may send (as a server admin made for the purpose).
    pub async fn limit_messages(&self, user: &str, per_second: u32, burst: u32) {
        let admin = self
            .register_as(&unique("admin"), "admin-password", true)
            .await;
        let url = format!(
            "{}/_synapse/admin/v1/users/{}/override_ratelimit",
            self.url,
            encode(user)
        );
        let response = admin
            .http
            .post(&url)
            .bearer_auth(&admin.token)
            .json(&json!({"messages_per_second": per_second, "burst_count": burst}))
            .send()
            .await
            .expect("override ratelimit");
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn register_as(&self, name: &str, password: &str, admin: bool) -> User {
        let http = reqwest::Client::new();
        let endpoint = format!("{}/_synapse/admin/v1/register", self.url);
        let nonce: Value = http
            .get(&endpoint)
            .send()
            .await
            .expect("GET register nonce")
            .json()
            .await
            .expect("nonce json");
        let nonce = nonce["nonce"].as_str().expect("nonce").to_owned();
        let mut mac = Hmac::<Sha1>::new_from_slice(self.secret.as_bytes()).expect("hmac key");
        mac.update(nonce.as_bytes());
        mac.update(b"\0");
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(password.as_bytes());
        mac.update(b"\0");
        mac.update(if admin {
            b"admin".as_slice()
        } else {
            b"notadmin".as_slice()
        });
        let mac = hex::encode(mac.finalize().into_bytes());
        let response = http
            .post(&endpoint)
            .json(&json!({
                "nonce": nonce, "username": name, "password": password,
                "admin": admin, "mac": mac,
            }))
            .send()
            .await
            .expect("POST register");
        let status = response.status();
        let body: Value = response.json().await.expect("register json");
        assert!(status.is_success(), "registering {name}: {status} {body}");
        User {
            http,
            base: self.url.clone(),
            user_id: body["user_id"].as_str().expect("user_id").to_owned(),
            token: body["access_token"].as_str().expect("token").to_owned(),
            txn: AtomicU64::new(0),
        }
    }
}

/// A name no other test run used.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{prefix}{t}x{}", N.fetch_add(1, Ordering::Relaxed))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A human on the homeserver, driven with plain client-server API calls.
pub struct User {
    http: reqwest::Client,
    base: String,
    pub user_id: String,
    pub token: String,
    txn: AtomicU64,
}

impl User {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_matrix/client/v3{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("client-server request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    async fn try_get(&self, path: &str) -> Option<Value> {
        let url = format!("{}/_matrix/client/v3{path}", self.base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Creates a room (`createRoom` body) and returns its id.
    pub async fn create_room(&self, body: Value) -> String {
        let r = self
            .call(reqwest::Method::POST, "/createRoom", Some(body))
            .await;
        r["room_id"].as_str().expect("room_id").to_owned()
    }

    /// Joins a room.
    pub async fn join(&self, room: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/join/{}", encode(room)),
            Some(json!({})),
        )
        .await;
    }

    /// Sends an event and returns its id.
    pub async fn send(&self, room: &str, kind: &str, content: Value) -> String {
        let txn = format!("t{}", self.txn.fetch_add(1, Ordering::Relaxed));
        let r = self
            .call(
                reqwest::Method::PUT,
                &format!("/rooms/{}/send/{kind}/{txn}", encode(room)),
                Some(content),
            )
            .await;
        r["event_id"].as_str().expect("event_id").to_owned()
    }

    /// Redacts an event.
    pub async fn redact(&self, room: &str, event: &str) {
        let txn = format!("r{}", self.txn.fetch_add(1, Ordering::Relaxed));
        self.call(
            reqwest::Method::PUT,
            &format!("/rooms/{}/redact/{}/{txn}", encode(room), encode(event)),
            Some(json!({})),
        )
        .await;
    }

    /// Sets a state event (empty state key).
    pub async fn put_state(&self, room: &str, kind: &str, content: Value) {
        self.call(
            reqwest::Method::PUT,
            &format!("/rooms/{}/state/{kind}/", encode(room)),
            Some(content),
        )
        .await;
    }

    /// Sends a text message.
    pub async fn say(&self, room: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": text}),
        )
        .await
    }

    /// The room's latest events, oldest first.
    pub async fn messages(&self, room: &str) -> Vec<Value> {
        let r = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{}/messages?dir=b&limit=200", encode(room)),
                None,
            )
            .await;
        let mut events: Vec<Value> = r["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        events
    }

    /// Messages in the room sent by `sender`, oldest first.
    pub async fn messages_from(&self, room: &str, sender: &str) -> Vec<Value> {
        self.messages(room)
            .await
            .into_iter()
            .filter(|e| e["sender"] == sender && e["type"] == "m.room.message")
            .collect()
    }

    /// Waits for a message from `sender` that `matches`.
    pub async fn wait_for(
        &self,
        room: &str,
        sender: &str,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(e) = self
                .messages_from(room, sender)
                .await
                .into_iter()
                .find(|e| matches(e))
            {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} in {room}; messages: {:#?}",
                self.messages(room).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The room's joined members.
    pub async fn members(&self, room: &str) -> Vec<String> {
        self.try_get(&format!("/rooms/{}/joined_members", encode(room)))
            .await
            .and_then(|r| r["joined"].as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default()
    }

    /// Waits until `user` is in the room.
    pub async fn wait_joined(&self, room: &str, user: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.members(room).await.iter().any(|m| m == user) {
            assert!(Instant::now() < deadline, "{user} did not join {room}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A state event's content, if set.
    pub async fn state(&self, room: &str, kind: &str) -> Option<Value> {
        self.try_get(&format!("/rooms/{}/state/{kind}/", encode(room)))
            .await
    }

    /// The membership of `user` in the room, if any.
    pub async fn membership(&self, room: &str, user: &str) -> Option<String> {
        self.try_get(&format!(
            "/rooms/{}/state/m.room.member/{}",
            encode(room),
            encode(user)
        ))
        .await
        .and_then(|c| c["membership"].as_str().map(str::to_owned))
    }

    /// Invites a user to a room.
    pub async fn call_invite(&self, room: &str, user: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/rooms/{}/invite", encode(room)),
            Some(json!({"user_id": user})),
        )
        .await;
    }

    /// Points a room alias at a room.
    pub async fn call_put_alias(&self, alias: &str, room: &str) {
        self.call(
            reqwest::Method::PUT,
            &format!("/directory/room/{}", encode(alias)),
            Some(json!({"room_id": room})),
        )
        .await;
    }

    /// This user's devices (ids).
    pub async fn devices(&self) -> Vec<String> {
        let r = self.call(reqwest::Method::GET, "/devices", None).await;
        r["devices"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d["device_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Rooms this user is invited to (one `/sync`).
    pub async fn invites(&self) -> Vec<String> {
        self.try_get("/sync?timeout=0")
            .await
            .and_then(|r| {
                r["rooms"]["invite"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
            })
            .unwrap_or_default()
    }
}

/// The body of an event.
pub fn body(e: &Value) -> &str {
    e["content"]["body"].as_str().unwrap_or_default()
}

/// A running bot.
pub struct RunningBot {
    pub backend: Arc<MatrixBackend>,
    pub ctx: PluginContext,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunningBot {
    /// Starts a bot with the Matrix backend (config `section`), the built-ins and `plugins`.
    pub async fn start(store: Store, section: &str, plugins: Vec<Arc<dyn Plugin>>) -> Self {
        init_logging();
        let setup = BackendSetup {
            name: "matrix".into(),
            config: toml::from_str(section).expect("backend section"),
            prefix: "!".into(),
            store: store.kv("backend/matrix"),
        };
        let backend = Arc::new(MatrixBackend::from_setup(&setup).expect("valid config"));
        let mut builder = Bot::builder(BotConfig::default())
            .backend(backend.clone())
            .store(store);
        for p in plugins {
            builder = builder.plugin(p, toml::Value::Table(toml::Table::new()));
        }
        let bot = builder.build().await.expect("bot builds");
        let ctx = bot.context("e2e");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            bot.run(token).await.expect("bot runs");
        });
        let running = Self {
            backend,
            ctx,
            stop,
            task,
        };
        running.wait_connected(true).await;
        running
    }

    /// Waits until the backend is (or is no longer) connected.
    pub async fn wait_connected(&self, connected: bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.backend.is_connected() != connected {
            assert!(
                Instant::now() < deadline,
                "the backend did not become {}",
                if connected {
                    "connected"
                } else {
                    "disconnected"
                }
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the bot gracefully.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("bot stops in time")
            .expect("bot task");
    }
}

/// Logs to the test output when `RUST_LOG` is set.
fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The backend section for a bot user.
pub fn section(synapse: &Synapse, bot: &User, password: &str, extra: &str) -> String {
    format!(
        "homeserver = \"{}\"\nuser_id = \"{}\"\npassword = \"{password}\"\nreconnect_min = \"200ms\"\nreconnect_max = \"1s\"\n{extra}",
        synapse.url, bot.user_id
    )
}
