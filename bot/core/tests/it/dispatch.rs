//! The dispatcher as a chat user sees it.

use std::time::Duration;

use ferrbot::prelude::*;
use ferrbot::testing::{TestBot, caps};

use crate::support::Kit;

async fn bot() -> TestBot {
    TestBot::with_plugin(Kit).await
}

#[tokio::test]
async fn quoting_groups_words_and_smart_quotes_work() {
    let bot = bot().await;
    bot.say(
        "test:alice",
        r#"!echo "two words" 'single q' plain\ escaped"#,
    )
    .await;
    assert_eq!(
        bot.next_reply().await.text(),
        "two words|single q|plain escaped"
    );
    bot.say("test:alice", "!echo “smart quotes” ok").await;
    assert_eq!(bot.next_reply().await.text(), "smart quotes|ok");
    bot.say("test:alice", "!echo \"unclosed").await;
    let reply = bot.next_reply().await.text();
    assert!(reply.contains("quote is not closed"), "{reply}");
}

#[tokio::test]
async fn raw_text_commands_get_the_text_as_typed() {
    let bot = bot().await;
    bot.say("test:alice", "!verbatim  run \"ls -la\" on\nweb\\1  ")
        .await;
    assert_eq!(bot.next_reply().await.text(), "run \"ls -la\" on\nweb\\1|4");
    // An unclosed quote is refused for ordinary commands but reaches raw-text ones.
    bot.say("test:alice", "!verbatim say \"hi").await;
    assert_eq!(bot.next_reply().await.text(), "say \"hi|2");
    bot.say("test:alice", "!deploy \"hi").await;
    let reply = bot.next_reply().await.text();
    assert!(reply.contains("quote is not closed"), "{reply}");
}

#[tokio::test]
async fn prefixes_mentions_names_and_direct_messages() {
    let bot = TestBot::builder()
        .plugin(Kit)
        .config("[bot]\nprefix = \"!\"\nalt_prefixes = [\".\"]\nnames = [\"ferrbot\"]")
        .build()
        .await;
    for text in ["!echo a", ".echo a", "@ferrbot echo a", "ferrbot: echo a"] {
        bot.say("test:alice", text).await;
        assert_eq!(bot.next_reply().await.text(), "a", "for {text:?}");
    }
    bot.mention("test:alice", "echo via mention").await;
    assert_eq!(bot.next_reply().await.text(), "via|mention");
    // In a room, text without a prefix is not a command.
    bot.say("test:alice", "echo nothing").await;
    bot.assert_silent(Duration::from_millis(150)).await;
    // In a direct conversation no prefix is needed, and the reply stays private.
    bot.say_direct("test:alice", "echo dm").await;
    let reply = bot.next_reply().await;
    assert_eq!(reply.text(), "dm");
    assert_eq!(reply.room().unwrap().to_string(), "test:dm-alice");
}

#[tokio::test]
async fn longest_command_match_wins() {
    let bot = bot().await;
    bot.say("test:alice", "!deploy status web1").await;
    assert_eq!(bot.next_reply().await.text(), "status:web1");
    bot.say("test:alice", "!deploy web1 now").await;
    assert_eq!(bot.next_reply().await.text(), "deploy:web1,now");
    bot.say("test:alice", "!DEPLOY Status x").await;
    assert_eq!(bot.next_reply().await.text(), "status:x");
}

#[tokio::test]
async fn typed_arguments_and_clap_errors_in_chat() {
    let bot = bot().await;
    bot.say("test:alice", "!greet bob --loud").await;
    assert_eq!(bot.next_reply().await.text(), "HELLO, BOB! (#1)");
    bot.say("test:alice", "!greet bob").await;
    assert_eq!(bot.next_reply().await.text(), "Hello, bob! (#2)");

    bot.say("test:alice", "!greet").await;
    let missing = bot.next_reply().await.text();
    assert!(
        missing.contains("required arguments were not provided"),
        "{missing}"
    );
    assert!(missing.contains("Usage: greet"), "{missing}");

    bot.say("test:alice", "!greet bob --times lots").await;
    let bad = bot.next_reply().await.text();
    assert!(bad.contains("invalid value 'lots'"), "{bad}");

    bot.say("test:alice", "!greet bob --lod").await;
    let typo = bot.next_reply().await.text();
    assert!(
        typo.contains("--loud"),
        "clap suggests the right flag: {typo}"
    );

    bot.say("test:alice", "!greet --help").await;
    let help = bot.next_reply().await.text();
    assert!(
        help.contains("Greet someone and count the greetings"),
        "{help}"
    );
    assert!(help.contains("--times"), "{help}");
}

