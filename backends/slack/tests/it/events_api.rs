//! The Events API over ferrbot's web server: signed requests (made by Slack's own Python SDK,
//! see `tests/data/README.md`, and by ferrbot's signer) accepted; bad, stale and replayed
//! ones refused with 401 and nothing dispatched; the `url_verification` challenge answered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrbot::Bot;
use ferrbot::clock::ManualClock;
use ferrbot::config::{BotConfig, WebConfig};
use ferrbot_backend_slack::{SlackBackend, SlackConfig, signing};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::fake::{BOT_TOKEN, Fake};

const VECTORS: &str = include_str!("../data/signed_requests.json");
const CHANNEL: &str = "C0SIGNED";

struct Vector {
    path: String,
    content_type: String,
    timestamp: String,
    signature: String,
    body: String,
}

fn vectors() -> (String, Vec<(String, Vector)>) {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    let secret = all["signing_secret"].as_str().unwrap().to_owned();
    let list = all["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (
                s("name"),
                Vector {
                    path: s("path"),
                    content_type: s("content_type"),
                    timestamp: s("timestamp"),
                    signature: s("signature"),
                    body: s("body"),
                },
            )
        })
        .collect();
    (secret, list)
}

fn vector<'a>(list: &'a [(String, Vector)], name: &str) -> &'a Vector {
    &list.iter().find(|(n, _)| n == name).unwrap().1
}

