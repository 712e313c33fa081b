//! The incident plugin's automatic behaviour through the real dispatcher and the core's test
//! backend with capability switches (caps::slack / matrix / console): the headline post
//! (edited in place or followed by change lines), incident rooms with name, topic and invites,
//! the thread and announce-room fallbacks, room-creation failures, capture of pins, reactions,
//! edits and deletions, and the `invite`, `room`, `rename` and `pin` commands (§4.9 checks 9–11).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;

use ferrbot::backend::{BackendError, MessageEvent};
use ferrbot::testing::{Op, Sent, TestBot, caps};
use ferrbot::{Capabilities, RoomId};
use ferrbot_plugin_incident::model::EventKind;
use support::{bot_with, events, incident};

/// Says `text` as `user` in `room` (thread `thread` if given) and returns everything the bot
/// sent in answer, in order.
async fn exchange(
    bot: &TestBot,
    room: &str,
    thread: Option<&str>,
    user: &str,
    text: &str,
) -> Vec<Sent> {
    match thread {
        Some(t) => bot.say_in_thread(room, t, user, text).await,
        None => bot.say_in(room, user, text).await,
    }
    let mut out = vec![bot.next_reply().await];
    while let Some(s) = bot.try_next_reply(Duration::from_millis(300)).await {
        out.push(s);
    }
    out
}

/// The message that went to `room` (no thread), panicking with everything sent otherwise.
fn in_room<'a>(sent: &'a [Sent], room: &str) -> &'a Sent {
    sent.iter()
        .find(|s| {
            s.room().map(ToString::to_string).as_deref() == Some(room) && s.thread().is_none()
        })
        .unwrap_or_else(|| panic!("nothing sent to {room}: {:#?}", plains(sent)))
}

fn plains(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .map(|s| format!("{} → {}", s.target, s.plain()))
        .collect()
}

/// Rooms created: name, topic, everyone invited (at creation or right after), id.
fn created_rooms(
    bot: &TestBot,
    backend: &str,
) -> Vec<(String, Option<String>, Vec<String>, RoomId)> {
    let ops = bot.ops(backend);
    ops.iter()
        .filter_map(|op| match op {
            Op::CreateRoom { spec, room } => {
                let mut invited: Vec<String> =
                    spec.invite.iter().map(ToString::to_string).collect();
                for later in &ops {
                    if let Op::Invite { room: r, users } = later
                        && r == room
                    {
                        invited.extend(users.iter().map(ToString::to_string));
                    }
                }
                Some((spec.name.clone(), spec.topic.clone(), invited, room.clone()))
            }
            _ => None,
        })
        .collect()
}

fn edits(bot: &TestBot, backend: &str) -> Vec<(String, String)> {
    bot.ops(backend)
        .into_iter()
        .filter_map(|op| match op {
            Op::Edit { message, new, .. } => Some((message.to_string(), new.to_plain("!"))),
            _ => None,
        })
        .collect()
}

fn topics(bot: &TestBot, backend: &str) -> Vec<String> {
    bot.ops(backend)
        .into_iter()
        .filter_map(|op| match op {
            Op::SetTopic { topic, .. } => Some(topic),
            _ => None,
        })
        .collect()
}

const SLACK_ROOMS: &str = "announce_room = \"slack:ops\"\ncreate_room = \"always\"\n";

