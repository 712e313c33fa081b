//! The StackStorm event stream: `GET /stream/v1/stream?events=st2.announcement__<route>,
//! st2.actionalias__*` with the bot's credential, over eventsource-client.
//!
//! - Reconnects itself (eventsource-client's own reconnection is off, so every connection
//!   picks up a fresh credential): exponential backoff between `backoff_min` and
//!   `backoff_max`, with full jitter, reset once a connection is up.
//! - Dead stream: a read that waits longer than `heartbeat_timeout` (StackStorm sends a bare
//!   newline every 25 s) ends the connection.
//! - 401: the bot's token is dropped so the next connection logs in again.
//! - Announcements are delivered ([`crate::announce`]); `st2.actionalias__*` events refresh the
//!   alias cache; any other event is ignored.

use std::time::Duration;

use eventsource_client::{Client as _, ClientBuilder, ReconnectOptions, SSE};
use futures_util::StreamExt;
use launchdarkly_sdk_transport::{HttpTransport, HyperTransport};
use serde::Deserialize;

use crate::App;
use crate::announce::{self, Announcement};
use crate::status::StreamState;

/// Exponential backoff with full jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// From `min` doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            attempt: 0,
        }
    }

    /// The ceiling of the next delay (before jitter).
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The next delay: uniform in [ceiling/2, ceiling].
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter = rand::random_range(0.0..=1.0f64);
        half + half.mul_f64(jitter)
    }

    /// Back to the shortest delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The stream URL for `route`.
pub fn stream_url(base: &str, route: &str) -> String {
    format!("{base}/stream?events=st2.announcement__{route},st2.actionalias__*")
}

#[derive(Deserialize)]
struct Envelope {
    payload: Announcement,
}

/// Runs the stream until shutdown.
pub async fn run(app: App) {
    let settings = &app.core.settings;
    let http = HyperTransport::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(settings.stream.heartbeat_timeout)
        .disable_proxy();
    let url = stream_url(&settings.endpoints.stream, &settings.route);
    if url.starts_with("https://") {
        let tls = match crate::client::tls_config(settings.ca_file.as_deref()) {
            Ok(tls) => tls,
            Err(e) => {
                tracing::error!(error = %e, "StackStorm stream: TLS setup failed; no announcements");
                app.core
                    .status
                    .set_state(StreamState::Stopped, Some(e.to_string()));
                return;
            }
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        match http.build_with_connector(connector) {
            Ok(t) => run_with(app, t, url).await,
            Err(e) => tracing::error!(error = %e, "StackStorm stream: transport setup failed"),
        }
    } else {
        match http.build_http() {
            Ok(t) => run_with(app, t, url).await,
            Err(e) => tracing::error!(error = %e, "StackStorm stream: transport setup failed"),
        }
    }
}

async fn run_with<T: HttpTransport>(app: App, transport: T, url: String) {
    let shutdown = app.ctx.shutdown();
    let settings = &app.core.settings;
    let mut backoff = Backoff::new(settings.stream.backoff_min, settings.stream.backoff_max);
    let mut first = true;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        if !first {
            app.core.status.reconnects.inc();
        }
        first = false;
        let outcome = tokio::select! {
            () = shutdown.cancelled() => break,
            outcome = connection(&app, transport.clone(), &url, &mut backoff) => outcome,
        };
        tracing::info!(reason = %outcome, "StackStorm stream ended; reconnecting");
        app.core
            .status
            .set_state(StreamState::Reconnecting, Some(outcome));
        let delay = backoff.next_delay();
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    app.core.status.set_state(StreamState::Stopped, None);
}

/// One connection, until it ends; returns why.
async fn connection<T: HttpTransport>(
    app: &App,
    transport: T,
    url: &str,
    backoff: &mut Backoff,
) -> String {
    let core = &app.core;
    let credential = match core.auth.credential(app.ctx.now()).await {
        Ok(c) => c,
        Err(e) => {
            if e.is_unauthorized() && core.status.first_auth_alert() {
                let _ = app.ctx.notify_admins(format!(
                    "The !st2 plugin cannot log in to StackStorm ({e}): results will not reach \
                     chat until [plugins.st2] is fixed."
                ));
            }
            return format!("cannot authenticate: {e}");
        }
    };
    let builder = match ClientBuilder::for_url(url)
        .and_then(|b| b.header(credential.header_name(), &credential.header_value()))
    {
        Ok(b) => b,
        Err(_) => return "invalid stream URL or credential header".to_owned(),
    };
    let client = builder
        .reconnect(ReconnectOptions::reconnect(false).build())
        .build_with_transport(transport);
    let mut events = client.stream();
    while let Some(item) = events.next().await {
        match item {
            Ok(SSE::Connected(_)) => {
                tracing::info!("StackStorm stream connected");
                backoff.reset();
                core.status.set_state(StreamState::Connected, None);
            }
            Ok(SSE::Event(event)) => {
                core.status.event(app.ctx.now());
                handle_event(app, &event.event_type, &event.data);
            }
            Ok(SSE::Comment(_)) => {}
            Err(eventsource_client::Error::UnexpectedResponse(resp, _)) => {
                let status = resp.status();
                if status == 401 {
                    core.auth.invalidate(&credential).await;
                    if !core.auth.can_renew() && core.status.first_auth_alert() {
                        let _ = app.ctx.notify_admins(format!(
                            "StackStorm refused the !st2 plugin's {} on the event stream: \
                             results will not reach chat until it is fixed.",
                            core.auth.mode()
                        ));
                    }
                }
                return format!("StackStorm answered HTTP {status}");
            }
            Err(eventsource_client::Error::TimedOut) => {
                return "no heartbeat within stream.heartbeat_timeout".to_owned();
            }
            Err(e) => return format!("stream error: {e}"),
        }
    }
    "stream closed".to_owned()
}

/// Handles one event by name.
pub fn handle_event(app: &App, event_type: &str, data: &str) {
    if let Some(route) = event_type.strip_prefix("st2.announcement__") {
        if route != app.core.settings.route {
            return;
        }
        match serde_json::from_str::<Envelope>(data) {
            Ok(env) => match announce::deliver(&app.ctx, &env.payload) {
                Ok(target) => tracing::debug!(%target, "announcement delivered"),
                Err(e) => {
                    tracing::warn!(error = %e, "announcement cannot be addressed");
                    let text: String = env.payload.message.chars().take(500).collect();
                    let _ = app.ctx.notify_admins(format!(
                        "A StackStorm announcement could not be delivered ({e}; channel {:?}, \
                         user {:?}). Its message:\n{text}",
                        env.payload.channel.as_deref().unwrap_or_default(),
                        env.payload.user.as_deref().unwrap_or_default(),
                    ));
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "announcement is not JSON with a payload; dropped")
            }
        }
    } else if event_type.starts_with("st2.actionalias__") {
        let app = app.clone();
        app.ctx.clone().spawn(async move {
            crate::help::refresh_aliases(&app).await;
        });
    } else {
        tracing::debug!(event = event_type, "StackStorm event ignored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let d1 = b.next_delay();
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        for _ in 0..10 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), Duration::from_secs(1));
        let d = b.next_delay();
        assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1));
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn url_subscribes_to_the_route_and_alias_events() {
        assert_eq!(
            stream_url("http://h/stream/v1", "errbot"),
            "http://h/stream/v1/stream?events=st2.announcement__errbot,st2.actionalias__*"
        );
    }
}
