//! `clientside` RBAC end to end: `!st2 session start` in a direct message, the one-time login
//! page over real HTTP, StackStorm (the fake, on loopback) checking the credential, and the
//! credential landing in the chat user's own cache — and nowhere else (not in another user's
//! cache, not in the page, not in the logs).

// The fake's own handlers return `Result<_, Response>` (clippy: result_large_err).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err,
    missing_docs
)]

#[path = "fake_st2/mod.rs"]
mod fake_st2;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fake_st2::FakeSt2;
use ferrbot::plugin::{Manifest, Plugin};
use ferrbot::secrets::SecretValue;
use ferrbot::store::Store;
use ferrbot::testing::{Sent, TestBot};
use ferrbot::{PluginContext, UserId};
use ferrbot_plugin_st2::client::{Endpoints, St2Client};
use ferrbot_plugin_st2::credential::{
    Credential, CredentialKind, CredentialSource, USER_CREDENTIAL_NAME, UserCredential,
};
use ferrbot_plugin_st2::sessions::{BotCredentialFn, SessionSettings, Sessions};
use ferrbot_secrets::SecretStore;
use tracing_subscriber::fmt::MakeWriter;

const ALICE_PASSWORD: &str = "alice-Pa55word-zq81";
const WORD: &str = "pineapple-umbrella";
const BOT_KEY: &str = "bot-api-key-6c1d77";
const ALICE_KEY: &str = "alice-api-key-93be0f";
/// Links point here; the tests swap it for the TestBot's real address.
const PUBLIC: &str = "https://bot.example.invalid";

/// The sessions alone, as a plugin named `st2` (what M1's plugin mounts).
struct SessionsPlugin(Sessions);

#[async_trait]
impl Plugin for SessionsPlugin {
    fn manifest(&self) -> Manifest {
        self.0
            .command_specs()
            .into_iter()
            .fold(Manifest::new("st2", "0.0.0"), Manifest::command_spec)
    }

    fn routes(&self, ctx: PluginContext) -> Option<axum::Router> {
        Some(self.0.router(ctx))
    }
}

/// reqwest with rustls needs one process-wide crypto provider (both are compiled in).
fn tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client(st2: &FakeSt2) -> St2Client {
    tls_provider();
    St2Client::new(Endpoints::under(&st2.url()), None).unwrap()
}

async fn fake() -> FakeSt2 {
    tls_provider();
    let st2 = FakeSt2::start().await;
    st2.add_user("alice", ALICE_PASSWORD, false);
    st2.add_user("errbot", "s3cret", true);
    st2.add_api_key(BOT_KEY, "errbot");
    st2.add_api_key(ALICE_KEY, "alice");
    st2
}

fn sessions(st2: &FakeSt2, with_bot: bool) -> Sessions {
    let s = Sessions::new(
        SessionSettings::default(),
        client(st2),
        Some(PUBLIC.to_owned()),
    );
    if with_bot {
        let bot: BotCredentialFn =
            Arc::new(|_now| Box::pin(async { Ok(Credential::ApiKey(SecretValue::from(BOT_KEY))) }));
        s.with_bot_credential(bot)
    } else {
        s
    }
}

struct Env {
    bot: TestBot,
    st2: FakeSt2,
    http: reqwest::Client,
}

async fn env_with(with_bot: bool) -> Env {
    let st2 = fake().await;
    let bot = TestBot::builder()
        .plugin(SessionsPlugin(sessions(&st2, with_bot)))
        .config("[bot]\nadmins = [\"test:root\"]")
        .web()
        .build()
        .await;
    Env {
        bot,
        st2,
        http: reqwest::Client::new(),
    }
}

async fn env() -> Env {
    env_with(true).await
}

impl Env {
    /// Runs `session start` for `user` in a direct message; returns the reply and the link's
    /// URL on the test bot.
    async fn start(&self, user: &str, word: &str) -> (Sent, String) {
        self.bot
            .say_direct(user, &format!("!st2 session start {word}"))
            .await;
        let reply = self.bot.next_reply().await;
        let url = link_in(&reply.text()).replace(PUBLIC, &self.bot.web_url());
        (reply, url)
    }

