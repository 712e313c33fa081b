//! The fake StackStorm itself follows the documented contract: these tests pin what the plugin's
//! tests rely on (header rules, st2's error texts, paging, token expiry, the stream).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fake_st2/mod.rs"]
mod fake_st2;

use std::time::Duration;

use fake_st2::FakeSt2;
use serde_json::{Value, json};

fn alias() -> Value {
    json!({
        "name": "remote_shell_cmd", "pack": "examples", "action_ref": "core.remote",
        "description": "Execute a command on a remote host via SSH.", "enabled": true,
        "formats": ["run {{cmd}} on {{hosts}}"],
        "ack": {"enabled": true, "format": "Running {{ execution.parameters.cmd }}", "append_url": true},
        "result": {"enabled": true, "format": "Ran {{ execution.parameters.cmd }}"}
    })
}

#[tokio::test]
async fn credentials_follow_st2_header_rules() {
    let st2 = FakeSt2::start().await;
    st2.add_user("errbot", "s3cret", false);
    st2.add_api_key("key1", "errbot");
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/actionalias", st2.url());

    let none = http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.unwrap();
    assert_eq!(
        body["faultstring"],
        "Unauthorized - One of Token or API key required."
    );

    let token: Value = http
        .post(format!("{}/auth/v1/tokens", st2.url()))
        .basic_auth("errbot", Some("s3cret"))
        .json(&json!({"ttl": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let both = http
        .get(&url)
        .header("X-Auth-Token", &token)
        .header("St2-Api-Key", "key1")
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 401);
    let ok = http
        .get(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let ok = http
        .get(&url)
        .header("St2-Api-Key", "key1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    st2.expire_tokens_of("errbot");
    let expired = http
        .get(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["faultstring"], "Unauthorized - Token has expired.");

    let bad = http
        .post(format!("{}/auth/v1/tokens", st2.url()))
        .basic_auth("errbot", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let too_long = http
        .post(format!("{}/auth/v1/tokens", st2.url()))
        .basic_auth("errbot", Some("s3cret"))
        .json(&json!({"ttl": 10_000_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 400);
}

#[tokio::test]
async fn aliases_page_and_execute_with_st2_texts() {
    let st2 = FakeSt2::start().await;
    st2.add_api_key("key1", "errbot");
    for i in 0..3 {
        let mut a = alias();
        a["name"] = json!(format!("a{i}"));
        a["formats"] = json!([format!("cmd{i} {{{{x}}}}")]);
        st2.add_alias(a);
    }
    st2.add_alias(alias());
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{}/api/v1/actionalias?limit=2&offset=2", st2.url()))
        .header("St2-Api-Key", "key1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["X-Total-Count"], "4");
    let items: Vec<Value> = page.json().await.unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["name"], "remote_shell_cmd");

    let exec = |command: &str| {
        http.post(format!(
            "{}/api/v1/aliasexecution/match_and_execute",
            st2.url()
        ))
        .header("St2-Api-Key", "key1")
        .json(
            &json!({"command": command, "user": "alice", "source_channel": "#ops",
                      "notification_route": "errbot", "notification_channel": "#ops"}),
        )
        .send()
    };
    let resp = exec("run date on web1").await.unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["results"][0]["message"], "Running date");
    assert_eq!(st2.executions()[0].parameters["hosts"], "web1");
    assert_eq!(st2.executions()[0].st2_user, "errbot");

    let resp = exec("dance").await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["faultstring"], "Command 'dance' matched no patterns");
}

#[tokio::test]
async fn the_stream_heartbeats_drops_and_holds_announcements() {
    let st2 = FakeSt2::start().await;
    st2.add_api_key("key1", "errbot");
    st2.set_heartbeat(Duration::from_millis(100));
    let http = reqwest::Client::new();
    let connect = || {
        http.get(format!(
            "{}/stream/v1/stream?events=st2.announcement__errbot",
            st2.url()
        ))
        .header("St2-Api-Key", "key1")
        .send()
    };
    let mut resp = connect().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=UTF-8"
    );
    assert_eq!(resp.chunk().await.unwrap().unwrap(), "\n");
    st2.announce("errbot", json!({"message": "hi", "channel": "#ops"}))
        .await;
    let event = resp.chunk().await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&event);
    assert!(
        text.starts_with("event: st2.announcement__errbot\ndata: {"),
        "{text}"
    );
    assert!(text.contains("\"message\":\"hi\""), "{text}");

    st2.drop_streams();
    let mut dropped = false;
    for _ in 0..10 {
        match resp.chunk().await {
            Err(_) => {
                dropped = true;
                break;
            }
            Ok(None) => break,
            Ok(Some(_)) => {}
        }
    }
    assert!(dropped, "the connection must be aborted, not ended cleanly");

    st2.announce(
        "errbot",
        json!({"message": "while away", "channel": "#ops"}),
    )
    .await;
    let mut resp = connect().await.unwrap();
    let event = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&event).contains("while away"));
    assert_eq!(st2.stream_connections(), 2);
}
