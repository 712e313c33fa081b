//! Prometheus metrics: messages in and out, commands by name and outcome, command latency,
//! webhook requests by route and status; plugins register their own under their name.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutLabels {
    backend: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandNameLabels {
    command: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    route: String,
    status: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

/// The bot's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    messages_in: Family<BackendLabels, Counter>,
    messages_out: Family<OutLabels, Counter>,
    commands: Family<CommandLabels, Counter>,
    latency: Family<CommandNameLabels, Histogram, fn() -> Histogram>,
    webhooks: Family<WebhookLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ferrbot");
        let messages_in = Family::<BackendLabels, Counter>::default();
        let messages_out = Family::<OutLabels, Counter>::default();
        let commands = Family::<CommandLabels, Counter>::default();
        let latency: Family<CommandNameLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register("messages_in", "Chat messages received", messages_in.clone());
        registry.register(
            "messages_out",
            "Chat messages sent, by outcome",
            messages_out.clone(),
        );
        registry.register(
            "commands",
            "Commands run, by name and outcome",
            commands.clone(),
        );
        registry.register(
            "command_duration_seconds",
            "Time from dispatch to reply, by command",
            latency.clone(),
        );
        registry.register(
            "webhook_requests",
            "HTTP requests to plugin and backend routes, by route and status",
            webhooks.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            messages_in,
            messages_out,
            commands,
            latency,
            webhooks,
        }
    }

    pub(crate) fn message_in(&self, backend: &str) {
        self.messages_in
            .get_or_create(&BackendLabels {
                backend: backend.to_owned(),
            })
            .inc();
    }

    pub(crate) fn message_out(&self, backend: &str, outcome: &str) {
        self.messages_out
            .get_or_create(&OutLabels {
                backend: backend.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub(crate) fn command(&self, command: &str, outcome: &str, seconds: f64) {
        self.commands
            .get_or_create(&CommandLabels {
                command: command.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&CommandNameLabels {
                command: command.to_owned(),
            })
            .observe(seconds);
    }

    pub(crate) fn webhook(&self, route: &str, status: u16) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                route: route.to_owned(),
                status: status.to_string(),
            })
            .inc();
    }

    /// Registers a plugin's metric as `ferrbot_plugin_<plugin>_<name>`.
    pub fn register_plugin_metric(
        &self,
        plugin: &str,
        name: &str,
        help: &str,
        metric: impl Metric,
    ) {
        let prefix = format!("plugin_{}", plugin.replace('-', "_"));
        let mut registry = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        registry
            .sub_registry_with_prefix(prefix)
            .register(name, help, metric);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
