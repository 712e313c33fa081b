//! Every published payload, posted as Sentry sends it (signed over its exact bytes, or with
//! the route's token), becomes the expected card or one-liner in the route's room.

use ferrbot::message::Level;

use crate::support::{
    OLD_SECRET, QUIET, SECRET, TOKEN, bot, field, fixture, next_card, post, post_signed,
};

#[tokio::test]
async fn issue_created_becomes_a_card_with_the_issues_fields() {
    let bot = bot("").await;
    let answer = post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    assert_eq!(answer.json["status"], "posted");
    let (sent, card) = next_card(&bot).await;
    assert_eq!(sent.room().unwrap().to_string(), "test:ops");
    assert_eq!(card.title, "ReferenceError: blooopy is not defined");
    assert_eq!(card.level, Level::Error);
    // The payload has no link (`permalink` is null): one is built from the route's organisation.
    assert_eq!(
        card.url.as_deref(),
        Some("https://sentry.io/organizations/test-org/issues/1170820242/")
    );
    assert_eq!(field(&card, "Culprit").as_deref(), Some("`?(runner)`"));
    assert_eq!(field(&card, "Project").as_deref(), Some("front-end"));
    assert_eq!(field(&card, "Short ID").as_deref(), Some("FRONT-END-9"));
    assert_eq!(field(&card, "Level").as_deref(), Some("error"));
    assert_eq!(
        field(&card, "First seen").as_deref(),
        Some("2019-08-19 20:58 UTC")
    );
    assert_eq!(
        field(&card, "Last seen").as_deref(),
        Some("2019-08-19 20:58 UTC")
    );
    assert_eq!(field(&card, "Events").as_deref(), Some("1"));
    assert_eq!(field(&card, "Users").as_deref(), Some("1"));
    assert_eq!(card.footer.as_deref(), Some("Sentry · New issue"));
    assert_eq!(
        card.body.to_plain(),
        "Open in Sentry <https://sentry.io/organizations/test-org/issues/1170820242/>"
    );
    assert_eq!(
        card.timestamp.unwrap().to_string(),
        "2019-08-19T20:58:37.391Z"
    );
}

#[tokio::test]
async fn the_previous_secret_still_works_during_a_rotation() {
    let bot = bot("").await;
    let answer = post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        OLD_SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    next_card(&bot).await;
}

#[tokio::test]
async fn issue_resolved_is_a_one_liner_naming_the_issue() {
    let bot = bot("").await;
    let answer = post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-resolved.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let sent = bot.next_reply().await;
    assert!(sent.card().is_none());
    assert_eq!(sent.room().unwrap().to_string(), "test:ops");
    assert_eq!(
        sent.text(),
        "✅ Resolved by Hemanth V. Alluri — ZULIP-INTEGRATION-TESTING-E <https://sentry.io/organizations/test-org/issues/1638821441/>: Exception: program has entered an invalid state."
    );
}