#[tokio::test]
async fn slack_declare_creates_room_with_topic_invites_and_edits_the_headline() {
    let bot = bot_with("slack", caps::slack(), SLACK_ROOMS).await;
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Checkout 502s --sev 2 --lead @ana",
    )
    .await;
    let rooms = created_rooms(&bot, "slack");
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    let (name, topic, invited, room) = rooms[0].clone();
    assert_eq!(name, "inc-1-checkout-502s");
    assert_eq!(
        topic.as_deref(),
        Some("#1 Checkout 502s · sev 2 · slack:ana")
    );
    assert_eq!(invited, ["slack:alice", "slack:ana"]);

    // The headline: a card in the announce room with buttons.
    let headline = in_room(&sent, "slack:ops");
    let card = headline.card().expect("a card");
    assert_eq!(card.title, "🔥 #1 Checkout 502s");
    let plain = headline.plain();
    for part in [
        "Severity: sev2 (major)",
        "Lead: slack:ana",
        "Reporter: slack:alice",
        &format!("Room: {room}"),
        "Last update: none yet",
    ] {
        assert!(plain.contains(part), "{part} missing: {plain}");
    }
    let commands: Vec<&str> = headline
        .actions()
        .iter()
        .map(|a| a.command.as_str())
        .collect();
    assert!(commands.contains(&"incident ack #1"), "{commands:?}");
    assert!(commands.contains(&"incident resolve #1"), "{commands:?}");

    // The welcome message in the new room, the reply where declare ran.
    let welcome = in_room(&sent, &room.to_string()).plain();
    assert!(
        welcome.contains("Welcome to incident #1 Checkout 502s"),
        "{welcome}"
    );
    assert!(welcome.contains("!inc update <text>"), "{welcome}");
    assert!(
        welcome.contains("(or pin a message, or react with 📌)"),
        "{welcome}"
    );
    let reply = in_room(&sent, "slack:general").plain();
    assert!(reply.starts_with("Declared #1 Checkout 502s"), "{reply}");
    assert!(reply.contains(&format!("Room: {room}.")), "{reply}");
    let i = incident(&bot, 1).await;
    assert_eq!(i.room.as_deref(), Some(room.to_string().as_str()));
    assert_eq!(
        i.announcement.as_deref(),
        Some(headline.id.to_string().as_str())
    );

    // A change typed in the incident room needs no id: the headline is edited in place and
    // the room's topic follows; no change line is posted.
    let sent = exchange(
        &bot,
        &room.to_string(),
        None,
        "slack:ana",
        "!inc severity 1",
    )
    .await;
    assert_eq!(sent.len(), 1, "only the reply: {:?}", plains(&sent));
    assert_eq!(sent[0].plain(), "#1 severity is now sev1 (critical).");
    let e = edits(&bot, "slack");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, headline.id.to_string());
    assert!(e[0].1.contains("Severity: sev1 (critical)"), "{}", e[0].1);
    assert_eq!(
        topics(&bot, "slack"),
        ["#1 Checkout 502s · sev 1 · slack:ana"]
    );
    // A new title or lead reaches the topic too.
    exchange(
        &bot,
        &room.to_string(),
        None,
        "slack:ana",
        "!inc title Checkout 502s in EU",
    )
    .await;
    exchange(&bot, &room.to_string(), None, "slack:ana", "!inc lead @bob").await;
    assert_eq!(
        topics(&bot, "slack")[1..],
        [
            "#1 Checkout 502s in EU · sev 1 · slack:ana",
            "#1 Checkout 502s in EU · sev 1 · slack:bob"
        ]
    );
    // A status update shows on the headline too.
    exchange(
        &bot,
        &room.to_string(),
        None,
        "slack:bob",
        "!inc update rolled back",
    )
    .await;
    let e = edits(&bot, "slack");
    assert!(
        e.last().unwrap().1.contains("Last update: rolled back"),
        "{e:?}"
    );
    // Resolving it offers the report instead.
    exchange(
        &bot,
        &room.to_string(),
        None,
        "slack:bob",
        "!inc resolve fixed",
    )
    .await;
    let e = edits(&bot, "slack");
    let last = &e.last().unwrap().1;
    assert!(last.contains("✅ #1 Checkout 502s in EU"), "{last}");
    assert!(last.contains("incident report #1"), "{last}");
}

#[tokio::test]
async fn console_headline_gets_change_lines_and_commands_as_text() {
    let bot = bot_with(
        "console",
        caps::console(),
        "announce_room = \"console:ops\"\n",
    )
    .await;
    let sent = exchange(
        &bot,
        "console:general",
        None,
        "console:alice",
        "!inc declare DB failover --sev 2",
    )
    .await;
    let headline = in_room(&sent, "console:ops");
    assert!(headline.actions().is_empty(), "no buttons on the console");
    let plain = headline.plain();
    assert!(
        plain.contains("Commands: Ack: !incident ack #1 · Join: !incident join #1"),
        "{plain}"
    );
    assert!(
        plain.contains("Room: none — name #1 in commands"),
        "{plain}"
    );
    let reply = in_room(&sent, "console:general").plain();
    assert!(reply.contains("Headline posted in console:ops."), "{reply}");

    let sent = exchange(&bot, "console:general", None, "console:alice", "!inc sev 1").await;
    assert!(edits(&bot, "console").is_empty());
    assert_eq!(
        in_room(&sent, "console:ops").plain(),
        "🔥 #1 sev2 → sev1 by console:alice"
    );
    let sent = exchange(
        &bot,
        "console:general",
        None,
        "console:alice",
        "!inc stable",
    )
    .await;
    assert_eq!(
        in_room(&sent, "console:ops").plain(),
        "🩹 #1 marked stable by console:alice"
    );
    // Notes do not touch the headline.
    let sent = exchange(
        &bot,
        "console:general",
        None,
        "console:alice",
        "!inc note checked",
    )
    .await;
    assert_eq!(sent.len(), 1, "{:?}", plains(&sent));
}

