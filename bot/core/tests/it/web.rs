//! The web server over real HTTP on loopback.

use ferrbot::testing::TestBot;

use crate::support::Kit;

async fn bot() -> TestBot {
    TestBot::builder()
        .plugin(Kit)
        .config("[web]\nbody_limit = 1024\nrequest_timeout = \"300ms\"")
        .web()
        .build()
        .await
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let bot = bot().await;
    let http = reqwest::Client::new();
    let base = bot.web_url();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["backends"]["test"]["state"], "connected");

    bot.say("test:alice", "!echo hi").await;
    bot.next_reply().await;
    bot.say("test:alice", "!nosuch").await;
    bot.next_reply().await;
    http.post(format!("{base}/plugins/kit/echo"))
        .body("abc")
        .send()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"ferrbot_commands_total{command="echo",outcome="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ferrbot_commands_total{command="unknown",outcome="unknown"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ferrbot_messages_in_total{backend="test"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ferrbot_messages_out_total{backend="test",outcome="sent"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("ferrbot_command_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"ferrbot_webhook_requests_total{route="/plugins/kit/echo",status="200"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn plugin_routes_body_limit_404_and_timeouts_answer_json() {
    let bot = bot().await;
    let http = reqwest::Client::new();
    let base = bot.web_url();

    let ok = http
        .post(format!("{base}/plugins/kit/echo"))
        .body("x".repeat(100))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "got 100 bytes");

    let big = http
        .post(format!("{base}/plugins/kit/echo"))
        .header("x-request-id", "req-413")
        .body("x".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(big.headers()["x-request-id"], "req-413");
    let body: serde_json::Value = big.json().await.unwrap();
    assert_eq!(body["error"], "request body too large (limit 1024 bytes)");
    assert_eq!(body["request_id"], "req-413");

    let missing = http.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "no route for GET /nope");
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));

    let slow = http
        .get(format!("{base}/plugins/kit/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 408);
    let body: serde_json::Value = slow.json().await.unwrap();
    assert_eq!(body["error"], "the request took too long and was stopped");
}

#[tokio::test]
async fn disabled_plugins_stop_serving_routes() {
    let bot = TestBot::builder()
        .plugin(Kit)
        .config("[bot]\nadmins = [\"test:root\"]")
        .web()
        .build()
        .await;
    let http = reqwest::Client::new();
    let url = format!("{}/plugins/kit/echo", bot.web_url());
    assert_eq!(
        http.post(&url).body("a").send().await.unwrap().status(),
        200
    );
    bot.say("test:root", "!plugins disable kit").await;
    bot.next_reply().await;
    let off = http.post(&url).body("a").send().await.unwrap();
    assert_eq!(off.status(), 503);
    let body: serde_json::Value = off.json().await.unwrap();
    assert_eq!(body["error"], "plugin `kit` is disabled");
}

#[tokio::test]
async fn a_panicking_route_answers_500_and_the_server_keeps_serving() {
    let bot = bot().await;
    let http = reqwest::Client::new();
    let base = bot.web_url();
    let boom = http
        .get(format!("{base}/plugins/kit/panic"))
        .send()
        .await
        .unwrap();
    assert_eq!(boom.status(), 500);
    let body: serde_json::Value = boom.json().await.unwrap();
    assert_eq!(body["error"], "internal error; it was logged");
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn plugins_root_routes_are_served_but_never_over_the_servers_own() {
    let bot = TestBot::builder()
        .plugin(Kit)
        .config("[bot]\nadmins = [\"test:root\"]")
        .web()
        .build()
        .await;
    let http = reqwest::Client::new();
    let base = bot.web_url();
    let ping = http
        .get(format!("{base}/compat/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.text().await.unwrap(), "compat pong");
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert_ne!(metrics.text().await.unwrap(), "fake metrics");
    // A disabled plugin's root routes stop answering too.
    bot.say("test:root", "!plugins disable kit").await;
    bot.next_reply().await;
    let ping = http
        .get(format!("{base}/compat/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 503);
}
