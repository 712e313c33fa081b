//! Storm control, duplicate deliveries, and follow-ups threaded under their card — each on a
//! backend that can edit and thread, and on ones that cannot.

use std::time::Duration;

use ferrbot::backend::Capabilities;
use ferrbot::message::Level;
use ferrbot::testing::{Op, TestBot, caps};

use crate::support::{QUIET, SECRET, eventually, field, fixture, next_card, plugin, post_signed};

/// A bot whose `alerts` route posts to `<backend>:alerts`.
async fn storm_bot(backend: &str, capabilities: Capabilities, storm: &str) -> TestBot {
    let section = format!(
        r#"{storm}

[[routes]]
name = "alerts"
room = "{backend}:alerts"
secrets = ["{SECRET}"]
organization = "test-org"
"#
    );
    TestBot::builder()
        .plugin(plugin(&section))
        .backend(backend, capabilities)
        .web()
        .build()
        .await
}

fn edits(bot: &TestBot, backend: &str) -> Vec<(String, ferrbot::OutgoingMessage)> {
    bot.ops(backend)
        .into_iter()
        .filter_map(|op| match op {
            Op::Edit { message, new, .. } => Some((message.to_string(), new)),
            _ => None,
        })
        .collect()
}

fn repeats(message: &ferrbot::OutgoingMessage) -> Option<String> {
    field(message.card.as_ref()?, "Repeats")
}

#[tokio::test]
async fn repeats_edit_the_card_where_the_backend_can_edit() {
    let bot = storm_bot(
        "slack",
        caps::slack(),
        "[storm]\nwindow = \"10m\"\nupdate_interval = \"0s\"",
    )
    .await;
    let body = fixture("issue-created.json");
    let first = post_signed(&bot, "alerts", "issue", body.clone(), SECRET, "r1").await;
    assert_eq!(first.json["status"], "posted");
    let (card_msg, card) = next_card(&bot).await;
    assert_eq!(card.title, "ReferenceError: blooopy is not defined");
    for (i, id) in ["r2", "r3"].iter().enumerate() {
        let answer = post_signed(&bot, "alerts", "issue", body.clone(), SECRET, id).await;
        assert_eq!(answer.status, 202);
        assert_eq!(answer.json["status"], "folded", "repeat {i}");
    }
    eventually("an edit showing ×3", || {
        edits(&bot, "slack")
            .last()
            .and_then(|(_, m)| repeats(m))
            .is_some_and(|r| r == "×3 since 00:00 UTC")
    })
    .await;
    let all = edits(&bot, "slack");
    assert!(all.iter().all(|(id, _)| *id == card_msg.id.to_string()));
    // The edited card is the original plus the count.
    let (_, edited) = all.last().unwrap();
    assert_eq!(edited.card.as_ref().unwrap().title, card.title);
    // No new message: a storm is one message.
    bot.assert_silent(QUIET).await;

    // A redelivery (same Request-ID) is dropped: no count, no edit.
    let before = edits(&bot, "slack").len();
    let dup = post_signed(&bot, "alerts", "issue", body.clone(), SECRET, "r3").await;
    assert_eq!(dup.status, 200);
    assert_eq!(dup.json["status"], "duplicate");
    bot.assert_silent(QUIET).await;
    assert_eq!(edits(&bot, "slack").len(), before);

    // After the window, the issue gets a fresh card.
    bot.clock().advance(Duration::from_secs(601));
    let again = post_signed(&bot, "alerts", "issue", body, SECRET, "r4").await;
    assert_eq!(again.json["status"], "posted");
    let (next, _) = next_card(&bot).await;
    assert_ne!(next.id, card_msg.id);
}

#[tokio::test]
async fn repeats_become_threaded_notes_where_the_backend_cannot_edit() {
    let no_edits = Capabilities {
        edits: false,
        ..caps::discord()
    };
    let bot = storm_bot(
        "noedit",
        no_edits,
        "[storm]\nwindow = \"10m\"\nnote_interval = \"0s\"",
    )
    .await;
    let body = fixture("issue-created.json");
    post_signed(&bot, "alerts", "issue", body.clone(), SECRET, "r1").await;
    let (card_msg, _) = next_card(&bot).await;
    let answer = post_signed(&bot, "alerts", "issue", body, SECRET, "r2").await;
    assert_eq!(answer.json["status"], "folded");
    let note = bot.next_reply().await;
    assert_eq!(note.text(), "×2 — seen 2 times since 00:00 UTC");
    assert_eq!(note.room().unwrap().to_string(), "noedit:alerts");
    assert_eq!(
        note.thread().unwrap().to_string(),
        format!("noedit:{}", card_msg.id.local())
    );
    assert!(bot.ops("noedit").is_empty());
}

#[tokio::test]
async fn without_threads_or_edits_the_note_names_the_issue() {
    let plain = Capabilities {
        direct_messages: true,
        ..caps::console()
    };
    let bot = storm_bot("plain", plain, "[storm]\nnote_interval = \"0s\"").await;
    let body = fixture("issue-created.json");
    post_signed(&bot, "alerts", "issue", body.clone(), SECRET, "r1").await;
    next_card(&bot).await;
    post_signed(&bot, "alerts", "issue", body, SECRET, "r2").await;
    let note = bot.next_reply().await;
    assert_eq!(note.thread(), None);
    assert_eq!(
        note.text(),
        "×2 — seen 2 times since 00:00 UTC: FRONT-END-9"
    );
}

