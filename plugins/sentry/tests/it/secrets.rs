//! Secrets and tokens never reach a room or a log line: only the private message that hands a
//! URL to its owner carries a token.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ferrbot::testing::Sent;
use tracing_subscriber::fmt::MakeWriter;

use crate::support::{
    OLD_SECRET, QUIET, SECRET, TOKEN, builder, fixture, post, post_signed, sentry_section,
};

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

/// Set in the child process that runs the test's body (see below).
const CHILD: &str = "FERRBOT_SENTRY_SECRETS_TEST_CHILD";
const NAME: &str = "secrets::secrets_and_tokens_stay_out_of_rooms_and_logs";

/// The body runs in a child process of this test binary with a *global* log subscriber: a
/// subscriber scoped to one test thread can miss events whose callsites other test threads
/// registered at the same moment (tracing caches each callsite's interest globally).
#[test]
fn secrets_and_tokens_stay_out_of_rooms_and_logs() {
    if std::env::var_os(CHILD).is_some() {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(logs.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(check(logs));
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
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

async fn check(logs: Captured) {
    let bot = builder(&sentry_section("")).build().await;
    let mut sent: Vec<Sent> = Vec::new();

    bot.say_in("test:deploys", "test:root", "!sentry channel authorize")
        .await;
    sent.push(bot.next_reply().await);
    sent.push(bot.next_reply().await);
    let dm = sent
        .iter()
        .find(|s| s.direct_to().is_some())
        .unwrap()
        .clone();
    let text = dm.text();
    let start = text.find("/plugins/sentry/hook/").unwrap();
    let path: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '`')
        .collect();
    let chat_token = path.rsplit('/').next().unwrap().to_owned();

    // Good and bad deliveries on every kind of route.
    post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    sent.push(bot.next_reply().await);
    post_signed(
        &bot,
        "ops",
        "issue",
        fixture("error-created.json"),
        "wrong",
        "r2",
    )
    .await;
    let base = bot.web_url();
    let json = [("content-type", "application/json")];
    post(
        &format!("{base}{path}"),
        fixture("legacy-webhook-plugin.json"),
        &json,
    )
    .await;
    sent.push(bot.next_reply().await);
    post(
        &format!("{base}/plugins/sentry/hook/ops/{TOKEN}"),
        b"{\"culprit\":\"x\"}".to_vec(),
        &json,
    )
    .await;
    sent.push(bot.next_reply().await);
    post(
        &format!("{base}/plugins/sentry/hook/ops/{chat_token}"),
        b"{}".to_vec(),
        &json,
    )
    .await;
    bot.say("test:root", "!sentry status").await;
    sent.push(bot.next_reply().await);
    bot.say("test:root", "!sentry channel list").await;
    sent.push(bot.next_reply().await);
    bot.assert_silent(QUIET).await;

    for message in &sent {
        let plain = message.plain();
        for secret in [SECRET, OLD_SECRET, TOKEN] {
            assert!(!plain.contains(secret), "a secret in {plain}");
        }
        if message.direct_to().is_none() {
            assert!(
                !plain.contains(&chat_token),
                "the route token in a room: {plain}"
            );
        }
    }
    assert!(dm.plain().contains(&chat_token), "the owner gets the URL");

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("sentry webhook refused"), "{logged}");
    assert!(
        logged.contains("route=\"ops\"") || logged.contains("route=ops"),
        "{logged}"
    );
    assert!(logged.contains("reason=\"bad signature\""), "{logged}");
    assert!(logged.contains("source=127.0.0.1"), "{logged}");
    for secret in [SECRET, OLD_SECRET, TOKEN, chat_token.as_str()] {
        assert!(!logged.contains(secret), "a secret was logged:\n{logged}");
    }
}