struct Env {
    fake: Fake,
    web: SocketAddr,
    http: reqwest::Client,
    clock: ManualClock,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Env {
    async fn start(secret: &str) -> Self {
        let fake = Fake::start().await;
        let config = format!(
            "bot_token = \"{BOT_TOKEN}\"\nmode = \"events\"\nsigning_secret = \"{secret}\"\napi_url = \"{}\"\n",
            fake.api_url()
        );
        let config = SlackConfig::parse("slack", &toml::from_str(&config).unwrap()).unwrap();
        // The committed requests were signed at 1700000000..=1700000030.
        let clock = ManualClock::new(jiff::Timestamp::from_second(1_700_000_040).unwrap());
        let backend = SlackBackend::new("slack", "!", config, Arc::new(clock.clone())).unwrap();
        let web = WebConfig {
            enabled: true,
            listen: "127.0.0.1:0".parse().unwrap(),
            ..WebConfig::default()
        };
        let bot = Bot::builder(BotConfig::default())
            .web(web)
            .backend(Arc::new(backend))
            .build()
            .await
            .unwrap();
        let addr = bot.web_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move { bot.run(stop).await.unwrap() }
        });
        fake.wait_for("auth.test", 10, |f| !f.calls("auth.test").is_empty())
            .await;
        let env = Self {
            fake,
            web: addr,
            http: reqwest::Client::new(),
            clock,
            stop,
            task,
        };
        // The routes answer 503 until the backend runs; wait until it does.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let r = env
                .post("events", "application/json", "1", "v0=00", "{}")
                .await;
            if r.0 != 503 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "backend not running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        env
    }

    async fn post(
        &self,
        path: &str,
        content_type: &str,
        ts: &str,
        signature: &str,
        body: &str,
    ) -> (u16, String) {
        let r = self
            .http
            .post(format!("http://{}/backends/slack/{path}", self.web))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn send(&self, v: &Vector) -> (u16, String) {
        self.post(
            &v.path,
            &v.content_type,
            &v.timestamp,
            &v.signature,
            &v.body,
        )
        .await
    }

    async fn wait_posts(&self, n: usize) -> Vec<crate::fake::Posted> {
        self.fake
            .wait_for(&format!("{n} message(s)"), 10, |f| {
                f.posts_in(CHANNEL).len() >= n
            })
            .await;
        self.fake.posts_in(CHANNEL)
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_signed_by_slacks_sdk_are_accepted_and_others_refused() {
    let (secret, list) = vectors();
    let env = Env::start(&secret).await;

    // The challenge is answered.
    let (status, body) = env.send(vector(&list, "url_verification")).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    // `!help` is answered with chat.postMessage.
    let help = vector(&list, "message_help");
    assert_eq!(env.send(help).await.0, 200);
    let posts = env.wait_posts(1).await;
    assert!(
        posts[0].text().contains("Commands you can run"),
        "{}",
        posts[0].text()
    );

    // A replay, a tampered body and a wrong secret are refused with 401.
    let (status, body) = env.send(help).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("replay"), "{body}");
    let tampered = help.body.replace("!help", "!whoami");
    let (status, body) = env
        .post(
            "events",
            "application/json",
            &help.timestamp,
            &help.signature,
            &tampered,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("signature"), "{body}");
    let other = signing::sign("not-the-secret", &help.timestamp, tampered.as_bytes());
    assert_eq!(
        env.post(
            "events",
            "application/json",
            &help.timestamp,
            &other,
            &tampered
        )
        .await
        .0,
        401
    );
    assert_eq!(
        env.post("events", "application/json", &help.timestamp, "", &tampered)
            .await
            .0,
        401
    );

    // Slack's retry of a delivery (new timestamp and signature, same event_id) is
    // accepted but not handled twice.
    let retry_ts = (env.clock.now_second() - 5).to_string();
    let retry_sig = signing::sign(&secret, &retry_ts, help.body.as_bytes());
    assert_eq!(
        env.post(
            "events",
            "application/json",
            &retry_ts,
            &retry_sig,
            &help.body
        )
        .await
        .0,
        200
    );

    // A click runs its command as the clicking user.
    assert_eq!(env.send(vector(&list, "block_actions_whoami")).await.0, 200);
    let posts = env.wait_posts(2).await;
    assert!(
        posts[1].text().contains("`slack:U0BOB`"),
        "{}",
        posts[1].text()
    );
    // The slash command, answered in the channel (it has no response_url).
    assert_eq!(env.send(vector(&list, "slash_whoami")).await.0, 200);
    let posts = env.wait_posts(3).await;
    assert!(
        posts[2].text().contains("`slack:U0ALICE`"),
        "{}",
        posts[2].text()
    );
    // Nothing else was dispatched: the refused requests produced no message.
    assert_eq!(env.fake.posts().len(), 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_requests_are_refused_and_fresh_own_signed_ones_accepted() {
    let secret = "own-test-secret";
    let env = Env::start(secret).await;
    let now = env.clock.now_second();
    let body = r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"message","channel":"C0SIGNED","user":"U0ALICE","text":"!whoami","ts":"1700000041.000001","channel_type":"channel"}}"#;
    let stale_ts = (now - 301).to_string();
    let sig = signing::sign(secret, &stale_ts, body.as_bytes());
    let (status, text) = env
        .post("events", "application/json", &stale_ts, &sig, body)
        .await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("5 minutes"), "{text}");
    let future_ts = (now + 301).to_string();
    let sig = signing::sign(secret, &future_ts, body.as_bytes());
    assert_eq!(
        env.post("events", "application/json", &future_ts, &sig, body)
            .await
            .0,
        401
    );

    let ts = (now - 299).to_string();
    let sig = signing::sign(secret, &ts, body.as_bytes());
    assert_eq!(
        env.post("events", "application/json", &ts, &sig, body)
            .await
            .0,
        200
    );
    let posts = env.wait_posts(1).await;
    assert!(
        posts[0].text().contains("`slack:U0ALICE`"),
        "{}",
        posts[0].text()
    );

    // A signed slash command with a response_url is answered there.
    let form = format!(
        "command=%2Fferrbot&text=whoami&user_id=U0ALICE&channel_id=C0SIGNED&response_url={}",
        url_encode(&env.fake.response_url("r1"))
    );
    let sig = signing::sign(secret, &ts, form.as_bytes());
    assert_eq!(
        env.post(
            "commands",
            "application/x-www-form-urlencoded",
            &ts,
            &sig,
            &form
        )
        .await
        .0,
        200
    );
    env.fake
        .wait_for("the response_url answer", 10, |f| {
            !f.state.responses.lock().unwrap().is_empty()
        })
        .await;
    let (id, answer) = env.fake.state.responses.lock().unwrap()[0].clone();
    assert_eq!(id, "r1");
    assert!(
        answer["text"].as_str().unwrap().contains("slack:U0ALICE"),
        "{answer}"
    );
    // Malformed bodies are refused with a reason (after a valid signature).
    let sig = signing::sign(secret, &ts, b"payload=nope");
    let (status, text) = env
        .post(
            "interactivity",
            "application/x-www-form-urlencoded",
            &ts,
            &sig,
            "payload=nope",
        )
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("payload"), "{text}");
    assert_eq!(env.fake.posts().len(), 1);
    env.stop().await;
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

trait NowSecond {
    fn now_second(&self) -> i64;
}

impl NowSecond for ManualClock {
    fn now_second(&self) -> i64 {
        use ferrbot::clock::Clock;
        self.now().as_second()
    }
}
