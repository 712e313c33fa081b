//! Criterion benchmark of the local StackStorm alias parser over 1,000 aliases.
//!
//! The formats are generated to look like real packs' aliases (verbs, objects, required and
//! optional placeholders, quoted defaults, regex alternatives, named groups). Measured:
//! - `compile_1000_formats`: `AliasFormat::parse` of all 1,000 formats (alias cache refresh);
//! - `scan_1000_formats/*`: one chat command tried against all 1,000 compiled formats, as
//!   the plugin's preview / "did you mean" does (a command that matches exactly one format,
//!   and one that matches none; `one_match_prepared` splits the command once with
//!   `PreparedCommand` and reuses it);
//! - `extract_one`: one `extract` on a typical format (with trailing `key=value` extras).
//!
//! Run: `cargo bench -p ferrbot-plugin-st2 --bench alias -- --quick`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrbot_plugin_st2::alias::{AliasFormat, PreparedCommand};

const VERBS: [&str; 10] = [
    "run", "deploy", "restart", "show", "list", "get", "create", "delete", "scale", "ping",
];
const OBJECTS: [&str; 10] = [
    "service", "app", "host", "pod", "ticket", "incident", "job", "backup", "cert", "user",
];
const PACKS: [&str; 10] = [
    "core",
    "linux",
    "k8s",
    "jira",
    "pagerduty",
    "aws",
    "nginx",
    "mysql",
    "vault",
    "github",
];

/// 1,000 distinct, realistic formats.
fn formats() -> Vec<String> {
    let mut out = Vec::with_capacity(1000);
    for (p, pack) in PACKS.iter().enumerate() {
        for (v, verb) in VERBS.iter().enumerate() {
            for (o, object) in OBJECTS.iter().enumerate() {
                let format = match (p + v + o) % 5 {
                    0 => format!("{pack} {verb} {object} {{{{name}}}}"),
                    1 => format!("{pack} {verb} {object} {{{{name}}}} on {{{{host=localhost}}}}"),
                    2 => format!(
                        "{pack} {verb} {object} {{{{name}}}} in {{{{env=\"prod eu\"}}}} with {{{{count=1}}}}"
                    ),
                    3 => format!(
                        "(?:{pack}|{p}) {verb} {object} {{{{name}}}}( on {{{{host=localhost}}}})?[!.]?"
                    ),
                    _ => format!(r"{pack} {verb} {object} (?P<id>[A-Z]+-\d+) {{{{action}}}}"),
                };
                out.push(format);
            }
        }
    }
    out
}

fn compile(formats: &[String]) -> Vec<AliasFormat> {
    formats
        .iter()
        .filter_map(|f| AliasFormat::parse(f).ok())
        .collect()
}

fn bench(c: &mut Criterion) {
    let formats = formats();
    let compiled = compile(&formats);
    assert_eq!(compiled.len(), 1000, "every generated format must compile");

    c.bench_function("compile_1000_formats", |b| {
        b.iter(|| compile(black_box(&formats)))
    });

    let mut group = c.benchmark_group("scan_1000_formats");
    let hit = "aws restart app \"api gateway\" on web1 timeout=30";
    let miss = "please tell me the weather in Paris tomorrow";
    let hits = compiled.iter().filter(|f| f.matches(hit)).count();
    assert_eq!(
        hits, 1,
        "the matching command must match exactly one format"
    );
    assert_eq!(compiled.iter().filter(|f| f.matches(miss)).count(), 0);
    for (name, command) in [("one_match", hit), ("no_match", miss)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                compiled
                    .iter()
                    .filter(|f| f.matches(black_box(command)))
                    .count()
            })
        });
    }
    let prepared = PreparedCommand::new(hit);
    group.bench_function("one_match_prepared", |b| {
        b.iter(|| {
            compiled
                .iter()
                .filter(|f| f.extract_prepared(black_box(&prepared)).is_ok())
                .count()
        })
    });
    group.finish();

    let typical = AliasFormat::parse("run {{cmd}} on {{hosts=localhost}}").ok();
    c.bench_function("extract_one", |b| {
        b.iter(|| {
            typical
                .as_ref()
                .map(|f| f.extract(black_box("run \"uname -a\" on web1 timeout=30 env=prod")))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
