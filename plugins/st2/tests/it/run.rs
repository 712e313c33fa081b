//! An alias runs, the ack follows the alias, results and posts arrive where they belong.

use std::time::Duration;

use ferrbot::message::Level;
use serde_json::json;

use crate::support::{bot, find, section, st2};

#[tokio::test]
async fn alias_runs_acks_and_the_result_arrives_in_the_room() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say("test:alice", "!st2 run date on web1").await;

    let ack = find(&bot, "Running date").await;
    assert_eq!(
        ack.room().map(ToString::to_string).as_deref(),
        Some("test:general")
    );
    assert!(
        ack.plain().contains("/#/history/"),
        "no web_url: {}",
        ack.plain()
    );

    let result = find(&bot, "Ran date").await;
    assert_eq!(
        result.room().map(ToString::to_string).as_deref(),
        Some("test:general")
    );

    let executions = st2.executions();
    assert_eq!(executions.len(), 1);
    let e = &executions[0];
    assert_eq!(e.command, "run date on web1");
    assert_eq!(e.user, "test:alice");
    assert_eq!(e.source_channel, "test:general");
    assert_eq!(e.notification_channel.as_deref(), Some("test:general"));
    assert_eq!(e.notification_route.as_deref(), Some("errbot"));
    assert_eq!(e.parameters["cmd"], json!("date"));
    assert_eq!(e.parameters["hosts"], json!("web1"));
    assert_eq!(e.st2_user, "errbot");
}

#[tokio::test]
async fn smart_quotes_are_normalised_before_matching() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say("test:alice", "!st2 run \u{201c}ls -la\u{201d} on\u{a0}web1")
        .await;
    find(&bot, "Running ls -la").await;
    let e = &st2.executions()[0];
    assert_eq!(e.parameters["cmd"], json!("ls -la"));
    assert_eq!(e.parameters["hosts"], json!("web1"));
}

#[tokio::test]
async fn ack_without_format_says_started_and_a_disabled_ack_is_silent() {
    let st2 = st2().await;
    st2.add_alias(
        json!({"name": "plain", "pack": "p", "action_ref": "core.noop",
        "formats": ["plain {{x}}"]}),
    );
    st2.add_alias(
        json!({"name": "quiet", "pack": "p", "action_ref": "core.noop",
        "formats": ["quiet {{x}}"], "ack": {"enabled": false}}),
    );
    st2.set_auto_result(false);
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say("test:alice", "!st2 plain one").await;
    let id = st2.executions()[0].id.clone();
    let ack = find(&bot, &format!("execution {id} started")).await;
    assert!(ack.plain().contains("/#/history/"));
    bot.say("test:alice", "!st2 quiet two").await;
    assert_eq!(st2.executions().len(), 2);
    bot.assert_silent(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn announcements_go_to_their_room_and_whispers_go_private() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    st2.announce(
        "errbot",
        json!({"message": "to ops", "channel": "test:ops", "user": "test:alice",
        "whisper": false, "extra": {}}),
    )
    .await;
    let m = find(&bot, "to ops").await;
    assert_eq!(
        m.room().map(ToString::to_string).as_deref(),
        Some("test:ops")
    );

    st2.announce(
        "errbot",
        json!({"message": "just for you", "channel": "test:ops",
        "user": "test:alice", "whisper": true, "extra": {}}),
    )
    .await;
    let m = find(&bot, "just for you").await;
    assert_eq!(
        m.direct_to().map(ToString::to_string).as_deref(),
        Some("test:alice")
    );
    assert!(m.room().is_none());
}

#[tokio::test]
async fn delimiter_and_slack_extra_make_a_card() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    st2.announce(
        "errbot",
        json!({"message": "Deployed {~} 3 hosts updated", "channel": "test:general",
        "user": "test:alice", "whisper": false,
        "extra": {"slack": {"color": "danger", "title": "deploy web",
                            "fields": [{"title": "status", "value": "failed", "short": true}]}}}),
    )
    .await;
    let m = find(&bot, "Deployed").await;
    assert_eq!(m.text(), "Deployed");
    let card = m.card().expect("a card");
    assert_eq!(card.title, "deploy web");
    assert_eq!(card.level, Level::Error);
    assert_eq!(card.body.to_plain(), "3 hosts updated");
    assert_eq!(card.fields[0].name, "status");
}

#[tokio::test]
async fn announcements_on_other_routes_are_not_delivered() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    st2.announce(
        "chatops",
        json!({"message": "not mine", "channel": "test:general"}),
    )
    .await;
    bot.assert_silent(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn ack_extra_shapes_a_card_and_threads_are_kept() {
    let st2 = st2().await;
    st2.add_alias(json!({"name": "deploy", "pack": "ops", "action_ref": "core.local",
        "formats": ["deploy {{app}}"],
        "ack": {"format": "Deploying {{ execution.parameters.app }} {~} queued", "append_url": false,
                "extra": {"slack": {"color": "good", "title": "deploy"}}}}));
    st2.set_auto_result(false);
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say_in_thread("test:ops", "T1", "test:alice", "!st2 deploy shop")
        .await;
    let m = find(&bot, "Deploying shop").await;
    assert_eq!(m.text(), "Deploying shop");
    assert_eq!(
        m.thread().map(|t| t.local().to_owned()).as_deref(),
        Some("T1")
    );
    let card = m.card().expect("a card");
    assert_eq!(card.title, "deploy");
    assert_eq!(card.level, Level::Success);
    assert_eq!(card.body.to_plain(), "queued");
    assert!(!m.plain().contains("/#/history/"), "append_url is off");
}

#[tokio::test]
async fn a_command_in_a_direct_message_gets_its_result_there() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say_direct("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    let result = find(&bot, "Ran date").await;
    assert_eq!(
        result.room().map(ToString::to_string).as_deref(),
        Some("test:dm-alice")
    );
    assert_eq!(st2.executions()[0].source_channel, "test:dm-alice");
}

#[tokio::test]
async fn an_unaddressable_announcement_reaches_the_admins() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    st2.announce(
        "errbot",
        json!({"message": "orphan result", "channel": "test:general", "whisper": true}),
    )
    .await;
    let m = find(&bot, "orphan result").await;
    assert_eq!(
        m.direct_to().map(ToString::to_string).as_deref(),
        Some("test:admin")
    );
    assert!(
        m.plain().contains("could not be delivered"),
        "{}",
        m.plain()
    );
}