    async fn get(&self, url: &str) -> (u16, String) {
        let resp = self.http.get(url).send().await.unwrap();
        page(resp).await
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, String) {
        let resp = self.http.post(url).form(form).send().await.unwrap();
        page(resp).await
    }

    async fn credential_of(&self, user: &str) -> Option<UserCredential> {
        let value = self
            .bot
            .context("st2")
            .credentials()
            .unwrap()
            .for_user(user)
            .unwrap()
            .get(USER_CREDENTIAL_NAME)
            .await
            .unwrap()?;
        Some(UserCredential::from_secret(&value).expect("a UserCredential"))
    }
}

/// Status and HTML of a page; every answer, error or not, is a page for people with the
/// security headers.
async fn page(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let h = resp.headers();
    assert!(
        h["content-type"].to_str().unwrap().starts_with("text/html"),
        "{status}: {h:?}"
    );
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    let html = resp.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{status}: {html}");
    (status, html)
}

fn link_in(text: &str) -> String {
    let start = text
        .find(&format!("{PUBLIC}/plugins/st2/login/"))
        .unwrap_or_else(|| panic!("no login link in {text:?}"));
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | ')' | '`'))
        .collect()
}

fn password_form<'a>(word: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("method", "password"),
        ("username", "alice"),
        ("password", password),
        ("word", word),
    ]
}

fn is_alice_dm(sent: &Sent) -> bool {
    let alice: UserId = "test:alice".parse().unwrap();
    sent.direct_to() == Some(&alice) || sent.room() == Some(&TestBot::direct_room(&alice))
}

#[tokio::test]
async fn password_login_full_flow() {
    let env = env().await;
    let (reply, url) = env.start("test:alice", WORD).await;
    assert!(
        is_alice_dm(&reply),
        "the link goes to alice privately: {reply:?}"
    );
    assert!(reply.text().contains("works once"), "{}", reply.text());
    assert!(!reply.text().contains("already have"), "{}", reply.text());

    // The page: a form, with the security headers.
    let resp = env.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("Shared word") && html.contains("API key") && html.contains("Token"));
    assert!(html.contains("test:alice"));
    assert!(
        html.contains("works once, until 2026-01-01 00:10:00 UTC"),
        "{html}"
    );
    assert!(!html.contains(WORD));
    assert!(!html.contains("<script"));

    // A wrong shared word: a clear message, the link still works.
    let (status, html) = env
        .post(&url, &password_form("banana", ALICE_PASSWORD))
        .await;
    assert_eq!(status, 403);
    assert!(html.contains("The shared word is wrong."), "{html}");
    assert!(html.contains("4 attempt(s) left"), "{html}");
    assert!(!html.contains(ALICE_PASSWORD) && !html.contains("banana"));
    assert_eq!(env.get(&url).await.0, 200);
    assert!(env.credential_of("test:alice").await.is_none());

    // The right word and password.
    let (status, html) = env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("logged in to StackStorm as StackStorm user alice"),
        "{html}"
    );
    assert!(!html.contains(ALICE_PASSWORD) && !html.contains(WORD));

    let note = env.bot.next_reply().await;
    assert_eq!(
        note.direct_to().map(ToString::to_string).as_deref(),
        Some("test:alice")
    );
    assert!(
        note.text()
            .contains("Your StackStorm session is active as StackStorm user alice"),
        "{}",
        note.text()
    );

    // The credential is in alice's cache, and StackStorm accepts it as alice.
    let cred = env
        .credential_of("test:alice")
        .await
        .expect("alice's credential");
    assert_eq!(cred.kind, CredentialKind::Token);
    assert_eq!(cred.source, CredentialSource::Clientside);
    assert_eq!(cred.st2_user.as_deref(), Some("alice"));
    assert!(cred.expiry.is_some());
    assert!(
        !html.contains(&cred.credential().header_value()),
        "no token in the page"
    );
    client(&env.st2)
        .check_credential(&cred.credential())
        .await
        .unwrap();
    assert_eq!(env.st2.live_tokens_of("alice"), 1);

    // The link is used: refused from now on.
    let (status, html) = env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await;
    assert_eq!(status, 410);
    assert!(html.contains("already used"), "{html}");
    assert_eq!(env.get(&url).await.0, 410);
    assert_eq!(
        env.st2.live_tokens_of("alice"),
        1,
        "no second login through a used link"
    );

    // Another user has no access to it.
    assert!(env.credential_of("test:bob").await.is_none());
    env.bot.say_direct("test:bob", "!st2 session end").await;
    assert!(
        env.bot
            .next_reply()
            .await
            .text()
            .contains("no StackStorm session")
    );
    assert!(env.credential_of("test:alice").await.is_some());
}

