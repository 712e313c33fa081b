//! Routes: the rooms allowed to receive alerts, each with its URL and its proof of origin.
//!
//! A route is declared in config (a name, a room, client secrets and/or tokens) or created from
//! chat with `!sentry channel authorize` (a random id and token). Chat-created routes, and the
//! revocation of config routes, live in the plugin's store, so they survive restarts and a
//! revocation takes effect on the next request.

use ferrbot::id::{RoomId, UserId};
use ferrbot::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigRoute, Settings};
use crate::keys;
use crate::verify::{Secret, new_route_id, new_token, token_digest};

/// Who revoked a route, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Who.
    pub by: UserId,
    /// When.
    pub at: jiff::Timestamp,
}

/// A route created from chat, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRoute {
    /// The id in its URL.
    pub id: String,
    /// Where its alerts go.
    pub room: RoomId,
    /// Digests of its tokens (never the tokens themselves).
    pub token_digests: Vec<String>,
    /// Who authorized it.
    pub created_by: UserId,
    /// When.
    pub created_at: jiff::Timestamp,
    /// Set once revoked.
    #[serde(default)]
    pub revoked: Option<Revocation>,
}

/// Where a route comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `[[plugins.sentry.routes]]`.
    Config,
    /// `!sentry channel authorize`.
    Chat {
        /// Who authorized it.
        by: UserId,
        /// When.
        at: jiff::Timestamp,
    },
}

/// A route, whatever its origin.
#[derive(Clone, Debug)]
pub struct Route {
    /// The id (config name or random id).
    pub id: String,
    /// The room.
    pub room: RoomId,
    /// Client secrets (config routes only).
    pub secrets: Vec<Secret>,
    /// Token digests.
    pub token_digests: Vec<String>,
    /// The organisation slug, for links.
    pub organization: Option<String>,
    /// Users mentioned on every alert.
    pub mention: Vec<UserId>,
    /// Where it comes from.
    pub origin: Origin,
    /// Set when revoked.
    pub revoked: Option<Revocation>,
}

impl Route {
    fn from_config(c: &ConfigRoute, revoked: Option<Revocation>) -> Self {
        Self {
            id: c.name.clone(),
            room: c.room.clone(),
            secrets: c.secrets.clone(),
            token_digests: c.token_digests.clone(),
            organization: c.organization.clone(),
            mention: c.mention.clone(),
            origin: Origin::Config,
            revoked,
        }
    }

    fn from_stored(s: StoredRoute) -> Self {
        Self {
            id: s.id,
            room: s.room,
            secrets: Vec::new(),
            token_digests: s.token_digests,
            organization: None,
            mention: Vec::new(),
            origin: Origin::Chat {
                by: s.created_by,
                at: s.created_at,
            },
            revoked: s.revoked,
        }
    }

    /// True unless revoked.
    pub fn is_active(&self) -> bool {
        self.revoked.is_none()
    }
}

fn route_key(id: &str) -> String {
    format!("routes/{}", keys::part(id))
}

fn revoked_key(name: &str) -> String {
    format!("revoked/{}", keys::part(name))
}

/// The chat route of a room (one per room), so a room's routes are found without a scan.
fn index_key(room: &RoomId) -> String {
    format!("room/{}", keys::part(&room.to_string()))
}

/// Finds a route by id.
///
/// # Errors
/// Storage failures.
pub async fn find(
    settings: &Settings,
    store: &KvStore,
    id: &str,
) -> Result<Option<Route>, StoreError> {
    if let Some(c) = settings.route(id) {
        let revoked = store.get::<Revocation>(&revoked_key(id)).await?;
        return Ok(Some(Route::from_config(c, revoked)));
    }
    Ok(store
        .get::<StoredRoute>(&route_key(id))
        .await?
        .map(Route::from_stored))
}

/// Every route: config routes first, then chat-created ones by id.
///
/// # Errors
/// Storage failures.
pub async fn all(settings: &Settings, store: &KvStore) -> Result<Vec<Route>, StoreError> {
    let mut out = Vec::new();
    for c in &settings.routes {
        let revoked = store.get::<Revocation>(&revoked_key(&c.name)).await?;
        out.push(Route::from_config(c, revoked));
    }
    for key in store.list("routes/").await? {
        if let Some(stored) = store.get::<StoredRoute>(&key).await? {
            out.push(Route::from_stored(stored));
        }
    }
    Ok(out)
}

