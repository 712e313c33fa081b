//! People named in commands as each network delivers them: `@bob`, `network:id`, Matrix ids
//! and the `<@U0BOB>` mentions Slack and Discord put in message text.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use ferrbot::testing::caps;
use support::{ask, bot, bot_with, incident};

#[tokio::test]
async fn slack_mentions_name_the_user_not_the_markup() {
    let bot = bot_with("slack", caps::slack(), "").await;
    ask(
        &bot,
        "slack:U0ALICE",
        "!inc declare Checkout 502s --lead <@U0BOB>",
    )
    .await;
    assert_eq!(incident(&bot, 1).await.lead.as_deref(), Some("slack:U0BOB"));
    let reply = ask(&bot, "slack:U0ALICE", "!inc role scribe <@U0CAROL|carol>").await;
    assert!(reply.contains("slack:U0CAROL"), "{reply}");
    assert!(!reply.contains('<'), "{reply}");
    let reply = ask(&bot, "slack:U0ALICE", "!inc lead <@!1234>").await;
    assert!(reply.contains("slack:1234"), "{reply}");
}

#[tokio::test]
async fn matrix_ids_keep_their_server() {
    let bot = bot_with("matrix", caps::matrix(), "").await;
    ask(&bot, "matrix:@alice:example.org", "!inc declare DB down").await;
    ask(
        &bot,
        "matrix:@alice:example.org",
        "!inc lead @bob:example.org",
    )
    .await;
    assert_eq!(
        incident(&bot, 1).await.lead.as_deref(),
        Some("matrix:@bob:example.org")
    );
}

#[tokio::test]
async fn plain_names_full_ids_and_unknown_networks() {
    let bot = bot("").await;
    ask(&bot, "console:alice", "!inc declare Queue stuck").await;
    ask(&bot, "console:alice", "!inc lead @bob").await;
    assert_eq!(incident(&bot, 1).await.lead.as_deref(), Some("console:bob"));
    ask(&bot, "console:alice", "!inc lead console:carol").await;
    assert_eq!(
        incident(&bot, 1).await.lead.as_deref(),
        Some("console:carol")
    );
    let reply = ask(&bot, "console:alice", "!inc lead slack:U0BOB").await;
    assert!(
        reply.contains(
            "`slack:U0BOB` is not a user (this bot is on no chat network called `slack`)"
        ),
        "{reply}"
    );
    let reply = ask(&bot, "console:alice", "!inc lead @").await;
    assert!(reply.contains("is not a user"), "{reply}");
    // Nothing changed by the refusals.
    assert_eq!(
        incident(&bot, 1).await.lead.as_deref(),
        Some("console:carol")
    );
}
