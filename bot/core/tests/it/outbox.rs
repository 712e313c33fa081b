//! The outbound queue: rate limits, retries, order, and flushing at shutdown.

use std::time::{Duration, Instant};

use ferrbot::backend::BackendError;
use ferrbot::prelude::*;
use ferrbot::testing::TestBot;

use crate::support::Kit;

#[tokio::test]
async fn rate_limited_messages_wait_retry_after_and_keep_their_order() {
    let bot = TestBot::with_plugin(Kit).await;
    let retry_after = Duration::from_millis(400);
    bot.fail_sends("test", [BackendError::RateLimited { retry_after }]);
    let started = Instant::now();
    let ctx = bot.context("kit");
    let room = Target::room("test:ops".parse().unwrap());
    let first = ctx.send(room.clone(), OutgoingMessage::new("first"));
    let second = ctx.send(room.clone(), OutgoingMessage::new("second"));
    let third = ctx.send(room, OutgoingMessage::new("third"));
    assert_eq!(bot.next_reply().await.text(), "first");
    assert!(
        started.elapsed() >= retry_after,
        "delivered before the retry-after had passed"
    );
    assert_eq!(bot.next_reply().await.text(), "second");
    assert_eq!(bot.next_reply().await.text(), "third");
    assert!(first.delivered().await.is_ok());
    assert!(second.delivered().await.is_ok());
    assert!(third.delivered().await.is_ok());
}

#[tokio::test]
async fn a_rate_limited_room_does_not_hold_up_other_rooms() {
    let bot = TestBot::with_plugin(Kit).await;
    bot.fail_sends(
        "test",
        [BackendError::RateLimited {
            retry_after: Duration::from_millis(600),
        }],
    );
    let ctx = bot.context("kit");
    let _slow = ctx.send(
        Target::room("test:a".parse().unwrap()),
        OutgoingMessage::new("to a"),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _fast = ctx.send(
        Target::room("test:b".parse().unwrap()),
        OutgoingMessage::new("to b"),
    );
    assert_eq!(bot.next_reply().await.text(), "to b");
    assert_eq!(bot.next_reply().await.text(), "to a");
}

#[tokio::test]
async fn passing_failures_are_retried_and_permanent_ones_reported() {
    let bot = TestBot::with_plugin(Kit).await;
    bot.fail_sends(
        "test",
        [
            BackendError::transient("connection reset"),
            BackendError::transient("502"),
        ],
    );
    let ctx = bot.context("kit");
    let room = Target::room("test:ops".parse().unwrap());
    let receipt = ctx.send(room.clone(), OutgoingMessage::new("eventually"));
    assert_eq!(bot.next_reply().await.text(), "eventually");
    assert!(receipt.delivered().await.is_ok());

    bot.fail_sends("test", [BackendError::rejected("channel_not_found")]);
    let refused = ctx.send(room.clone(), OutgoingMessage::new("lost"));
    let err = refused.delivered().await.unwrap_err().to_string();
    assert!(err.contains("channel_not_found"), "{err}");
    let next = ctx.send(room, OutgoingMessage::new("next"));
    assert_eq!(bot.next_reply().await.text(), "next");
    assert!(next.delivered().await.is_ok());
}

#[tokio::test]
async fn shutdown_flushes_queued_messages() {
    let bot = TestBot::with_plugin(Kit).await;
    bot.fail_sends(
        "test",
        [BackendError::RateLimited {
            retry_after: Duration::from_millis(300),
        }],
    );
    let ctx = bot.context("kit");
    let room = Target::room("test:ops".parse().unwrap());
    let receipts: Vec<_> = (0..5)
        .map(|i| ctx.send(room.clone(), OutgoingMessage::new(format!("queued {i}"))))
        .collect();
    bot.shutdown().await;
    for receipt in receipts {
        assert!(receipt.delivered().await.is_ok());
    }
    for i in 0..5 {
        let sent = bot.try_next_reply(Duration::from_millis(10)).await;
        assert_eq!(sent.map(|s| s.text()), Some(format!("queued {i}")));
    }
    let late = ctx.send(
        Target::room("test:ops".parse().unwrap()),
        OutgoingMessage::new("late"),
    );
    assert!(
        late.delivered().await.is_err(),
        "nothing is taken after shutdown"
    );
}
