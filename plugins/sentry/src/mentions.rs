//! Project subscriptions: users who want to be mentioned when a project alerts in a room.
//! Many users per project, many projects per user, kept per room in the plugin's store.
//!
//! One value per room and project holds its subscribers, so an alert finds them with a single
//! read (listing keys scans the namespace; only the `list` command does that).

use std::collections::BTreeMap;

use ferrbot::id::{RoomId, UserId};
use ferrbot::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::storm::KeyedLocks;

/// One subscriber.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subscriber {
    /// Who.
    pub user: UserId,
    /// Since when.
    pub at: jiff::Timestamp,
}

fn room_prefix(room: &RoomId) -> String {
    format!("mentions/{}/", keys::part(&room.to_string()))
}

fn key(room: &RoomId, project: &str) -> String {
    format!("{}{}", room_prefix(room), keys::part(project))
}

async fn read(store: &KvStore, key: &str) -> Result<Vec<Subscriber>, StoreError> {
    Ok(store.get::<Vec<Subscriber>>(key).await?.unwrap_or_default())
}

/// Subscribes `user` to `project` in `room`; false when already subscribed.
///
/// # Errors
/// Storage failures.
pub async fn register(
    store: &KvStore,
    locks: &KeyedLocks,
    room: &RoomId,
    project: &str,
    user: &UserId,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let key = key(room, project);
    let _guard = locks.lock(&key).await;
    let mut subs = read(store, &key).await?;
    if subs.iter().any(|s| &s.user == user) {
        return Ok(false);
    }
    subs.push(Subscriber {
        user: user.clone(),
        at: now,
    });
    store.set(&key, &subs).await?;
    Ok(true)
}

/// Unsubscribes `user` from `project` in `room`; false when not subscribed.
///
/// # Errors
/// Storage failures.
pub async fn unregister(
    store: &KvStore,
    locks: &KeyedLocks,
    room: &RoomId,
    project: &str,
    user: &UserId,
) -> Result<bool, StoreError> {
    let key = key(room, project);
    let _guard = locks.lock(&key).await;
    let mut subs = read(store, &key).await?;
    let before = subs.len();
    subs.retain(|s| &s.user != user);
    if subs.len() == before {
        return Ok(false);
    }
    if subs.is_empty() {
        store.delete(&key).await?;
    } else {
        store.set(&key, &subs).await?;
    }
    Ok(true)
}

/// The subscriptions of a room: project → users (in subscription order).
///
/// # Errors
/// Storage failures.
pub async fn in_room(
    store: &KvStore,
    room: &RoomId,
) -> Result<BTreeMap<String, Vec<UserId>>, StoreError> {
    let prefix = room_prefix(room);
    let mut out = BTreeMap::new();
    for k in store.list(&prefix).await? {
        let users: Vec<UserId> = read(store, &k).await?.into_iter().map(|s| s.user).collect();
        if !users.is_empty() {
            out.insert(keys::unpart(&k[prefix.len()..]), users);
        }
    }
    Ok(out)
}

/// The projects `user` is subscribed to in `room`.
///
/// # Errors
/// Storage failures.
pub async fn of_user(
    store: &KvStore,
    room: &RoomId,
    user: &UserId,
) -> Result<Vec<String>, StoreError> {
    Ok(in_room(store, room)
        .await?
        .into_iter()
        .filter(|(_, users)| users.contains(user))
        .map(|(project, _)| project)
        .collect())
}

/// The users subscribed to `project` in `room`, in subscription order (one read).
///
/// # Errors
/// Storage failures.
pub async fn subscribers(
    store: &KvStore,
    room: &RoomId,
    project: &str,
) -> Result<Vec<UserId>, StoreError> {
    Ok(read(store, &key(room, project))
        .await?
        .into_iter()
        .map(|s| s.user)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_users_per_project_and_many_projects_per_user() {
        let store = ferrbot::store::Store::memory().await.unwrap().kv("t");
        let locks = KeyedLocks::default();
        let room: RoomId = "test:ops".parse().unwrap();
        let other: RoomId = "test:other".parse().unwrap();
        let ann: UserId = "test:ann".parse().unwrap();
        let bob: UserId = "matrix:@bob:example.org".parse().unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert!(
            register(&store, &locks, &room, "api", &ann, now)
                .await
                .unwrap()
        );
        assert!(
            !register(&store, &locks, &room, "api", &ann, now)
                .await
                .unwrap()
        );
        register(&store, &locks, &room, "api", &bob, now)
            .await
            .unwrap();
        register(&store, &locks, &room, "web", &ann, now)
            .await
            .unwrap();
        register(&store, &locks, &other, "api", &bob, now)
            .await
            .unwrap();
        assert_eq!(
            subscribers(&store, &room, "api").await.unwrap(),
            [ann.clone(), bob.clone()]
        );
        assert_eq!(of_user(&store, &room, &ann).await.unwrap(), ["api", "web"]);
        assert!(
            unregister(&store, &locks, &room, "api", &ann)
                .await
                .unwrap()
        );
        assert!(
            !unregister(&store, &locks, &room, "api", &ann)
                .await
                .unwrap()
        );
        assert_eq!(subscribers(&store, &room, "api").await.unwrap(), [bob]);
        assert_eq!(in_room(&store, &other).await.unwrap().len(), 1);
    }
}
