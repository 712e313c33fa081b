//! Subscriptions: filters, timeslots (Oslo, weekend, DST), DM or room delivery, and the ack
//! expiry re-notification of §4.9 check 4 and check 5.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;

use ferrbot::testing::caps;
use support::{advance, ask, bot_with};

const A: &str = "chat:alice";
const SUB: &str = "chat:sam";

#[tokio::test]
async fn check4_ack_expiry_renotifies_unacked_subscribers() {
    // The no-lead reminder would speak in the silence this test listens to.
    let bot = bot_with("chat", caps::slack(), "[reminders]\nno_lead = false\n").await;
    let reply = ask(
        &bot,
        SUB,
        "!inc subscribe --unacked --events ack_expired --sev<=2",
    )
    .await;
    assert_eq!(
        reply,
        "Subscribed: S1 → DM chat:sam: sev<=2; unacked; events ack_expired"
    );
    // Another subscriber that only wants acked incidents hears nothing.
    ask(
        &bot,
        "chat:tom",
        "!inc subscribe --acked --events ack_expired",
    )
    .await;
    ask(&bot, A, "!inc declare Checkout 502s --sev 2").await;
    ask(&bot, "chat:bob", "!inc ack 30m").await;
    advance(&bot, 29);
    bot.run_jobs().await;
    bot.assert_silent(Duration::from_millis(100)).await;
    advance(&bot, 2);
    bot.run_jobs().await;
    let sent = bot.next_reply().await;
    assert_eq!(
        sent.direct_to().map(ToString::to_string).as_deref(),
        Some(SUB)
    );
    assert_eq!(
        sent.plain(),
        "🔔 #1 Checkout 502s (sev2, active): acknowledgement by chat:bob expired — bot [S1]"
    );
    bot.run_jobs().await;
    bot.assert_silent(Duration::from_millis(100)).await;
}

/// Declares and returns the notification (the reply and the notification may come in either
/// order: they go to different places).
async fn declare_and_notice(bot: &ferrbot::testing::TestBot, text: &str) -> ferrbot::testing::Sent {
    bot.say(A, text).await;
    let (one, two) = (bot.next_reply().await, bot.next_reply().await);
    let (reply, notice) = if one.plain().starts_with("🔔") {
        (two, one)
    } else {
        (one, two)
    };
    assert!(reply.plain().starts_with("Declared #"), "{}", reply.plain());
    notice
}

#[tokio::test]
async fn check5_timeslots_in_oslo_weekend_weekday_and_dst() {
    let bot = bot_with("chat", caps::slack(), "").await;
    let reply = ask(
        &bot,
        SUB,
        "!inc subscribe --events declared --when \"mon-fri 08:00-16:00 Europe/Oslo\" --tag team=web",
    )
    .await;
    assert!(
        reply.contains("when mon-fri 08:00-16:00 Europe/Oslo"),
        "{reply}"
    );
    // Saturday 10:00 Oslo: nobody.
    bot.clock().set("2026-01-03T09:00:00Z".parse().unwrap());
    ask(&bot, A, "!inc declare Saturday --tag team=web").await;
    bot.assert_silent(Duration::from_millis(100)).await;
    // Monday 09:00 Oslo: notified; another team's incident is not.
    bot.clock().set("2026-01-05T08:00:00Z".parse().unwrap());
    ask(&bot, A, "!inc declare Other team --tag team=db").await;
    bot.assert_silent(Duration::from_millis(100)).await;
    let sent = declare_and_notice(&bot, "!inc declare Monday --tag team=web").await;
    assert_eq!(
        sent.direct_to().map(ToString::to_string).as_deref(),
        Some(SUB)
    );
    assert!(sent.plain().starts_with("🔔 #3 Monday"), "{}", sent.plain());
    // DST (2026-03-29 in Europe): 06:30 UTC is 07:30 Oslo on Friday before, 08:30 after.
    bot.clock().set("2026-03-27T06:30:00Z".parse().unwrap());
    ask(&bot, A, "!inc declare Before DST --tag team=web").await;
    bot.assert_silent(Duration::from_millis(100)).await;
    bot.clock().set("2026-03-30T06:30:00Z".parse().unwrap());
    let sent = declare_and_notice(&bot, "!inc declare After DST --tag team=web").await;
    assert!(
        sent.plain().starts_with("🔔 #5 After DST"),
        "{}",
        sent.plain()
    );
}

#[tokio::test]
async fn room_subscriptions_private_incidents_and_bad_input() {
    let bot = bot_with("chat", caps::slack(), "").await;
    let reply = ask(&bot, SUB, "!inc subscribe --here").await;
    assert_eq!(
        reply,
        "Sorry, only this room's admins and bot admins may subscribe the room (`--here`)."
    );
    bot.make_room_admin("chat:general", SUB);
    let reply = ask(
        &bot,
        SUB,
        "!inc subscribe --here --events declared,resolved",
    )
    .await;
    assert_eq!(
        reply,
        "Subscribed: S1 → room chat:general: events declared,resolved"
    );
    let reply = ask(&bot, SUB, "!inc subscribe --events exploded").await;
    assert!(reply.contains("`exploded` is not an event kind"), "{reply}");
    let reply = ask(
        &bot,
        SUB,
        "!inc subscribe --when \"someday 08:00-16:00 Europe/Oslo\"",
    )
    .await;
    assert!(!reply.starts_with("Subscribed"), "{reply}");
    let reply = ask(&bot, SUB, "!inc subscribe --sev<=9").await;
    assert!(reply.contains("levels: 1 critical"), "{reply}");

    bot.say(A, "!inc declare Checkout 502s --lead @alice").await;
    let mut got = [bot.next_reply().await, bot.next_reply().await];
    got.sort_by_key(|s| s.plain().starts_with("🔔"));
    assert!(got[0].plain().starts_with("Declared #1"));
    assert_eq!(
        got[1].room().map(ToString::to_string).as_deref(),
        Some("chat:general")
    );
    // Private incidents notify nobody.
    ask(&bot, A, "!inc private").await;
    ask(&bot, A, "!inc resolve").await;
    bot.assert_silent(Duration::from_millis(100)).await;

    assert!(
        ask(&bot, SUB, "!inc subscriptions")
            .await
            .starts_with("S1 → room chat:general")
    );
    let reply = ask(&bot, "chat:eve", "!inc unsubscribe S1").await;
    assert_eq!(
        reply,
        "Sorry, only its owner (chat:sam) and bot admins may remove S1."
    );
    assert_eq!(ask(&bot, SUB, "!inc unsubscribe S1").await, "Removed S1.");
    assert!(
        ask(&bot, SUB, "!inc subscriptions")
            .await
            .starts_with("No subscriptions")
    );
    // The console-like network has no DMs: a DM subscription is refused with the way out.
    let console = support::bot("").await;
    let reply = ask(&console, "console:sam", "!inc subscribe").await;
    assert!(reply.contains("use") || reply.contains("--here"), "{reply}");
}