#[tokio::test]
async fn held_back_counts_are_shown_by_the_storm_job() {
    let bot = storm_bot(
        "slack",
        caps::slack(),
        "[storm]\nwindow = \"10m\"\nupdate_interval = \"1m\"",
    )
    .await;
    let body = fixture("issue-created.json");
    post_signed(&bot, "alerts", "issue", body.clone(), SECRET, "r1").await;
    next_card(&bot).await;
    for id in ["r2", "r3", "r4"] {
        post_signed(&bot, "alerts", "issue", body.clone(), SECRET, id).await;
    }
    // Within the update interval: no edit yet, however many repeats.
    bot.assert_silent(QUIET).await;
    bot.run_jobs().await;
    assert!(edits(&bot, "slack").is_empty());
    bot.clock().advance(Duration::from_secs(61));
    bot.run_jobs().await;
    eventually("the held-back count", || {
        edits(&bot, "slack")
            .last()
            .and_then(|(_, m)| repeats(m))
            .is_some_and(|r| r == "×4 since 00:00 UTC")
    })
    .await;
    assert_eq!(edits(&bot, "slack").len(), 1);
}

/// Waits until the bot has noted which message the card became (done after delivery).
async fn card_remembered(bot: &TestBot) {
    let store = bot.context("sentry").store();
    for _ in 0..200 {
        if !store.list("threads/").await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the card's message was never remembered");
}

fn resolved_for_front_end_9() -> Vec<u8> {
    // A compact `issue.resolved` for the issue of issue-created.json (built here: the
    // published resolved body is about another issue).
    br#"{"action":"resolved","actor":{"type":"user","id":1,"name":"Ann"},"data":{"resolution_type":"in_next_release","issue":{"id":"1170820242","shortId":"FRONT-END-9","title":"ReferenceError: blooopy is not defined","status":"resolved","project":{"slug":"front-end"}}},"installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}}"#.to_vec()
}

#[tokio::test]
async fn follow_ups_are_threaded_under_the_card_and_grey_it_out() {
    let bot = storm_bot("slack", caps::slack(), "").await;
    post_signed(
        &bot,
        "alerts",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    let (card_msg, _) = next_card(&bot).await;
    card_remembered(&bot).await;
    let answer = post_signed(
        &bot,
        "alerts",
        "issue",
        resolved_for_front_end_9(),
        SECRET,
        "r2",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let line = bot.next_reply().await;
    assert_eq!(line.text(), "✅ Resolved by Ann (in next release)");
    assert_eq!(
        line.thread().unwrap().to_string(),
        format!("slack:{}", card_msg.id.local())
    );
    eventually("the card marked resolved", || {
        edits(&bot, "slack").iter().any(|(id, m)| {
            *id == card_msg.id.to_string()
                && m.card.as_ref().is_some_and(|c| {
                    c.level == Level::Neutral && field(c, "Status").as_deref() == Some("Resolved")
                })
        })
    })
    .await;
    // A regression after the resolution is a new card, not a fold into the old one.
    let body = br#"{"action":"unresolved","data":{"issue":{"id":"1170820242","shortId":"FRONT-END-9","title":"ReferenceError: blooopy is not defined","level":"error","project":{"slug":"front-end"}}}}"#.to_vec();
    let answer = post_signed(&bot, "alerts", "issue", body, SECRET, "r3").await;
    assert_eq!(answer.json["status"], "posted");
    let (_, card) = next_card(&bot).await;
    assert_eq!(card.footer.as_deref(), Some("Sentry · Issue unresolved"));
}

#[tokio::test]
async fn follow_ups_name_their_issue_where_there_are_no_threads() {
    let no_threads = Capabilities {
        threads: false,
        edits: false,
        ..caps::slack()
    };
    let bot = storm_bot("flat", no_threads, "").await;
    post_signed(
        &bot,
        "alerts",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    next_card(&bot).await;
    card_remembered(&bot).await;
    post_signed(
        &bot,
        "alerts",
        "issue",
        resolved_for_front_end_9(),
        SECRET,
        "r2",
    )
    .await;
    let line = bot.next_reply().await;
    assert_eq!(line.thread(), None);
    assert_eq!(
        line.text(),
        "✅ Resolved by Ann (in next release) — FRONT-END-9 <https://sentry.io/organizations/test-org/issues/1170820242/>: ReferenceError: blooopy is not defined"
    );
    assert!(bot.ops("flat").is_empty());
}

#[tokio::test]
async fn long_messages_are_cut_to_the_backends_limit() {
    let small = Capabilities {
        max_message_len: 700,
        ..caps::slack()
    };
    let bot = storm_bot("small", small, "").await;
    let long = "y".repeat(5000);
    let body = format!(
        r#"{{"action":"created","data":{{"issue":{{"id":"9","title":"Boom","culprit":null,"level":null,"metadata":{{"value":"{long}"}}}}}}}}"#
    )
    .into_bytes();
    let answer = post_signed(&bot, "alerts", "issue", body, SECRET, "r1").await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (sent, card) = next_card(&bot).await;
    assert!(
        sent.plain().chars().count() <= 700,
        "{}",
        sent.plain().len()
    );
    assert!(card.body.to_plain().contains("yyy…"));
    assert_eq!(card.level, Level::Error, "a null level reads as error");
}
