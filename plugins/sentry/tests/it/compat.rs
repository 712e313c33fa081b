//! The Sentry Bot compatibility route: off by default; when on, only authorized rooms and only
//! allowed source addresses (read through trusted proxies' `X-Forwarded-For`).

use ferrbot::markup::Span;

use crate::support::{QUIET, builder, fixture, next_card, post};

fn section(ip_allow: &str) -> String {
    format!(
        r#"public_url = "https://bot.example.com"

[storm]
window = "0s"

[compat]
enabled = true
backend = "test"

[ip_allow]
{ip_allow}
"#
    )
}

async fn authorized_bot(ip_allow: &str) -> ferrbot::testing::TestBot {
    let bot = builder(&section(ip_allow)).build().await;
    bot.say_in("test:ops", "test:root", "!sentry channel authorize")
        .await;
    bot.next_reply().await;
    bot.next_reply().await;
    bot
}

async fn send(
    bot: &ferrbot::testing::TestBot,
    query: &str,
    xff: Option<&str>,
) -> crate::support::Answer {
    let url = format!(
        "{}/plugins/sentry/sentry-bot/channel?{query}",
        bot.web_url()
    );
    let mut headers = vec![("content-type", "application/json")];
    if let Some(xff) = xff {
        headers.push(("x-forwarded-for", xff));
    }
    post(&url, fixture("legacy-webhook-plugin.json"), &headers).await
}

#[tokio::test]
async fn an_allowed_address_posts_to_an_authorized_room_with_a_mention() {
    let bot = authorized_bot("cidrs = [\"127.0.0.1/32\"]\ntrusted_proxies = []").await;
    let answer = send(&bot, "id=test:ops&mention=test:bob", None).await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (sent, card) = next_card(&bot).await;
    assert_eq!(sent.room().unwrap().to_string(), "test:ops");
    assert_eq!(card.title, "ValueError: new sentry error.");
    assert!(
        sent.message
            .text
            .spans()
            .iter()
            .any(|s| matches!(s, Span::Mention { user } if user.to_string() == "test:bob"))
    );

    // Sentry Bot's URLs carried bare ids: `compat.backend` qualifies them.
    let answer = send(&bot, "id=ops&mention=%3C%40carol%3E", None).await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let (sent, _) = next_card(&bot).await;
    assert_eq!(sent.room().unwrap().to_string(), "test:ops");
    assert_eq!(sent.text(), "@carol");

    // Rooms nobody authorized are refused.
    let answer = send(&bot, "id=test:elsewhere", None).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.error().starts_with("room not authorized"),
        "{}",
        answer.error()
    );
    let answer = send(&bot, "mention=test:bob", None).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error(), "missing ?id=<room>");
    bot.assert_silent(QUIET).await;

    // Revoking the room closes the compatibility route to it too.
    bot.say_in("test:ops", "test:root", "!sentry channel revoke")
        .await;
    bot.next_reply().await;
    let answer = send(&bot, "id=test:ops", None).await;
    assert_eq!(answer.status, 403);
    bot.assert_silent(QUIET).await;
}

#[tokio::test]
async fn an_address_off_the_allow_list_is_refused() {
    // The default allow list is Sentry's published addresses; the local peer is not on it.
    let bot = authorized_bot("trusted_proxies = []").await;
    let answer = send(&bot, "id=test:ops", None).await;
    assert_eq!(answer.status, 403, "{}", answer.json);
    assert_eq!(answer.error(), "source address not allowed");
    // Without a trusted proxy, X-Forwarded-For is not believed.
    let answer = send(&bot, "id=test:ops", Some("35.184.238.160")).await;
    assert_eq!(answer.status, 403);
    bot.assert_silent(QUIET).await;
}

#[tokio::test]
async fn forwarded_for_is_read_from_a_trusted_proxy() {
    let bot = authorized_bot("trusted_proxies = [\"127.0.0.1/32\"]").await;
    // Sentry's EU and US addresses, as the local proxy reports them.
    for xff in ["34.141.31.19", "198.51.100.1, 35.184.238.160"] {
        let answer = send(&bot, "id=test:ops", Some(xff)).await;
        assert_eq!(answer.status, 202, "{xff}: {}", answer.json);
        next_card(&bot).await;
    }
    // A client cannot smuggle an allowed address left of its own.
    for xff in ["203.0.113.9", "35.184.238.160, 203.0.113.9"] {
        let answer = send(&bot, "id=test:ops", Some(xff)).await;
        assert_eq!(answer.status, 403, "{xff}");
        assert_eq!(answer.error(), "source address not allowed");
    }
    // No header: the client is the proxy itself, which is not Sentry.
    assert_eq!(send(&bot, "id=test:ops", None).await.status, 403);
    bot.assert_silent(QUIET).await;
}

#[tokio::test]
async fn the_route_is_off_by_default() {
    let bot = builder("").build().await;
    let url = format!(
        "{}/plugins/sentry/sentry-bot/channel?id=test:ops",
        bot.web_url()
    );
    let answer = post(
        &url,
        fixture("legacy-webhook-plugin.json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.error(), "the Sentry Bot compatibility route is off");
    bot.assert_silent(QUIET).await;
}
