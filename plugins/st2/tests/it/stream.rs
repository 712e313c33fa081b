//! The stream: dropped or silent connections are replaced and nothing is lost.

use std::time::Duration;

use serde_json::json;

use crate::support::{bot, find, section, st2};

#[tokio::test]
async fn a_dropped_stream_resumes_without_losing_an_announcement() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    st2.drop_streams();
    st2.announce(
        "errbot",
        json!({"message": "while you were away", "channel": "test:general",
        "user": "test:alice", "whisper": false, "extra": {}}),
    )
    .await;
    st2.wait_stream_connections(2).await;
    let m = find(&bot, "while you were away").await;
    assert_eq!(
        m.room().map(ToString::to_string).as_deref(),
        Some("test:general")
    );

    bot.say("test:alice", "!st2 status").await;
    let status = find(&bot, "Stream:").await;
    assert!(
        status.plain().contains("reconnects: 1"),
        "{}",
        status.plain()
    );
}

#[tokio::test]
async fn a_silent_stream_is_declared_dead_and_replaced() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    st2.stall_streams(true);
    // heartbeat_timeout is 1 s in tests: the watchdog reconnects.
    tokio::time::timeout(Duration::from_secs(10), st2.wait_stream_connections(2))
        .await
        .expect("no reconnection after the heartbeats stopped");
    st2.stall_streams(false);
    st2.announce(
        "errbot",
        json!({"message": "back again", "channel": "test:general"}),
    )
    .await;
    find(&bot, "back again").await;
}

#[tokio::test]
async fn a_new_alias_on_the_stream_refreshes_the_cache() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.run_jobs().await;
    st2.add_alias(
        json!({"name": "deploy", "pack": "ops", "action_ref": "core.local",
        "formats": ["deploy {{app}}"]}),
    );
    // The cache follows the stream event: status shows both aliases.
    let mut shown = String::new();
    for _ in 0..50 {
        bot.say("test:alice", "!st2 status").await;
        shown = find(&bot, "Aliases cached").await.plain();
        if shown.contains("Aliases cached: 2") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the cache never saw the new alias: {shown}");
}

#[tokio::test]
async fn a_refused_stream_logs_in_again() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    let logins = || {
        st2.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/auth/v1/tokens")
            .count()
    };
    let before = logins();
    st2.expire_tokens_of("errbot");
    st2.drop_streams();
    st2.announce(
        "errbot",
        json!({"message": "after the 401", "channel": "test:general"}),
    )
    .await;
    find(&bot, "after the 401").await;
    assert!(logins() > before, "the stream did not log in again");
}