/// The routes of one room.
///
/// # Errors
/// Storage failures.
pub async fn for_room(
    settings: &Settings,
    store: &KvStore,
    room: &RoomId,
) -> Result<Vec<Route>, StoreError> {
    let mut out = Vec::new();
    for c in settings.routes.iter().filter(|c| &c.room == room) {
        let revoked = store.get::<Revocation>(&revoked_key(&c.name)).await?;
        out.push(Route::from_config(c, revoked));
    }
    if let Some(id) = store.get::<String>(&index_key(room)).await?
        && let Some(stored) = store.get::<StoredRoute>(&route_key(&id)).await?
        && &stored.room == room
    {
        out.push(Route::from_stored(stored));
    }
    Ok(out)
}

/// True when a room has an active route (the compatibility route posts only there).
///
/// # Errors
/// Storage failures.
pub async fn is_authorized(
    settings: &Settings,
    store: &KvStore,
    room: &RoomId,
) -> Result<bool, StoreError> {
    Ok(for_room(settings, store, room)
        .await?
        .iter()
        .any(Route::is_active))
}

/// What `authorize` did.
#[derive(Debug)]
pub struct Authorized {
    /// The chat route of the room.
    pub route_id: String,
    /// The new token, when one was issued (created or rotated); `None` when the room already
    /// had a working URL and no rotation was asked for.
    pub token: Option<String>,
    /// Config routes of the room that were revoked and work again.
    pub reinstated: Vec<String>,
}

/// Authorizes a room: makes sure it has an active chat route (issuing a token when it is new,
/// revoked, or when `rotate` is asked) and lifts revocations of its config routes.
///
/// # Errors
/// Storage failures.
pub async fn authorize(
    settings: &Settings,
    store: &KvStore,
    room: &RoomId,
    by: &UserId,
    now: jiff::Timestamp,
    rotate: bool,
) -> Result<Authorized, StoreError> {
    let mut reinstated = Vec::new();
    for c in settings.routes.iter().filter(|c| &c.room == room) {
        if store.delete(&revoked_key(&c.name)).await? {
            reinstated.push(c.name.clone());
        }
    }
    let existing = for_room(settings, store, room)
        .await?
        .into_iter()
        .find(|r| r.is_active() && matches!(r.origin, Origin::Chat { .. }));
    if let Some(route) = existing
        && !rotate
    {
        return Ok(Authorized {
            route_id: route.id,
            token: None,
            reinstated,
        });
    }
    let token = new_token();
    let stored = match for_room(settings, store, room)
        .await?
        .into_iter()
        .find(|r| matches!(r.origin, Origin::Chat { .. }))
    {
        // Keep the id (and its history), replace the token.
        Some(route) => StoredRoute {
            id: route.id,
            room: room.clone(),
            token_digests: vec![token_digest(&token)],
            created_by: by.clone(),
            created_at: now,
            revoked: None,
        },
        None => {
            let mut id = new_route_id();
            while settings.route(&id).is_some()
                || store.get::<StoredRoute>(&route_key(&id)).await?.is_some()
            {
                id = new_route_id();
            }
            StoredRoute {
                id,
                room: room.clone(),
                token_digests: vec![token_digest(&token)],
                created_by: by.clone(),
                created_at: now,
                revoked: None,
            }
        }
    };
    store.set(&route_key(&stored.id), &stored).await?;
    store.set(&index_key(room), &stored.id).await?;
    Ok(Authorized {
        route_id: stored.id,
        token: Some(token),
        reinstated,
    })
}