#[tokio::test]
async fn without_room_creation_the_incident_lives_in_a_thread_under_the_headline() {
    let threads_only = Capabilities {
        create_rooms: false,
        ..caps::slack()
    };
    let bot = bot_with("slack", threads_only, SLACK_ROOMS).await;
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Queue stuck",
    )
    .await;
    assert!(created_rooms(&bot, "slack").is_empty());
    let headline = in_room(&sent, "slack:ops");
    assert!(
        headline
            .plain()
            .contains("Room: the thread under this post"),
        "{}",
        headline.plain()
    );
    let reply = in_room(&sent, "slack:general").plain();
    assert!(
        reply.contains("no incident rooms on this backend — using a thread under the headline"),
        "{reply}"
    );
    let welcome = sent
        .iter()
        .find(|s| s.thread().is_some())
        .unwrap_or_else(|| panic!("no threaded welcome: {:?}", plains(&sent)));
    assert_eq!(welcome.thread().unwrap().local(), headline.id.local());
    assert!(welcome.plain().starts_with("Welcome to incident #1"));
    let i = incident(&bot, 1).await;
    assert_eq!(i.room.as_deref(), Some("slack:ops"));
    assert_eq!(
        i.thread.as_deref(),
        Some(format!("slack:{}", headline.id.local()).as_str())
    );
    // A command in that thread finds the incident.
    let sent = exchange(
        &bot,
        "slack:ops",
        Some(headline.id.local()),
        "slack:bob",
        "!inc note looking at the consumer",
    )
    .await;
    assert!(
        sent[0].plain().starts_with("#1 noted as E"),
        "{:?}",
        plains(&sent)
    );
}

#[tokio::test]
async fn matrix_headline_lists_commands_as_text() {
    let bot = bot_with("matrix", caps::matrix(), "announce_room = \"matrix:ops\"\n").await;
    let sent = exchange(
        &bot,
        "matrix:general",
        None,
        "matrix:alice",
        "!inc declare Disk full",
    )
    .await;
    let headline = in_room(&sent, "matrix:ops");
    assert!(headline.actions().is_empty(), "matrix has no buttons");
    assert!(
        headline.plain().contains("Resolve: !incident resolve #1"),
        "{}",
        headline.plain()
    );
    // On demand: no room, a thread under the headline (matrix has threads), no fallback note.
    assert!(created_rooms(&bot, "matrix").is_empty());
    let reply = in_room(&sent, "matrix:general").plain();
    assert!(
        reply.contains("Conversation: the thread under the headline"),
        "{reply}"
    );
    assert!(!reply.contains("Note:"), "{reply}");
}

#[tokio::test]
async fn without_rooms_or_threads_the_announce_room_is_used_and_the_reply_says_so() {
    let bot = bot_with(
        "console",
        caps::console(),
        "announce_room = \"console:ops\"\ncreate_room = \"sev<=2\"\n",
    )
    .await;
    let sent = exchange(
        &bot,
        "console:general",
        None,
        "console:alice",
        "!inc declare Outage --sev 1",
    )
    .await;
    let reply = in_room(&sent, "console:general").plain();
    assert!(
        reply.contains("no incident rooms or threads on this backend — using the announce room"),
        "{reply}"
    );
    assert!(reply.contains("focus"), "{reply}");
    let i = incident(&bot, 1).await;
    assert_eq!((i.room, i.thread), (None, None));
    // `room` on demand is refused clearly.
    let sent = exchange(&bot, "console:general", None, "console:alice", "!inc room").await;
    assert!(
        sent[0]
            .plain()
            .contains("This chat network cannot create rooms"),
        "{:?}",
        plains(&sent)
    );
}

