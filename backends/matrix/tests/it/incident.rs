//! `!incident` end to end against a real Synapse: the incident plugin
//! (`ferrbot-plugin-incident`) running on a real `ferrbot::Bot` with the Matrix backend. A
//! declare makes a real room (name, topic, reporter and lead invited, welcome message) and a
//! headline that later changes edit in place (`m.replace`); pins (`m.room.pinned_events`) by
//! members, the 📌 reaction, edits and redactions in the incident room reach the incident's
//! timeline with the messages' text and authors, and `!inc pin` in a thread pins the thread's
//! first message and captures its text (as a reply: the message replied to).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrbot::Plugin;
use ferrbot::store::Store;
use ferrbot_plugin_incident::IncidentPlugin;
use ferrbot_plugin_incident::model::{EventKind, Incident, TimelineEvent};
use ferrbot_plugin_incident::store::{self, IncidentStore};
use serde_json::{Value, json};

use crate::support::{RunningBot, SYNAPSE, Synapse, User, body, section, unique};

/// A bot running the incident plugin, the human who talks to it, and the announce room.
struct Setup {
    bot_user: User,
    alice: User,
    announce: String,
    store: Store,
    bot: RunningBot,
}

/// Registers a bot and alice, makes the announce room (alice's, the bot invited) and starts
/// the bot with the incident plugin creating a room for every incident.
async fn setup(synapse: &Synapse) -> Setup {
    let password = unique("pw");
    let bot_user = synapse.register(&unique("incbot"), &password).await;
    let alice = synapse.register(&unique("alice"), "alice-password").await;
    let announce = alice
        .create_room(
            json!({"name": "incidents", "preset": "private_chat", "invite": [bot_user.user_id]}),
        )
        .await;
    let config: toml::Value = toml::from_str(&format!(
        "create_room = \"always\"\nannounce_room = \"matrix:{announce}\"\n\
         room_name_template = \"inc-{{id}}-{{slug}}\"\n"
    ))
    .expect("incident section");
    let plugin: Arc<dyn Plugin> =
        Arc::new(IncidentPlugin::from_config(config).expect("valid incident config"));
    let store = Store::memory().await.expect("memory store");
    let bot = RunningBot::start(
        store.clone(),
        &section(synapse, &bot_user, &password, ""),
        vec![plugin],
    )
    .await;
    alice.wait_joined(&announce, &bot_user.user_id).await;
    Setup {
        bot_user,
        alice,
        announce,
        store,
        bot,
    }
}

/// Incident `id` as stored, once it exists.
async fn stored_incident(store: &Store, id: u64) -> Option<Incident> {
    let s = IncidentStore::new(store.clone());
    let mut c = s.read().await.expect("read");
    store::incident(&mut c, id).await.expect("incident")
}

/// Incident `id`'s timeline as stored.
async fn stored_events(store: &Store, id: u64) -> Vec<TimelineEvent> {
    let s = IncidentStore::new(store.clone());
    let mut c = s.read().await.expect("read");
    store::events(&mut c, id).await.expect("events")
}

/// Waits until the stored timeline of incident 1 satisfies `ok` (the bot applies message
/// events asynchronously), then returns it.
async fn wait_events(
    store: &Store,
    what: &str,
    ok: impl Fn(&[TimelineEvent]) -> bool,
) -> Vec<TimelineEvent> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = stored_events(store, 1).await;
        if ok(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; timeline: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Captured (`message`) events of the timeline.
fn captured(events: &[TimelineEvent]) -> Vec<&TimelineEvent> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Message)
        .collect()
}

/// The capture of Matrix event `event_id`, if any.
fn capture_of<'a>(events: &'a [TimelineEvent], event_id: &str) -> Option<&'a TimelineEvent> {
    let mref = format!("matrix:{event_id}");
    events
        .iter()
        .find(|e| e.message_ref.as_deref() == Some(mref.as_str()))
}