#[tokio::test]
async fn unknown_commands_get_a_suggestion() {
    let bot = bot().await;
    bot.say("test:alice", "!eco hi").await;
    let reply = bot.next_reply().await.text();
    assert!(reply.contains("Unknown command `!eco`"), "{reply}");
    assert!(reply.contains("Did you mean `!echo`"), "{reply}");
    bot.say("test:alice", "!zzzzzz").await;
    let reply = bot.next_reply().await.text();
    assert!(
        reply.contains("Unknown command") && !reply.contains("Did you mean"),
        "{reply}"
    );
    assert!(reply.contains("!help"), "{reply}");
}

#[tokio::test]
async fn replies_go_to_the_same_room_and_thread() {
    let bot = bot().await;
    bot.say_in_thread("test:ops", "t-100", "test:alice", "!echo threaded")
        .await;
    let reply = bot.next_reply().await;
    assert_eq!(reply.room().unwrap().to_string(), "test:ops");
    assert_eq!(reply.thread().unwrap().to_string(), "test:t-100");
}

#[tokio::test]
async fn a_slow_command_does_not_block_others() {
    let bot = bot().await;
    // `say` waits until a command is handled, so post the slow one from another task.
    let slow = async { bot.say("test:alice", "!slow 800").await };
    let fast = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        bot.say("test:bob", "!echo fast").await;
    };
    tokio::join!(slow, fast);
    assert_eq!(bot.next_reply().await.text(), "fast");
    assert_eq!(bot.next_reply().await.text(), "slept 800ms");
}

#[tokio::test]
async fn timeouts_panics_and_errors_are_reported_without_killing_the_bot() {
    let bot = TestBot::builder()
        .plugin(Kit)
        .config("[bot]\ncommand_timeout = \"200ms\"")
        .build()
        .await;
    bot.say("test:alice", "!slow 2000").await;
    let reply = bot.next_reply().await.text();
    assert!(reply.contains("did not finish within 200ms"), "{reply}");

    bot.say("test:alice", "!boom").await;
    let reply = bot.next_reply().await.text();
    assert!(
        reply.contains("`!boom` failed") && reply.contains("logged as"),
        "{reply}"
    );

    bot.say("test:alice", "!broken").await;
    let reply = bot.next_reply().await.text();
    assert!(reply.contains("`!broken` failed"), "{reply}");
    assert!(
        !reply.contains("invalid digit"),
        "internal details stay in the log: {reply}"
    );

    bot.say("test:alice", "!echo still alive").await;
    assert_eq!(bot.next_reply().await.text(), "still|alive");
}

#[tokio::test]
async fn private_replies_use_direct_messages_or_refuse_to_leak() {
    let bot = TestBot::builder()
        .plugin(Kit)
        .backend("slack", caps::slack())
        .backend("console", caps::console())
        .build()
        .await;
    bot.say("slack:U1", "!whisper").await;
    let reply = bot.next_reply().await;
    assert_eq!(reply.direct_to().unwrap().to_string(), "slack:U1");
    assert_eq!(reply.text(), "just for you");

    bot.say("console:alice", "!whisper").await;
    let reply = bot.next_reply().await;
    assert_eq!(reply.room().unwrap().to_string(), "console:general");
    assert!(
        reply.text().contains("cannot send direct messages"),
        "{}",
        reply.text()
    );
    assert!(!reply.text().contains("just for you"));
}

#[tokio::test]
async fn cards_keep_their_actions_and_a_click_runs_as_the_clicker() {
    let bot = TestBot::builder()
        .plugin(Kit)
        .config(
            r#"
            [bot]
            [[bot.acl]]
            commands = ["echo"]
            deny_users = ["test:mallory"]
            "#,
        )
        .build()
        .await;
    bot.say("test:alice", "!card").await;
    let reply = bot.next_reply().await;
    let card = reply.card().expect("a card");
    assert_eq!(card.title, "Deploy 42");
    assert_eq!(card.level, Level::Warning);
    assert_eq!(reply.actions()[0].command, "echo approved");
    assert!(reply.plain().contains("Approve: !echo approved"));

    bot.click("test:bob", "test:general", &reply.actions()[0].command)
        .await;
    assert_eq!(bot.next_reply().await.text(), "approved");
    // The clicker's identity goes through the ACL, not the card author's.
    bot.click("test:mallory", "test:general", "echo approved")
        .await;
    let refused = bot.next_reply().await.text();
    assert!(refused.contains("not allowed to run `echo`"), "{refused}");
    bot.click("test:bob", "test:general", "me").await;
    assert_eq!(bot.next_reply().await.text(), "test:bob");
}