#[tokio::test]
async fn room_creation_failure_records_an_integration_event_and_declare_succeeds() {
    let bot = bot_with("slack", caps::slack(), SLACK_ROOMS).await;
    bot.fail_ops("slack", [BackendError::transient("server error 500")]);
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare API down --sev 1",
    )
    .await;
    let reply = in_room(&sent, "slack:general").plain();
    assert!(reply.starts_with("Declared #1 API down"), "{reply}");
    assert!(
        reply.contains("The incident room could not be created (chat operation failed: temporary failure: server error 500)"),
        "{reply}"
    );
    // The network can make rooms; this one failed. The reply must not say otherwise.
    assert!(
        reply.contains("It lives in the thread under the headline instead."),
        "{reply}"
    );
    assert!(
        !reply.contains("no incident rooms on this backend"),
        "{reply}"
    );
    let failures: Vec<String> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Integration)
        .map(|e| e.text)
        .collect();
    assert_eq!(
        failures,
        ["room creation failed: chat operation failed: temporary failure: server error 500"]
    );
    assert!(incident(&bot, 1).await.thread.is_some());
}

#[tokio::test]
async fn a_refused_room_is_not_retried_under_other_names() {
    // Networks whose names are unique add `-2` themselves; any other refusal (a bad
    // invitee, no permission) must not make the plugin create rooms until one sticks.
    let bot = bot_with("slack", caps::slack(), SLACK_ROOMS).await;
    bot.fail_ops("slack", [BackendError::rejected("restricted_action")]);
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Login errors",
    )
    .await;
    assert!(created_rooms(&bot, "slack").is_empty());
    let reply = in_room(&sent, "slack:general").plain();
    assert!(
        reply.contains("The incident room could not be created")
            && reply.contains("restricted_action"),
        "{reply}"
    );
    assert!(incident(&bot, 1).await.thread.is_some());
}

#[tokio::test]
async fn report_only_incidents_go_to_the_report_room_without_a_room() {
    let bot = bot_with(
        "slack",
        caps::slack(),
        "announce_room = \"slack:ops\"\nreport_room = \"slack:reports\"\ncreate_room = \"always\"\n",
    )
    .await;
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare --retro Cert expired --start -3h --end -2h",
    )
    .await;
    let headline = in_room(&sent, "slack:reports");
    assert_eq!(headline.card().unwrap().title, "✅ #1 Cert expired");
    assert!(
        sent.iter()
            .all(|s| s.room().map(ToString::to_string).as_deref() != Some("slack:ops"))
    );
    assert!(created_rooms(&bot, "slack").is_empty());
}

#[tokio::test]
async fn pins_reactions_edits_and_deletions_are_captured_in_the_timeline() {
    let bot = bot_with("slack", caps::slack(), SLACK_ROOMS).await;
    exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Checkout 502s",
    )
    .await;
    let room = incident(&bot, 1).await.room.unwrap();
    let room_id: RoomId = room.parse().unwrap();
    let msg = |local: &str| ferrbot::MessageId::new("slack", local).unwrap();
    let user = |local: &str| ferrbot::UserId::new("slack", local).unwrap();

    bot.message_event(
        "slack",
        MessageEvent::Pinned {
            room: room_id.clone(),
            message: msg("1700000000.000100"),
            by: Some(user("ana")),
            author: Some(user("bob")),
            text: Some("error rate 40% since deploy 1234".into()),
        },
    )
    .await;
    // The same pin reported twice is captured once.
    bot.message_event(
        "slack",
        MessageEvent::Pinned {
            room: room_id.clone(),
            message: msg("1700000000.000100"),
            by: Some(user("ana")),
            author: Some(user("bob")),
            text: Some("error rate 40% since deploy 1234".into()),
        },
    )
    .await;
    let captured: Vec<_> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Message)
        .collect();
    assert_eq!(captured.len(), 1, "{captured:?}");
    assert_eq!(captured[0].text, "error rate 40% since deploy 1234");
    assert_eq!(captured[0].actor, "slack:bob");
    assert_eq!(
        captured[0].message_ref.as_deref(),
        Some("slack:1700000000.000100")
    );
    let timeline = exchange(&bot, &room, None, "slack:ana", "!inc timeline").await;
    assert!(
        timeline[0]
            .plain()
            .contains("error rate 40% since deploy 1234"),
        "{}",
        timeline[0].plain()
    );

    // Editing the message updates the captured text.
    bot.message_event(
        "slack",
        MessageEvent::Edited {
            room: room_id.clone(),
            message: msg("1700000000.000100"),
            text: "error rate 45% since deploy 1234".into(),
        },
    )
    .await;
    let timeline = exchange(&bot, &room, None, "slack:ana", "!inc timeline").await;
    let t = timeline[0].plain();
    assert!(
        t.contains("error rate 45%") && !t.contains("error rate 40%"),
        "{t}"
    );

    // Unpinning soft-deletes it.
    bot.message_event(
        "slack",
        MessageEvent::Unpinned {
            room: room_id.clone(),
            message: msg("1700000000.000100"),
        },
    )
    .await;
    let e = events(&bot, 1).await;
    let pinned = e.iter().find(|e| e.kind == EventKind::Message).unwrap();
    assert!(pinned.deleted_at.is_some());
    let timeline = exchange(&bot, &room, None, "slack:ana", "!inc timeline").await;
    assert!(
        !timeline[0].plain().contains("error rate"),
        "{}",
        timeline[0].plain()
    );

    // The timeline reaction captures; other reactions do not; deletion soft-deletes.
    for (reaction, local) in [
        ("pushpin", "1700000000.000200"),
        ("tada", "1700000000.000300"),
    ] {
        bot.message_event(
            "slack",
            MessageEvent::ReactionAdded {
                room: room_id.clone(),
                message: msg(local),
                by: user("carol"),
                reaction: reaction.into(),
                text: Some(format!("message {local}")),
            },
        )
        .await;
    }
    let live: Vec<String> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Message && e.deleted_at.is_none())
        .map(|e| e.text)
        .collect();
    assert_eq!(live, ["message 1700000000.000200"]);
    bot.message_event(
        "slack",
        MessageEvent::Deleted {
            room: room_id.clone(),
            message: msg("1700000000.000200"),
        },
    )
    .await;
    assert!(
        events(&bot, 1)
            .await
            .iter()
            .filter(|e| e.kind == EventKind::Message)
            .all(|e| e.deleted_at.is_some())
    );

    // A pin in a room that is no incident's is ignored.
    bot.message_event(
        "slack",
        MessageEvent::Pinned {
            room: "slack:random".parse().unwrap(),
            message: msg("1700000000.000400"),
            by: None,
            author: None,
            text: Some("lunch?".into()),
        },
    )
    .await;
    assert!(events(&bot, 1).await.iter().all(|e| e.text != "lunch?"));
}

