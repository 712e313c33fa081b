//! `!incident` end to end on Discord: the incident plugin on a real `ferrbot::Bot` with the
//! Discord backend, against the fake Discord (gateway and REST on loopback). A declare creates
//! a channel with the incident's name and topic and posts the headline in the announce
//! channel; a lead change typed in the incident channel edits the headline; Discord reports no
//! pins or reactions to bots, so `!inc pin` sent as a reply captures a message, and Discord's
//! message updates and deletions then follow it in the timeline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrbot::Plugin;
use ferrbot_plugin_incident::IncidentPlugin;
use serde_json::{Value, json};

use crate::e2e::Env;
use crate::fake::{GUILD_ID, message_json, user_json};

const ANNOUNCE: &str = "700000000000000001";
const ALICE: (u64, &str) = (800_000_000_000_000_001, "alice");
const BOB: (u64, &str) = (800_000_000_000_000_002, "bob");

async fn start() -> Env {
    let section: toml::Value = toml::from_str(&format!(
        "create_room = \"always\"\nannounce_room = \"discord:{ANNOUNCE}\"\n"
    ))
    .unwrap();
    let plugin: Arc<dyn Plugin> = Arc::new(IncidentPlugin::from_config(section).unwrap());
    Env::start_with(vec![(plugin, toml::Value::Table(toml::Table::new()))]).await
}

fn content(post: &crate::fake::Posted) -> String {
    post.body["content"].as_str().unwrap_or("").to_owned()
}

/// Waits (at most 10 s) for a post in `channel` whose content contains `needle`, after the
/// first `skip` posts there.
async fn post_containing(env: &Env, channel: &str, skip: usize, needle: &str) -> String {
    env.fake
        .wait_for(&format!("`{needle}` in {channel}"), 10, |f| {
            f.posts_in(channel)
                .iter()
                .skip(skip)
                .any(|p| content(p).contains(needle))
        })
        .await;
    env.fake
        .posts_in(channel)
        .iter()
        .skip(skip)
        .map(content)
        .find(|c| c.contains(needle))
        .unwrap()
}

/// Asks for the timeline in `channel` until it satisfies `ok` (message events are applied
/// asynchronously), at most 10 s.
async fn timeline_until(env: &Env, channel: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = env.fake.posts_in(channel).len();
        env.fake.user_says(channel, ALICE, "!inc timeline");
        let text = post_containing(env, channel, before, "#1").await;
        if ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timeline never got there: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn calls_matching(env: &Env, prefix: &str) -> Vec<String> {
    env.fake
        .calls()
        .into_iter()
        .filter(|c| c.starts_with(prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declare_creates_the_channel_and_a_reply_pin_follows_edits_and_deletions() {
    let env = start().await;
    env.fake
        .user_says(ANNOUNCE, ALICE, "!inc declare Checkout 502s --sev 2");
    let reply = post_containing(&env, ANNOUNCE, 0, "Declared #1 Checkout 502s").await;
    let room = reply
        .split("Room: discord:")
        .nth(1)
        .and_then(|r| r.split('.').next())
        .unwrap_or_else(|| panic!("no room in the reply: {reply}"))
        .to_owned();

    // The channel: its name and topic, as Discord was asked.
    let created = calls_matching(&env, &format!("POST /guilds/{GUILD_ID}/channels "));
    assert_eq!(created.len(), 1, "{created:?}");
    let body: Value = serde_json::from_str(
        created[0]
            .split_once(' ')
            .and_then(|(_, rest)| rest.split_once(' '))
            .map(|(_, json)| json)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["name"], "inc-1-checkout-502s");
    assert_eq!(body["topic"], "#1 Checkout 502s · sev 2 · no lead");
    post_containing(&env, &room, 0, "Welcome to incident #1 Checkout 502s").await;

    // The headline: a card in the announce channel, edited when the lead changes.
    env.fake
        .wait_for("the headline", 10, |f| {
            f.posts_in(ANNOUNCE)
                .iter()
                .any(|p| p.body["embeds"][0]["title"] == "🔥 #1 Checkout 502s")
        })
        .await;
    let headline = env
        .fake
        .posts_in(ANNOUNCE)
        .into_iter()
        .find(|p| p.body["embeds"][0]["title"] == "🔥 #1 Checkout 502s")
        .unwrap();
    let headline_id = headline.message["id"].as_str().unwrap().to_owned();
    let before = env.fake.posts_in(&room).len();
    // A mention as Discord delivers it, typed in the incident channel: no id needed.
    env.fake
        .user_says(&room, ALICE, &format!("!inc lead <@{}>", BOB.0));
    post_containing(&env, &room, before, &format!("discord:{}", BOB.0)).await;
    let edit = format!("PATCH /channels/{ANNOUNCE}/messages/{headline_id}");
    env.fake
        .wait_for("the headline edit", 10, |f| f.calls().contains(&edit))
        .await;

    // `!inc pin` as a reply to bob's message: pinned on Discord, captured in the timeline.
    let said = env.fake.user_says(&room, BOB, "rolled back v2");
    let mut pin = message_json(
        said + 1000,
        &room,
        &user_json(ALICE.0, ALICE.1, false),
        "!inc pin",
        true,
    );
    pin["type"] = json!(19);
    pin["message_reference"] = json!({
        "type": 0, "message_id": said.to_string(), "channel_id": room,
        "guild_id": GUILD_ID.to_string()
    });
    let before = env.fake.posts_in(&room).len();
    env.fake.dispatch("MESSAGE_CREATE", pin);
    post_containing(
        &env,
        &room,
        before,
        "The message you replied to is in #1's timeline",
    )
    .await;
    let pinned = format!("PUT /channels/{room}/pins/{said}");
    env.fake
        .wait_for("the pin", 10, |f| f.calls().contains(&pinned))
        .await;

    // Discord reports the edit: the captured text follows.
    let mut edited = message_json(
        said,
        &room,
        &user_json(BOB.0, BOB.1, false),
        "rolled back v2 and v3",
        true,
    );
    edited["edited_timestamp"] = json!("2026-11-23T12:00:00.000000+00:00");
    env.fake.dispatch("MESSAGE_UPDATE", edited);
    timeline_until(&env, &room, |t| t.contains("rolled back v2 and v3")).await;

    // And the deletion: the capture is gone from the timeline.
    env.fake.dispatch(
        "MESSAGE_DELETE",
        json!({"id": said.to_string(), "channel_id": room, "guild_id": GUILD_ID.to_string()}),
    );
    timeline_until(&env, &room, |t| !t.contains("rolled back v2")).await;
    env.stop().await;
}
