//! What `!st2 status` shows, and the plugin's metrics: the stream's state, its last event,
//! reconnects, and executions by outcome.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The stream's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Not started yet.
    Starting,
    /// Connected and reading.
    Connected,
    /// Waiting to reconnect.
    Reconnecting,
    /// Stopped (shutdown).
    Stopped,
}

impl StreamState {
    /// A word for users.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamState::Starting => "starting",
            StreamState::Connected => "connected",
            StreamState::Reconnecting => "reconnecting",
            StreamState::Stopped => "stopped",
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: StreamState,
    last_event: Option<jiff::Timestamp>,
    last_error: Option<String>,
}

/// Execution outcome label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `started`, `no_match`, `ambiguous`, `denied`, `unauthorized`, `unavailable`, `error`,
    /// `needs_login`.
    pub outcome: String,
}

/// Live status and counters.
#[derive(Debug)]
pub struct Status {
    inner: Mutex<Inner>,
    /// Set once the admins were told the stream's credential is refused; cleared when the
    /// stream connects again (one alert per outage, not one per reconnect).
    auth_alerted: std::sync::atomic::AtomicBool,
    /// Stream (re)connections after the first.
    pub reconnects: Counter,
    /// Executions by outcome.
    pub executions: Family<OutcomeLabel, Counter>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: StreamState::Starting,
                last_event: None,
                last_error: None,
            }),
            auth_alerted: std::sync::atomic::AtomicBool::new(false),
            reconnects: Counter::default(),
            executions: Family::default(),
        }
    }
}

impl Status {
    /// Sets the stream state (and the last error when reconnecting).
    pub fn set_state(&self, state: StreamState, error: Option<String>) {
        if state == StreamState::Connected {
            self.auth_alerted
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        if let Ok(mut i) = self.inner.lock() {
            i.state = state;
            if error.is_some() {
                i.last_error = error;
            }
        }
    }

    /// True the first time it is called since the stream was last connected.
    pub fn first_auth_alert(&self) -> bool {
        !self
            .auth_alerted
            .swap(true, std::sync::atomic::Ordering::SeqCst)
    }

    /// Records an event at `now`.
    pub fn event(&self, now: jiff::Timestamp) {
        if let Ok(mut i) = self.inner.lock() {
            i.last_event = Some(now);
        }
    }

    /// The stream state.
    pub fn state(&self) -> StreamState {
        self.inner
            .lock()
            .map(|i| i.state)
            .unwrap_or(StreamState::Stopped)
    }

    /// The last event's time.
    pub fn last_event(&self) -> Option<jiff::Timestamp> {
        self.inner.lock().ok().and_then(|i| i.last_event)
    }

    /// The last stream error.
    pub fn last_error(&self) -> Option<String> {
        self.inner.lock().ok().and_then(|i| i.last_error.clone())
    }

    /// Counts one execution attempt.
    pub fn count(&self, outcome: &str) {
        self.executions
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// `!st2 status`: reachability, auth and RBAC modes, stream state, last event, alias count.
pub async fn command(app: crate::App, ctx: ferrbot::context::Ctx) -> ferrbot::error::CommandResult {
    use ferrbot::markup::Markup;
    let core = &app.core;
    let client = core.client.clone();
    let reach = core
        .auth
        .call(ctx.now(), |c| {
            let client = client.clone();
            async move { client.check_credential(&c).await }
        })
        .await;
    let reach = match reach {
        Ok(()) => "reachable, credentials accepted".to_owned(),
        Err(e) => e.to_string(),
    };
    let status = &core.status;
    let last_event = status
        .last_event()
        .map_or_else(|| "none yet".to_owned(), |t| t.to_string());
    let refreshed = core
        .aliases
        .refreshed()
        .map_or_else(|| "never".to_owned(), |t| t.to_string());
    let mut lines = vec![
        Markup::new()
            .bold("StackStorm: ")
            .text(format!("{reach} ({})", core.settings.endpoints.api)),
        Markup::new().bold("Bot auth: ").text(core.auth.mode()),
        Markup::new().bold("RBAC: ").text(core.settings.rbac.name()),
        Markup::new().bold("Stream: ").text(format!(
            "{} (reconnects: {})",
            status.state().as_str(),
            status.reconnects.get()
        )),
        Markup::new().bold("Last event: ").text(last_event),
        Markup::new()
            .bold("Aliases cached: ")
            .text(format!("{} (refreshed {refreshed})", core.aliases.count())),
    ];
    if let Some(e) = status.last_error()
        && status.state() != StreamState::Connected
    {
        lines.push(Markup::new().bold("Last stream error: ").text(e));
    }
    Ok(ferrbot::message::Reply::markup(Markup::new().list(lines)))
}
