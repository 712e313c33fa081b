//! Shared helpers of the incident plugin's tests.
#![allow(dead_code)]

use std::time::Duration;

use ferrbot::store::Store;
use ferrbot::testing::{TestBot, caps};
use ferrbot_plugin_incident::IncidentPlugin;
use ferrbot_plugin_incident::model::{Incident, TimelineEvent};
use ferrbot_plugin_incident::store::{self, IncidentStore};

/// A console-like bot with the plugin configured by `section` (TOML of `[plugins.incident]`).
pub async fn bot(section: &str) -> TestBot {
    bot_on(section, None).await
}

/// A bot whose only backend is `name` with these capabilities.
pub async fn bot_with(name: &str, capabilities: ferrbot::Capabilities, section: &str) -> TestBot {
    let value: toml::Value = toml::from_str(section).unwrap();
    let plugin = IncidentPlugin::from_config(value).unwrap();
    TestBot::builder()
        .backend(name, capabilities)
        .config(&format!("[bot]\nadmins = [\"{name}:root\"]\n"))
        .plugin(plugin)
        .build()
        .await
}

/// Same, on a given store.
pub async fn bot_on(section: &str, db: Option<Store>) -> TestBot {
    let value: toml::Value = toml::from_str(section).unwrap();
    let plugin = IncidentPlugin::from_config(value).unwrap();
    let mut b = TestBot::builder()
        .backend("console", caps::console())
        .config("[bot]\nadmins = [\"console:root\"]\n")
        .plugin(plugin);
    if let Some(db) = db {
        b = b.store(db);
    }
    b.build().await
}

/// Says `text` as `user` in the default room and returns the reply's text.
pub async fn ask(bot: &TestBot, user: &str, text: &str) -> String {
    bot.say(user, text).await;
    bot.next_reply().await.plain()
}

/// Says `text` as `user` in `room`, returns the reply.
pub async fn ask_in(bot: &TestBot, room: &str, user: &str, text: &str) -> String {
    bot.say_in(room, user, text).await;
    bot.next_reply().await.plain()
}

/// The id in a `Declared #N …` reply.
pub fn declared_id(reply: &str) -> u64 {
    let rest = reply
        .split("Declared #")
        .nth(1)
        .unwrap_or_else(|| panic!("not a declare reply: {reply}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no id in {reply}"))
}

/// An incident as stored.
pub async fn incident(bot: &TestBot, id: u64) -> Incident {
    let s = IncidentStore::new(bot.store());
    let mut c = s.read().await.unwrap();
    store::incident(&mut c, id).await.unwrap().unwrap()
}

/// Every incident as stored.
pub async fn incidents(bot: &TestBot) -> Vec<Incident> {
    let s = IncidentStore::new(bot.store());
    let mut c = s.read().await.unwrap();
    store::incidents(&mut c, &[], None).await.unwrap()
}

/// An incident's timeline as stored.
pub async fn events(bot: &TestBot, id: u64) -> Vec<TimelineEvent> {
    let s = IncidentStore::new(bot.store());
    let mut c = s.read().await.unwrap();
    store::events(&mut c, id).await.unwrap()
}

/// Advances the bot's clock.
pub fn advance(bot: &TestBot, minutes: u64) {
    bot.clock().advance(Duration::from_secs(minutes * 60));
}
