//! Periodic jobs for plugins.
//!
//! Every singleton job (reminders, expiries, pollers) goes through this one seam, so that a
//! lease can later decide which of several replicas runs it. A job's run is isolated: a panic
//! is caught and logged, runs of one job never overlap, and all jobs stop at shutdown.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type JobFn = dyn Fn() -> BoxFuture<'static, ()> + Send + Sync;

#[derive(Clone)]
struct Job {
    name: String,
    run: Arc<JobFn>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Job {
    async fn run_once(&self) {
        let Ok(_guard) = self.lock.try_lock() else {
            tracing::debug!(job = %self.name, "previous run still going; skipped");
            return;
        };
        let fut = (self.run)();
        if let Err(err) = tokio::spawn(fut).await
            && err.is_panic()
        {
            tracing::error!(job = %self.name, "scheduled job panicked");
        }
    }
}

/// Runs plugins' periodic jobs. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    jobs: Arc<Mutex<Vec<Job>>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    timers: bool,
}

impl Scheduler {
    /// A scheduler whose jobs stop when `shutdown` is cancelled. With `timers` off, jobs run
    /// only when [`Scheduler::run_all_now`] is called (tests).
    pub(crate) fn new(shutdown: CancellationToken, timers: bool) -> Self {
        Self {
            jobs: Arc::new(Mutex::new(Vec::new())),
            shutdown,
            tracker: TaskTracker::new(),
            timers,
        }
    }

    /// Runs `job` every `period`, the first time after one period.
    pub fn every<F, Fut>(&self, name: &str, period: Duration, job: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let job = Job {
            name: name.to_owned(),
            run: Arc::new(move || Box::pin(job())),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(job.clone());
        if !self.timers {
            return;
        }
        let shutdown = self.shutdown.clone();
        let period = period.max(Duration::from_millis(10));
        self.tracker.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = ticks.tick() => job.run_once().await,
                }
            }
        });
    }

    /// Runs every job once, now, and waits for them (tests use this with a manual clock).
    pub async fn run_all_now(&self) {
        let jobs: Vec<Job> = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for job in jobs {
            job.run_once().await;
        }
    }

    /// The names of the registered jobs.
    pub fn job_names(&self) -> Vec<String> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|j| j.name.clone())
            .collect()
    }

    pub(crate) async fn stop(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