#[tokio::test]
async fn room_invite_rename_and_pin_commands() {
    let bot = bot_with("slack", caps::slack(), "announce_room = \"slack:ops\"\n").await;
    exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Search slow --lead @bob",
    )
    .await;
    assert!(created_rooms(&bot, "slack").is_empty(), "on demand");

    // Before it has a room, `invite` tells people where it is: in its thread and by DM.
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:bob",
        "!inc invite @erin",
    )
    .await;
    let reply = in_room(&sent, "slack:general").plain();
    assert!(
        reply.ends_with(
            "Told them in the thread under its headline in slack:ops and by direct message."
        ),
        "{reply}"
    );
    let dm = sent
        .iter()
        .find(|s| s.direct_to().map(ToString::to_string).as_deref() == Some("slack:erin"))
        .unwrap_or_else(|| panic!("no DM: {:?}", plains(&sent)));
    assert_eq!(
        dm.plain(),
        "slack:erin: slack:bob invited you to incident #1 Search slow — it is in the thread under \
         its headline in slack:ops."
    );
    assert!(
        sent.iter()
            .any(|s| s.thread().is_some() && s.plain() == dm.plain())
    );

    // `room` makes one on demand (the caller invited), then shows it.
    let sent = exchange(&bot, "slack:general", None, "slack:bob", "!inc room").await;
    let rooms = created_rooms(&bot, "slack");
    assert_eq!(rooms.len(), 1, "{:?}", plains(&sent));
    let room = rooms[0].3.to_string();
    assert_eq!(rooms[0].2, ["slack:alice", "slack:bob"]);
    assert_eq!(
        in_room(&sent, "slack:general").plain(),
        format!("Created {room} for #1 Search slow.")
    );
    let headline = bot
        .ops("slack")
        .into_iter()
        .filter_map(|op| match op {
            Op::Edit { new, .. } => Some(new.to_plain("!")),
            _ => None,
        })
        .last()
        .expect("the headline was edited");
    assert!(headline.contains(&format!("Room: {room}")), "{headline}");
    let sent = exchange(&bot, &room, None, "slack:bob", "!inc room").await;
    assert_eq!(
        sent[0].plain(),
        format!("#1 Search slow has its room: {room}.")
    );

    // invite: into the room and the participants.
    let sent = exchange(
        &bot,
        &room,
        None,
        "slack:alice",
        "!inc invite @carol slack:dave",
    )
    .await;
    assert_eq!(
        sent[0].plain(),
        format!(
            "Invited slack:carol, slack:dave to #1 Search slow (participants now). Added to {room}."
        )
    );
    let invites: Vec<Vec<String>> = bot
        .ops("slack")
        .into_iter()
        .filter_map(|op| match op {
            Op::Invite { users, .. } => Some(users.iter().map(ToString::to_string).collect()),
            _ => None,
        })
        .collect();
    // The room's creation invited alice and bob one by one; `invite` sends one call.
    assert_eq!(
        invites,
        [
            vec!["slack:alice"],
            vec!["slack:bob"],
            vec!["slack:carol", "slack:dave"]
        ]
    );
    let sent = exchange(&bot, &room, None, "slack:alice", "!inc participants").await;
    let p = sent[0].plain();
    assert!(p.contains("slack:carol") && p.contains("slack:dave"), "{p}");

    // Bad input: a non-user, an empty mention.
    for bad in ["!inc invite carol", "!inc invite @"] {
        let sent = exchange(&bot, &room, None, "slack:alice", bad).await;
        assert!(
            sent[0]
                .plain()
                .contains("is not a user: write @name or backend:id"),
            "{bad}: {}",
            sent[0].plain()
        );
    }
    let sent = exchange(&bot, &room, None, "slack:alice", "!inc invite ghost:erin").await;
    assert!(
        sent[0]
            .plain()
            .contains("not a user of a chat network this bot is on"),
        "{}",
        sent[0].plain()
    );

    // rename: the room is renamed on the chat network by the room-name rules, and the
    // timeline records who did it.
    let renames = |bot: &TestBot| -> Vec<(String, String)> {
        bot.ops("slack")
            .into_iter()
            .filter_map(|op| match op {
                Op::RenameRoom { room, name } => Some((room.to_string(), name)),
                _ => None,
            })
            .collect()
    };
    let sent = exchange(
        &bot,
        &room,
        None,
        "slack:alice",
        "!inc rename Search War-Room!",
    )
    .await;
    assert_eq!(
        sent[0].plain(),
        format!("Renamed {room} to `search-war-room` (#1 Search slow).")
    );
    assert_eq!(
        renames(&bot),
        [(room.clone(), "search-war-room".to_owned())]
    );
    let renamed = events(&bot, 1)
        .await
        .into_iter()
        .find(|e| e.text == format!("room {room} renamed to search-war-room"))
        .expect("the rename is in the timeline");
    assert_eq!(renamed.kind, EventKind::Integration);
    assert_eq!(renamed.actor, "slack:alice");

    // Names without letters or digits, or over the limit, are refused before the network.
    let long = format!("!inc rename {}", "x".repeat(81));
    for (bad, says) in [
        (
            "!inc rename !!!",
            "leaves no room name: use letters or digits (at most 80",
        ),
        (
            long.as_str(),
            "is 81 characters long; a room name has at most 80.",
        ),
    ] {
        let sent = exchange(&bot, &room, None, "slack:alice", bad).await;
        assert!(sent[0].plain().contains(says), "{bad}: {}", sent[0].plain());
    }
    assert_eq!(renames(&bot).len(), 1);

    // The network's refusal reaches the caller and the timeline; nothing is renamed.
    bot.fail_ops("slack", [BackendError::rejected("name_taken")]);
    let sent = exchange(&bot, &room, None, "slack:alice", "!inc rename general").await;
    assert!(
        sent[0].plain().contains(&format!(
            "{room} could not be renamed to `general`: rejected: name_taken"
        )),
        "{}",
        sent[0].plain()
    );
    assert_eq!(renames(&bot).len(), 1);
    assert!(events(&bot, 1).await.iter().any(|e| {
        e.kind == EventKind::Integration
            && e.text
                .starts_with(&format!("renaming room {room} to general failed"))
    }));

    // Where the network cannot rename rooms (console caps, here able to create rooms so the
    // incident has one of its own), the caller is told to rename it in the chat client.
    let console = bot_with(
        "console",
        Capabilities {
            create_rooms: true,
            ..caps::console()
        },
        "",
    )
    .await;
    exchange(
        &console,
        "console:ops",
        None,
        "console:alice",
        "!inc declare Disk full",
    )
    .await;
    exchange(&console, "console:ops", None, "console:alice", "!inc room").await;
    let console_room = created_rooms(&console, "console")[0].3.to_string();
    let sent = exchange(
        &console,
        &console_room,
        None,
        "console:alice",
        "!inc rename Disk War Room",
    )
    .await;
    assert_eq!(
        sent[0].plain(),
        format!(
            "This chat network does not let the bot rename rooms; rename {console_room} to \
             `disk-war-room` in your chat client."
        )
    );
    assert!(
        !console
            .ops("console")
            .iter()
            .any(|op| matches!(op, Op::RenameRoom { .. }))
    );

    // pin inside a thread: the message the thread hangs off, pinned and captured; its text
    // arrives with the backend's pin report (captured once).
    let sent = exchange(
        &bot,
        &room,
        Some("1700000000.000900"),
        "slack:alice",
        "!inc pin",
    )
    .await;
    assert!(
        sent[0]
            .plain()
            .starts_with("The message this thread hangs off is in #1's timeline as E"),
        "{}",
        sent[0].plain()
    );
    assert!(
        sent[0].plain().ends_with("Pinned here."),
        "{}",
        sent[0].plain()
    );
    assert!(bot.ops("slack").iter().any(|op| matches!(
        op,
        Op::Pin { message, .. } if message.to_string() == "slack:1700000000.000900"
    )));
    bot.message_event(
        "slack",
        MessageEvent::Pinned {
            room: room.parse().unwrap(),
            message: "slack:1700000000.000900".parse().unwrap(),
            by: Some("slack:alice".parse().unwrap()),
            author: Some("slack:bob".parse().unwrap()),
            text: Some("shard 3 is the hot one".into()),
        },
    )
    .await;
    let captured: Vec<String> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.message_ref.as_deref() == Some("slack:1700000000.000900"))
        .map(|e| e.text)
        .collect();
    assert_eq!(captured, ["shard 3 is the hot one"]);
    let sent = exchange(
        &bot,
        &room,
        Some("1700000000.000900"),
        "slack:alice",
        "!inc pin",
    )
    .await;
    assert!(
        sent[0]
            .plain()
            .starts_with("That message is already in #1's timeline as E"),
        "{}",
        sent[0].plain()
    );

    // pin: needs text outside a thread; with text it is kept in the timeline.
    let sent = exchange(&bot, &room, None, "slack:alice", "!inc pin").await;
    assert!(
        sent[0].plain().contains("Give the text to keep"),
        "{}",
        sent[0].plain()
    );
    let sent = exchange(
        &bot,
        &room,
        None,
        "slack:alice",
        "!inc pin the index rebuild is at 80%",
    )
    .await;
    assert!(
        sent[0].plain().starts_with("Kept in #1's timeline as E"),
        "{}",
        sent[0].plain()
    );
    let timeline = exchange(&bot, &room, None, "slack:alice", "!inc timeline").await;
    assert!(
        timeline[0].plain().contains("the index rebuild is at 80%"),
        "{}",
        timeline[0].plain()
    );
}

