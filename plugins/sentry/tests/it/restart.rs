//! Routes, revocations and mentions live in storage: a restarted bot on the same database
//! keeps them.

use ferrbot::store::Store;
use ferrbot::testing::TestBot;

use crate::support::{
    QUIET, SECRET, fixture, next_card, plugin, post, post_signed, sentry_section,
};

async fn bot_on(db: &str) -> TestBot {
    TestBot::builder()
        .plugin(plugin(&sentry_section("")))
        .config("[bot]\nadmins = [\"test:root\"]")
        .store(Store::open(db).await.unwrap())
        .web()
        .build()
        .await
}

#[tokio::test]
async fn a_restart_keeps_routes_revocations_and_mentions() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/ferrbot.db", dir.path().display());

    let first = bot_on(&db).await;
    first
        .say_in("test:deploys", "test:root", "!sentry channel authorize")
        .await;
    let a = first.next_reply().await;
    let b = first.next_reply().await;
    let dm = if a.direct_to().is_some() { a } else { b };
    let text = dm.text();
    let start = text.find("/plugins/sentry/hook/").unwrap();
    let path: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '`')
        .collect();
    first
        .say_in("test:ops", "test:root", "!sentry channel revoke")
        .await;
    first.next_reply().await;
    first
        .say_in(
            "test:deploys",
            "test:bob",
            "!sentry project register foo-live",
        )
        .await;
    first.next_reply().await;
    first.shutdown().await;
    drop(first);

    let second = bot_on(&db).await;
    // The chat-created route still works, with its mention.
    let answer = post(
        &format!("{}{path}", second.web_url()),
        fixture("legacy-webhook-plugin.json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (sent, card) = next_card(&second).await;
    assert_eq!(sent.room().unwrap().to_string(), "test:deploys");
    assert_eq!(card.title, "ValueError: new sentry error.");
    assert_eq!(sent.text(), "@bob");
    // The config route stays revoked.
    let answer = post_signed(
        &second,
        "ops",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 403);
    second.assert_silent(QUIET).await;
    second.say("test:alice", "!sentry channel list").await;
    let list = second.next_reply().await.text();
    assert!(
        list.contains("→ `test:deploys` · token, authorized by test:root"),
        "{list}"
    );
    assert!(
        list.contains(
            "`ops` → `test:ops` · config, signed (2 secrets) + token · revoked by test:root"
        ),
        "{list}"
    );
}
