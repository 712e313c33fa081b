//! Shared helpers: the fake's users and aliases, the plugin's config, bots, waiting.

use std::time::Duration;

use ferrbot::testing::{Sent, TestBot};
use ferrbot_plugin_st2::St2Plugin;
use serde_json::{Value, json};

use crate::fake_st2::FakeSt2;

/// The bot's StackStorm password in tests.
pub const PASSWORD: &str = "s3cret-pw-never-logged";

/// A stock alias: `run {{cmd}} on {{hosts}}` with an ack and a result format.
pub fn remote_alias() -> Value {
    json!({
        "name": "remote_shell_cmd", "pack": "examples", "ref": "examples.remote_shell_cmd",
        "action_ref": "core.remote", "enabled": true,
        "description": "Execute a command on a remote host via SSH.",
        "formats": ["run {{cmd}} on {{hosts}}"],
        "ack": {"enabled": true, "format": "Running {{ execution.parameters.cmd }}", "append_url": true},
        "result": {"enabled": true, "format": "Ran {{ execution.parameters.cmd }}"}
    })
}

/// A fake StackStorm with the `errbot` service account and the stock alias.
pub async fn st2() -> FakeSt2 {
    let st2 = FakeSt2::start().await;
    st2.add_user("errbot", PASSWORD, true);
    st2.add_alias(remote_alias());
    st2.set_heartbeat(Duration::from_millis(200));
    st2
}

/// The `[plugins.st2]` section for `st2`: `auth` lines (default password login), fast stream
/// timings, plus `extra` lines.
pub fn section(st2: &FakeSt2, auth: Option<&str>, extra: &str) -> String {
    let auth = auth.map_or_else(
        || format!("username = \"errbot\"\npassword = \"{PASSWORD}\""),
        str::to_owned,
    );
    format!(
        "url = \"{}\"\n{auth}\n{extra}\n[stream]\nheartbeat_timeout = \"1s\"\nbackoff_min = \"50ms\"\nbackoff_max = \"200ms\"\n",
        st2.url()
    )
}

/// A bot running the plugin built from `section` (web on, `test:admin` admin); waits for the
/// stream's first connection.
pub async fn bot(st2: &FakeSt2, section: &str) -> TestBot {
    let plugin = St2Plugin::from_config(toml::from_str(section).unwrap()).unwrap();
    let bot = TestBot::builder()
        .plugin(plugin)
        .config("[bot]\nadmins = [\"test:admin\"]")
        .web()
        .build()
        .await;
    tokio::time::timeout(Duration::from_secs(10), st2.wait_stream_connections(1))
        .await
        .expect("the plugin never connected to the stream");
    bot
}

/// The first message among the next ones (up to 10) whose plain text contains `needle`.
pub async fn find(bot: &TestBot, needle: &str) -> Sent {
    let mut seen = Vec::new();
    for _ in 0..10 {
        match bot.try_next_reply(Duration::from_secs(5)).await {
            Some(s) if s.plain().contains(needle) => return s,
            Some(s) => seen.push(s.plain()),
            None => break,
        }
    }
    panic!("no message containing {needle:?}; saw {seen:#?}");
}
