//! `[[bot.acl]]` rules written for `incident …` commands also bind their short names
//! (`inc …`) and aliases (`incident close`): an ops team that restricts who may resolve
//! incidents is not undone by a shorter spelling.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use ferrbot::testing::{TestBot, caps};
use ferrbot_plugin_incident::IncidentPlugin;

const A: &str = "console:alice";
const B: &str = "console:bob";

async fn bot() -> TestBot {
    let plugin =
        IncidentPlugin::from_config(toml::from_str("edit_policy = \"anyone\"").unwrap()).unwrap();
    TestBot::builder()
        .backend("console", caps::console())
        .config(
            r#"
            [bot]
            admins = ["console:root"]
            [[bot.acl]]
            commands = ["incident resolve", "incident declare"]
            allow_users = ["console:alice"]
            "#,
        )
        .plugin(plugin)
        .build()
        .await
}

async fn ask(bot: &TestBot, user: &str, text: &str) -> String {
    bot.say(user, text).await;
    bot.next_reply().await.plain()
}

#[tokio::test]
async fn short_names_and_aliases_obey_the_rules_of_their_command() {
    let bot = bot().await;
    // Every spelling of `declare` is refused to bob, with the rule's command named.
    for typed in [
        "!incident declare db down",
        "!inc declare db down",
        "!inc new db down",
        "!incident start db down",
    ] {
        let reply = ask(&bot, B, typed).await;
        assert_eq!(
            reply,
            "Sorry, you are not allowed to run `incident declare`; ask a bot admin for access.",
            "{typed}"
        );
    }
    assert!(
        ask(&bot, A, "!inc declare db down")
            .await
            .starts_with("Declared #1 db down")
    );
    for typed in ["!incident resolve #1", "!inc resolve #1", "!inc close #1"] {
        let reply = ask(&bot, B, typed).await;
        assert!(
            reply.contains("not allowed to run `incident resolve`"),
            "{typed}: {reply}"
        );
    }
    // Commands without a rule stay open to everyone (the edit policy is `anyone`).
    assert!(
        ask(&bot, B, "!inc note #1 looking")
            .await
            .starts_with("#1 noted")
    );
    assert!(
        ask(&bot, A, "!inc close #1 fixed")
            .await
            .contains("resolved")
    );
}
