//! Shared helpers: fixtures, signing, posting, bots.

use std::time::Duration;

use ferrbot::message::Card;
use ferrbot::testing::{Sent, TestBot, TestBotBuilder};
use ferrbot_plugin_sentry::SentryPlugin;
use ferrbot_plugin_sentry::verify::sign;

/// The integration's client secret in tests.
pub const SECRET: &str = "3f1c2e5d8a7b4c6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6";
/// The previous secret, still accepted during a rotation.
pub const OLD_SECRET: &str = "old-secret-still-valid-during-rotation";
/// The legacy webhook token of the `ops` route.
pub const TOKEN: &str = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1";

/// A fixture's exact bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `[plugins.sentry]` section with the `ops` route to `test:ops`, plus `extra` lines.
pub fn sentry_section(extra: &str) -> String {
    format!(
        r#"public_url = "https://bot.example.com"
{extra}

[[routes]]
name = "ops"
room = "test:ops"
secrets = ["{SECRET}", "{OLD_SECRET}"]
tokens = ["{TOKEN}"]
organization = "test-org"
"#
    )
}

/// The plugin built from a section, as the daemon builds it.
pub fn plugin(section: &str) -> SentryPlugin {
    SentryPlugin::from_config(toml::from_str(section).unwrap()).unwrap()
}

/// A builder with the plugin, web on, `test:root` as admin and a 64 KiB body limit.
pub fn builder(section: &str) -> TestBotBuilder {
    TestBot::builder()
        .plugin(plugin(section))
        .config("[bot]\nadmins = [\"test:root\"]\n[web]\nbody_limit = 65536")
        .web()
}

/// A bot with the default section (storm window off unless `extra` sets one).
pub async fn bot(extra: &str) -> TestBot {
    builder(&sentry_section(extra)).build().await
}

/// An HTTP answer: status and JSON body.
pub struct Answer {
    pub status: u16,
    pub json: serde_json::Value,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_default()
    }
}

/// Posts `body` with headers.
pub async fn post(url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("answer is not JSON (status {status}): {text}"));
    Answer { status, json }
}

/// Posts an Integration Platform delivery to `route`, signed with `secret`.
pub async fn post_signed(
    bot: &TestBot,
    route: &str,
    resource: &str,
    body: Vec<u8>,
    secret: &str,
    request_id: &str,
) -> Answer {
    let signature = sign(secret.as_bytes(), &body);
    post(
        &format!("{}/plugins/sentry/hook/{route}", bot.web_url()),
        body,
        &[
            ("content-type", "application/json"),
            ("sentry-hook-resource", resource),
            ("sentry-hook-timestamp", "1566248777"),
            ("sentry-hook-signature", &signature),
            ("request-id", request_id),
        ],
    )
    .await
}

/// The value of a card's field, as plain text.
pub fn field(card: &Card, name: &str) -> Option<String> {
    card.fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.to_plain())
}

/// The next message, which must carry a card.
pub async fn next_card(bot: &TestBot) -> (Sent, Card) {
    let sent = bot.next_reply().await;
    let card = sent
        .card()
        .cloned()
        .unwrap_or_else(|| panic!("expected a card, got: {}", sent.plain()));
    (sent, card)
}

/// A short wait for "nothing was posted".
pub const QUIET: Duration = Duration::from_millis(250);

/// Waits until `check` holds, polling (for work done in background tasks).
pub async fn eventually<F: Fn() -> bool>(what: &str, check: F) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