#[tokio::test]
async fn headline_failures_never_fail_the_command() {
    let bot = bot_with("slack", caps::slack(), "announce_room = \"slack:ops\"\n").await;
    bot.fail_sends("slack", [BackendError::rejected("channel_not_found")]);
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Cache cold",
    )
    .await;
    let reply = in_room(&sent, "slack:general").plain();
    assert!(reply.starts_with("Declared #1 Cache cold"), "{reply}");
    assert!(
        reply.contains("The headline could not be posted in slack:ops"),
        "{reply}"
    );
    assert!(
        events(&bot, 1)
            .await
            .iter()
            .any(|e| e.kind == EventKind::Integration && e.text.starts_with("headline not posted"))
    );
    assert_eq!(incident(&bot, 1).await.announcement, None);
    // Later changes work as ever (there is no headline to update).
    let sent = exchange(&bot, "slack:general", None, "slack:alice", "!inc sev 2").await;
    assert_eq!(sent.len(), 1, "{:?}", plains(&sent));
    assert_eq!(sent[0].plain(), "#1 severity is now sev2 (major).");
}

#[tokio::test]
async fn a_refused_edit_falls_back_to_a_change_line_in_the_headline_thread() {
    let bot = bot_with("slack", caps::slack(), SLACK_ROOMS).await;
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Cache cold",
    )
    .await;
    let headline = in_room(&sent, "slack:ops").id.clone();
    let room = incident(&bot, 1).await.room.unwrap();
    bot.fail_ops("slack", [BackendError::rejected("message_not_found")]);
    let sent = exchange(&bot, &room, None, "slack:alice", "!inc lead @ana").await;
    let line = sent
        .iter()
        .find(|s| s.thread().is_some())
        .unwrap_or_else(|| panic!("no change line: {:?}", plains(&sent)));
    assert_eq!(line.room().unwrap().to_string(), "slack:ops");
    assert_eq!(line.thread().unwrap().local(), headline.local());
    assert!(line.plain().starts_with("🔥 #1 "), "{}", line.plain());
    assert!(line.plain().ends_with("by slack:alice"), "{}", line.plain());
    assert!(edits(&bot, "slack").is_empty());
}

