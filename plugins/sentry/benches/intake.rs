//! Intake-to-queued throughput: signed Integration Platform requests per second over real HTTP
//! on loopback, from the request to its 2xx answer (verified, parsed, de-duplicated, storm
//! state written, card queued on the outbound queue).
//!
//! Groups: `posted` (every request a new issue: a card is queued), `folded` (repeats of one
//! issue: storm control counts them), `refused` (bad signature: 401), each on the in-memory
//! store and on a SQLite file. Bounded: 10 samples, 4 s of measurement per benchmark.
//!
//! Run: `cargo bench -p ferrbot-plugin-sentry --bench intake`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrbot::store::Store;
use ferrbot::testing::TestBot;
use ferrbot_plugin_sentry::SentryPlugin;
use ferrbot_plugin_sentry::verify::sign;

const SECRET: &str = "bench-client-secret-0123456789abcdef";
/// Requests per measured batch.
const BATCH: u64 = 64;
/// Requests in flight at once.
const CONCURRENCY: u64 = 8;

#[derive(Clone, Copy)]
enum Kind {
    Posted,
    Folded,
    Refused,
}

fn body(issue: u64) -> Vec<u8> {
    // A compact issue.created, as Sentry sends it.
    format!(
        r#"{{"action":"created","actor":{{"id":"sentry","name":"Sentry","type":"application"}},"data":{{"issue":{{"annotations":[],"assignedTo":null,"count":"1","culprit":"?(runner)","firstSeen":"2019-08-19T20:58:37.391000Z","hasSeen":false,"id":"{issue}","isBookmarked":false,"isPublic":false,"isSubscribed":false,"lastSeen":"2019-08-19T20:58:37.391000Z","level":"error","logger":null,"metadata":{{"filename":"/runner","type":"ReferenceError","value":"blooopy is not defined"}},"numComments":0,"permalink":null,"platform":"javascript","project":{{"id":"1","name":"front-end","platform":"","slug":"front-end"}},"shareId":null,"shortId":"FRONT-END-{issue}","status":"unresolved","statusDetails":{{}},"subscriptionDetails":null,"substatus":"new","title":"ReferenceError: blooopy is not defined","type":"error","userCount":1}}}},"installation":{{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}}}}"#
    )
    .into_bytes()
}

async fn bot(store: Store) -> TestBot {
    let section =
        format!("[[routes]]\nname = \"bench\"\nroom = \"test:alerts\"\nsecrets = [\"{SECRET}\"]\n");
    let plugin = SentryPlugin::from_config(toml::from_str(&section).unwrap()).unwrap();
    TestBot::builder()
        .plugin(plugin)
        .store(store)
        .web()
        .build()
        .await
}

async fn one(http: &reqwest::Client, url: &str, kind: Kind, n: u64) {
    let issue = match kind {
        Kind::Folded => 1,
        _ => n,
    };
    let body = body(issue);
    let signature = match kind {
        Kind::Refused => sign(b"not the secret", &body),
        _ => sign(SECRET.as_bytes(), &body),
    };
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("sentry-hook-resource", "issue")
        .header("sentry-hook-signature", signature)
        .header("request-id", format!("{n:032x}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let expected = match kind {
        Kind::Refused => 401,
        _ => 202,
    };
    assert_eq!(response.status().as_u16(), expected);
}

/// Sends `BATCH` requests, `CONCURRENCY` at a time.
async fn batch(http: &reqwest::Client, url: &Arc<str>, kind: Kind, counter: &Arc<AtomicU64>) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let http = http.clone();
        let url = url.clone();
        let counter = counter.clone();
        tasks.spawn(async move {
            for _ in 0..BATCH / CONCURRENCY {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                one(&http, &url, kind, n).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

fn intake(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<(&str, Store)> = rt.block_on(async {
        vec![
            ("memory", Store::memory().await.unwrap()),
            (
                "sqlite-file",
                Store::open(&format!("sqlite://{}/bench.db", dir.path().display()))
                    .await
                    .unwrap(),
            ),
        ]
    });
    let mut group = c.benchmark_group("sentry_intake");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(BATCH));
    let http = reqwest::Client::new();
    let counter = Arc::new(AtomicU64::new(1_000_000));
    for (store_name, store) in stores {
        let bot = rt.block_on(bot(store));
        let url: Arc<str> = format!("{}/plugins/sentry/hook/bench", bot.web_url()).into();
        for (name, kind) in [
            ("posted", Kind::Posted),
            ("folded", Kind::Folded),
            ("refused", Kind::Refused),
        ] {
            group.bench_function(format!("{name}/{store_name}"), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let http = http.clone();
                    let url = url.clone();
                    let counter = counter.clone();
                    async move {
                        let start = Instant::now();
                        for _ in 0..iters {
                            batch(&http, &url, kind, &counter).await;
                        }
                        start.elapsed()
                    }
                });
            });
        }
        rt.block_on(bot.shutdown());
    }
    group.finish();
}

criterion_group!(benches, intake);
criterion_main!(benches);