/// Says `text` in `room` as `user` and returns the bot's first new message there that
/// `matches`.
async fn ask(
    user: &User,
    room: &str,
    bot: &str,
    text: &str,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    let before: Vec<Value> = user
        .messages_from(room, bot)
        .await
        .into_iter()
        .map(|e| e["event_id"].clone())
        .collect();
    user.say(room, text).await;
    user.wait_for(room, bot, &format!("the answer to `{text}`"), |e| {
        !before.contains(&e["event_id"]) && matches(e)
    })
    .await
}

/// `!inc timeline` (with `args`) in the incident room: the bot's answer.
async fn timeline(s: &Setup, room: &str, args: &str) -> String {
    let answer = ask(
        &s.alice,
        room,
        &s.bot_user.user_id,
        &format!("!inc timeline{args}"),
        |e| body(e).starts_with("#1 timeline"),
    )
    .await;
    body(&answer).to_owned()
}

/// Declares `Checkout 502s` at sev 2 in the announce room; returns the incident room (alice
/// joined) once the bot answered.
async fn declare(s: &Setup) -> (String, Value) {
    let reply = ask(
        &s.alice,
        &s.announce,
        &s.bot_user.user_id,
        "!inc declare Checkout 502s --sev 2",
        |e| body(e).starts_with("Declared #1 Checkout 502s"),
    )
    .await;
    let incident = stored_incident(&s.store, 1).await.expect("incident #1");
    let room = incident
        .room
        .as_deref()
        .and_then(|r| r.strip_prefix("matrix:"))
        .unwrap_or_else(|| panic!("no incident room: {incident:?}; reply {reply}"))
        .to_owned();
    assert!(
        body(&reply).contains(&format!("Room: matrix:{room}.")),
        "{reply}"
    );
    (room, reply)
}

#[tokio::test]
async fn declare_creates_a_room_with_topic_invite_welcome_and_an_edited_headline() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let s = setup(&synapse).await;
    let bot = s.bot_user.user_id.clone();
    let (room, _) = declare(&s).await;

    // The room on the homeserver: name, topic, alice invited.
    let name = s
        .bot_user
        .state(&room, "m.room.name")
        .await
        .expect("m.room.name");
    assert_eq!(name["name"], "inc-1-checkout-502s");
    let topic = s
        .bot_user
        .state(&room, "m.room.topic")
        .await
        .expect("m.room.topic");
    assert_eq!(topic["topic"], "#1 Checkout 502s · sev 2 · no lead");
    assert_eq!(
        s.bot_user
            .membership(&room, &s.alice.user_id)
            .await
            .as_deref(),
        Some("invite")
    );
    assert!(s.alice.invites().await.contains(&room));
    s.alice.join(&room).await;

    // The welcome message in it.
    let welcome = s
        .alice
        .wait_for(&room, &bot, "the welcome message", |e| {
            body(e).starts_with("Welcome to incident #1 Checkout 502s")
        })
        .await;
    let text = body(&welcome);
    assert!(text.contains("!inc update <text>"), "{text}");
    // The backend reports pins and reactions, so both ways are offered. (The plugin names
    // the configured `pushpin` as `:pushpin:`, which Matrix clients show literally.)
    assert!(
        text.contains("(or pin a message, or react with 📌)"),
        "{text}"
    );

    // The headline in the announce room, recorded as the incident's announcement.
    let headline = s
        .alice
        .wait_for(&s.announce, &bot, "the headline", |e| {
            body(e).contains("#1 Checkout 502s") && body(e).contains("Severity: sev2 (major)")
        })
        .await;
    let headline_id = headline["event_id"].as_str().expect("event id").to_owned();
    let h = body(&headline);
    assert!(
        h.contains(&format!("Reporter: matrix:{}", s.alice.user_id)),
        "{h}"
    );
    assert!(h.contains(&format!("Room: matrix:{room}")), "{h}");
    assert!(h.contains("Resolve: !incident resolve #1"), "{h}");
    let incident = stored_incident(&s.store, 1).await.expect("incident");
    assert_eq!(
        incident.announcement.as_deref(),
        Some(format!("matrix:{headline_id}").as_str())
    );

    // A severity change typed in the incident room (no id) edits the headline in place.
    let answer = ask(&s.alice, &room, &bot, "!inc severity 1", |e| {
        body(e).contains("severity")
    })
    .await;
    assert_eq!(body(&answer), "#1 severity is now sev1 (critical).");
    let edit = s
        .alice
        .wait_for(&s.announce, &bot, "the headline edit", |e| {
            e["content"]["m.relates_to"]["rel_type"] == "m.replace"
        })
        .await;
    assert_eq!(
        edit["content"]["m.relates_to"]["event_id"],
        headline_id.as_str()
    );
    let new = edit["content"]["m.new_content"]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(new.contains("Severity: sev1 (critical)"), "{edit:#}");
    assert!(!new.contains("sev2"), "{edit:#}");
    // No change line was posted instead: the only new bot message there is the edit.
    let posts: Vec<Value> = s
        .alice
        .messages_from(&s.announce, &bot)
        .await
        .into_iter()
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] != "m.replace")
        .filter(|e| !body(e).starts_with("Declared #1"))
        .collect();
    assert_eq!(posts.len(), 1, "only the headline: {posts:#?}");
    // The room's topic follows.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let topic = s.bot_user.state(&room, "m.room.topic").await;
        if topic.as_ref().and_then(|t| t["topic"].as_str())
            == Some("#1 Checkout 502s · sev 1 · no lead")
        {
            break;
        }
        assert!(Instant::now() < deadline, "topic not updated: {topic:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    s.bot.stop().await;
}