#[tokio::test]
async fn event_alert_triggered_shows_rule_project_and_tags() {
    let bot = bot("").await;
    let answer = post_signed(
        &bot,
        "ops",
        "event_alert",
        fixture("event-alert-triggered.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (_, card) = next_card(&bot).await;
    assert_eq!(card.title, "ReferenceError: heck is not defined");
    assert_eq!(card.level, Level::Error);
    assert_eq!(
        card.url.as_deref(),
        Some(
            "https://sentry.io/organizations/test-org/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/"
        )
    );
    assert_eq!(
        field(&card, "Rule").as_deref(),
        Some("Very Important Alert Rule!")
    );
    assert_eq!(field(&card, "Culprit").as_deref(), Some("`?(<anonymous>)`"));
    // The event names its project only in its API URL.
    assert_eq!(field(&card, "Project").as_deref(), Some("front-end"));
    assert_eq!(
        field(&card, "Tags").as_deref(),
        Some(
            "browser: Chrome 75.0.3770 · os: Mac OS X 10.14.0 · handled: no · url: https://null.jsbin.com/runner"
        )
    );
    assert_eq!(
        card.footer.as_deref(),
        Some("Sentry · Alert rule triggered")
    );
    assert_eq!(
        card.timestamp.unwrap().to_string(),
        "2019-08-19T21:06:17.677Z"
    );
}

#[tokio::test]
async fn error_created_becomes_an_error_card() {
    let bot = bot("").await;
    let answer = post_signed(
        &bot,
        "ops",
        "error",
        fixture("error-created.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (_, card) = next_card(&bot).await;
    assert_eq!(card.title, "ReferenceError: blooopy is not defined");
    assert_eq!(
        card.url.as_deref(),
        Some(
            "https://sentry.io/organizations/test-org/issues/1170820242/events/bb78c1407cea4519aa397afc059c793d/"
        )
    );
    assert_eq!(field(&card, "Project").as_deref(), Some("front-end"));
    assert_eq!(field(&card, "Culprit").as_deref(), Some("`?(runner)`"));
    assert_eq!(card.footer.as_deref(), Some("Sentry · Error"));
}

#[tokio::test]
async fn metric_alerts_are_coloured_by_state() {
    let bot = bot("").await;

    let answer = post_signed(
        &bot,
        "ops",
        "metric_alert",
        fixture("metric-alert-warning.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (_, card) = next_card(&bot).await;
    assert_eq!(card.title, "Warning: mymetric");
    assert_eq!(card.level, Level::Warning);
    // `&amp;` left by the source's HTML escaping is undone.
    assert_eq!(
        card.url.as_deref(),
        Some(
            "https://zorlinaxomrel.xyz/alerts/rules/details/349732/?alert=2&referrer=metric_alert_sentry_app&detection_type=static&notification_uuid=f82be3a5-c1b2-4004-aa53-2a8b4662d447"
        )
    );
    assert_eq!(field(&card, "Rule").as_deref(), Some("higherrorratealert"));
    assert_eq!(field(&card, "Project").as_deref(), Some("javascript-react"));
    assert_eq!(
        field(&card, "Query").as_deref(),
        Some("`count() where is:unresolved`")
    );
    assert!(
        card.body
            .to_plain()
            .starts_with("3 events in the last minute\nThreshold: Static\n"),
        "{}",
        card.body.to_plain()
    );
    // `2025-07-14T11:41:32+053000Z` is not RFC 3339; its date and time are still read.
    assert_eq!(card.timestamp.unwrap().to_string(), "2025-07-14T11:41:32Z");
    assert_eq!(
        card.footer.as_deref(),
        Some("Sentry · Metric alert warning")
    );

    let answer = post_signed(
        &bot,
        "ops",
        "metric_alert",
        fixture("metric-alert-critical.variant.json"),
        SECRET,
        "r2",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (_, card) = next_card(&bot).await;
    assert_eq!(card.title, "Critical: mymetric");
    assert_eq!(card.level, Level::Critical);

    let answer = post_signed(
        &bot,
        "ops",
        "metric_alert",
        fixture("metric-alert-resolved.json"),
        SECRET,
        "r3",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (_, card) = next_card(&bot).await;
    assert_eq!(card.title, "Resolved: Too many errors");
    assert_eq!(card.level, Level::Success);
    assert_eq!(
        card.url.as_deref(),
        Some("https://sentry.io/organizations/baz/alerts/1/")
    );
    assert_eq!(field(&card, "Rule").as_deref(), Some("Too many errors"));
    assert_eq!(field(&card, "Project").as_deref(), Some("bar"));
    assert_eq!(
        field(&card, "Query").as_deref(),
        Some("`count() where level:error`")
    );
    // The published body has a literal `\n` in its description.
    assert!(
        card.body
            .to_plain()
            .starts_with("1000 events in the last 10 minutes\nFilter: level:error")
    );
}

#[tokio::test]
async fn installation_events_are_acknowledged_not_posted() {
    let bot = bot("").await;
    let answer = post_signed(
        &bot,
        "ops",
        "installation",
        fixture("installation-created.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["status"], "acknowledged");
    bot.assert_silent(QUIET).await;
}

#[tokio::test]
async fn unknown_resources_are_answered_2xx_and_not_posted() {
    let bot = bot("").await;
    let body =
        br#"{"action":"completed","data":{"run_id":1},"installation":{"uuid":"x"}}"#.to_vec();
    let answer = post_signed(&bot, "ops", "seer", body, SECRET, "r1").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["status"], "ignored");
    bot.assert_silent(QUIET).await;
}

#[tokio::test]
async fn the_legacy_webhooks_plugin_posts_with_the_routes_token() {
    let bot = bot("").await;
    let url = format!("{}/plugins/sentry/hook/ops/{TOKEN}", bot.web_url());
    let answer = post(
        &url,
        fixture("legacy-webhook-plugin.json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (sent, card) = next_card(&bot).await;
    assert_eq!(sent.room().unwrap().to_string(), "test:ops");
    assert_eq!(card.title, "ValueError: new sentry error.");
    assert_eq!(card.level, Level::Error);
    assert_eq!(
        card.url.as_deref(),
        Some(
            "https://sentry.io/organizations/bar-foundation/issues/1972208801/?referrer=webhooks_plugin"
        )
    );
    assert_eq!(
        field(&card, "Culprit").as_deref(),
        Some("`__main__ in <module>`")
    );
    assert_eq!(field(&card, "Project").as_deref(), Some("foo-live"));
    assert_eq!(
        field(&card, "Rule").as_deref(),
        Some("Send a notification for new events")
    );
    assert_eq!(
        field(&card, "Tags").as_deref(),
        Some("server_name: enterprise · runtime: CPython 3.8.5")
    );
    assert_eq!(card.footer.as_deref(), Some("Sentry · Sentry alert"));
    assert_eq!(
        card.timestamp.unwrap().to_string(),
        "2020-10-21T23:25:11.147672Z"
    );
}

#[tokio::test]
async fn compact_bodies_as_sentry_sends_them_are_accepted() {
    // Sentry sends compact JSON with non-ASCII escaped; sign what is sent, never re-serialise.
    let bot = bot("").await;
    let value: serde_json::Value = serde_json::from_slice(&fixture("issue-created.json")).unwrap();
    let compact = serde_json::to_vec(&value).unwrap();
    let answer = post_signed(&bot, "ops", "issue", compact, SECRET, "r1").await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (_, card) = next_card(&bot).await;
    assert_eq!(card.title, "ReferenceError: blooopy is not defined");
}
