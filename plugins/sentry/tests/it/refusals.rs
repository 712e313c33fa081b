//! The same bytes that are accepted when signed are refused — with the right status, a JSON
//! reason, and nothing posted — when anything about the request is wrong.

use crate::support::{QUIET, SECRET, TOKEN, bot, fixture, next_card, post, post_signed};
use ferrbot_plugin_sentry::verify::sign;

/// What is wrong, URL, body, headers, expected status, expected reason.
type Case<'a> = (&'a str, String, Vec<u8>, Headers<'a>, u16, &'a str);
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn headers<'a>(signature: &'a str, content_type: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("content-type", content_type),
        ("sentry-hook-resource", "issue"),
        ("sentry-hook-signature", signature),
    ]
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason_and_nothing_is_posted() {
    let bot = bot("").await;
    let base = bot.web_url();
    let hook = format!("{base}/plugins/sentry/hook/ops");
    let body = fixture("issue-created.json");
    let good = sign(SECRET.as_bytes(), &body);
    let not_json = b"this is not { json".to_vec();
    let not_json_sig = sign(SECRET.as_bytes(), &not_json);
    let array = b"[1, 2, 3]".to_vec();
    let array_sig = sign(SECRET.as_bytes(), &array);
    let wrong = sign(b"someone else's secret", &body);
    let big = {
        let mut v = b"{\"pad\":\"".to_vec();
        v.extend(std::iter::repeat_n(b'x', 70_000));
        v.extend(b"\"}");
        v
    };
    let big_sig = sign(SECRET.as_bytes(), &big);

    let cases: Vec<Case> = vec![
        (
            "wrong signature",
            hook.clone(),
            body.clone(),
            headers(&wrong, "application/json"),
            401,
            "bad signature",
        ),
        (
            "signature that is not hex",
            hook.clone(),
            body.clone(),
            headers("not-hex!", "application/json"),
            401,
            "bad signature",
        ),
        (
            "missing signature",
            hook.clone(),
            body.clone(),
            vec![
                ("content-type", "application/json"),
                ("sentry-hook-resource", "issue"),
            ],
            401,
            "missing signature (Sentry-Hook-Signature)",
        ),
        (
            "bad token",
            format!("{hook}/{}", "f".repeat(64)),
            fixture("legacy-webhook-plugin.json"),
            vec![("content-type", "application/json")],
            401,
            "bad token",
        ),
        (
            "good token but a bad signature on a route with secrets",
            format!("{hook}/{TOKEN}"),
            body.clone(),
            headers(&wrong, "application/json"),
            401,
            "bad signature",
        ),
        (
            "unknown route",
            format!("{base}/plugins/sentry/hook/nope"),
            body.clone(),
            headers(&good, "application/json"),
            404,
            "unknown route",
        ),
        (
            "non-JSON",
            hook.clone(),
            not_json,
            headers(&not_json_sig, "application/json"),
            400,
            "the body is not valid JSON",
        ),
        (
            "JSON that is not an object",
            hook.clone(),
            array,
            headers(&array_sig, "application/json"),
            400,
            "the body is JSON but not an object",
        ),
        (
            "wrong content type",
            hook.clone(),
            body.clone(),
            headers(&good, "text/plain"),
            415,
            "expected Content-Type: application/json",
        ),
        (
            "no content type",
            format!("{hook}/{TOKEN}"),
            fixture("legacy-webhook-plugin.json"),
            vec![],
            415,
            "expected Content-Type: application/json",
        ),
        (
            "oversize",
            hook.clone(),
            big,
            headers(&big_sig, "application/json"),
            413,
            "request body too large",
        ),
    ];
    for (what, url, body, headers, status, reason) in cases {
        let answer = post(&url, body, &headers).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.json);
        assert!(
            answer.error().starts_with(reason),
            "{what}: {:?} does not start with {reason:?}",
            answer.error()
        );
        bot.assert_silent(QUIET).await;
    }

    // The same bytes, signed, still go through.
    let answer = post_signed(&bot, "ops", "issue", body, SECRET, "ok").await;
    assert_eq!(answer.status, 202);
    next_card(&bot).await;
}

#[tokio::test]
async fn a_revoked_route_is_refused_at_once() {
    let bot = bot("").await;
    bot.say_in("test:ops", "test:root", "!sentry channel revoke")
        .await;
    let reply = bot.next_reply().await.text();
    assert_eq!(
        reply,
        "Revoked `ops` for `test:ops`: their URLs stop working now."
    );
    let answer = post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.json);
    assert_eq!(answer.error(), "route revoked");
    let url = format!("{}/plugins/sentry/hook/ops/{TOKEN}", bot.web_url());
    let answer = post(
        &url,
        fixture("legacy-webhook-plugin.json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(answer.status, 403);
    bot.assert_silent(QUIET).await;
}

#[tokio::test]
async fn the_allow_list_can_cover_every_route() {
    let bot = bot("[ip_allow]\nall_routes = true\ntrusted_proxies = []").await;
    // The bot's peer is the local proxy (127.0.0.1), which is not one of Sentry's addresses.
    let answer = post_signed(
        &bot,
        "ops",
        "issue",
        fixture("issue-created.json"),
        SECRET,
        "r1",
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.json);
    assert_eq!(answer.error(), "source address not allowed");
    bot.assert_silent(QUIET).await;
}
