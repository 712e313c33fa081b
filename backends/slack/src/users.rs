//! Users: display names and admin flags from `users.info`, cached for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::{Api, ApiError};

/// What ferrbot keeps of a Slack user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The name to show: the profile's display name, else the real name, else the handle.
    pub display_name: String,
    /// A workspace admin or owner.
    pub is_admin: bool,
    /// A bot user.
    pub is_bot: bool,
}

impl UserInfo {
    /// Reads `users.info`'s `user` object.
    pub fn from_json(user: &Value) -> Option<Self> {
        let text = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let profile = user.get("profile");
        let display_name = text(profile.and_then(|p| p.get("display_name")))
            .or_else(|| text(profile.and_then(|p| p.get("real_name"))))
            .or_else(|| text(user.get("real_name")))
            .or_else(|| text(user.get("name")))?;
        let flag = |k: &str| user.get(k).and_then(Value::as_bool).unwrap_or(false);
        Some(Self {
            display_name,
            is_admin: flag("is_admin") || flag("is_owner") || flag("is_primary_owner"),
            is_bot: flag("is_bot"),
        })
    }
}

/// A cache of [`UserInfo`] by Slack user id.
pub struct Users {
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, UserInfo)>>,
}

impl Users {
    /// A cache keeping entries for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, id: &str) -> Option<UserInfo> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, info)| info.clone())
    }

    /// The user, from the cache or `users.info`.
    ///
    /// # Errors
    /// When `users.info` fails.
    pub async fn get(&self, api: &Api, id: &str) -> Result<UserInfo, ApiError> {
        if let Some(info) = self.cached(id) {
            return Ok(info);
        }
        let answer = api
            .get_retrying("users.info", &[("user", id.to_owned())])
            .await?;
        let info = answer
            .get("user")
            .and_then(UserInfo::from_json)
            .unwrap_or_else(|| UserInfo {
                display_name: id.to_owned(),
                is_admin: false,
                is_bot: false,
            });
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        cache.insert(id.to_owned(), (Instant::now(), info.clone()));
        Ok(info)
    }

    /// The display name, falling back to the id when `users.info` fails.
    pub async fn display_name(&self, api: &Api, id: &str) -> String {
        match self.get(api, id).await {
            Ok(info) => info.display_name,
            Err(err) => {
                tracing::debug!(user = id, error = %err, "cannot look up a user");
                id.to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn display_name_prefers_the_profile() {
        let u = json!({"id":"U1","name":"alice","real_name":"Alice A","is_admin":true,
            "profile":{"display_name":"","real_name":"Alice Anders"}});
        let info = UserInfo::from_json(&u).unwrap();
        assert_eq!(info.display_name, "Alice Anders");
        assert!(info.is_admin);
        let u = json!({"id":"U2","name":"bob","profile":{"display_name":"bobby"}});
        assert_eq!(UserInfo::from_json(&u).unwrap().display_name, "bobby");
    }
}
