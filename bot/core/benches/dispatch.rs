//! Dispatcher benchmarks: a command's round trip through a running bot (message in → plugin →
//! reply out, through `ferrbot::testing::TestBot`'s in-process backend), the same with 1,000
//! registered commands, an unknown command's "did you mean" over those 1,000, a pipelined
//! batch (throughput), the round trips again on a current-thread runtime (no hand-offs between
//! threads), and the line parsing on its own.
//!
//! Run with `cargo bench -p ferrbot --bench dispatch`; `docs/performance.md` has the method and
//! the results. Measurement times are kept short so the whole run takes about a minute.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput};
use ferrbot::config::BotConfig;
use ferrbot::prelude::*;
use ferrbot::testing::TestBot;
use ferrbot::{Author, IncomingMessage};

/// Repeat the words.
#[derive(clap::Parser)]
#[command(name = "echo")]
struct Echo {
    /// The words.
    words: Vec<String>,
}

impl Command for Echo {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        Ok(Reply::text(self.words.join(" ")))
    }
}

/// `echo`, and `recho`: the same without clap.
struct Small;

impl Plugin for Small {
    fn manifest(&self) -> Manifest {
        Manifest::new("small", "1.0.0")
            .command::<Echo>()
            .command_spec(CommandSpec::raw(
                "recho",
                "Repeat the words",
                |_ctx, args| async move { Ok(Reply::text(args.join(" "))) },
            ))
    }
}

/// `echo` plus 1,000 raw commands `cmd0000` … `cmd0999`.
struct Many;

impl Plugin for Many {
    fn manifest(&self) -> Manifest {
        (0..1000).fold(
            Manifest::new("many", "1.0.0").command::<Echo>(),
            |manifest, i| {
                manifest.command_spec(CommandSpec::raw(
                    &format!("cmd{i:04}"),
                    "A numbered command",
                    move |_ctx, args| async move {
                        Ok(Reply::text(format!("cmd{i:04} {}", args.join(" "))))
                    },
                ))
            },
        )
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

fn short(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
}

/// Says `line` and waits for the reply, checking it starts with `expect`.
async fn round_trip(bot: &TestBot, line: &str, expect: &str) {
    bot.say("test:alice", line).await;
    let reply = bot.next_reply().await;
    assert!(reply.text().starts_with(expect), "{}", reply.text());
    black_box(reply);
}

/// How many commands [`pipelined`] sends at once.
const BATCH: usize = 100;

/// Says `!echo hi` [`BATCH`] times concurrently, then takes the [`BATCH`] replies.
async fn pipelined(bot: &TestBot) {
    futures_util::future::join_all((0..BATCH).map(|_| bot.say("test:alice", "!echo hi"))).await;
    for _ in 0..BATCH {
        black_box(bot.next_reply().await);
    }
}

/// Round trips on a multi-thread runtime (what the daemon uses).
fn round_trips(c: &mut Criterion) {
    let rt = multi_thread();
    let small = rt.block_on(TestBot::with_plugin(Small));
    let many = rt.block_on(TestBot::with_plugin(Many));
    // Create the outbound lane of the room before measuring.
    rt.block_on(round_trip(&small, "!echo hi", "hi"));
    rt.block_on(round_trip(&many, "!echo hi", "hi"));

    let mut group = c.benchmark_group("dispatch");
    short(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("round_trip", |b| {
        b.to_async(&rt)
            .iter(|| round_trip(&small, "!echo hi", "hi"));
    });
    group.bench_function("dispatch_1000_commands", |b| {
        b.to_async(&rt)
            .iter(|| round_trip(&many, "!cmd0500 hi", "cmd0500 hi"));
    });
    group.bench_function("unknown_command_1000", |b| {
        b.to_async(&rt)
            .iter(|| round_trip(&many, "!cmd05x hi", "Unknown command"));
    });
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("pipelined_100", |b| {
        b.to_async(&rt).iter(|| pipelined(&small));
    });
    group.finish();

    rt.block_on(small.shutdown());
    rt.block_on(many.shutdown());
}

/// The same on a current-thread runtime: no hand-offs between threads, so this is the
/// dispatcher's own cost.
fn round_trips_one_thread(c: &mut Criterion) {
    let rt = current_thread();
    let small = rt.block_on(TestBot::with_plugin(Small));
    rt.block_on(round_trip(&small, "!echo hi", "hi"));

    let mut group = c.benchmark_group("dispatch_current_thread");
    short(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("round_trip", |b| {
        b.to_async(&rt)
            .iter(|| round_trip(&small, "!echo hi", "hi"));
    });
    group.bench_function("round_trip_raw", |b| {
        b.to_async(&rt)
            .iter(|| round_trip(&small, "!recho hi", "hi"));
    });
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("pipelined_100", |b| {
        b.to_async(&rt).iter(|| pipelined(&small));
    });
    group.finish();

    rt.block_on(small.shutdown());
}

fn parsing(c: &mut Criterion) {
    let config = BotConfig::default();
    let message = IncomingMessage {
        id: None,
        room: "test:general"
            .parse()
            .unwrap_or_else(|e| panic!("room id: {e}")),
        thread: None,
        author: Author::from_id(
            "test:alice"
                .parse()
                .unwrap_or_else(|e| panic!("user id: {e}")),
        ),
        text: r#"!incident declare "checkout is down" --sev 1 --lead 'Alice B' web\ 1"#.to_owned(),
        direct: false,
        mentioned: false,
        reply_to: None,
    };

    let mut group = c.benchmark_group("parse");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("command_line", |b| {
        b.iter(|| ferrbot::dispatch::command_line(black_box(&config), black_box(&message)));
    });
    let line = ferrbot::dispatch::command_line(&config, &message).unwrap_or_default();
    group.bench_function("split", |b| {
        b.iter(|| ferrbot::dispatch::split(black_box(line)));
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    round_trips(&mut c);
    round_trips_one_thread(&mut c);
    parsing(&mut c);
    c.final_summary();
}
