//! Prometheus metrics scraped from the bot's own `/metrics` over HTTP: open incidents by
//! severity, time to resolve by severity and time to acknowledge, false alarms left out,
//! refreshed by the periodic job from the store.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;

use ferrbot::testing::{TestBot, caps};
use ferrbot_plugin_incident::IncidentPlugin;

const A: &str = "console:alice";

async fn scrape(bot: &TestBot) -> String {
    reqwest::get(format!("{}/metrics", bot.web_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Says `text` and waits until the bot has answered it (other messages are skipped).
async fn cmd(bot: &TestBot, text: &str) {
    bot.say(A, text).await;
    while bot
        .try_next_reply(Duration::from_millis(150))
        .await
        .is_some()
    {}
}

fn has(metrics: &str, line: &str) {
    assert!(
        metrics.lines().any(|l| l == line),
        "`{line}` missing from:\n{metrics}"
    );
}

#[tokio::test]
async fn open_resolve_and_ack_metrics_leave_false_alarms_out() {
    let plugin = IncidentPlugin::from_config(toml::Value::Table(toml::Table::new())).unwrap();
    let bot = TestBot::builder()
        .backend("console", caps::console())
        .config("[bot]\nadmins = [\"console:root\"]\n")
        .plugin(plugin)
        .web()
        .build()
        .await;
    // Registered at start, before any incident.
    let m = scrape(&bot).await;
    has(&m, "ferrbot_plugin_incident_open{severity=\"1\"} 0");
    has(&m, "ferrbot_plugin_incident_ack_seconds_count 0");

    cmd(&bot, "!inc declare Checkout 502s --sev 1").await;
    cmd(&bot, "!inc declare Search slow --sev 2").await;
    cmd(&bot, "!inc declare Flappy alert --sev 2").await;
    cmd(&bot, "!inc declare Unsorted").await;
    support::advance(&bot, 5);
    cmd(&bot, "!inc ack #1").await;
    cmd(&bot, "!inc ack #3").await;
    support::advance(&bot, 55);
    cmd(&bot, "!inc resolve #1 rolled back").await;
    cmd(&bot, "!inc resolve #3 --false-alarm").await;

    // Not recomputed until the job runs.
    let m = scrape(&bot).await;
    has(&m, "ferrbot_plugin_incident_open{severity=\"1\"} 0");
    bot.run_jobs().await;
    let m = scrape(&bot).await;
    for line in [
        "ferrbot_plugin_incident_open{severity=\"1\"} 0",
        "ferrbot_plugin_incident_open{severity=\"2\"} 1",
        "ferrbot_plugin_incident_open{severity=\"none\"} 1",
        "ferrbot_plugin_incident_resolve_seconds_count{severity=\"1\"} 1",
        "ferrbot_plugin_incident_resolve_seconds_sum{severity=\"1\"} 3600.0",
        "ferrbot_plugin_incident_resolve_seconds_bucket{le=\"1800.0\",severity=\"1\"} 0",
        "ferrbot_plugin_incident_resolve_seconds_bucket{le=\"3600.0\",severity=\"1\"} 1",
        // #3 was a false alarm: neither its resolution nor its ack counts.
        "ferrbot_plugin_incident_ack_seconds_count 1",
        "ferrbot_plugin_incident_ack_seconds_sum 300.0",
        "# TYPE ferrbot_plugin_incident_resolve_seconds histogram",
        "# TYPE ferrbot_plugin_incident_open gauge",
    ] {
        has(&m, line);
    }
    assert!(
        !m.contains("resolve_seconds_count{severity=\"2\"}"),
        "false alarm counted:\n{m}"
    );

    // A reopen takes #1 out of the resolve histogram and back into the open gauge; a rerun
    // does not count anything twice.
    cmd(&bot, "!inc reopen #1 still failing").await;
    bot.run_jobs().await;
    bot.run_jobs().await;
    let m = scrape(&bot).await;
    has(&m, "ferrbot_plugin_incident_open{severity=\"1\"} 1");
    has(&m, "ferrbot_plugin_incident_ack_seconds_count 1");
    assert!(!m.contains("resolve_seconds_count{severity=\"1\"}"), "{m}");
}