/// Revokes every active route of a room; returns their ids.
///
/// # Errors
/// Storage failures.
pub async fn revoke(
    settings: &Settings,
    store: &KvStore,
    room: &RoomId,
    by: &UserId,
    now: jiff::Timestamp,
) -> Result<Vec<String>, StoreError> {
    let revocation = Revocation {
        by: by.clone(),
        at: now,
    };
    let mut done = Vec::new();
    for route in for_room(settings, store, room).await? {
        if !route.is_active() {
            continue;
        }
        match route.origin {
            Origin::Config => {
                store.set(&revoked_key(&route.id), &revocation).await?;
            }
            Origin::Chat { .. } => {
                if let Some(mut stored) = store.get::<StoredRoute>(&route_key(&route.id)).await? {
                    stored.revoked = Some(revocation.clone());
                    // The token is useless now; drop its digest too.
                    stored.token_digests.clear();
                    store.set(&route_key(&route.id), &stored).await?;
                }
            }
        }
        done.push(route.id);
    }
    Ok(done)
}

/// Revokes one chat-created route (used to take back a URL that could not be delivered).
///
/// # Errors
/// Storage failures.
pub async fn revoke_route(
    store: &KvStore,
    id: &str,
    by: &UserId,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    if let Some(mut stored) = store.get::<StoredRoute>(&route_key(id)).await? {
        stored.revoked = Some(Revocation {
            by: by.clone(),
            at: now,
        });
        stored.token_digests.clear();
        store.set(&route_key(id), &stored).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify_token;

    async fn setup() -> (Settings, KvStore) {
        let settings = Settings::from_value(
            toml::from_str(
                "[[routes]]\nname = \"payments\"\nroom = \"test:pay\"\nsecrets = [\"s\"]",
            )
            .unwrap(),
        )
        .unwrap();
        let store = ferrbot::store::Store::memory().await.unwrap().kv("t");
        (settings, store)
    }

    #[tokio::test]
    async fn authorize_rotate_and_revoke() {
        let (settings, store) = setup().await;
        let room: RoomId = "test:ops".parse().unwrap();
        let by: UserId = "test:root".parse().unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        let first = authorize(&settings, &store, &room, &by, now, false)
            .await
            .unwrap();
        let token = first.token.clone().unwrap();
        let route = find(&settings, &store, &first.route_id)
            .await
            .unwrap()
            .unwrap();
        assert!(verify_token(&token, &route.token_digests));
        // Again: same route, no new token.
        let again = authorize(&settings, &store, &room, &by, now, false)
            .await
            .unwrap();
        assert_eq!(again.route_id, first.route_id);
        assert!(again.token.is_none());
        // Rotation: same id, new token, the old one stops working.
        let rotated = authorize(&settings, &store, &room, &by, now, true)
            .await
            .unwrap();
        assert_eq!(rotated.route_id, first.route_id);
        let route = find(&settings, &store, &first.route_id)
            .await
            .unwrap()
            .unwrap();
        assert!(!verify_token(&token, &route.token_digests));
        assert!(verify_token(
            rotated.token.as_ref().unwrap(),
            &route.token_digests
        ));
        assert!(is_authorized(&settings, &store, &room).await.unwrap());

        let revoked = revoke(&settings, &store, &room, &by, now).await.unwrap();
        assert_eq!(revoked, std::slice::from_ref(&first.route_id));
        assert!(!is_authorized(&settings, &store, &room).await.unwrap());
        let route = find(&settings, &store, &first.route_id)
            .await
            .unwrap()
            .unwrap();
        assert!(!route.is_active());
    }

    #[tokio::test]
    async fn config_routes_can_be_revoked_and_reinstated() {
        let (settings, store) = setup().await;
        let room: RoomId = "test:pay".parse().unwrap();
        let by: UserId = "test:root".parse().unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert!(is_authorized(&settings, &store, &room).await.unwrap());
        revoke(&settings, &store, &room, &by, now).await.unwrap();
        let r = find(&settings, &store, "payments").await.unwrap().unwrap();
        assert_eq!(r.revoked.unwrap().by, by);
        let done = authorize(&settings, &store, &room, &by, now, false)
            .await
            .unwrap();
        assert_eq!(done.reinstated, ["payments"]);
        assert!(
            find(&settings, &store, "payments")
                .await
                .unwrap()
                .unwrap()
                .is_active()
        );
    }
}