#[tokio::test]
async fn pins_reactions_edits_and_redactions_in_the_incident_room_reach_the_timeline() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let s = setup(&synapse).await;
    let (room, _) = declare(&s).await;
    s.alice.join(&room).await;
    // Bob, not invited, joins the (public) incident room and reports what he sees.
    let bob = synapse.register(&unique("bob"), "bob-password").await;
    bob.join(&room).await;

    // Alice (a plain member: the bot made the room) pins bob's message: it is captured with
    // its text, as bob's. Pinning needs members to be allowed to pin in rooms the bot makes.
    let first = bob.say(&room, "error rate 40% since deploy 1234").await;
    s.alice
        .put_state(&room, "m.room.pinned_events", json!({"pinned": [first]}))
        .await;
    let events = wait_events(&s.store, "the pin's capture", |e| {
        capture_of(e, &first).is_some()
    })
    .await;
    let pin = capture_of(&events, &first).expect("captured");
    assert_eq!(pin.text, "error rate 40% since deploy 1234", "{pin:?}");
    assert_eq!(pin.actor, format!("matrix:{}", bob.user_id));
    let t = timeline(&s, &room, "").await;
    assert!(
        t.lines().any(|l| l.contains("message")
            && l.contains(&format!("matrix:{}", bob.user_id))
            && l.ends_with("error rate 40% since deploy 1234")),
        "{t}"
    );

    // Unpinning removes it from the timeline.
    s.alice
        .put_state(&room, "m.room.pinned_events", json!({"pinned": []}))
        .await;
    wait_events(&s.store, "the unpin", |e| {
        capture_of(e, &first).is_some_and(|c| c.deleted_at.is_some())
    })
    .await;
    let t = timeline(&s, &room, "").await;
    assert!(!t.contains("error rate 40%"), "{t}");

    // The 📌 reaction captures another message; another reaction does not.
    let second = s.alice.say(&room, "rolled back deploy 1234").await;
    let third = s.alice.say(&room, "lunch order is in").await;
    for (message, key) in [(&third, "🎉"), (&second, "📌")] {
        s.alice
            .send(
                &room,
                "m.reaction",
                json!({"m.relates_to": {
                    "rel_type": "m.annotation", "event_id": message, "key": key,
                }}),
            )
            .await;
    }
    let events = wait_events(&s.store, "the reaction's capture", |e| {
        capture_of(e, &second).is_some()
    })
    .await;
    assert!(capture_of(&events, &third).is_none(), "{events:#?}");
    assert_eq!(
        capture_of(&events, &second).expect("captured").text,
        "rolled back deploy 1234"
    );
    let t = timeline(&s, &room, "").await;
    assert!(t.contains("rolled back deploy 1234"), "{t}");
    assert!(!t.contains("lunch"), "{t}");

    // Taking a 📌 back (redacting the reaction) removes its capture.
    let fifth = bob.say(&room, "customer tickets up 3x").await;
    let reaction = s
        .alice
        .send(
            &room,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": fifth, "key": "📌"}}),
        )
        .await;
    wait_events(&s.store, "the second reaction's capture", |e| {
        capture_of(e, &fifth).is_some_and(|c| c.text == "customer tickets up 3x")
    })
    .await;
    s.alice.redact(&room, &reaction).await;
    wait_events(&s.store, "the reaction's removal", |e| {
        capture_of(e, &fifth).is_some_and(|c| c.deleted_at.is_some())
    })
    .await;

    // Editing the captured message updates the captured text.
    s.alice
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "* rolled back deploy 1234 and 1235",
                "m.new_content": {"msgtype": "m.text", "body": "rolled back deploy 1234 and 1235"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": second},
            }),
        )
        .await;
    wait_events(&s.store, "the edit", |e| {
        capture_of(e, &second).is_some_and(|c| c.text == "rolled back deploy 1234 and 1235")
    })
    .await;
    let t = timeline(&s, &room, "").await;
    assert!(t.contains("rolled back deploy 1234 and 1235"), "{t}");

    // Redacting it soft-deletes the capture: gone from the timeline, kept under --all.
    s.alice.redact(&room, &second).await;
    wait_events(&s.store, "the redaction", |e| {
        capture_of(e, &second).is_some_and(|c| c.deleted_at.is_some())
    })
    .await;
    let t = timeline(&s, &room, "").await;
    assert!(!t.contains("rolled back"), "{t}");
    let all = timeline(&s, &room, " --all").await;
    assert!(
        all.lines()
            .any(|l| l.contains("rolled back deploy 1234 and 1235") && l.ends_with("(deleted)")),
        "{all}"
    );

    // A message edited before it is pinned is captured with its latest text (the homeserver
    // bundles the edit with the event).
    let fourth = bob.say(&room, "DB failover at 10:02").await;
    bob.send(
        &room,
        "m.room.message",
        json!({
            "msgtype": "m.text",
            "body": "* DB failover at 10:04",
            "m.new_content": {"msgtype": "m.text", "body": "DB failover at 10:04"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": fourth},
        }),
    )
    .await;
    s.alice
        .put_state(&room, "m.room.pinned_events", json!({"pinned": [fourth]}))
        .await;
    let events = wait_events(&s.store, "the edited message's capture", |e| {
        capture_of(e, &fourth).is_some()
    })
    .await;
    assert_eq!(
        capture_of(&events, &fourth).expect("captured").text,
        "DB failover at 10:04"
    );
    let live: Vec<&str> = captured(&events)
        .into_iter()
        .filter(|e| e.deleted_at.is_none())
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(live, ["DB failover at 10:04"]);

    s.bot.stop().await;
}

