//! Prometheus metrics of the incident plugin, computed from the store by a periodic job (no
//! hooks in the commands), exposed by the core as `ferrbot_plugin_incident_*`:
//!
//! - `open{severity}`: open (active or stable) incidents by severity level (`1`…, `none`);
//! - `resolve_seconds{severity}`: histogram of time to resolve (resolved − started);
//! - `ack_seconds`: histogram of time to acknowledge (first ack or lead − reported).
//!
//! False alarms and stateless source alerts are left out; report-only (retro) incidents count
//! with their given times. Each refresh replaces the whole picture, so a reopened or
//! re-graded incident is never counted twice.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use ferrbot::context::PluginContext;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use crate::model::{Incident, State};
use crate::stats::durations;
use crate::store::{self, DbError, IncidentStore};

/// How often the metrics are recomputed from the store.
pub const EVERY: Duration = Duration::from_secs(60);

/// Bucket bounds in seconds: 1 min … 1 week.
const BUCKETS: [f64; 12] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 345600.0,
    604800.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabel {
    severity: String,
}

fn label(incident: &Incident) -> String {
    incident
        .severity
        .map_or_else(|| "none".to_owned(), |s| s.0.to_string())
}

/// A set of histograms (optionally one per severity) replaced as a whole on each refresh.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    by_severity: bool,
    series: Arc<RwLock<Vec<(String, Histogram)>>>,
}

impl Snapshot {
    fn labelled() -> Self {
        Self {
            by_severity: true,
            ..Self::default()
        }
    }

    fn replace(&self, values: impl IntoIterator<Item = (String, f64)>) {
        let mut series: Vec<(String, Histogram)> = Vec::new();
        for (sev, v) in values {
            let key = if self.by_severity { sev } else { String::new() };
            match series.iter().position(|(k, _)| *k == key) {
                Some(i) => series[i].1.observe(v),
                None => {
                    let h = histogram();
                    h.observe(v);
                    series.push((key, h));
                }
            }
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        *self.series.write().unwrap_or_else(PoisonError::into_inner) = series;
    }
}

impl EncodeMetric for Snapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        if !self.by_severity {
            return match series.first() {
                Some((_, h)) => h.encode(encoder),
                None => histogram().encode(encoder),
            };
        }
        for (severity, h) in series.iter() {
            let labels = SeverityLabel {
                severity: severity.clone(),
            };
            h.encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The plugin's metrics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct IncidentMetrics {
    open: Family<SeverityLabel, Gauge>,
    resolve: Snapshot,
    ack: Snapshot,
    levels: usize,
}

impl IncidentMetrics {
    /// Metrics for a scale of `levels` severity levels (each level always has an `open` value).
    pub fn new(levels: usize) -> Self {
        Self {
            open: Family::default(),
            resolve: Snapshot::labelled(),
            ack: Snapshot::default(),
            levels,
        }
    }

    /// Registers them with the bot (`ferrbot_plugin_incident_*`).
    pub fn register(&self, ctx: &PluginContext) {
        ctx.register_metric(
            "open",
            "Open (active or stable) incidents by severity level",
            self.open.clone(),
        );
        ctx.register_metric(
            "resolve_seconds",
            "Time from start to resolution of resolved incidents, by severity (false alarms left out)",
            self.resolve.clone(),
        );
        ctx.register_metric(
            "ack_seconds",
            "Time from report to first acknowledgement or lead (false alarms left out)",
            self.ack.clone(),
        );
    }

    /// Recomputes every metric from `incidents` (all of them).
    pub fn update(&self, incidents: &[Incident]) {
        let counted: Vec<&Incident> = incidents
            .iter()
            .filter(|i| !i.false_alarm && i.state != State::Stateless)
            .collect();
        let levels = (1..=self.levels)
            .map(|l| l.to_string())
            .chain(std::iter::once("none".to_owned()));
        for level in levels {
            let n = counted
                .iter()
                .filter(|i| i.state.is_open() && label(i) == level)
                .count();
            self.open
                .get_or_create(&SeverityLabel { severity: level })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.resolve.replace(counted.iter().filter_map(|i| {
            durations(i)
                .resolve
                .map(|d| (label(i), d.as_secs_f64().max(0.0)))
        }));
        self.ack.replace(counted.iter().filter_map(|i| {
            durations(i)
                .ack
                .map(|d| (String::new(), d.as_secs_f64().max(0.0)))
        }));
    }

    /// Reads every incident and recomputes.
    ///
    /// # Errors
    /// When the database fails (the previous values stay).
    pub async fn refresh(&self, store: &IncidentStore) -> Result<(), DbError> {
        let all = {
            let mut c = store.read().await?;
            store::incidents(&mut c, &[], None).await?
        };
        self.update(&all);
        Ok(())
    }
}

/// Registers the metrics, computes them once and schedules the refresh job.
pub async fn start(ctx: &PluginContext, levels: usize) {
    let metrics = IncidentMetrics::new(levels);
    metrics.register(ctx);
    let store = IncidentStore::new(ctx.db().clone());
    if let Err(err) = metrics.refresh(&store).await {
        tracing::warn!(error = %err, "computing incident metrics failed");
    }
    ctx.every("metrics", EVERY, move || {
        let metrics = metrics.clone();
        let store = store.clone();
        async move {
            if let Err(err) = metrics.refresh(&store).await {
                tracing::warn!(error = %err, "computing incident metrics failed");
            }
        }
    });
}
