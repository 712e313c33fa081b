//! Views of a store for one plugin: [`PluginSecrets`] for its own secrets and
//! [`CredentialCache`] / [`UserCredentials`] for per-user credentials.
//!
//! Layout:
//!
//! | key | what |
//! |---|---|
//! | `plugins/<plugin>/<name…>` | the plugin's own secrets ([`PluginSecrets`]) |
//! | `plugins/<plugin>/users/<escaped user id>/<name>` | one user's credential ([`CredentialCache`]) |
//!
//! Every key these views build starts with `plugins/<plugin>/`, and names are validated key
//! paths (no `..`, no empty segment), so a plugin cannot reach another plugin's namespace.
//! User ids are escaped into exactly one segment by [`escape_user_id`], so a user id
//! containing `/` or `..` cannot reach another user's entries. [`PluginSecrets`] refuses names
//! under `users/`, which belong to the per-user views.

use std::sync::Arc;

use crate::error::SecretsError;
use crate::key::{
    escape_user_id, normalize_prefix, unescape_user_id, validate_key, validate_segment,
};
use crate::store::SecretStore;
use crate::value::{Expiry, SecretValue};

const USERS: &str = "users";

fn plugin_base(plugin: &str) -> Result<String, SecretsError> {
    validate_segment(plugin).map_err(|e| match e {
        SecretsError::InvalidKey { reason, .. } => SecretsError::InvalidKey {
            key: plugin.to_owned(),
            reason: format!("invalid plugin name: {reason}"),
        },
        other => other,
    })?;
    Ok(format!("plugins/{plugin}"))
}

/// A plugin's own (non-user) secrets, under `plugins/<plugin>/`.
#[derive(Clone, Debug)]
pub struct PluginSecrets {
    store: Arc<dyn SecretStore>,
    plugin: String,
    base: String,
}

impl PluginSecrets {
    /// The view of `plugin`'s secrets in `store`.
    ///
    /// # Errors
    /// [`SecretsError::InvalidKey`] when `plugin` is not a valid single segment.
    pub fn new(store: Arc<dyn SecretStore>, plugin: &str) -> Result<Self, SecretsError> {
        let base = plugin_base(plugin)?;
        Ok(Self {
            store,
            plugin: plugin.to_owned(),
            base,
        })
    }

    /// The plugin's name.
    #[must_use]
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The per-user credential cache of the same plugin.
    #[must_use]
    pub fn credentials(&self) -> CredentialCache {
        CredentialCache {
            store: Arc::clone(&self.store),
            plugin: self.plugin.clone(),
            base: format!("{}/{USERS}", self.base),
        }
    }

    fn key(&self, name: &str) -> Result<String, SecretsError> {
        validate_key(name)?;
        if name == USERS || name.starts_with("users/") {
            return Err(SecretsError::InvalidKey {
                key: name.to_owned(),
                reason: "`users/` holds per-user credentials; use the credential cache".to_owned(),
            });
        }
        Ok(format!("{}/{name}", self.base))
    }

    /// Reads `plugins/<plugin>/<name>`.
    ///
    /// # Errors
    /// An invalid name, or the store failing.
    pub async fn get(&self, name: &str) -> Result<Option<SecretValue>, SecretsError> {
        self.store.get(&self.key(name)?).await
    }

    /// Writes `plugins/<plugin>/<name>`, optionally expiring.
    ///
    /// # Errors
    /// An invalid name, or the store failing.
    pub async fn set(
        &self,
        name: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        self.store.set(&self.key(name)?, value, expiry).await
    }

    /// Removes `plugins/<plugin>/<name>`.
    ///
    /// # Errors
    /// An invalid name, or the store failing.
    pub async fn delete(&self, name: &str) -> Result<(), SecretsError> {
        self.store.delete(&self.key(name)?).await
    }

    /// The names of the plugin's own secrets (relative to `plugins/<plugin>/`, without the
    /// per-user area), sorted.
    ///
    /// # Errors
    /// The store failing.
    pub async fn list(&self) -> Result<Vec<String>, SecretsError> {
        let prefix = normalize_prefix(&self.base)?;
        let users = format!("{prefix}{USERS}/");
        Ok(self
            .store
            .list(&prefix)
            .await?
            .into_iter()
            .filter(|k| !k.starts_with(&users))
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }
}

/// Per-user credentials of one plugin (OAuth tokens, API keys users gave the bot), under
/// `plugins/<plugin>/users/<user>/<name>`. User ids are backend-qualified strings such as
/// `slack:U024BE7LH` or `matrix:@alice:example.org`; `name` is one segment.
#[derive(Clone, Debug)]
pub struct CredentialCache {
    store: Arc<dyn SecretStore>,
    plugin: String,
    base: String,
}

impl CredentialCache {
    /// The credential cache of `plugin` in `store`.
    ///
    /// # Errors
    /// [`SecretsError::InvalidKey`] when `plugin` is not a valid single segment.
    pub fn new(store: Arc<dyn SecretStore>, plugin: &str) -> Result<Self, SecretsError> {
        Ok(PluginSecrets::new(store, plugin)?.credentials())
    }

