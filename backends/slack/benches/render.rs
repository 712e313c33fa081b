//! The Slack backend's per-message CPU work: rendering an outgoing message (mrkdwn and
//! Block Kit) and verifying a signed Events API request.
//!
//! Bounded: 10 samples, 2 s of measurement per benchmark.
//!
//! Run: `cargo bench -p ferrbot-backend-slack --bench render`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrbot::clock::ManualClock;
use ferrbot::markup::Markup;
use ferrbot::message::{Action, ActionStyle, Card, Level, OutgoingMessage};
use ferrbot_backend_slack::signing::{Verifier, sign};
use ferrbot_backend_slack::{Secret, blocks};

fn card_message() -> OutgoingMessage {
    let user: ferrbot::UserId = "slack:U024BE7LH".parse().unwrap();
    OutgoingMessage::new(
        Markup::new()
            .bold("INC-42")
            .text(" declared by ")
            .mention(user)
            .text(" <checkout & cart>"),
    )
    .with_card(
        Card::new("INC-42: checkout down")
            .level(Level::Critical)
            .body("Error rate above 5% for 10 minutes")
            .inline_field("Severity", "sev1")
            .inline_field("Lead", "alice")
            .field("Summary", "payments fail with 502")
            .footer("ferrbot"),
    )
    .with_action(Action::new("Join", "incident join 42").style(ActionStyle::Primary))
    .with_action(Action::new("Ack", "incident ack 42"))
}

fn bench(c: &mut Criterion) {
    let message = card_message();
    c.bench_function("render_card_message", |b| {
        b.iter(|| blocks::render("slack", "!", std::hint::black_box(&message)))
    });
    let plain = OutgoingMessage::new("pong");
    c.bench_function("render_plain_message", |b| {
        b.iter(|| blocks::render("slack", "!", std::hint::black_box(&plain)))
    });

    let secret = "bench-signing-secret";
    let body = br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"message","channel":"C1","user":"U1","text":"!help","ts":"1700000000.000100"}}"#;
    let clock = ManualClock::new(jiff::Timestamp::from_second(1_700_000_000).unwrap());
    let verifier = Verifier::new(Secret::new(secret), Arc::new(clock.clone()));
    let mut ts = 1_700_000_000i64;
    c.bench_function("sign_and_verify_request", |b| {
        b.iter(|| {
            // Time moves one second per request, so the replay check accepts each one and
            // forgets those older than five minutes.
            ts += 1;
            clock.set(jiff::Timestamp::from_second(ts).unwrap());
            let t = ts.to_string();
            let signature = sign(secret, &t, body);
            assert!(verifier.verify(Some(&t), Some(&signature), body).is_ok());
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