#[tokio::test]
async fn private_incidents_get_a_private_room_and_a_headline_without_details() {
    let bot = bot_with("slack", caps::slack(), SLACK_ROOMS).await;
    let sent = exchange(
        &bot,
        "slack:general",
        None,
        "slack:alice",
        "!inc declare Payroll data exposed --private --sev 1",
    )
    .await;
    let created: Vec<bool> = bot
        .ops("slack")
        .into_iter()
        .filter_map(|op| match op {
            Op::CreateRoom { spec, .. } => Some(spec.private),
            _ => None,
        })
        .collect();
    assert_eq!(created, [true]);
    let headline = in_room(&sent, "slack:ops").plain();
    assert!(headline.contains("🔒 #1 (private incident)"), "{headline}");
    assert!(!headline.contains("Payroll"), "{headline}");
}

#[tokio::test]
async fn pin_as_a_reply_pins_and_captures_the_message_replied_to() {
    let bot = bot_with(
        "discord",
        caps::discord(),
        "announce_room = \"discord:ops\"\ncreate_room = \"always\"\n",
    )
    .await;
    exchange(
        &bot,
        "discord:general",
        None,
        "discord:alice",
        "!inc declare Queue backlog",
    )
    .await;
    let room = incident(&bot, 1).await.room.unwrap();

    // A reply `!inc pin` to message 900: that message is pinned and captured, not the command.
    bot.say_reply(&room, "discord:alice", "900", "!inc pin")
        .await;
    let reply = bot.next_reply().await.plain();
    assert!(
        reply.starts_with("The message you replied to is in #1's timeline as E"),
        "{reply}"
    );
    assert!(reply.ends_with("Pinned here."), "{reply}");
    assert!(bot.ops("discord").iter().any(|op| matches!(
        op,
        Op::Pin { message, .. } if message.to_string() == "discord:900"
    )));
    let timeline = exchange(&bot, &room, None, "discord:alice", "!inc timeline").await;
    assert!(
        timeline[0].plain().contains("(message discord:900)"),
        "{}",
        timeline[0].plain()
    );
    // Its text arrives with the network's next report about it (an edit on Discord).
    bot.message_event(
        "discord",
        MessageEvent::Edited {
            room: room.parse().unwrap(),
            message: "discord:900".parse().unwrap(),
            text: "consumers are stuck on partition 7".into(),
        },
    )
    .await;
    let captured: Vec<String> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.message_ref.as_deref() == Some("discord:900"))
        .map(|e| e.text)
        .collect();
    assert_eq!(captured, ["consumers are stuck on partition 7"]);
    // The same reply again finds it already kept.
    bot.say_reply(&room, "discord:bob", "900", "!inc pin").await;
    let reply = bot.next_reply().await.plain();
    assert!(
        reply.starts_with("That message is already in #1's timeline as E"),
        "{reply}"
    );

    // With text, a reply keeps the text as the replied-to message's.
    bot.say_reply(
        &room,
        "discord:alice",
        "901",
        "!inc pin restarted the consumers",
    )
    .await;
    let reply = bot.next_reply().await.plain();
    assert!(
        reply.starts_with("The message you replied to is in #1's timeline as E")
            && reply.contains(", with your text."),
        "{reply}"
    );
    let kept: Vec<String> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.message_ref.as_deref() == Some("discord:901"))
        .map(|e| e.text)
        .collect();
    assert_eq!(kept, ["restarted the consumers"]);

    // No reply, no thread, no text: the clear error, and nothing pinned or kept.
    let pins_before = bot
        .ops("discord")
        .iter()
        .filter(|op| matches!(op, Op::Pin { .. }))
        .count();
    let events_before = events(&bot, 1).await.len();
    let sent = exchange(&bot, &room, None, "discord:alice", "!inc pin").await;
    assert!(
        sent[0]
            .plain()
            .contains("Give the text to keep, or send the command as a reply to the message"),
        "{}",
        sent[0].plain()
    );
    assert!(
        sent[0]
            .plain()
            .contains("reply to the message with !inc pin"),
        "{}",
        sent[0].plain()
    );
    assert_eq!(
        bot.ops("discord")
            .iter()
            .filter(|op| matches!(op, Op::Pin { .. }))
            .count(),
        pins_before
    );
    assert_eq!(events(&bot, 1).await.len(), events_before);
}
