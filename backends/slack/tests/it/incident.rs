//! `!incident` end to end on Slack (design §4.9 check 9): the incident plugin
//! (`ferrbot-plugin-incident`) on a real `ferrbot::Bot` with the real Slack backend, against
//! the fake Slack over Socket Mode. A declare creates the incident channel
//! (`conversations.create`, `conversations.setTopic`, `conversations.invite`, a welcome) and a
//! headline card in the announce channel that a lead change edits (`chat.update`); pins, the
//! 📌 reaction, edits and deletions in the incident channel reach its timeline, which
//! `!inc timeline` shows. Slack's `reaction_added` names the message only, so the backend
//! fills in the text of channel messages it saw (never of direct messages).

use std::sync::Arc;

use ferrbot::Plugin;
use ferrbot::backend::MessageEvent;
use ferrbot_plugin_incident::IncidentPlugin;
use serde_json::{Value, json};

use crate::e2e::Env;
use crate::fake::{ALICE, BOB, GENERAL, Posted};

/// The announce channel of the tests.
const ANNOUNCE: &str = "C0ANNOUNCE";

/// A bot running the incident plugin: a room for every incident, headlines in [`ANNOUNCE`].
async fn start() -> Env {
    let config: toml::Value = toml::from_str(&format!(
        "create_room = \"always\"\nannounce_room = \"slack:{ANNOUNCE}\"\n\
         room_name_template = \"inc-{{id}}-{{slug}}\"\n"
    ))
    .unwrap();
    let plugin: Arc<dyn Plugin> = Arc::new(IncidentPlugin::from_config(config.clone()).unwrap());
    Env::start_with(vec![(plugin, config)]).await
}

/// The text of a post and of its attachments' blocks (cards), for assertions.
fn everything(body: &Value) -> String {
    let mut out = body["text"].as_str().unwrap_or("").to_owned();
    for attachment in body["attachments"].as_array().into_iter().flatten() {
        out.push('\n');
        out.push_str(&attachment.to_string());
    }
    if let Some(blocks) = body.get("blocks") {
        out.push('\n');
        out.push_str(&blocks.to_string());
    }
    out
}

/// Says `text` in `channel` as `user`; returns the bot's first new post there that starts
/// with `answer`.
async fn ask(env: &Env, channel: &str, user: &str, text: &str, answer: &str) -> Posted {
    let before = env.fake.posts_in(channel).len();
    env.fake.says(channel, user, text, None);
    env.fake
        .wait_for(&format!("the answer to `{text}`"), 10, |f| {
            f.posts_in(channel)[before..]
                .iter()
                .any(|p| p.text().starts_with(answer))
        })
        .await;
    env.fake.posts_in(channel)[before..]
        .iter()
        .find(|p| p.text().starts_with(answer))
        .cloned()
        .unwrap()
}

/// Declares `Checkout 502s` at sev 2 in the announce channel as alice; returns the new
/// incident channel's id and the headline post.
async fn declare(env: &Env) -> (String, Posted) {
    ask(
        env,
        ANNOUNCE,
        ALICE,
        "!inc declare Checkout 502s --sev 2",
        "Declared #1",
    )
    .await;
    let create = env.fake.calls("conversations.create");
    assert_eq!(create.len(), 1, "{create:?}");
    let topic = env.fake.calls("conversations.setTopic");
    let channel = topic[0].args["channel"].as_str().unwrap().to_owned();
    assert!(channel.starts_with("C0NEW"), "{channel}");
    let headline = env
        .fake
        .posts_in(ANNOUNCE)
        .into_iter()
        .find(|p| everything(&p.body).contains("Checkout 502s") && p.body["attachments"].is_array())
        .expect("a headline card in the announce channel");
    (channel, headline)
}

/// `!inc timeline` typed in the incident channel: the bot's answer.
async fn timeline(env: &Env, channel: &str) -> String {
    ask(env, channel, ALICE, "!inc timeline", "#1 timeline")
        .await
        .text()
        .to_owned()
}