#[tokio::test]
async fn matchers_see_messages_that_are_not_commands() {
    let bot = bot().await;
    bot.say("test:alice", "could someone ping db1 please").await;
    assert_eq!(bot.next_reply().await.text(), "pong db1");
}

const ACL: &str = r#"
[bot]
admins = ["test:root"]

[[bot.acl]]
commands = ["greet"]
allow_users = ["test:alice"]

[[bot.acl]]
commands = ["echo"]
deny_rooms = ["test:random"]
allow_direct = false
"#;

#[tokio::test]
async fn access_rules_allow_deny_and_explain() {
    let bot = TestBot::builder().plugin(Kit).config(ACL).build().await;
    bot.say("test:alice", "!greet x").await;
    assert!(bot.next_reply().await.text().starts_with("Hello, x!"));
    bot.say("test:bob", "!greet x").await;
    let refused = bot.next_reply().await.text();
    assert_eq!(
        refused,
        "Sorry, you are not allowed to run `greet`; ask a bot admin for access."
    );
    // An alias is bound by the rules of the command it stands for.
    bot.say("test:bob", "!hi x").await;
    assert_eq!(bot.next_reply().await.text(), refused);
    bot.say("test:alice", "!hi x").await;
    assert!(bot.next_reply().await.text().starts_with("Hello, x!"));

    bot.say_in("test:random", "test:alice", "!echo hi").await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .contains("not allowed in this room")
    );
    bot.say_direct("test:alice", "echo hi").await;
    assert!(
        bot.next_reply()
            .await
            .text()
            .contains("not available in direct messages")
    );

    bot.say("test:bob", "!nuke").await;
    assert_eq!(
        bot.next_reply().await.text(),
        "Sorry, only bot admins may run `nuke`."
    );
    // An alias of an admin-only command is admin-only too.
    bot.say("test:bob", "!kaboom").await;
    assert_eq!(
        bot.next_reply().await.text(),
        "Sorry, only bot admins may run `nuke`."
    );
    bot.say("test:root", "!nuke").await;
    assert_eq!(bot.next_reply().await.text(), "nuked");
    // Admins are not bound by the rules.
    bot.say("test:root", "!greet y").await;
    assert!(bot.next_reply().await.text().starts_with("Hello, y!"));
}

#[tokio::test]
async fn help_hides_what_the_caller_may_not_run() {
    let bot = TestBot::builder().plugin(Kit).config(ACL).build().await;
    bot.say("test:bob", "!help").await;
    let help = bot.next_reply().await.text();
    assert!(help.contains("!echo"), "{help}");
    assert!(help.contains("!whoami"), "{help}");
    assert!(!help.contains("!greet"), "bob may not greet: {help}");
    assert!(!help.contains("!nuke"), "admin-only: {help}");
    assert!(!help.contains("!plugins"), "admin-only: {help}");

    bot.say("test:root", "!help").await;
    let help = bot.next_reply().await.text();
    assert!(
        help.contains("!greet") && help.contains("!nuke") && help.contains("!plugins"),
        "{help}"
    );

    bot.say("test:alice", "!help greet").await;
    let one = bot.next_reply().await.text();
    assert!(one.contains("Usage: greet [OPTIONS] <NAME>"), "{one}");
    bot.say("test:bob", "!help nuke").await;
    let hidden = bot.next_reply().await.text();
    assert!(
        hidden.contains("no command or plugin `nuke` that you can run"),
        "{hidden}"
    );
}

#[tokio::test]
async fn whoami_and_status() {
    let bot = TestBot::builder().plugin(Kit).config(ACL).build().await;
    bot.say_in_thread("test:ops", "t1", "test:root", "!whoami")
        .await;
    let me = bot.next_reply().await.text();
    assert_eq!(
        me,
        "You are root (`test:root`), in room `test:ops`, thread `t1`. You are a bot admin."
    );
    bot.say("test:alice", "!status").await;
    let status = bot.next_reply().await;
    let card = status.card().expect("status is a card");
    let text = card.to_plain();
    assert!(text.contains("test: connected"), "{text}");
    assert!(text.contains("kit 1.0.0"), "{text}");
    assert!(text.contains("Uptime"), "{text}");
}

