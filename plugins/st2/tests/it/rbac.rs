//! Per-user credentials: serverside impersonation (a user's token never serves another user)
//! and clientside (no session → how to log in; a cached credential → runs as that user).

use std::time::Duration;

use ferrbot::secrets::SecretValue;
use ferrbot_plugin_st2::credential::{
    Credential, CredentialSource, USER_CREDENTIAL_NAME, UserCredential,
};

use crate::support::{bot, find, section, st2};

const SERVERSIDE: &str = "[rbac]\nmode = \"serverside\"\n[rbac.users]\n\"test:alice\" = \"alice\"\n\"test:bob\" = \"bob\"";

#[tokio::test]
async fn serverside_runs_each_user_as_themselves_and_never_shares_a_token() {
    let st2 = st2().await;
    st2.set_auto_result(false);
    st2.add_user("alice", "pw-a", false);
    st2.add_user("bob", "pw-b", false);
    let bot = bot(&st2, &section(&st2, None, SERVERSIDE)).await;

    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    bot.say("test:bob", "!st2 run id on web2").await;
    find(&bot, "Running id").await;
    bot.say("test:alice", "!st2 run whoami on web3").await;
    find(&bot, "Running whoami").await;

    let users: Vec<(String, String)> = st2
        .executions()
        .iter()
        .map(|e| (e.user.clone(), e.st2_user.clone()))
        .collect();
    assert_eq!(
        users,
        vec![
            ("test:alice".to_owned(), "alice".to_owned()),
            ("test:bob".to_owned(), "bob".to_owned()),
            ("test:alice".to_owned(), "alice".to_owned()),
        ]
    );
    // alice's token was cached and reused: one token each.
    assert_eq!(st2.live_tokens_of("alice"), 1);
    assert_eq!(st2.live_tokens_of("bob"), 1);

    // bob's token expires: bob gets a new one, alice keeps hers, nobody borrows.
    st2.expire_tokens_of("bob");
    bot.say("test:bob", "!st2 run id on web2").await;
    find(&bot, "Running id").await;
    assert_eq!(st2.executions().last().unwrap().st2_user, "bob");
    assert_eq!(st2.live_tokens_of("alice"), 1);
}

#[tokio::test]
async fn serverside_nickname_impersonation() {
    let st2 = st2().await;
    st2.set_auto_result(false);
    st2.add_user("alice", "pw-a", false);
    st2.add_nickname("alice", "test", "alice");
    let bot = bot(
        &st2,
        &section(
            &st2,
            None,
            "[rbac]\nmode = \"serverside\"\nimpersonate = \"nickname\"",
        ),
    )
    .await;
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    assert_eq!(st2.executions()[0].st2_user, "alice");

    // An unknown chat user: StackStorm's refusal is shown, nothing runs.
    bot.say("test:mallory", "!st2 run date on web1").await;
    let m = find(&bot, "StackStorm").await;
    assert!(m.plain().contains("mallory"), "{}", m.plain());
    assert_eq!(st2.executions().len(), 1);
}

#[tokio::test]
async fn clientside_without_a_session_explains_how_to_log_in() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "[rbac]\nmode = \"clientside\"\n[rbac.clientside]\npublic_url = \"https://bot.example.com\"")).await;
    bot.say("test:alice", "!st2 run date on web1").await;
    let m = find(&bot, "session start").await;
    assert!(m.plain().contains("direct message"), "{}", m.plain());
    assert!(st2.executions().is_empty());
}

#[tokio::test]
async fn clientside_uses_the_callers_cached_credential_only() {
    let st2 = st2().await;
    st2.set_auto_result(false);
    st2.add_user("alice", "pw-a", false);
    let token = st2.issue_token("alice", Duration::from_secs(3600));
    let bot = bot(&st2, &section(&st2, None, "[rbac]\nmode = \"clientside\"\n[rbac.clientside]\npublic_url = \"https://bot.example.com\"")).await;
    let entry = UserCredential::new(
        &Credential::Token(SecretValue::from(token.as_str())),
        Some("alice".into()),
        None,
        CredentialSource::Clientside,
        ferrbot::clock::Clock::now(bot.clock()),
    );
    bot.context("st2")
        .credentials()
        .unwrap()
        .for_user("test:alice")
        .unwrap()
        .set(USER_CREDENTIAL_NAME, &entry.to_secret(), None)
        .await
        .unwrap();

    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "Running date").await;
    assert_eq!(st2.executions()[0].st2_user, "alice");

    // bob has no session: alice's credential is not used for him.
    bot.say("test:bob", "!st2 run date on web1").await;
    find(&bot, "session start").await;
    assert_eq!(st2.executions().len(), 1);

    // alice's token stops working: her entry is dropped and she is told to log in again.
    st2.expire_tokens_of("alice");
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "no longer accepts").await;
}