/// Waits until `!inc timeline` in `channel` satisfies `ok` (message events are applied
/// asynchronously); returns it.
async fn timeline_until(env: &Env, channel: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let t = timeline(env, channel).await;
        if ok(&t) {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; timeline: {t}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declare_creates_the_channel_and_a_lead_change_edits_the_headline() {
    let env = start().await;
    let (channel, headline) = declare(&env).await;

    // conversations.create with the templated name, the topic, the reporter invited.
    let create = &env.fake.calls("conversations.create")[0].args;
    assert_eq!(create["name"], "inc-1-checkout-502s");
    assert_eq!(
        env.fake.calls("conversations.setTopic")[0].args,
        json!({"channel": channel, "topic": "#1 Checkout 502s · sev 2 · no lead"})
    );
    let invites = env.fake.calls("conversations.invite");
    assert_eq!(
        invites[0].args,
        json!({"channel": channel, "users": ALICE}),
        "{invites:?}"
    );

    // The welcome in the new channel says how to capture messages on Slack.
    let welcome = env.wait_posts(&channel, 1).await[0].text().to_owned();
    assert!(
        welcome.starts_with("Welcome to incident #1 Checkout 502s"),
        "{welcome}"
    );
    assert!(
        welcome.contains("(or pin a message, or react with 📌)"),
        "{welcome}"
    );

    // The headline: a card in the announce channel naming the room, with buttons.
    let card = everything(&headline.body);
    assert!(card.contains("#1 Checkout 502s"), "{card}");
    assert!(card.contains("none yet"), "no lead yet: {card}");
    assert!(
        card.contains(&format!("slack:{channel}")),
        "the room: {card}"
    );
    assert!(card.contains("\"type\":\"button\""), "buttons: {card}");
    let reply = env
        .fake
        .posts_in(ANNOUNCE)
        .into_iter()
        .find(|p| p.text().starts_with("Declared #1"))
        .unwrap();
    assert!(
        reply.text().contains(&format!("Room: slack:{channel}.")),
        "{}",
        reply.text()
    );

    // `!inc lead` typed in the incident channel needs no id: the headline is edited in
    // place (chat.update of the same message) and the topic follows.
    ask(&env, &channel, ALICE, &format!("!inc lead @{BOB}"), "#1").await;
    env.fake
        .wait_for("the headline edit", 10, |f| {
            !f.calls("chat.update").is_empty()
        })
        .await;
    let update = env.fake.calls("chat.update").last().unwrap().args.clone();
    assert_eq!(update["channel"], ANNOUNCE);
    assert_eq!(update["ts"], headline.ts.as_str());
    let edited = everything(&update);
    assert!(edited.contains(&format!("slack:{BOB}")), "{edited}");
    assert!(edited.contains("#1 Checkout 502s"), "{edited}");
    env.fake
        .wait_for("the new topic", 10, |f| {
            f.calls("conversations.setTopic").len() >= 2
        })
        .await;
    assert_eq!(
        env.fake.calls("conversations.setTopic")[1].args["topic"],
        format!("#1 Checkout 502s · sev 2 · slack:{BOB}")
    );
    // No change line: the headline was edited, not followed up.
    assert!(
        env.fake
            .posts_in(ANNOUNCE)
            .iter()
            .all(|p| !p.text().contains("by slack:")),
        "{:?}",
        env.fake.posts_in(ANNOUNCE)
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_reactions_edits_and_deletions_in_the_incident_channel_reach_the_timeline() {
    let env = start().await;
    let (channel, _) = declare(&env).await;
    env.wait_posts(&channel, 1).await;

    // Bob writes in the incident channel; alice pins it (pin_added carries the message).
    let said = env.fake.says(
        &channel,
        BOB,
        "error rate 40% since deploy &lt;1234&gt;",
        None,
    );
    env.fake.event(json!({"type":"pin_added","user":ALICE,"channel_id":channel,
        "item":{"type":"message","channel":channel,"created":1_700_001_100,"created_by":ALICE,
                "message":{"type":"message","user":BOB,"text":"error rate 40% since deploy &lt;1234&gt;","ts":said,
                           "permalink":"https://fake.slack.com/archives/x/p1"}},
        "item_user":BOB,"pin_count":1,"event_ts":"1700001100.000001"}));
    let t = timeline_until(&env, &channel, "the pinned message", |t| {
        t.contains("error rate 40%")
    })
    .await;
    assert!(
        t.contains(&format!(
            "message slack:{BOB}: error rate 40% since deploy &lt;1234&gt;"
        )),
        "captured with its author and text: {t}"
    );

    // Bob edits it: the capture follows.
    env.fake.event(json!({"type":"message","subtype":"message_changed","channel":channel,"hidden":true,
        "ts":"1700001100.000002","event_ts":"1700001100.000002",
        "message":{"type":"message","user":BOB,"text":"error rate 45% since deploy 1234","ts":said,
                   "edited":{"user":BOB,"ts":"1700001100.000002"}},
        "previous_message":{"type":"message","user":BOB,"text":"error rate 40% since deploy &lt;1234&gt;","ts":said}}));
    let t = timeline_until(&env, &channel, "the edited text", |t| {
        t.contains("error rate 45%")
    })
    .await;
    assert!(!t.contains("error rate 40%"), "{t}");

    // Unpinned (pin_removed): soft-deleted, gone from the timeline.
    env.fake.event(json!({"type":"pin_removed","user":ALICE,"channel_id":channel,
        "item":{"type":"message","channel":channel,"created":1_700_001_100,"created_by":ALICE,
                "message":{"type":"message","user":BOB,"text":"error rate 45% since deploy 1234","ts":said}},
        "item_user":BOB,"pin_count":0,"has_pins":false,"event_ts":"1700001100.000003"}));
    timeline_until(&env, &channel, "the unpin", |t| !t.contains("error rate")).await;

    // The 📌 reaction (`pushpin`) captures a message; another reaction does not.
    let noted = env
        .fake
        .says(&channel, ALICE, "rolled back deploy 1234", None);
    let other = env.fake.says(&channel, BOB, "lunch?", None);
    env.fake.event(
        json!({"type":"reaction_added","user":BOB,"reaction":"tada","item_user":BOB,
        "item":{"type":"message","channel":channel,"ts":other},"event_ts":"1700001100.000004"}),
    );
    env.fake.event(
        json!({"type":"reaction_added","user":BOB,"reaction":"pushpin","item_user":ALICE,
        "item":{"type":"message","channel":channel,"ts":noted},"event_ts":"1700001100.000005"}),
    );
    // Slack's reaction_added names the message only: its text comes from the bot having
    // seen it posted.
    let t = timeline_until(&env, &channel, "the 📌 capture", |t| {
        t.contains("rolled back deploy 1234")
    })
    .await;
    assert!(
        t.contains(&format!("message slack:{BOB}: rolled back deploy 1234")),
        "{t}"
    );
    assert!(!t.contains("lunch") && !t.contains(&other), "{t}");
    let captured = format!("slack:{channel}/{noted}");

    // Taking the 📌 back removes it; 📌 again brings it back.
    env.fake.event(
        json!({"type":"reaction_removed","user":BOB,"reaction":"pushpin","item_user":ALICE,
        "item":{"type":"message","channel":channel,"ts":noted},"event_ts":"1700001100.000009"}),
    );
    timeline_until(&env, &channel, "the 📌 removal", |t| {
        !t.contains("rolled back deploy 1234")
    })
    .await;
    env.fake.event(
        json!({"type":"reaction_added","user":BOB,"reaction":"pushpin","item_user":ALICE,
        "item":{"type":"message","channel":channel,"ts":noted},"event_ts":"1700001100.000010"}),
    );
    timeline_until(&env, &channel, "the 📌 again", |t| {
        t.contains("rolled back deploy 1234")
    })
    .await;

    // The message is deleted: gone.
    env.fake.event(json!({"type":"message","subtype":"message_deleted","channel":channel,"hidden":true,
        "deleted_ts":noted,"ts":"1700001100.000006","event_ts":"1700001100.000006",
        "previous_message":{"type":"message","user":ALICE,"text":"rolled back deploy 1234","ts":noted}}));
    let t = timeline_until(&env, &channel, "the deletion", |t| {
        !t.contains("rolled back deploy 1234") && !t.contains(&captured)
    })
    .await;
    assert!(t.contains("nothing yet"), "{t}");

    // A 📌 on a message the bot never saw (posted before it started) is still captured,
    // named by its id.
    let unseen = "1600000000.000001";
    env.fake.event(
        json!({"type":"reaction_added","user":ALICE,"reaction":"pushpin","item_user":BOB,
        "item":{"type":"message","channel":channel,"ts":unseen},"event_ts":"1700001100.000008"}),
    );
    let t = timeline_until(&env, &channel, "the capture of an unseen message", |t| {
        t.contains(unseen)
    })
    .await;
    assert!(
        t.contains(&format!(
            "message slack:{ALICE}: (message slack:{channel}/{unseen})"
        )),
        "{t}"
    );
    // The other reaction never captured anything.
    assert!(!t.contains("lunch") && !t.contains(&other), "{t}");
    env.stop().await;
}

/// The buttons of a Slack post (Block Kit `actions` in its attachments).
fn buttons(body: &Value) -> Vec<Value> {
    body["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["blocks"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn labels(body: &Value) -> Vec<String> {
    buttons(body)
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_is_invited_and_a_click_on_the_headline_changes_it_in_place() {
    let env = start().await;
    ask(
        &env,
        ANNOUNCE,
        ALICE,
        &format!("!inc declare Checkout 502s --sev 2 --lead @{BOB}"),
        "Declared #1",
    )
    .await;
    let topic = env.fake.calls("conversations.setTopic")[0].args.clone();
    let channel = topic["channel"].as_str().unwrap().to_owned();
    assert_eq!(
        topic["topic"],
        format!("#1 Checkout 502s · sev 2 · slack:{BOB}")
    );
    // Reporter and lead, one conversations.invite each (a refused one never costs the other).
    let invites: Vec<Value> = env
        .fake
        .calls("conversations.invite")
        .into_iter()
        .map(|c| c.args)
        .collect();
    assert_eq!(
        invites,
        [
            json!({"channel": channel, "users": ALICE}),
            json!({"channel": channel, "users": BOB})
        ]
    );

    let headline = env
        .fake
        .posts_in(ANNOUNCE)
        .into_iter()
        .find(|p| p.body["attachments"].is_array())
        .expect("the headline card");
    assert_eq!(labels(&headline.body), ["Ack", "Join", "Stable", "Resolve"]);
    let stable = buttons(&headline.body)
        .into_iter()
        .find(|b| b["text"]["text"] == "Stable")
        .unwrap();

    // Bob clicks "Stable" on the headline: the command runs as bob and the headline is
    // edited in place with the new state and actions.
    let click = env.fake.click(ANNOUNCE, BOB, &stable, &headline.ts);
    env.fake.wait_acked(&click).await;
    env.fake
        .wait_for("the headline edit", 10, |f| {
            !f.calls("chat.update").is_empty()
        })
        .await;
    let update = env.fake.calls("chat.update")[0].args.clone();
    assert_eq!(update["channel"], ANNOUNCE);
    assert_eq!(update["ts"], headline.ts.as_str());
    let edited = everything(&update);
    assert!(edited.contains("🩹 #1 Checkout 502s"), "{edited}");
    assert_eq!(labels(&update), ["Join", "Resolve", "Reopen"]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_carry_the_text_of_channel_messages_the_bot_saw_but_never_of_direct_ones() {
    let mut env = Env::start().await;
    let in_channel = env.fake.says(GENERAL, ALICE, "db failover done", None);
    let in_dm = env
        .fake
        .says("D0ALICE", ALICE, "my password is hunter2", None);
    for (channel, ts) in [(GENERAL, &in_channel), ("D0ALICE", &in_dm)] {
        env.fake.event(
            json!({"type":"reaction_added","user":BOB,"reaction":"pushpin","item_user":ALICE,
            "item":{"type":"message","channel":channel,"ts":ts},"event_ts":"1700001200.000001"}),
        );
    }
    let mut texts = Vec::new();
    while texts.len() < 2 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), env.events.recv())
            .await
            .unwrap()
            .unwrap();
        if let MessageEvent::ReactionAdded { message, text, .. } = event {
            texts.push((message.local().to_owned(), text));
        }
    }
    texts.sort();
    assert_eq!(
        texts,
        [
            (
                format!("{GENERAL}/{in_channel}"),
                Some("db failover done".to_owned())
            ),
            (format!("D0ALICE/{in_dm}"), None),
        ]
    );
    env.stop().await;
}
