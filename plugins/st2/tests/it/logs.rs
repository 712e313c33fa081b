//! No password, token or key ever reaches the logs, even at TRACE.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;

use crate::support::{PASSWORD, bot, find, section, st2};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at TRACE (log records included).
fn captured() -> Buffer {
    static BUFFER: OnceLock<Buffer> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Buffer::default();
            let writer = buffer.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("the log capture must be the only subscriber");
            buffer
        })
        .clone()
}

#[tokio::test]
async fn no_secret_in_logs() {
    let logs = captured();
    let st2 = st2().await;
    st2.add_api_key("api-key-never-logged-42", "errbot");

    // password mode, with a renewal and the webhook
    let hook = "webhook-token-never-logged-0123";
    let bot1 = bot(
        &st2,
        &section(&st2, None, &format!("[webhook]\ntoken = \"{hook}\"")),
    )
    .await;
    bot1.say("test:alice", "!st2 run date on web1").await;
    find(&bot1, "Running date").await;
    st2.expire_tokens_of("errbot");
    bot1.say("test:alice", "!st2 run date on web1").await;
    find(&bot1, "Running date").await;
    let _ = reqwest::Client::new()
        .post(format!("{}/plugins/st2/chatops/message", bot1.web_url()))
        .header("authorization", "Bearer wrong")
        .json(&json!({"message": "x"}))
        .send()
        .await
        .unwrap();

    // token mode and API-key mode (the token is issued after the expiry above)
    let token = st2.issue_token("errbot", Duration::from_secs(3600));
    let bot2 = bot(
        &st2,
        &section(&st2, Some(&format!("token = \"{token}\"")), ""),
    )
    .await;
    bot2.say("test:alice", "!st2 run date on web1").await;
    find(&bot2, "Running date").await;
    let bot3 = bot(
        &st2,
        &section(&st2, Some("api_key = \"api-key-never-logged-42\""), ""),
    )
    .await;
    bot3.say("test:alice", "!st2 run date on web1").await;
    find(&bot3, "Running date").await;

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("StackStorm token issued"),
        "the capture saw nothing"
    );
    for secret in [PASSWORD, token.as_str(), "api-key-never-logged-42", hook] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
    // HTTP basic auth of the password, base64-encoded
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("errbot:{PASSWORD}"));
    assert!(
        !text.contains(&basic),
        "the basic-auth header reached the logs"
    );
}
