//! The bot's three credential kinds: password (renewed), user token (validated, watched) and
//! API key — one header per request, never two.

use std::time::Duration;

use crate::support::{bot, find, section, st2};

fn token_requests(st2: &crate::fake_st2::FakeSt2) -> usize {
    st2.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/auth/v1/tokens")
        .count()
}

#[tokio::test]
async fn an_expired_token_is_renewed_transparently() {
    let st2 = st2().await;
    st2.set_auto_result(false);
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    let before = token_requests(&st2);

    st2.expire_tokens_of("errbot");
    bot.say("test:alice", "!st2 run uptime on web2").await;
    find(&bot, "Running uptime").await;
    assert_eq!(st2.executions().len(), 2);
    assert_eq!(
        token_requests(&st2),
        before + 1,
        "one new login after the 401"
    );
    assert!(st2.requests().iter().all(|r| r.auth_kind != Some("both")));
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires_by_the_bot_clock() {
    let st2 = st2().await;
    st2.set_auto_result(false);
    st2.set_max_ttl(Duration::from_secs(3600));
    let plugin_section = section(&st2, None, "token_ttl = \"1h\"\nrenew_before = \"10m\"");
    let plugin =
        ferrbot_plugin_st2::St2Plugin::from_config(toml::from_str(&plugin_section).unwrap())
            .unwrap();
    let bot = ferrbot::testing::TestBot::builder()
        .plugin(plugin)
        .clock_start(jiff::Timestamp::now())
        .build()
        .await;
    st2.wait_stream_connections(1).await;
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    let before = token_requests(&st2);
    // 55 minutes later by the bot's clock: inside renew_before, so it logs in first.
    bot.clock().advance(Duration::from_secs(55 * 60));
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    assert_eq!(token_requests(&st2), before + 1);
}

#[tokio::test]
async fn api_key_mode_sends_only_the_key() {
    let st2 = st2().await;
    st2.set_auto_result(false);
    st2.add_api_key("key-abc-123", "errbot");
    let bot = bot(&st2, &section(&st2, Some("api_key = \"key-abc-123\""), "")).await;
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    assert_eq!(st2.executions()[0].auth_kind, "api_key");
    assert_eq!(token_requests(&st2), 0);
    let kinds: Vec<_> = st2.requests().iter().map(|r| r.auth_kind).collect();
    assert!(kinds.iter().all(|k| *k == Some("api_key")), "{kinds:?}");
}

#[tokio::test]
async fn token_mode_validates_at_start_and_alerts_admins() {
    let st2 = st2().await;
    st2.set_auto_result(false);
    let token = st2.issue_token("errbot", Duration::from_secs(3600));
    let bot = bot(
        &st2,
        &section(&st2, Some(&format!("token = \"{token}\"")), ""),
    )
    .await;
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    assert_eq!(st2.executions()[0].auth_kind, "token");
    assert!(
        st2.requests()
            .iter()
            .any(|r| r.path == "/auth/v1/tokens/validate"),
        "the token was not validated"
    );

    // A token that is not valid: the admins hear about it.
    let st2b = crate::support::st2().await;
    let bad = bot_with(&st2b, "token = \"not-a-real-token\"").await;
    let alert = find(&bad, "refused").await;
    assert_eq!(
        alert.direct_to().map(ToString::to_string).as_deref(),
        Some("test:admin")
    );
    assert!(!alert.plain().contains("not-a-real-token"));
}

async fn bot_with(st2: &crate::fake_st2::FakeSt2, auth: &str) -> ferrbot::testing::TestBot {
    let plugin = ferrbot_plugin_st2::St2Plugin::from_config(
        toml::from_str(&section(st2, Some(auth), "")).unwrap(),
    )
    .unwrap();
    ferrbot::testing::TestBot::builder()
        .plugin(plugin)
        .config("[bot]\nadmins = [\"test:admin\"]")
        .build()
        .await
}

#[tokio::test]
async fn admins_are_warned_before_a_configured_token_expires() {
    let st2 = st2().await;
    let token = st2.issue_token("errbot", Duration::from_secs(7200));
    let expiry = jiff::Timestamp::from_second(1_767_225_600 + 7200).unwrap();
    let bot = bot(
        &st2,
        &section(
            &st2,
            Some(&format!("token = \"{token}\"\ntoken_expiry = \"{expiry}\"")),
            "renew_before = \"1h\"",
        ),
    )
    .await;
    bot.run_jobs().await;
    bot.assert_silent(Duration::from_millis(300)).await;
    bot.clock().advance(Duration::from_secs(3700));
    bot.run_jobs().await;
    let warning = find(&bot, "expires").await;
    assert_eq!(
        warning.direct_to().map(ToString::to_string).as_deref(),
        Some("test:admin")
    );
    assert!(!warning.plain().contains(&token));
}

#[tokio::test]
async fn a_refused_api_key_alerts_the_admins_once() {
    let st2 = st2().await;
    let bad = bot_with(&st2, "api_key = \"key-unknown-00\"").await;
    let alert = find(&bad, "refused").await;
    assert_eq!(
        alert.direct_to().map(ToString::to_string).as_deref(),
        Some("test:admin")
    );
    // The stream keeps retrying (backoff max 200 ms) but the admins hear it once per outage.
    let mut stream_alerts = 0;
    while let Some(m) = bad.try_next_reply(Duration::from_millis(800)).await {
        if m.plain().contains("event stream") {
            stream_alerts += 1;
        }
    }
    assert!(stream_alerts <= 1, "{stream_alerts} stream alerts");
    let attempts = st2
        .requests()
        .iter()
        .filter(|r| r.path == "/stream/v1/stream")
        .count();
    assert!(
        attempts >= 3,
        "the stream did not keep retrying ({attempts})"
    );
}
