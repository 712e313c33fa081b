//! The outbound queue of one backend.
//!
//! Every message the bot sends goes through a backend's [`Outbox`]: one lane per conversation
//! keeps messages in order, a "rate limited, retry after N" answer holds that lane for N, passing
//! failures are retried with exponential backoff, and on shutdown the queue is flushed before
//! the process exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

use crate::backend::{Backend, BackendError};
use crate::id::{MessageId, Target};
use crate::message::OutgoingMessage;
use crate::metrics::Metrics;

/// How sends are retried.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts for a message that fails with a passing error (rate limits don't count).
    pub max_attempts: u32,
    /// The first backoff.
    #[serde(with = "crate::config::duration")]
    pub initial_backoff: Duration,
    /// The longest backoff.
    #[serde(with = "crate::config::duration")]
    pub max_backoff: Duration,
    /// The longest a "retry after" is honoured before the message fails.
    #[serde(with = "crate::config::duration")]
    pub max_retry_after: Duration,
    /// How many rate-limit answers one message may get before it fails.
    pub max_rate_limited: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            max_rate_limited: 20,
        }
    }
}

/// Why a message was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No backend by that name runs in this bot.
    #[error("no backend named `{0}`")]
    UnknownBackend(String),
    /// The backend refused or kept failing.
    #[error("delivery to {target} failed: {source}")]
    Failed {
        /// Where it was going.
        target: String,
        /// The last error.
        source: BackendError,
    },
    /// The bot stopped before the message could be delivered.
    #[error("the bot stopped before the message was delivered")]
    Stopped,
}

/// The promise of a delivery: await it for the sent message's id, or drop it.
pub struct Receipt(ReceiptInner);

enum ReceiptInner {
    Pending(oneshot::Receiver<Result<MessageId, SendError>>),
    Failed(SendError),
}

impl Receipt {
    pub(crate) fn failed(err: SendError) -> Self {
        Self(ReceiptInner::Failed(err))
    }

    /// Waits for the delivery.
    ///
    /// # Errors
    /// When the message could not be delivered.
    pub async fn delivered(self) -> Result<MessageId, SendError> {
        match self.0 {
            ReceiptInner::Pending(rx) => rx.await.unwrap_or(Err(SendError::Stopped)),
            ReceiptInner::Failed(err) => Err(err),
        }
    }
}

struct Job {
    target: Target,
    message: OutgoingMessage,
    done: oneshot::Sender<Result<MessageId, SendError>>,
}

/// The outbound queue of one backend.
pub struct Outbox {
    backend: Arc<dyn Backend>,
    policy: RetryPolicy,
    metrics: Metrics,
    lanes: Mutex<Option<HashMap<String, mpsc::UnboundedSender<Job>>>>,
    tracker: TaskTracker,
}

impl Outbox {
    /// A queue in front of `backend`.
    pub fn new(backend: Arc<dyn Backend>, policy: RetryPolicy, metrics: Metrics) -> Self {
        Self {
            backend,
            policy,
            metrics,
            lanes: Mutex::new(Some(HashMap::new())),
            tracker: TaskTracker::new(),
        }
    }

    /// Queues a message; it is delivered after every earlier message to the same conversation.
    pub fn enqueue(&self, target: Target, message: OutgoingMessage) -> Receipt {
        let (done, rx) = oneshot::channel();
        let key = target.lane_key();
        let mut guard = self
            .lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(lanes) = guard.as_mut() else {
            return Receipt::failed(SendError::Stopped);
        };
        let lane = lanes.entry(key).or_insert_with(|| self.spawn_lane());
        let job = Job {
            target,
            message,
            done,
        };
        if let Err(mpsc::error::SendError(job)) = lane.send(job) {
            let _ = job.done.send(Err(SendError::Stopped));
        }
        Receipt(ReceiptInner::Pending(rx))
    }

    fn spawn_lane(&self) -> mpsc::UnboundedSender<Job> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let backend = self.backend.clone();
        let policy = self.policy.clone();
        let metrics = self.metrics.clone();
        self.tracker.spawn(async move {
            while let Some(job) = rx.recv().await {
                let result = deliver(&*backend, &policy, &job.target, &job.message).await;
                let outcome = if result.is_ok() { "sent" } else { "failed" };
                metrics.message_out(backend.name(), outcome);
                if let Err(err) = &result {
                    tracing::warn!(backend = backend.name(), target = %job.target, error = %err, "message not delivered");
                }
                let _ = job.done.send(result);
            }
        });
        tx
    }

    /// Stops taking messages and delivers what is queued, waiting at most `deadline`.
    /// Returns false when the deadline passed with messages still queued.
    pub async fn flush(&self, deadline: Duration) -> bool {
        self.lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }
}

async fn deliver(
    backend: &dyn Backend,
    policy: &RetryPolicy,
    target: &Target,
    message: &OutgoingMessage,
) -> Result<MessageId, SendError> {
    let mut attempts = 0u32;
    let mut rate_limited = 0u32;
    let mut backoff = policy.initial_backoff;
    loop {
        match backend.send(target, message).await {
            Ok(id) => return Ok(id),
            Err(BackendError::RateLimited { retry_after })
                if rate_limited < policy.max_rate_limited
                    && retry_after <= policy.max_retry_after =>
            {
                rate_limited += 1;
                tracing::debug!(
                    backend = backend.name(),
                    ?retry_after,
                    "rate limited; waiting"
                );
                tokio::time::sleep(retry_after).await;
            }
            Err(err @ BackendError::Transient { .. }) if attempts + 1 < policy.max_attempts => {
                attempts += 1;
                tracing::debug!(backend = backend.name(), error = %err, ?backoff, "send failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(policy.max_backoff);
            }
            Err(source) => {
                return Err(SendError::Failed {
                    target: target.to_string(),
                    source,
                });
            }
        }
    }
}
