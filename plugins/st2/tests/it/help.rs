//! `!st2help` and `!st2 help`, and `!st2 status`.

use serde_json::json;

use crate::support::{bot, find, section, st2};

#[tokio::test]
async fn help_is_grouped_by_pack_and_filters() {
    let st2 = st2().await;
    st2.add_alias(
        json!({"name": "deploy", "pack": "ops", "action_ref": "core.local",
        "description": "Deploy an app.", "formats": ["deploy {{app}}"]}),
    );
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.say("test:alice", "!st2help").await;
    let m = find(&bot, "Aliases 1–2 of 2").await;
    let text = m.plain();
    assert!(text.contains("examples") && text.contains("ops"), "{text}");
    assert!(text.contains("!st2 run {{cmd}} on {{hosts}}"), "{text}");
    assert!(text.contains("Deploy an app."), "{text}");

    bot.say("test:alice", "!st2 help --pack ops").await;
    let m = find(&bot, "of 1").await;
    assert!(m.plain().contains("deploy {{app}}"));
    assert!(!m.plain().contains("run {{cmd}}"));

    bot.say("test:alice", "!st2help --filter dep --limit 1")
        .await;
    let m = find(&bot, "Aliases 1–1 of 1").await;
    assert!(m.plain().contains("deploy"));
}

#[tokio::test]
async fn status_shows_reachability_modes_stream_and_cache() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.run_jobs().await;
    bot.say("test:alice", "!st2 status").await;
    let m = find(&bot, "Stream:").await;
    let text = m.plain();
    assert!(text.contains("reachable"), "{text}");
    assert!(text.contains("Bot auth: password"), "{text}");
    assert!(text.contains("RBAC: standalone"), "{text}");
    assert!(text.contains("connected"), "{text}");
    assert!(text.contains("Aliases cached: 1"), "{text}");

    st2.set_down(true);
    bot.say("test:alice", "!st2 status").await;
    let m = find(&bot, "Stream:").await;
    assert!(m.plain().contains("503"), "{}", m.plain());
}

#[tokio::test]
async fn the_alias_cache_reads_every_page() {
    let st2 = st2().await;
    for i in 0..250 {
        st2.add_alias(
            json!({"name": format!("a{i}"), "pack": "bulk", "action_ref": "core.noop",
            "formats": [format!("bulk{i} {{{{x}}}}")]}),
        );
    }
    let bot = bot(&st2, &section(&st2, None, "")).await;
    bot.run_jobs().await;
    bot.say("test:alice", "!st2 status").await;
    let m = find(&bot, "Aliases cached").await;
    assert!(m.plain().contains("Aliases cached: 251"), "{}", m.plain());
    let pages = st2
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v1/actionalias")
        .count();
    assert!(pages >= 3, "only {pages} alias requests");
}
