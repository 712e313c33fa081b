//! `!inc report --link`: a report readable over HTTP without an account, for as long as the
//! link lives, and only through a key the bot handed to someone who may see the incident.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use ferrbot::testing::{TestBot, caps};
use ferrbot_plugin_incident::IncidentPlugin;

const ALICE: &str = "slack:alice";
const EVE: &str = "slack:eve";
const ROOM: &str = "slack:general";

async fn bot(section: &str) -> TestBot {
    let plugin = IncidentPlugin::from_config(toml::from_str(section).unwrap()).unwrap();
    TestBot::builder()
        .backend("slack", caps::slack())
        .config("[bot]\nadmins = [\"slack:root\"]\n")
        .plugin(plugin)
        .web()
        .build()
        .await
}

async fn ask(bot: &TestBot, user: &str, text: &str) -> String {
    bot.say_in(ROOM, user, text).await;
    bot.next_reply().await.plain()
}

/// The key and the path of the link in a reply.
fn link_of(reply: &str) -> (String, String) {
    let start = reply.find("https://bot.example.com").expect("a link");
    let url = reply[start..].split_whitespace().next().unwrap();
    let path = url.trim_start_matches("https://bot.example.com").to_owned();
    let key = path.split("key=").nth(1).unwrap().to_owned();
    (key, path)
}

async fn get(bot: &TestBot, path: &str) -> (u16, String, String) {
    let response = reqwest::get(format!("{}{path}", bot.web_url()))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test]
async fn a_link_serves_the_report_until_it_expires() {
    let bot = bot("public_url = \"https://bot.example.com/\"\nreport_link_ttl = \"2h\"\n").await;
    ask(&bot, ALICE, "!inc declare Checkout 502s --sev 2").await;
    ask(&bot, ALICE, "!inc note #1 rolled back v2").await;

    let reply = ask(&bot, ALICE, "!inc report 1 --link").await;
    assert!(
        reply.starts_with("Report of #1 Checkout 502s: https://bot.example.com/plugins/incident/incidents/1/report.md?key="),
        "{reply}"
    );
    assert!(reply.contains("(works until "), "{reply}");
    let (key, path) = link_of(&reply);
    assert_eq!(key.len(), 64);

    let (status, kind, body) = get(&bot, &path).await;
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("text/markdown"), "{kind}");
    assert!(body.starts_with("# Incident #1: Checkout 502s"), "{body}");
    assert!(body.contains("rolled back v2"), "{body}");

    // The key opens this incident only; a made-up key opens nothing; no key neither.
    ask(&bot, ALICE, "!inc declare Queue stuck").await;
    for bad in [
        format!("/plugins/incident/incidents/2/report.md?key={key}"),
        format!(
            "/plugins/incident/incidents/1/report.md?key={}",
            "0".repeat(64)
        ),
        "/plugins/incident/incidents/1/report.md".to_owned(),
        format!("/plugins/incident/incidents/x/report.md?key={key}"),
    ] {
        let (status, _, body) = get(&bot, &bad).await;
        assert_eq!(status, 404, "{bad}");
        assert!(
            body.contains("the link is unknown or has expired"),
            "{body}"
        );
        assert!(
            !body.contains("Queue stuck") && !body.contains("Checkout"),
            "{body}"
        );
    }

    // Still good just before the end, gone after it.
    bot.clock().advance(Duration::from_secs(2 * 3600 - 60));
    assert_eq!(get(&bot, &path).await.0, 200);
    bot.clock().advance(Duration::from_secs(61));
    let (status, _, body) = get(&bot, &path).await;
    assert_eq!(status, 404);
    assert!(body.contains("!incident report <id> --link"), "{body}");
}

#[tokio::test]
async fn links_need_a_public_url_and_a_private_incident_gets_one_privately() {
    let bot = bot("").await;
    ask(&bot, ALICE, "!inc declare Checkout 502s").await;
    let reply = ask(&bot, ALICE, "!inc report 1 --link").await;
    assert!(
        reply.contains("report links need the bot's public address")
            && reply.contains("public_url"),
        "{reply}"
    );

    let bot = bot_with_url().await;
    ask(&bot, ALICE, "!inc declare Payroll leak --private").await;
    // An outsider gets no link.
    let reply = ask(&bot, EVE, "!inc report 1 --link").await;
    assert!(reply.contains("#1 is private"), "{reply}");
    assert!(!reply.contains("https://"), "{reply}");
    // An insider gets it in a direct message, not in the room.
    bot.say_in(ROOM, ALICE, "!inc report 1 --link").await;
    let mut in_room = None;
    let mut direct = None;
    for _ in 0..2 {
        let sent = bot.next_reply().await;
        if sent.direct_to().is_some() {
            direct = Some(sent.plain());
        } else {
            in_room = Some(sent.plain());
        }
    }
    let in_room = in_room.expect("a reply in the room");
    assert_eq!(
        in_room,
        "#1 is private: I sent you its report link in a direct message."
    );
    let direct = direct.expect("a direct message");
    let (_, path) = link_of(&direct);
    let (status, _, body) = get(&bot, &path).await;
    assert_eq!(status, 200);
    assert!(body.contains("Payroll leak"), "{body}");
}

async fn bot_with_url() -> TestBot {
    bot("public_url = \"https://bot.example.com\"\n").await
}

#[test]
fn bad_settings_name_the_key() {
    for (section, key) in [
        ("public_url = \"bot.example.com\"", "public_url"),
        ("report_link_ttl = \"0m\"", "report_link_ttl"),
        ("report_link_ttl = \"31d\"", "report_link_ttl"),
        ("report_link_ttl = \"soon\"", "report_link_ttl"),
    ] {
        let err = IncidentPlugin::from_config(toml::from_str(section).unwrap())
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains(&format!("[plugins.incident] {key}")),
            "{section}: {err}"
        );
    }
}