    /// The plugin's name.
    #[must_use]
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    fn user_base(&self, user: &str) -> Result<String, SecretsError> {
        Ok(format!("{}/{}", self.base, escape_user_id(user)?))
    }

    fn key(&self, user: &str, name: &str) -> Result<String, SecretsError> {
        validate_segment(name)?;
        Ok(format!("{}/{name}", self.user_base(user)?))
    }

    /// A view bound to one user: it can only reach that user's credentials.
    ///
    /// # Errors
    /// [`SecretsError::InvalidUserId`] for an empty or over-long user id.
    pub fn for_user(&self, user: &str) -> Result<UserCredentials, SecretsError> {
        Ok(UserCredentials {
            store: Arc::clone(&self.store),
            user: user.to_owned(),
            base: self.user_base(user)?,
        })
    }

    /// Reads `user`'s credential `name`.
    ///
    /// # Errors
    /// An invalid user id or name, or the store failing.
    pub async fn get(&self, user: &str, name: &str) -> Result<Option<SecretValue>, SecretsError> {
        self.store.get(&self.key(user, name)?).await
    }

    /// Writes `user`'s credential `name`, optionally expiring (e.g. with a token's lifetime).
    ///
    /// # Errors
    /// An invalid user id or name, or the store failing.
    pub async fn set(
        &self,
        user: &str,
        name: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        self.store.set(&self.key(user, name)?, value, expiry).await
    }

    /// Removes `user`'s credential `name`.
    ///
    /// # Errors
    /// An invalid user id or name, or the store failing.
    pub async fn delete(&self, user: &str, name: &str) -> Result<(), SecretsError> {
        self.store.delete(&self.key(user, name)?).await
    }

    /// The names of `user`'s credentials, sorted.
    ///
    /// # Errors
    /// An invalid user id, or the store failing.
    pub async fn list_names(&self, user: &str) -> Result<Vec<String>, SecretsError> {
        self.for_user(user)?.list().await
    }

    /// Removes every credential of `user`; returns how many there were.
    ///
    /// # Errors
    /// An invalid user id, or the store failing.
    pub async fn delete_user(&self, user: &str) -> Result<usize, SecretsError> {
        let view = self.for_user(user)?;
        let names = view.list().await?;
        for name in &names {
            view.delete(name).await?;
        }
        Ok(names.len())
    }

    /// The (unescaped) ids of users that have at least one live credential, sorted.
    ///
    /// # Errors
    /// The store failing.
    pub async fn list_users(&self) -> Result<Vec<String>, SecretsError> {
        let prefix = normalize_prefix(&self.base)?;
        let mut users: Vec<String> = self
            .store
            .list(&prefix)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|rest| rest.split_once('/').map(|(u, _)| u))
            .filter_map(unescape_user_id)
            .collect();
        users.sort();
        users.dedup();
        Ok(users)
    }
}

/// One user's credentials within one plugin; obtained from [`CredentialCache::for_user`].
#[derive(Clone, Debug)]
pub struct UserCredentials {
    store: Arc<dyn SecretStore>,
    user: String,
    base: String,
}

impl UserCredentials {
    /// The user id this view is bound to.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    fn key(&self, name: &str) -> Result<String, SecretsError> {
        validate_segment(name)?;
        Ok(format!("{}/{name}", self.base))
    }

    /// Reads the credential `name`.
    ///
    /// # Errors
    /// An invalid name, or the store failing.
    pub async fn get(&self, name: &str) -> Result<Option<SecretValue>, SecretsError> {
        self.store.get(&self.key(name)?).await
    }

    /// Writes the credential `name`, optionally expiring.
    ///
    /// # Errors
    /// An invalid name, or the store failing.
    pub async fn set(
        &self,
        name: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        self.store.set(&self.key(name)?, value, expiry).await
    }

    /// Removes the credential `name`.
    ///
    /// # Errors
    /// An invalid name, or the store failing.
    pub async fn delete(&self, name: &str) -> Result<(), SecretsError> {
        self.store.delete(&self.key(name)?).await
    }

    /// The names of this user's credentials, sorted.
    ///
    /// # Errors
    /// The store failing.
    pub async fn list(&self) -> Result<Vec<String>, SecretsError> {
        let prefix = normalize_prefix(&self.base)?;
        Ok(self
            .store
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .filter(|rest| !rest.contains('/'))
            .collect())
    }
}
