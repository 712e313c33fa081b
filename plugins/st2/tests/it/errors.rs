//! StackStorm's refusals become clear replies pointing to `!st2help`.

use serde_json::json;

use crate::support::{bot, find, section, st2};

#[tokio::test]
async fn no_match_suggests_close_aliases() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.run_jobs().await; // fill the alias cache
    bot.say("test:alice", "!st2 rnu date on web1").await;
    let m = find(&bot, "No StackStorm action-alias matches").await;
    assert!(m.plain().contains("Did you mean"), "{}", m.plain());
    assert!(
        m.plain().contains("run {{cmd}} on {{hosts}}"),
        "{}",
        m.plain()
    );
    assert!(m.plain().contains("!st2help"), "{}", m.plain());
    assert!(st2.executions().is_empty());
}

#[tokio::test]
async fn ambiguous_commands_name_the_candidates() {
    let st2 = st2().await;
    st2.add_alias(
        json!({"name": "other_run", "pack": "ops", "action_ref": "core.local",
        "formats": ["run {{cmd}} on {{where}}"]}),
    );
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.run_jobs().await;
    bot.say("test:alice", "!st2 run date on web1").await;
    let m = find(&bot, "more than one").await;
    assert!(m.plain().contains("ops.other_run"), "{}", m.plain());
    assert!(
        m.plain().contains("examples.remote_shell_cmd"),
        "{}",
        m.plain()
    );
}

#[tokio::test]
async fn disabled_immutable_forbidden_and_down_are_explained() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;

    st2.fail_next(
        400,
        "Action alias with name \"remote_shell_cmd\" is disabled.",
    );
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "disabled in StackStorm").await;

    st2.fail_next(400, "Immutable arguments cannot be overriden: hosts");
    bot.say("test:alice", "!st2 run date on web1").await;
    let m = find(&bot, "fixes some parameters").await;
    assert!(m.plain().contains("hosts"));

    st2.forbid("errbot");
    bot.say("test:alice", "!st2 run date on web1").await;
    find(&bot, "does not allow you").await;

    st2.set_down(true);
    bot.say("test:alice", "!st2 run date on web1").await;
    let m = find(&bot, "not available").await;
    assert!(m.plain().contains("!st2 status"), "{}", m.plain());
}

#[tokio::test]
async fn empty_command_gets_usage() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say("test:alice", "!st2").await;
    let m = find(&bot, "Usage").await;
    assert!(m.plain().contains("!st2help"));
}

#[tokio::test]
async fn session_commands_outside_clientside_are_explained() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say_direct("test:alice", "!st2 session start hello")
        .await;
    let m = find(&bot, "no login session").await;
    assert!(m.plain().contains("bot's own"), "{}", m.plain());
    assert!(st2.executions().is_empty());
}
