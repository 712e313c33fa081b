//! The chat side: authorizing rooms (URL sent privately), who may, mentions, lists, status,
//! help and metrics.

use ferrbot::markup::Span;
use ferrbot::testing::{Sent, TestBot};

use crate::support::{
    QUIET, SECRET, builder, fixture, next_card, post, post_signed, sentry_section,
};

/// Authorizes `room` as `test:root`; returns the room's reply and the private message.
async fn authorize(bot: &TestBot, room: &str, args: &str) -> (Sent, Sent) {
    bot.say_in(
        room,
        "test:root",
        &format!("!sentry channel authorize {args}"),
    )
    .await;
    let a = bot.next_reply().await;
    let b = bot.next_reply().await;
    if a.direct_to().is_some() {
        (b, a)
    } else {
        (a, b)
    }
}

/// The path and token of the URL in a private message.
fn url_of(dm: &Sent) -> (String, String) {
    let text = dm.text();
    let start = text
        .find("https://bot.example.com/plugins/sentry/hook/")
        .unwrap_or_else(|| panic!("no URL in {text}"));
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '`')
        .collect();
    let path = url.trim_start_matches("https://bot.example.com").to_owned();
    let token = path.rsplit('/').next().unwrap().to_owned();
    (path, token)
}

#[tokio::test]
async fn authorize_sends_the_url_privately_and_it_works() {
    let bot = builder(&sentry_section("")).build().await;
    let (room_reply, dm) = authorize(&bot, "test:deploys", "").await;
    assert_eq!(dm.direct_to().unwrap().to_string(), "test:root");
    let (path, token) = url_of(&dm);
    assert_eq!(token.len(), 64);
    assert_eq!(room_reply.room().unwrap().to_string(), "test:deploys");
    assert!(
        room_reply
            .text()
            .starts_with("✅ `test:deploys` may now receive Sentry alerts")
    );
    assert!(room_reply.text().ends_with("I sent you its URL privately."));
    assert!(
        !room_reply.plain().contains(&token),
        "the token leaked into the room"
    );

    let answer = post(
        &format!("{}{path}", bot.web_url()),
        fixture("legacy-webhook-plugin.json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (sent, card) = next_card(&bot).await;
    assert_eq!(sent.room().unwrap().to_string(), "test:deploys");
    assert_eq!(card.title, "ValueError: new sentry error.");

    // Asking again does not re-issue (only a digest is kept) …
    bot.say_in("test:deploys", "test:root", "!sentry channel authorize")
        .await;
    let again = bot.next_reply().await;
    assert!(
        again.text().contains("is already authorized"),
        "{}",
        again.text()
    );
    assert!(again.text().contains("--rotate"));
    bot.assert_silent(QUIET).await;

    // … rotation does, and the old URL stops working.
    let (_, dm2) = authorize(&bot, "test:deploys", "--rotate").await;
    let (path2, token2) = url_of(&dm2);
    assert_ne!(token2, token);
    let old = post(
        &format!("{}{path}", bot.web_url()),
        fixture("legacy-webhook-plugin.json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(old.status, 401);
    assert_eq!(old.error(), "bad token");

    // Revocation stops the new one at once.
    bot.say_in("test:deploys", "test:root", "!sentry channel revoke")
        .await;
    assert!(bot.next_reply().await.text().starts_with("Revoked"));
    let revoked = post(
        &format!("{}{path2}", bot.web_url()),
        fixture("legacy-webhook-plugin.json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(revoked.status, 403);
    assert_eq!(revoked.error(), "route revoked");
    bot.assert_silent(QUIET).await;
}

#[tokio::test]
async fn a_room_can_be_named_from_a_direct_message() {
    let bot = builder(&sentry_section("")).build().await;
    bot.say_direct("test:root", "sentry channel authorize")
        .await;
    assert!(bot.next_reply().await.text().starts_with("Which room?"));
    bot.say_direct("test:root", "sentry channel authorize <#C42|deploys>")
        .await;
    let dm = bot.next_reply().await;
    let reply = bot.next_reply().await;
    let (url_msg, ack) = if dm.text().contains("https://") {
        (dm, reply)
    } else {
        (reply, dm)
    };
    assert!(url_msg.text().contains("`test:C42`"), "{}", url_msg.text());
    assert!(
        ack.text()
            .contains("`test:C42` may now receive Sentry alerts")
    );
}

#[tokio::test]
async fn only_admins_and_authorizers_may_authorize_or_revoke() {
    let bot = builder(&sentry_section("authorizers = [\"test:lead-*\"]"))
        .build()
        .await;
    bot.say_in("test:ops", "test:alice", "!sentry channel authorize")
        .await;
    let denied = bot.next_reply().await;
    assert_eq!(
        denied.text(),
        "Sorry, only admins of test:ops, bot admins and the users listed in `authorizers` of [plugins.sentry] may authorize or revoke it."
    );
    bot.say_in("test:ops", "test:alice", "!sentry channel revoke")
        .await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .starts_with("Sorry, only admins of test:ops")
    );
    bot.assert_silent(QUIET).await;
    // Nothing changed: the config route still works and no chat route exists.
    bot.say("test:alice", "!sentry channel list").await;
    let list = bot.next_reply().await.text();
    assert!(
        list.contains("`ops` → `test:ops` · config, signed (2 secrets) + token · active"),
        "{list}"
    );
    assert_eq!(list.matches("•").count(), 1, "{list}");

    // A configured authorizer may.
    bot.say_in(
        "test:incidents",
        "test:lead-ann",
        "!sentry channel authorize",
    )
    .await;
    let a = bot.next_reply().await;
    let b = bot.next_reply().await;
    assert!([&a, &b].iter().any(|m| {
        m.direct_to()
            .is_some_and(|u| u.to_string() == "test:lead-ann")
    }));
}

#[tokio::test]
async fn room_admins_may_authorize_and_revoke_their_room_only() {
    let bot = builder(&sentry_section("[storm]\nwindow = \"0s\""))
        .build()
        .await;
    bot.make_room_admin("test:payments", "test:carol");

    // Carol administers test:payments, not test:ops.
    bot.say_in("test:ops", "test:carol", "!sentry channel authorize")
        .await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .starts_with("Sorry, only admins of test:ops"),
    );
    bot.say_in(
        "test:ops",
        "test:carol",
        "!sentry channel authorize test:payments",
    )
    .await;
    let a = bot.next_reply().await;
    let b = bot.next_reply().await;
    let (dm, room) = if a.direct_to().is_some() {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(dm.direct_to().unwrap().to_string(), "test:carol");
    let (path, _) = url_of(&dm);
    assert!(
        room.text()
            .contains("`test:payments` may now receive Sentry alerts"),
        "{}",
        room.text()
    );
    let url = format!("{}{path}", bot.web_url());
    let hook = || {
        post(
            &url,
            fixture("legacy-webhook-plugin.json"),
            &[("content-type", "application/json")],
        )
    };
    assert_eq!(hook().await.status, 202);
    let (sent, _) = next_card(&bot).await;
    assert_eq!(sent.room().unwrap().to_string(), "test:payments");

    // Another user of the same room may not revoke it; Carol may, and the URL stops at once.
    bot.say_in("test:payments", "test:dave", "!sentry channel revoke")
        .await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .starts_with("Sorry, only admins of test:payments")
    );
    assert_eq!(hook().await.status, 202);
    let _ = next_card(&bot).await;
    bot.say_in("test:payments", "test:carol", "!sentry channel revoke")
        .await;
    assert!(bot.next_reply().await.text().starts_with("Revoked"));
    let revoked = hook().await;
    assert_eq!(revoked.status, 403);
    assert_eq!(revoked.error(), "route revoked");
    bot.assert_silent(QUIET).await;
}

fn mentioned(sent: &Sent) -> Vec<String> {
    sent.message
        .text
        .spans()
        .iter()
        .filter_map(|s| match s {
            Span::Mention { user } => Some(user.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn subscribers_are_mentioned_on_alerts_of_their_projects() {
    let bot = builder(&sentry_section("[storm]\nwindow = \"0s\""))
        .build()
        .await;
    bot.say_in("test:ops", "test:bob", "!sentry project register front-end")
        .await;
    assert_eq!(
        bot.next_reply().await.text(),
        "You will be mentioned when `front-end` alert in `test:ops`."
    );
    bot.say_in(
        "test:ops",
        "test:carol",
        "!sentry project register api FRONT-END",
    )
    .await;
    bot.next_reply().await;
    bot.say_in(
        "test:elsewhere",
        "test:dan",
        "!sentry project register front-end",
    )
    .await;
    let note = bot.next_reply().await.text();
    assert!(
        note.contains("this room receives no Sentry alerts yet"),
        "{note}"
    );

    post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    let (sent, _) = next_card(&bot).await;
    assert_eq!(mentioned(&sent), ["test:bob", "test:carol"]);
    assert_eq!(sent.text(), "@bob @carol");

    // A project nobody follows mentions nobody.
    post_signed(
        &bot,
        "ops",
        "metric_alert",
        fixture("metric-alert-resolved.json"),
        SECRET,
        "r2",
    )
    .await;
    let (sent, _) = next_card(&bot).await;
    assert!(mentioned(&sent).is_empty());

    // Follow-ups do not ping under the default policy.
    post_signed(&bot, "ops", "issue", crate_resolved(), SECRET, "r3").await;
    let line = bot.next_reply().await;
    assert!(mentioned(&line).is_empty(), "{}", line.text());

    // The list names people without pinging them.
    bot.say_in("test:ops", "test:bob", "!sentry project list")
        .await;
    let list = bot.next_reply().await;
    assert!(mentioned(&list).is_empty());
    assert_eq!(
        list.text(),
        "Mentions in `test:ops`:\n• api: `test:carol`\n• front-end: `test:bob, test:carol`"
    );

    bot.say_in("test:ops", "test:carol", "!sentry project revoke")
        .await;
    assert_eq!(
        bot.next_reply().await.text(),
        "You will no longer be mentioned for `api, front-end` in `test:ops`."
    );
    bot.say_in("test:ops", "test:carol", "!sentry project revoke api")
        .await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .starts_with("You are not registered for api")
    );
    bot.say_in(
        "test:ops",
        "test:bob",
        "!sentry project register Not/A/Slug",
    )
    .await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .starts_with("`Not/A/Slug` is not a project slug")
    );

    post_signed(
        &bot,
        "ops",
        "error",
        fixture("error-created.json"),
        SECRET,
        "r4",
    )
    .await;
    let (sent, _) = next_card(&bot).await;
    assert_eq!(mentioned(&sent), ["test:bob"]);
}

fn crate_resolved() -> Vec<u8> {
    br#"{"action":"resolved","data":{"issue":{"id":"1170820242","shortId":"FRONT-END-9","project":{"slug":"front-end"}}}}"#.to_vec()
}

#[tokio::test]
async fn route_mentions_and_the_all_policy() {
    let section = r#"
[mentions]
policy = "all"

[[routes]]
name = "team"
room = "test:team"
secrets = ["s3cr3t-value"]
mention = ["test:oncall", "slack:U999"]
"#;
    let bot = builder(section).build().await;
    bot.say_in(
        "test:team",
        "test:bob",
        "!sentry project register front-end",
    )
    .await;
    bot.next_reply().await;
    post_signed(
        &bot,
        "team",
        "issue",
        fixture("issue-created.json"),
        "s3cr3t-value",
        "r1",
    )
    .await;
    let (sent, _) = next_card(&bot).await;
    // Users of another network cannot be mentioned in this room.
    assert_eq!(mentioned(&sent), ["test:oncall", "test:bob"]);
    post_signed(
        &bot,
        "team",
        "issue",
        crate_resolved(),
        "s3cr3t-value",
        "r2",
    )
    .await;
    let line = bot.next_reply().await;
    assert_eq!(mentioned(&line), ["test:oncall", "test:bob"]);
}

#[tokio::test]
async fn help_status_and_metrics() {
    let bot = builder(&sentry_section("")).build().await;
    bot.say("test:alice", "!sentry help").await;
    let help = bot.next_reply().await.text();
    assert!(help.starts_with("Sentry alerts in chat"), "{help}");
    assert!(
        help.contains("!sentry channel authorize [ROOM] [--rotate]"),
        "{help}"
    );
    assert!(
        help.contains("!sentry project register <SLUG>..."),
        "{help}"
    );
    bot.say("test:alice", "!sentry").await;
    assert_eq!(bot.next_reply().await.text(), help);
    bot.say("test:alice", "!sentry frobnicate").await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .starts_with("There is no `!sentry frobnicate` command.")
    );

    bot.say("test:alice", "!help sentry channel authorize")
        .await;
    let full = bot.next_reply().await.plain();
    assert!(
        full.contains("Usage: sentry channel authorize [OPTIONS] [ROOM]"),
        "{full}"
    );
    assert!(full.contains("--rotate"), "{full}");

    bot.say("test:alice", "!help").await;
    let list = bot.next_reply().await.plain();
    for cmd in [
        "!sentry channel authorize",
        "!sentry channel revoke",
        "!sentry channel list",
        "!sentry project register",
        "!sentry project revoke",
        "!sentry project list",
        "!sentry status",
    ] {
        assert!(list.contains(cmd), "{cmd} missing from help: {list}");
    }

    post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    next_card(&bot).await;
    post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        "wrong",
        "r2",
    )
    .await;
    post_signed(
        &bot,
        "nope",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r3",
    )
    .await;

    bot.say("test:alice", "!sentry status").await;
    let status = bot.next_reply().await;
    let card = status.card().unwrap();
    assert_eq!(card.title, "Sentry relay");
    assert_eq!(crate::support::field(card, "Routes").as_deref(), Some("1"));
    assert_eq!(
        crate::support::field(card, "Refused (1h)").as_deref(),
        Some("2")
    );
    let body = card.body.to_plain();
    assert!(
        body.contains("last delivery 2026-01-01 00:00 UTC (issue.created, posted) · 1 refused in the last hour"),
        "{body}"
    );
    assert!(
        body.contains("unknown routes: 1 refused in the last hour"),
        "{body}"
    );

    let metrics = reqwest::get(format!("{}/metrics", bot.web_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"ferrbot_plugin_sentry_deliveries_total{route="ops",resource="issue",outcome="posted"} 1"#,
        r#"ferrbot_plugin_sentry_deliveries_total{route="ops",resource="issue",outcome="refused_401"} 1"#,
        r#"ferrbot_plugin_sentry_deliveries_total{route="unknown",resource="issue",outcome="refused_404"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn the_url_is_never_posted_where_it_cannot_be_sent_privately() {
    // A network without direct messages: the command refuses, nothing is created.
    let no_dms = ferrbot::Capabilities {
        direct_messages: false,
        ..ferrbot::testing::caps::slack()
    };
    let bot = crate::support::builder(&sentry_section(""))
        .config("[bot]\nadmins = [\"nodm:root\", \"test:root\"]")
        .backend("nodm", no_dms)
        .backend("test", ferrbot::Capabilities::full())
        .build()
        .await;
    bot.say_in("nodm:ops", "nodm:root", "!sentry channel authorize")
        .await;
    let reply = bot.next_reply().await.text();
    assert!(
        reply.starts_with("I send webhook URLs only privately"),
        "{reply}"
    );
    bot.assert_silent(QUIET).await;

    // The direct message fails: the new URL is taken back, and the room never sees it.
    bot.fail_sends(
        "test",
        [ferrbot::BackendError::rejected(
            "cannot open a conversation",
        )],
    );
    bot.say_in("test:deploys", "test:root", "!sentry channel authorize")
        .await;
    let reply = bot.next_reply().await;
    assert_eq!(reply.room().unwrap().to_string(), "test:deploys");
    assert_eq!(
        reply.text(),
        "I could not message you privately, so I revoked the new URL again. — ask me in a direct conversation"
    );
    bot.say("test:root", "!sentry channel list").await;
    let list = bot.next_reply().await.text();
    assert!(
        list.contains("→ `test:deploys` · token, authorized by test:root"),
        "{list}"
    );
    assert!(list.contains("· revoked by test:root"), "{list}");
}
