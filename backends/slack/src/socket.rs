//! Socket Mode: Slack's events over a WebSocket, no public URL needed.
//!
//! ferrbot drives Socket Mode itself, over the tokio-tungstenite that slack-morphism brings,
//! rather than through slack-morphism's listener, so that: every envelope is acknowledged
//! exactly once and *before* its payload is handled (the listener acks after its callback
//! returns, and Slack redelivers what is not acked within about 3 s); one connection is kept
//! (not two); a `disconnect` envelope and a dropped socket both lead to a fresh
//! `apps.connections.open` (with backoff after failures) under ferrbot's own shutdown token;
//! a socket that goes silent (no frame, not even the pong to our ping every 30 s, for 95 s)
//! is replaced too; and the connection state is reported to the bot.
//!
//! The wire format: Slack sends `{"type":"hello"}`, then envelopes
//! `{"envelope_id", "type": "events_api" | "interactive" | "slash_commands", "payload"}`,
//! each answered with `{"envelope_id"}`, and `{"type":"disconnect","reason":…}` before it
//! closes a connection.

use std::sync::Arc;
use std::time::Duration;

use ferrbot::backend::ConnectionState;
use ferrbot::{BackendError, Inbox};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::Inner;
use crate::api::ApiError;
use crate::events::{SlashCommand, Work};

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A ping is sent this often; Slack answers with a pong (and pings on its own).
const PING_EVERY: Duration = Duration::from_secs(30);
/// A connection silent for this long (not even a pong) is taken as dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(95);

/// Slack error codes after which retrying with the same token is pointless.
pub fn is_fatal(err: &ApiError) -> bool {
    err.code().is_some_and(|c| {
        matches!(
            c,
            "invalid_auth"
                | "not_authed"
                | "account_inactive"
                | "token_revoked"
                | "token_expired"
                | "not_allowed_token_type"
                | "missing_scope"
                | "no_permission"
        )
    })
}

/// How a connection ended.
#[derive(Debug)]
enum Ended {
    /// Shut down on request.
    Shutdown,
    /// Slack asked us to reconnect (`disconnect` envelope).
    Refresh(String),
    /// The socket failed or closed.
    Dropped(String),
}

/// What the session loop does with one text frame.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// `hello`: the connection is ready.
    Hello,
    /// `disconnect`: reconnect.
    Disconnect(String),
    /// An envelope to acknowledge (with its id) and maybe a payload to hand off.
    Envelope(String, Option<Work>),
    /// Nothing to do.
    Ignore,
}

impl PartialEq for Work {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Work::Events(a), Work::Events(b)) | (Work::Interactive(a), Work::Interactive(b)) => {
                a == b
            }
            (Work::Slash(a), Work::Slash(b)) => a == b,
            _ => false,
        }
    }
}

/// Reads one text frame from Slack.
pub fn parse_frame(text: &str) -> Frame {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("Socket Mode sent a frame that is not JSON; ignored");
        return Frame::Ignore;
    };
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "hello" => return Frame::Hello,
        "disconnect" => {
            let reason = value
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("disconnect")
                .to_owned();
            return Frame::Disconnect(reason);
        }
        _ => {}
    }
    let Some(id) = value.get("envelope_id").and_then(Value::as_str) else {
        return Frame::Ignore;
    };
    let payload = value.get("payload").cloned().unwrap_or(Value::Null);
    let work = match kind {
        "events_api" => Some(Work::Events(payload)),
        "interactive" => Some(Work::Interactive(payload)),
        "slash_commands" => Some(Work::Slash(SlashCommand::from_json(&payload))),
        _ => None,
    };
    Frame::Envelope(id.to_owned(), work)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the socket: `wss://` with the backend's TLS settings (never rustls' process-wide
/// default, which cannot be chosen in this workspace), `ws://` in plain (loopback tests).
async fn connect(inner: &Inner, url: &str) -> Result<Socket, String> {
    let connector = if url.starts_with("wss://") {
        let tls = match &inner.tls {
            Some(tls) => tls.clone(),
            None => crate::api::tls_config()?,
        };
        Some(tokio_tungstenite::Connector::Rustls(tls))
    } else {
        None
    };
    tokio_tungstenite::connect_async_tls_with_config(url, None, false, connector)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| format!("cannot open the WebSocket: {e}"))
}