#[tokio::test]
async fn the_lead_is_invited_too_and_named_in_the_topic() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let s = setup(&synapse).await;
    let bob = synapse.register(&unique("bob"), "bob-password").await;
    let lead = format!("matrix:{}", bob.user_id);
    // The lead is named the Matrix way, `@bob:server`.
    let reply = ask(
        &s.alice,
        &s.announce,
        &s.bot_user.user_id,
        &format!("!inc declare Search down --sev 1 --lead {}", bob.user_id),
        |e| body(e).starts_with("Declared #1 Search down"),
    )
    .await;
    let incident = stored_incident(&s.store, 1).await.expect("incident #1");
    assert_eq!(incident.lead.as_deref(), Some(lead.as_str()), "{reply}");
    let room = incident
        .room
        .as_deref()
        .and_then(|r| r.strip_prefix("matrix:"))
        .unwrap_or_else(|| panic!("no incident room: {reply}"))
        .to_owned();
    let topic = s
        .bot_user
        .state(&room, "m.room.topic")
        .await
        .expect("m.room.topic");
    assert_eq!(topic["topic"], format!("#1 Search down · sev 1 · {lead}"));
    for user in [&s.alice, &bob] {
        assert_eq!(
            s.bot_user.membership(&room, &user.user_id).await.as_deref(),
            Some("invite"),
            "{} is invited",
            user.user_id
        );
    }
    // The lead can take part: join and be answered there without naming the incident.
    bob.join(&room).await;
    let status = ask(&bob, &room, &s.bot_user.user_id, "!inc status", |e| {
        body(e).contains("Search down")
    })
    .await;
    assert!(body(&status).contains(&lead), "{status:#}");
    // A name that is no Matrix user is refused before anything changes.
    let refused = ask(&bob, &room, &s.bot_user.user_id, "!inc lead @nobody", |e| {
        body(e).contains("is not a user")
    })
    .await;
    assert!(
        body(&refused)
            .contains("`@nobody` is not a user on matrix: `nobody` is not a Matrix user id"),
        "{refused:#}"
    );
    let incident = stored_incident(&s.store, 1).await.expect("incident #1");
    assert_eq!(incident.lead.as_deref(), Some(lead.as_str()));

    s.bot.stop().await;
}