#[tokio::test]
async fn plugin_toggling_is_admin_only_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bot.db", dir.path().display());
    {
        let store = ferrbot::store::Store::open(&url).await.unwrap();
        let bot = TestBot::builder()
            .plugin(Kit)
            .config(ACL)
            .store(store)
            .build()
            .await;
        bot.say("test:bob", "!plugins disable kit").await;
        assert_eq!(
            bot.next_reply().await.text(),
            "Sorry, only bot admins may run `plugins`."
        );
        bot.say("test:root", "!plugins disable nosuch").await;
        assert!(
            bot.next_reply()
                .await
                .text()
                .contains("There is no plugin `nosuch`")
        );
        bot.say("test:root", "!plugins disable core").await;
        assert!(bot.next_reply().await.text().contains("cannot be disabled"));
        bot.say("test:root", "!plugins disable kit").await;
        assert!(
            bot.next_reply()
                .await
                .text()
                .contains("Plugin `kit` is disabled")
        );
        bot.say("test:alice", "!echo x").await;
        let off = bot.next_reply().await.text();
        assert!(off.contains("plugin `kit`, which is disabled"), "{off}");
        bot.say("test:alice", "!help").await;
        assert!(!bot.next_reply().await.text().contains("!echo"));
        bot.shutdown().await;
    }
    {
        let store = ferrbot::store::Store::open(&url).await.unwrap();
        let bot = TestBot::builder()
            .plugin(Kit)
            .config(ACL)
            .store(store)
            .build()
            .await;
        bot.say("test:alice", "!echo x").await;
        assert!(
            bot.next_reply().await.text().contains("disabled"),
            "still disabled after restart"
        );
        bot.say("test:root", "!plugins list").await;
        assert!(
            bot.next_reply()
                .await
                .text()
                .contains("`kit` 1.0.0 — test commands (disabled)")
        );
        bot.say("test:root", "!plugins enable kit").await;
        assert_eq!(bot.next_reply().await.text(), "Plugin `kit` is enabled.");
        bot.say("test:alice", "!echo x").await;
        assert_eq!(bot.next_reply().await.text(), "x");
        bot.shutdown().await;
    }
}

#[tokio::test]
async fn commands_beyond_the_concurrency_limit_wait_their_turn() {
    let bot = TestBot::builder()
        .plugin(Kit)
        .config("[bot]\nmax_concurrent_commands = 1")
        .build()
        .await;
    let slow = async { bot.say("test:alice", "!slow 300").await };
    let fast = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        bot.say("test:bob", "!echo after").await;
    };
    tokio::join!(slow, fast);
    // With one slot, the fast command waits for the slow one instead of overtaking it.
    assert_eq!(bot.next_reply().await.text(), "slept 300ms");
    assert_eq!(bot.next_reply().await.text(), "after");
}

/// Answers with the message the command's message replies to.
struct Replies;

impl Plugin for Replies {
    fn manifest(&self) -> Manifest {
        Manifest::new("replies", "1.0.0").command_spec(CommandSpec::raw(
            "replyto",
            "Say which message this one replies to",
            |ctx, _args| async move {
                Ok(Reply::text(match ctx.reply_to() {
                    Some(m) => format!("reply to {m}"),
                    None => "no reply".to_owned(),
                }))
            },
        ))
    }
}

#[tokio::test]
async fn a_command_sent_as_a_reply_knows_the_message_it_answers() {
    let bot = TestBot::with_plugin(Replies).await;
    bot.say_reply("test:ops", "test:alice", "m-42", "!replyto")
        .await;
    let reply = bot.next_reply().await;
    assert_eq!(reply.text(), "reply to test:m-42");
    assert_eq!(reply.room().unwrap().to_string(), "test:ops");
    // A plain message and a button click answer nothing.
    bot.say_in("test:ops", "test:alice", "!replyto").await;
    assert_eq!(bot.next_reply().await.text(), "no reply");
    bot.click("test:alice", "test:ops", "replyto").await;
    assert_eq!(bot.next_reply().await.text(), "no reply");
}
