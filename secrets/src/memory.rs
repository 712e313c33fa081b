//! The memory store: clear text in process memory, lost on restart.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use jiff::Timestamp;

use crate::error::SecretsError;
use crate::key::{in_namespace, normalize_prefix, validate_key};
use crate::store::SecretStore;
use crate::value::{Expiry, SecretValue, expires_at, is_expired};

#[derive(Clone)]
struct Entry {
    value: SecretValue,
    expires_at: Option<Timestamp>,
}

/// Secrets in a map in memory. For tests and throwaway bots: nothing survives a restart.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is a
        // single insert/remove), so a poisoned lock is still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.lock().len())
            .finish()
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<SecretValue>, SecretsError> {
        validate_key(key)?;
        let mut map = self.lock();
        match map.get(key) {
            Some(e) if is_expired(e.expires_at, Timestamp::now()) => {
                map.remove(key);
                Ok(None)
            }
            Some(e) => Ok(Some(e.value.clone())),
            None => Ok(None),
        }
    }

    async fn set(
        &self,
        key: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        validate_key(key)?;
        let entry = Entry {
            value: value.clone(),
            expires_at: expires_at(expiry),
        };
        self.lock().insert(key.to_owned(), entry);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), SecretsError> {
        validate_key(key)?;
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        let prefix = normalize_prefix(prefix)?;
        let now = Timestamp::now();
        let mut map = self.lock();
        map.retain(|_, e| !is_expired(e.expires_at, now));
        Ok(map
            .keys()
            .filter(|k| in_namespace(k, &prefix))
            .cloned()
            .collect())
    }
}
