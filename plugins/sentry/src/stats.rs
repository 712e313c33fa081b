//! What `!sentry status` and `/metrics` show: the last delivery per route, refused requests
//! per route in the last hour (kept in the store), and a Prometheus counter of deliveries by
//! route, resource and outcome.

use ferrbot::store::{KvStore, StoreError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};

use crate::keys;

/// The route label of requests to unknown routes.
pub const UNKNOWN_ROUTE: &str = "unknown";
/// The route label of the Sentry Bot compatibility route.
pub const COMPAT_ROUTE: &str = "sentry-bot";

/// Labels of the deliveries counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// The route id (`unknown` for unknown routes, `sentry-bot` for the compatibility route).
    pub route: String,
    /// The resource (`issue`, `metric_alert`, `legacy`, …; `other` for anything else).
    pub resource: String,
    /// What happened (`posted`, `folded`, `duplicate`, `ignored`, `refused_401`, …).
    pub outcome: String,
}

/// The deliveries counter, registered as `ferrbot_plugin_sentry_deliveries_total`.
pub type Deliveries = Family<DeliveryLabels, Counter>;

/// Keeps a metric label to known resource names (the header is chosen by the caller).
pub fn resource_label(resource: &str) -> &'static str {
    match resource {
        "issue" => "issue",
        "event_alert" => "event_alert",
        "metric_alert" => "metric_alert",
        "error" => "error",
        "comment" => "comment",
        "installation" => "installation",
        "legacy" => "legacy",
        _ => "other",
    }
}

/// The last delivery of a route.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LastDelivery {
    /// When.
    pub at: jiff::Timestamp,
    /// The resource and action (`issue.created`).
    pub what: String,
    /// What happened.
    pub outcome: String,
}

fn last_key(route: &str) -> String {
    format!("last/{}", keys::part(route))
}

/// Records an accepted delivery.
///
/// # Errors
/// Storage failures.
pub async fn record_delivery(
    store: &KvStore,
    route: &str,
    what: &str,
    outcome: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    store
        .set(
            &last_key(route),
            &LastDelivery {
                at: now,
                what: what.to_owned(),
                outcome: outcome.to_owned(),
            },
        )
        .await
}

/// The last delivery of a route.
///
/// # Errors
/// Storage failures.
pub async fn last_delivery(
    store: &KvStore,
    route: &str,
) -> Result<Option<LastDelivery>, StoreError> {
    store.get(&last_key(route)).await
}

/// Counts a refused request.
///
/// # Errors
/// Storage failures.
pub async fn record_reject(
    store: &KvStore,
    route: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    store
        .incr(&format!(
            "rejects/{}/{}",
            keys::part(route),
            keys::ten_minutes(now)
        ))
        .await
        .map(|_| ())
}

/// Refused requests of a route in the last hour (six ten-minute buckets).
///
/// # Errors
/// Storage failures.
pub async fn rejects_last_hour(
    store: &KvStore,
    route: &str,
    now: jiff::Timestamp,
) -> Result<i64, StoreError> {
    let current = keys::ten_minutes(now);
    let mut total = 0;
    for bucket in (current - 5)..=current {
        total += store
            .get::<i64>(&format!("rejects/{}/{bucket}", keys::part(route)))
            .await?
            .unwrap_or(0);
    }
    Ok(total)
}

/// Every route label with refusals in the last hour (unknown routes included).
///
/// # Errors
/// Storage failures.
pub async fn rejecting_routes(
    store: &KvStore,
    now: jiff::Timestamp,
) -> Result<Vec<String>, StoreError> {
    let oldest = keys::ten_minutes(now) - 5;
    let mut routes: Vec<String> = store
        .list("rejects/")
        .await?
        .iter()
        .filter_map(|k| {
            let mut parts = k.split('/').skip(1);
            let route = keys::unpart(parts.next()?);
            let bucket: i64 = parts.next()?.parse().ok()?;
            (bucket >= oldest).then_some(route)
        })
        .collect();
    routes.dedup();
    Ok(routes)
}

/// Deletes reject buckets older than two hours.
///
/// # Errors
/// Storage failures.
pub async fn prune_rejects(store: &KvStore, now: jiff::Timestamp) -> Result<(), StoreError> {
    let oldest = keys::ten_minutes(now) - 12;
    for key in store.list("rejects/").await? {
        let bucket = key
            .rsplit('/')
            .next()
            .and_then(|b| b.parse::<i64>().ok())
            .unwrap_or(i64::MIN);
        if bucket < oldest {
            store.delete(&key).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejects_are_counted_per_route_for_an_hour() {
        let store = ferrbot::store::Store::memory().await.unwrap().kv("t");
        let t0 = jiff::Timestamp::from_second(1_767_225_600).unwrap();
        record_reject(&store, "a", t0).await.unwrap();
        record_reject(&store, "a", t0).await.unwrap();
        let t1 = t0 + jiff::SignedDuration::from_mins(30);
        record_reject(&store, "a", t1).await.unwrap();
        record_reject(&store, UNKNOWN_ROUTE, t1).await.unwrap();
        assert_eq!(rejects_last_hour(&store, "a", t1).await.unwrap(), 3);
        assert_eq!(
            rejecting_routes(&store, t1).await.unwrap(),
            ["a", "unknown"]
        );
        let t2 = t0 + jiff::SignedDuration::from_mins(65);
        assert_eq!(rejects_last_hour(&store, "a", t2).await.unwrap(), 1);
        prune_rejects(&store, t0 + jiff::SignedDuration::from_hours(5))
            .await
            .unwrap();
        assert!(store.list("rejects/").await.unwrap().is_empty());
        assert_eq!(resource_label("seer"), "other");
    }
}