/// Runs Socket Mode until `shutdown`.
pub(crate) async fn run(
    inner: Arc<Inner>,
    inbox: &Inbox,
    work: mpsc::Sender<Work>,
    shutdown: &CancellationToken,
) -> Result<(), BackendError> {
    let Some(app_token) = inner.config.app_token.clone() else {
        return Err(BackendError::rejected(
            "Socket Mode needs `app_token` (an xapp-… token)",
        ));
    };
    let mut backoff = FIRST_BACKOFF;
    let empty = json!({});
    loop {
        let opened = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            r = inner.api.post_with(&app_token, "apps.connections.open", &empty) => r,
        };
        let failure = match opened {
            Err(err) if is_fatal(&err) => {
                return Err(BackendError::rejected(format!(
                    "Slack refused the app-level token: {err}"
                )));
            }
            Err(err) => err.to_string(),
            Ok(answer) => match answer.get("url").and_then(Value::as_str) {
                None => "apps.connections.open answered without a url".to_owned(),
                Some(url) => {
                    let connected = tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        r = tokio::time::timeout(CONNECT_TIMEOUT, connect(&inner, url)) => r,
                    };
                    match connected {
                        Err(_) => "the WebSocket did not open in time".to_owned(),
                        Ok(Err(err)) => err,
                        Ok(Ok(ws)) => {
                            match session(ws, inbox, &work, shutdown, &mut backoff).await {
                                Ended::Shutdown => return Ok(()),
                                Ended::Refresh(reason) => {
                                    tracing::info!(%reason, "Slack asked to reconnect");
                                    inbox
                                        .connection(ConnectionState::Disconnected {
                                            reason: format!("reconnecting ({reason})"),
                                        })
                                        .await;
                                    continue;
                                }
                                Ended::Dropped(reason) => reason,
                            }
                        }
                    }
                }
            },
        };
        tracing::warn!(reason = %failure, ?backoff, "Socket Mode connection lost; reconnecting");
        inbox
            .connection(ConnectionState::Disconnected { reason: failure })
            .await;
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn session<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    inbox: &Inbox,
    work: &mpsc::Sender<Work>,
    shutdown: &CancellationToken,
    backoff: &mut Duration,
) -> Ended
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut keepalive = tokio::time::interval(PING_EVERY);
    keepalive.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = ws.close(None).await;
                return Ended::Shutdown;
            }
            _ = keepalive.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return Ended::Dropped("no frame from Slack for too long".into());
                }
                if let Err(err) = ws.send(Message::Ping(Vec::new().into())).await {
                    return Ended::Dropped(format!("cannot ping: {err}"));
                }
                continue;
            }
            next = ws.next() => next,
        };
        last_heard = tokio::time::Instant::now();
        let text = match next {
            None => return Ended::Dropped("the socket closed".into()),
            Some(Err(err)) => return Ended::Dropped(format!("socket error: {err}")),
            Some(Ok(Message::Close(_))) => return Ended::Dropped("Slack closed the socket".into()),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
        };
        match parse_frame(text.as_str()) {
            Frame::Hello => {
                *backoff = FIRST_BACKOFF;
                inbox.connection(ConnectionState::Connected).await;
            }
            Frame::Disconnect(reason) => {
                let _ = ws.close(None).await;
                return Ended::Refresh(reason);
            }
            Frame::Envelope(id, payload) => {
                // Acknowledge first (once), then hand off: Slack wants the ack within 3 s.
                let ack = json!({ "envelope_id": id }).to_string();
                if let Err(err) = ws.send(Message::text(ack)).await {
                    return Ended::Dropped(format!("cannot acknowledge an envelope: {err}"));
                }
                if let Some(payload) = payload
                    && work.send(payload).await.is_err()
                {
                    return Ended::Shutdown;
                }
            }
            Frame::Ignore => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read() {
        assert_eq!(
            parse_frame(r#"{"type":"hello","num_connections":1}"#),
            Frame::Hello
        );
        assert_eq!(
            parse_frame(r#"{"type":"disconnect","reason":"refresh_requested"}"#),
            Frame::Disconnect("refresh_requested".into())
        );
        assert_eq!(
            parse_frame(r#"{"envelope_id":"e1","type":"events_api","payload":{"a":1}}"#),
            Frame::Envelope("e1".into(), Some(Work::Events(json!({"a":1}))))
        );
        assert_eq!(
            parse_frame(r#"{"envelope_id":"e2","type":"something_new","payload":{}}"#),
            Frame::Envelope("e2".into(), None)
        );
        assert_eq!(parse_frame("not json"), Frame::Ignore);
    }
}
