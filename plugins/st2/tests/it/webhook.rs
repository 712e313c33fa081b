//! The chatops webhook: bearer token, JSON errors, delivery.

use serde_json::json;

use crate::support::{bot, find, section, st2};

const TOKEN: &str = "webhook-token-0123456789abcdef";

async fn post(
    url: &str,
    auth: Option<&str>,
    ct: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().post(url).body(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn webhook_delivers_with_the_right_token_and_refuses_the_rest() {
    let st2 = st2().await;
    let bot = bot(
        &st2,
        &section(&st2, None, &format!("[webhook]\ntoken = \"{TOKEN}\"")),
    )
    .await;
    let url = format!("{}/plugins/st2/chatops/message", bot.web_url());
    let bearer = format!("Bearer {TOKEN}");
    let body = |v: serde_json::Value| v.to_string().into_bytes();

    let (status, json) = post(
        &url,
        Some(&bearer),
        Some("application/json"),
        body(json!({"channel": "test:ops", "message": "from a workflow", "user": "test:alice"})),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    let m = find(&bot, "from a workflow").await;
    assert_eq!(
        m.room().map(ToString::to_string).as_deref(),
        Some("test:ops")
    );

    let (status, _) = post(&url, Some(&bearer), Some("application/json"),
        body(json!({"channel": "test:ops", "message": "secret note", "user": "test:alice", "whisper": true}))).await;
    assert_eq!(status, 200);
    let m = find(&bot, "secret note").await;
    assert_eq!(
        m.direct_to().map(ToString::to_string).as_deref(),
        Some("test:alice")
    );

    let (status, json) = post(
        &url,
        Some("Bearer wrong-token"),
        Some("application/json"),
        body(json!({"message": "x"})),
    )
    .await;
    assert_eq!(status, 401);
    assert!(json["error"].as_str().unwrap().contains("Bearer"));
    let (status, _) = post(
        &url,
        None,
        Some("application/json"),
        body(json!({"message": "x"})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &url,
        Some(&bearer),
        Some("text/plain"),
        body(json!({"message": "x"})),
    )
    .await;
    assert_eq!(status, 415);
    let (status, json) = post(
        &url,
        Some(&bearer),
        Some("application/json"),
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(json["error"].is_string());
    let (status, json) = post(
        &url,
        Some(&bearer),
        Some("application/json"),
        body(json!({"message": "no room"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        json["error"].as_str().unwrap().contains("channel"),
        "{json}"
    );
    let big = json!({"channel": "test:ops", "message": "x".repeat(70 * 1024)});
    let (status, _) = post(&url, Some(&bearer), Some("application/json"), body(big)).await;
    assert_eq!(status, 413);
    bot.assert_silent(std::time::Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn without_a_token_the_webhook_is_not_served() {
    let st2 = st2().await;
    let bot = bot(&st2, &section(&st2, None, "")).await;
    let url = format!("{}/plugins/st2/chatops/message", bot.web_url());
    let (status, _) = post(
        &url,
        Some("Bearer x"),
        Some("application/json"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn err_stackstorms_root_path_is_served_when_enabled() {
    let fake = st2().await;
    let chat = bot(
        &fake,
        &section(
            &fake,
            None,
            &format!("[webhook]\ntoken = \"{TOKEN}\"\nerrbot_path = true"),
        ),
    )
    .await;
    let url = format!("{}/chatops/message", chat.web_url());
    let (status, json) = post(
        &url,
        Some(&format!("Bearer {TOKEN}")),
        Some("application/json"),
        json!({"channel": "test:ops", "message": "via the errbot path"})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    let m = find(&chat, "via the errbot path").await;
    assert_eq!(
        m.room().map(ToString::to_string).as_deref(),
        Some("test:ops")
    );
    let (status, _) = post(
        &url,
        Some("Bearer wrong"),
        Some("application/json"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 401);

    // Off by default: the root path is not served.
    let other = st2().await;
    let plain = bot(
        &other,
        &section(&other, None, &format!("[webhook]\ntoken = \"{TOKEN}\"")),
    )
    .await;
    let (status, _) = post(
        &format!("{}/chatops/message", plain.web_url()),
        Some(&format!("Bearer {TOKEN}")),
        Some("application/json"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 404);
}