#[tokio::test]
async fn pin_in_a_thread_pins_and_captures_the_message_the_thread_hangs_off() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let s = setup(&synapse).await;
    let (room, _) = declare(&s).await;
    s.alice.join(&room).await;
    let root = s.alice.say(&room, "p99 latency 4s on /search").await;
    let before: Vec<Value> = s
        .alice
        .messages_from(&room, &s.bot_user.user_id)
        .await
        .into_iter()
        .map(|e| e["event_id"].clone())
        .collect();
    s.alice
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "!inc pin",
                "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": true,
                                 "m.in_reply_to": {"event_id": root}},
            }),
        )
        .await;
    let answer = s
        .alice
        .wait_for(&room, &s.bot_user.user_id, "the pin answer", |e| {
            !before.contains(&e["event_id"]) && body(e).contains("timeline")
        })
        .await;
    assert!(
        body(&answer).starts_with("The message this thread hangs off is in #1's timeline as E"),
        "{answer:#}"
    );
    assert_eq!(answer["content"]["m.relates_to"]["event_id"], root.as_str());
    // The bot pinned it on the homeserver…
    let pins = s
        .alice
        .state(&room, "m.room.pinned_events")
        .await
        .expect("pins");
    assert_eq!(pins["pinned"], json!([root]));
    // …and the capture gets the message's text from the backend's report of that pin.
    let events = wait_events(&s.store, "the thread root's text", |e| {
        capture_of(e, &root).is_some_and(|c| c.text == "p99 latency 4s on /search")
    })
    .await;
    assert_eq!(captured(&events).len(), 1, "captured once: {events:#?}");

    s.bot.stop().await;
}

#[tokio::test]
async fn pin_as_a_reply_pins_and_captures_the_message_replied_to() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let s = setup(&synapse).await;
    let (room, _) = declare(&s).await;
    s.alice.join(&room).await;
    let earlier = s.alice.say(&room, "queue depth 90k on orders").await;
    let before: Vec<Value> = s
        .alice
        .messages_from(&room, &s.bot_user.user_id)
        .await
        .into_iter()
        .map(|e| e["event_id"].clone())
        .collect();
    // A reply with the legacy fallback, as clients send it.
    s.alice
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "> <@alice> queue depth 90k on orders\n\n!inc pin",
                "m.relates_to": {"m.in_reply_to": {"event_id": earlier}},
            }),
        )
        .await;
    let answer = s
        .alice
        .wait_for(&room, &s.bot_user.user_id, "the pin answer", |e| {
            !before.contains(&e["event_id"]) && body(e).contains("timeline")
        })
        .await;
    assert!(
        body(&answer).starts_with("The message you replied to is in #1's timeline as E"),
        "{answer:#}"
    );
    // The bot pinned it on the homeserver, and the pin's report fills in its text.
    let pins = s
        .alice
        .state(&room, "m.room.pinned_events")
        .await
        .expect("pins");
    assert_eq!(pins["pinned"], json!([earlier]));
    let events = wait_events(&s.store, "the replied-to message's text", |e| {
        capture_of(e, &earlier).is_some_and(|c| c.text == "queue depth 90k on orders")
    })
    .await;
    assert_eq!(captured(&events).len(), 1, "captured once: {events:#?}");

    s.bot.stop().await;
}
