//! Who talked in an incident's room: message counts for the report, and observers who become
//! participants after a few messages.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use ferrbot::testing::caps;
use ferrbot_plugin_incident::model::EventKind;
use support::{bot_with, events, incident};

const ALICE: &str = "slack:alice";
const CAROL: &str = "slack:carol";

async fn ask_in(bot: &ferrbot::testing::TestBot, room: &str, user: &str, text: &str) -> String {
    bot.say_in(room, user, text).await;
    bot.next_reply().await.plain()
}

/// Reads replies until one contains `needle` (the declare also posts a welcome and more).
async fn reply_containing(bot: &ferrbot::testing::TestBot, needle: &str) -> String {
    for _ in 0..10 {
        let text = bot.next_reply().await.plain();
        if text.contains(needle) {
            return text;
        }
    }
    panic!("no reply containing `{needle}`");
}

#[tokio::test]
async fn messages_in_the_incident_room_count_and_observers_join_after_three() {
    let bot = bot_with("slack", caps::slack(), "create_room = \"always\"\n").await;
    bot.say_in("slack:general", ALICE, "!inc declare Checkout 502s --sev 2")
        .await;
    reply_containing(&bot, "Declared #1").await;
    let room = incident(&bot, 1).await.room.expect("an incident room");
    while bot
        .try_next_reply(std::time::Duration::from_millis(200))
        .await
        .is_some()
    {}

    for text in ["looking at the LB", "rolled back"] {
        bot.say_in(&room, ALICE, text).await;
    }
    // Talk elsewhere does not count.
    bot.say_in("slack:general", CAROL, "anyone seen checkout errors?")
        .await;
    for text in ["I see 502s too", "from eu-west", "since 14:00"] {
        bot.say_in(&room, CAROL, text).await;
    }

    let joined: Vec<String> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Participant)
        .map(|e| e.text)
        .collect();
    assert_eq!(
        joined,
        ["slack:carol joined (3 messages in the incident's room)"],
        "only carol joined, on her third message"
    );

    let people = ask_in(&bot, &room, ALICE, "!inc participants").await;
    assert!(people.contains("slack:alice"), "{people}");
    assert!(people.contains("2 messages"), "{people}");
    assert!(people.contains("slack:carol"), "{people}");
    assert!(people.contains("3 messages"), "{people}");

    // Once resolved, talk in the room no longer counts.
    ask_in(&bot, &room, ALICE, "!inc resolve rolled back").await;
    while bot
        .try_next_reply(std::time::Duration::from_millis(200))
        .await
        .is_some()
    {}
    bot.say_in(&room, CAROL, "thanks all").await;
    let report = ask_in(&bot, &room, ALICE, "!inc report").await;
    assert!(
        report.contains("- slack:carol (joined") && report.contains(", 3 messages)"),
        "{report}"
    );
    assert!(report.contains(", 2 messages)"), "{report}");
}

#[tokio::test]
async fn observers_are_counted_but_never_joined_when_switched_off() {
    let bot = bot_with(
        "slack",
        caps::slack(),
        "create_room = \"always\"\nauto_join_after = 0\n",
    )
    .await;
    bot.say_in("slack:general", ALICE, "!inc declare Queue stuck")
        .await;
    reply_containing(&bot, "Declared #1").await;
    let room = incident(&bot, 1).await.room.expect("an incident room");
    for n in 0..5 {
        bot.say_in(&room, CAROL, &format!("message {n}")).await;
    }
    assert!(
        !events(&bot, 1)
            .await
            .iter()
            .any(|e| e.kind == EventKind::Participant && e.text.contains("carol")),
        "carol stays an observer"
    );
}