#[tokio::test]
async fn refused_credentials_get_stackstorms_answer_and_keep_the_link() {
    let env = env().await;
    let (_, url) = env.start("test:alice", WORD).await;
    let (status, html) = env.post(&url, &password_form(WORD, "wrong-password")).await;
    assert_eq!(status, 401, "{html}");
    assert!(
        html.contains("StackStorm refused these credentials: Invalid or missing credentials"),
        "{html}"
    );
    assert!(
        html.contains("value=\"alice\""),
        "the username is kept: {html}"
    );
    assert!(!html.contains("wrong-password"));
    let (status, html) = env
        .post(
            &url,
            &[
                ("method", "token"),
                ("token", "not-a-token"),
                ("word", WORD),
            ],
        )
        .await;
    assert_eq!(status, 401);
    assert!(html.contains("not valid"), "{html}");
    let (status, html) = env
        .post(
            &url,
            &[
                ("method", "api_key"),
                ("api_key", "not-a-key"),
                ("word", WORD),
            ],
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        html.contains("StackStorm refused these credentials: Unauthorized"),
        "{html}"
    );
    assert!(env.credential_of("test:alice").await.is_none());
    // Incomplete forms are not attempts.
    let (status, html) = env
        .post(&url, &[("method", "password"), ("word", WORD)])
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("Enter your StackStorm username and password."));
    let (status, _) = env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn token_and_api_key_forms_work() {
    for with_bot in [true, false] {
        let env = env_with(with_bot).await;
        let token = env.st2.issue_token("alice", Duration::from_secs(3600));
        let (_, url) = env.start("test:alice", WORD).await;
        let (status, html) = env
            .post(
                &url,
                &[
                    ("method", "token"),
                    ("token", &format!(" {token} ")),
                    ("word", WORD),
                ],
            )
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(!html.contains(&token));
        let note = env.bot.next_reply().await;
        assert!(note.text().contains("session is active"));
        assert!(!note.text().contains(&token));
        let cred = env.credential_of("test:alice").await.unwrap();
        assert_eq!(cred.kind, CredentialKind::Token);
        assert_eq!(cred.credential().header_value(), token);
        assert!(cred.expiry.is_some(), "kept for credential_ttl");

        let (again, url) = env.start("test:alice", WORD).await;
        assert!(
            again.text().contains("already have a StackStorm session"),
            "{}",
            again.text()
        );
        let (status, html) = env
            .post(
                &url,
                &[
                    ("method", "api_key"),
                    ("api_key", ALICE_KEY),
                    ("word", WORD),
                ],
            )
            .await;
        assert_eq!(status, 200, "{html}");
        env.bot.next_reply().await;
        let cred = env.credential_of("test:alice").await.unwrap();
        assert_eq!(cred.kind, CredentialKind::ApiKey);
        assert_eq!(cred.source, CredentialSource::Clientside);
        client(&env.st2)
            .check_credential(&cred.credential())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn expired_unknown_and_malformed_requests_are_refused() {
    let env = env().await;
    let (_, url) = env.start("test:alice", WORD).await;
    env.bot.clock().advance(Duration::from_secs(11 * 60));
    let (status, html) = env.get(&url).await;
    assert_eq!(status, 410);
    assert!(
        html.contains("expired") && html.contains("session start"),
        "{html}"
    );
    let (status, _) = env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await;
    assert_eq!(status, 410);
    assert!(env.credential_of("test:alice").await.is_none());

    let base = format!("{}/plugins/st2/login/", env.bot.web_url());
    assert_eq!(env.get(&format!("{base}{}", "0".repeat(64))).await.0, 404);
    assert_eq!(env.get(&format!("{base}..%2F..%2Fetc")).await.0, 404);

    let (_, url) = env.start("test:alice", WORD).await;
    let json = env
        .http
        .post(&url)
        .json(&serde_json::json!({"word": WORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    let big = "x".repeat(64 * 1024);
    let (status, _) = env.post(&url, &[("word", WORD), ("password", &big)]).await;
    assert_eq!(status, 413);
    // Still usable after the refusals above.
    assert_eq!(
        env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await.0,
        200
    );
}

#[tokio::test]
async fn a_link_locks_after_five_failures() {
    let env = env().await;
    let (_, url) = env.start("test:alice", WORD).await;
    for _ in 0..4 {
        assert_eq!(
            env.post(&url, &password_form("nope", ALICE_PASSWORD))
                .await
                .0,
            403
        );
    }
    let (status, html) = env.post(&url, &password_form("nope", ALICE_PASSWORD)).await;
    assert_eq!(status, 410);
    assert!(html.contains("locked"), "{html}");
    let warning = env.bot.next_reply().await;
    assert!(
        warning.text().contains("locked after 5 failed attempts"),
        "{}",
        warning.text()
    );
    assert_eq!(
        env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await.0,
        410
    );
    assert!(env.credential_of("test:alice").await.is_none());
}

#[tokio::test]
async fn start_only_in_a_direct_message_and_end_removes() {
    let env = env().await;
    env.bot
        .say("test:alice", "!st2 session start secret-room-word")
        .await;
    let reply = env.bot.next_reply().await;
    assert!(
        reply.text().contains("only works in a direct message"),
        "{}",
        reply.text()
    );
    assert!(!reply.plain().contains("secret-room-word"));
    assert!(!reply.plain().contains("/login/"));
    env.bot.say("test:root", "!st2 session list").await;
    let list = env.bot.next_reply().await.text();
    assert!(!list.contains("test:alice"), "no link was made: {list}");

    // The hidden alias works like `session start`.
    env.bot
        .say_direct("test:alice", &format!("!st2session_start {WORD}"))
        .await;
    let reply = env.bot.next_reply().await;
    let url = link_in(&reply.text()).replace(PUBLIC, &env.bot.web_url());
    assert_eq!(
        env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await.0,
        200
    );
    env.bot.next_reply().await;
    assert!(env.credential_of("test:alice").await.is_some());

    env.bot.say_direct("test:alice", "!st2 session end").await;
    let reply = env.bot.next_reply().await;
    assert!(
        reply.text().contains("session has ended"),
        "{}",
        reply.text()
    );
    assert!(env.credential_of("test:alice").await.is_none());
}

#[tokio::test]
async fn a_new_link_withdraws_the_previous_one() {
    let env = env().await;
    let (_, first) = env.start("test:alice", WORD).await;
    let (_, second) = env.start("test:alice", WORD).await;
    assert_ne!(first, second);
    assert_eq!(env.get(&first).await.0, 404);
    assert_eq!(env.get(&second).await.0, 200);
}

#[tokio::test]
async fn admins_list_and_cancel() {
    let env = env().await;
    let (_, alice_url) = env.start("test:alice", WORD).await;
    let alice_id = alice_url.rsplit('/').next().unwrap().to_owned();
    env.st2.add_user("bob", "bob-pass-771", false);
    let (_, bob_url) = env.start("test:bob", "bob-word").await;
    let (status, _) = env
        .post(
            &bob_url,
            &[
                ("method", "password"),
                ("username", "bob"),
                ("password", "bob-pass-771"),
                ("word", "bob-word"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    env.bot.next_reply().await;

    env.bot.say("test:alice", "!st2 session list").await;
    let denied = env.bot.next_reply().await;
    assert!(
        !denied.text().contains("test:bob") && !denied.text().contains("StackStorm sessions"),
        "not for non-admins: {}",
        denied.text()
    );

    env.bot.say("test:root", "!st2 session list").await;
    let list = env.bot.next_reply().await.text();
    assert!(list.contains("test:bob as bob"), "{list}");
    assert!(
        list.contains(&alice_id[..8]) && list.contains("test:alice"),
        "{list}"
    );
    assert!(!list.contains(&alice_id), "never a usable link: {list}");
    assert!(!list.contains("bob-pass-771") && !list.contains(WORD) && !list.contains("bob-word"));
    let bob = env.credential_of("test:bob").await.unwrap();
    assert!(!list.contains(&bob.credential().header_value()));

    env.bot
        .say(
            "test:root",
            &format!("!st2 session cancel {}", &alice_id[..8]),
        )
        .await;
    assert!(env.bot.next_reply().await.text().contains("withdrawn"));
    assert_eq!(env.get(&alice_url).await.0, 404);

    env.bot
        .say("test:root", "!st2 session cancel test:bob")
        .await;
    let mut texts = [env.bot.next_reply().await, env.bot.next_reply().await];
    texts.sort_by_key(|s| s.direct_to().is_some());
    assert!(
        texts[0].text().contains("test:bob: session ended"),
        "{}",
        texts[0].text()
    );
    assert_eq!(
        texts[1].direct_to().map(ToString::to_string).as_deref(),
        Some("test:bob")
    );
    assert!(
        texts[1]
            .text()
            .contains("admin ended your StackStorm session")
    );
    assert!(env.credential_of("test:bob").await.is_none());

    env.bot.say("test:root", "!st2 session cancel zz").await;
    assert!(
        env.bot
            .next_reply()
            .await
            .text()
            .contains("neither a link id")
    );
}

#[tokio::test]
async fn links_and_sessions_survive_a_restart() {
    let st2 = fake().await;
    let db = std::env::temp_dir().join(format!(
        "ferrbot-st2-sessions-{}-{}.db",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let secrets: Arc<dyn SecretStore> = Arc::new(ferrbot_secrets::MemoryStore::new());
    let build = || async {
        TestBot::builder()
            .plugin(SessionsPlugin(sessions(&st2, true)))
            .store(Store::open(&url).await.unwrap())
            .secrets(secrets.clone())
            .web()
            .build()
            .await
    };
    let first = build().await;
    first
        .say_direct("test:alice", &format!("!st2 session start {WORD}"))
        .await;
    let link = link_in(&first.next_reply().await.text());
    first.shutdown().await;
    drop(first);

    let second = build().await;
    let url2 = link.replace(PUBLIC, &second.web_url());
    let http = reqwest::Client::new();
    let resp = http
        .post(&url2)
        .form(&password_form(WORD, ALICE_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    second.next_reply().await;
    second.shutdown().await;
    drop(second);

    let third = build().await;
    let cached = third
        .context("st2")
        .credentials()
        .unwrap()
        .for_user("test:alice")
        .unwrap()
        .get(USER_CREDENTIAL_NAME)
        .await
        .unwrap();
    assert!(cached.is_some(), "the session outlives restarts");
    let resp = http
        .get(link.replace(PUBLIC, &third.web_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 410, "still used after a restart");
    third.shutdown().await;
    let _ = std::fs::remove_file(&db);
}

// ---- logs ----

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const CHILD: &str = "FERRBOT_ST2_SESSIONS_LOG_CHILD";
const LOG_TEST: &str = "no_secret_reaches_the_logs";

/// The body runs in a child process with a global TRACE subscriber, so that no event of any
/// thread is missed (tracing caches callsite interest globally).
#[test]
fn no_secret_reaches_the_logs() {
    if std::env::var_os(CHILD).is_some() {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(logs.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(log_check(logs));
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([LOG_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test: {stdout}"
    );
}

async fn log_check(logs: Captured) {
    let env = env().await;
    let token = env.st2.issue_token("alice", Duration::from_secs(3600));
    let mut ids = Vec::new();
    let mut secrets_seen = vec![
        WORD.to_owned(),
        ALICE_PASSWORD.to_owned(),
        ALICE_KEY.to_owned(),
        BOT_KEY.to_owned(),
        token.clone(),
    ];

    let (_, url) = env.start("test:alice", WORD).await;
    ids.push(url.rsplit('/').next().unwrap().to_owned());
    env.post(&url, &password_form("wrong-word", ALICE_PASSWORD))
        .await;
    env.post(&url, &password_form(WORD, "wrong-password-x"))
        .await;
    assert_eq!(
        env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await.0,
        200
    );
    env.bot.next_reply().await;
    let cred = env.credential_of("test:alice").await.unwrap();
    secrets_seen.push(cred.credential().header_value());

    let (_, url) = env.start("test:alice", WORD).await;
    ids.push(url.rsplit('/').next().unwrap().to_owned());
    assert_eq!(
        env.post(
            &url,
            &[("method", "token"), ("token", &token), ("word", WORD)]
        )
        .await
        .0,
        200
    );
    env.bot.next_reply().await;
    let (_, url) = env.start("test:alice", WORD).await;
    ids.push(url.rsplit('/').next().unwrap().to_owned());
    assert_eq!(
        env.post(
            &url,
            &[
                ("method", "api_key"),
                ("api_key", ALICE_KEY),
                ("word", WORD)
            ]
        )
        .await
        .0,
        200
    );
    env.bot.next_reply().await;
    env.bot.say("test:root", "!st2 session list").await;
    env.bot.next_reply().await;
    env.bot.shutdown().await;

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("clientside StackStorm session started"),
        "logs were captured"
    );
    for secret in secrets_seen.iter().chain(ids.iter()) {
        assert!(
            !text.contains(secret.as_str()),
            "a secret or link id reached the logs:\n{text}"
        );
    }
    assert!(!text.contains("wrong-word") && !text.contains("wrong-password-x"));
}

#[tokio::test]
async fn the_page_escapes_what_it_shows() {
    let env = env().await;
    let (_, url) = env.start("test:eve<b>\"x'", WORD).await;
    let (status, html) = env.get(&url).await;
    assert_eq!(status, 200);
    assert!(html.contains("test:eve&lt;b&gt;&quot;x&#39;"), "{html}");
    assert!(!html.contains("eve<b>"));
    let (status, html) = env
        .post(
            &url,
            &[
                ("method", "password"),
                ("username", "<script>alert(1)</script>"),
                ("password", "x"),
                ("word", WORD),
            ],
        )
        .await;
    assert_eq!(status, 401);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn forms_sent_at_once_log_in_once() {
    let env = env().await;
    let (_, url) = env.start("test:alice", WORD).await;
    let form = password_form(WORD, ALICE_PASSWORD);
    let sends = (0..6).map(|_| env.http.post(&url).form(&form).send());
    let mut statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(
        statuses[1..].iter().all(|s| matches!(s, 409 | 410)),
        "{statuses:?}"
    );
    assert_eq!(env.st2.live_tokens_of("alice"), 1);
}

#[tokio::test]
async fn stackstorm_trouble_is_not_the_users_fault() {
    let st2 = fake().await;
    let broken: BotCredentialFn = Arc::new(|_now| {
        Box::pin(async { Ok(Credential::ApiKey(SecretValue::from("revoked-bot-key"))) })
    });
    let s = Sessions::new(
        SessionSettings {
            max_attempts: 1,
            ..SessionSettings::default()
        },
        client(&st2),
        Some(PUBLIC.to_owned()),
    )
    .with_bot_credential(broken);
    let env = Env {
        bot: TestBot::builder()
            .plugin(SessionsPlugin(s))
            .web()
            .build()
            .await,
        st2,
        http: reqwest::Client::new(),
    };
    let (_, url) = env.start("test:alice", WORD).await;
    let token = env.st2.issue_token("alice", Duration::from_secs(3600));
    let (status, html) = env
        .post(
            &url,
            &[("method", "token"), ("token", &token), ("word", WORD)],
        )
        .await;
    assert_eq!(status, 502, "{html}");
    assert!(
        html.contains("own StackStorm credential was refused"),
        "{html}"
    );
    assert!(!html.contains(&token) && !html.contains("revoked-bot-key"));

    env.st2.set_down(true);
    let (status, html) = env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await;
    assert_eq!(status, 502, "{html}");
    assert!(html.contains("StackStorm could not be asked"), "{html}");
    env.st2.set_down(false);

    // Neither counted as a failed attempt (max_attempts = 1): the link still works.
    let (status, html) = env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await;
    assert_eq!(status, 200, "{html}");
}

/// The same flow through the whole `!st2` plugin: after logging in on the page, alice's
/// commands run as her StackStorm user, bob's still ask him to log in.
#[tokio::test]
async fn the_st2_plugin_runs_commands_with_the_session() {
    let st2 = fake().await;
    st2.set_auto_result(false);
    st2.add_alias(serde_json::json!({
        "name": "remote_shell_cmd", "pack": "examples", "ref": "examples.remote_shell_cmd",
        "action_ref": "core.remote", "enabled": true,
        "formats": ["run {{cmd}} on {{hosts}}"],
        "ack": {"enabled": true, "format": "Running {{ execution.parameters.cmd }}"}
    }));
    let section = format!(
        "url = \"{}\"\nusername = \"errbot\"\npassword = \"s3cret\"\n\
         [rbac]\nmode = \"clientside\"\n[rbac.clientside]\npublic_url = \"{PUBLIC}\"\n",
        st2.url()
    );
    let plugin =
        ferrbot_plugin_st2::St2Plugin::from_config(toml::from_str(&section).unwrap()).unwrap();
    let bot = TestBot::builder()
        .plugin(plugin)
        .config("[bot]\nadmins = [\"test:root\"]")
        .web()
        .build()
        .await;
    let env = Env {
        bot,
        st2,
        http: reqwest::Client::new(),
    };
    let (_, url) = env.start("test:alice", WORD).await;
    let (status, html) = env.post(&url, &password_form(WORD, ALICE_PASSWORD)).await;
    assert_eq!(status, 200, "{html}");
    let note = next_containing(&env.bot, "session is active").await;
    assert!(note.text().contains("!st2 session end"), "{}", note.text());

    env.bot.say("test:alice", "!st2 run date on web1").await;
    next_containing(&env.bot, "Running date").await;
    let runs = env.st2.executions();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].st2_user, "alice");

    env.bot.say("test:bob", "!st2 run date on web1").await;
    next_containing(&env.bot, "session start").await;
    assert_eq!(
        env.st2.executions().len(),
        1,
        "alice's session is never bob's"
    );

    env.bot.say_direct("test:alice", "!st2 session end").await;
    next_containing(&env.bot, "session has ended").await;
    env.bot.say("test:alice", "!st2 run date on web1").await;
    next_containing(&env.bot, "session start").await;
    assert_eq!(env.st2.executions().len(), 1);
}

/// The next message (among up to 10) containing `needle`; other plugin chatter (admin
/// alerts, …) is skipped.
async fn next_containing(bot: &TestBot, needle: &str) -> Sent {
    let mut seen = Vec::new();
    for _ in 0..10 {
        match bot.try_next_reply(Duration::from_secs(5)).await {
            Some(s) if s.plain().contains(needle) => return s,
            Some(s) => seen.push(s.plain()),
            None => break,
        }
    }
    panic!("no message containing {needle:?}; saw {seen:#?}");
}
