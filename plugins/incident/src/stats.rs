//! Incident durations and statistics (§4.6): time to acknowledge = first ack or first lead
//! assignment − reported; time to mitigate = stable (or resolved) − started; time to resolve
//! = resolved − started. False alarms are left out; retro incidents count with their given
//! times.

use std::collections::BTreeMap;

use jiff::SignedDuration;

use crate::model::{Incident, Severity, SeverityScale};
use crate::util::stats::{mean, median, p90};
use crate::util::time::format_duration;

/// The three durations of one incident (None where not reached yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Durations {
    /// Reported → first ack or lead.
    pub ack: Option<SignedDuration>,
    /// Started → stable (or resolved).
    pub mitigate: Option<SignedDuration>,
    /// Started → resolved.
    pub resolve: Option<SignedDuration>,
}

/// The durations of `incident`.
pub fn durations(incident: &Incident) -> Durations {
    Durations {
        ack: incident.first_ack_at.map(|t| {
            t.duration_since(incident.reported_at)
                .max(SignedDuration::ZERO)
        }),
        mitigate: incident
            .stable_at
            .or(incident.resolved_at)
            .map(|t| t.duration_since(incident.started_at)),
        resolve: incident
            .resolved_at
            .map(|t| t.duration_since(incident.started_at)),
    }
}

/// Mean, median and 90th percentile, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// How many values.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
}

fn summarise(values: &[f64]) -> Option<Summary> {
    Some(Summary {
        n: values.len(),
        mean: mean(values)?,
        median: median(values)?,
        p90: p90(values)?,
    })
}

/// Statistics of one severity.
#[derive(Clone, Debug, PartialEq)]
pub struct SeverityStats {
    /// The severity (None: not set).
    pub severity: Option<Severity>,
    /// Incidents counted.
    pub count: usize,
    /// Time to acknowledge.
    pub ack: Option<Summary>,
    /// Time to mitigate.
    pub mitigate: Option<Summary>,
    /// Time to resolve.
    pub resolve: Option<Summary>,
}

/// Statistics per severity (most severe first, unset last), false alarms left out; also
/// returns how many false alarms were left out.
pub fn by_severity(incidents: &[Incident]) -> (Vec<SeverityStats>, usize) {
    let mut groups: BTreeMap<(bool, Option<Severity>), Vec<&Incident>> = BTreeMap::new();
    let mut false_alarms = 0;
    for i in incidents {
        if i.false_alarm {
            false_alarms += 1;
            continue;
        }
        groups
            .entry((i.severity.is_none(), i.severity))
            .or_default()
            .push(i);
    }
    let stats = groups
        .into_iter()
        .map(|((_, severity), list)| {
            let d: Vec<Durations> = list.iter().map(|i| durations(i)).collect();
            let secs = |f: fn(&Durations) -> Option<SignedDuration>| -> Vec<f64> {
                d.iter().filter_map(f).map(|x| x.as_secs_f64()).collect()
            };
            SeverityStats {
                severity,
                count: list.len(),
                ack: summarise(&secs(|d| d.ack)),
                mitigate: summarise(&secs(|d| d.mitigate)),
                resolve: summarise(&secs(|d| d.resolve)),
            }
        })
        .collect();
    (stats, false_alarms)
}

fn dur(secs: f64) -> String {
    // Whole seconds are precise enough for people.
    format_duration(SignedDuration::from_secs(secs.round() as i64))
}

fn line(name: &str, s: Option<Summary>) -> String {
    match s {
        Some(s) => format!(
            "{name}: mean {}, median {}, p90 {} (n={})",
            dur(s.mean),
            dur(s.median),
            dur(s.p90),
            s.n
        ),
        None => format!("{name}: —"),
    }
}

/// Renders the statistics as text lines.
pub fn render(stats: &[SeverityStats], scale: &SeverityScale) -> Vec<String> {
    stats
        .iter()
        .map(|s| {
            let sev = s
                .severity
                .map_or_else(|| "no severity".to_owned(), |v| scale.label(v));
            format!(
                "{sev}: {} incident{} · {} · {} · {}",
                s.count,
                if s.count == 1 { "" } else { "s" },
                line("time to ack", s.ack),
                line("time to mitigate", s.mitigate),
                line("time to resolve", s.resolve)
            )
        })
        .collect()
}
