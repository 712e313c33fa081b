//! The [`SecretStore`] trait every backend implements.

use async_trait::async_trait;

use crate::error::SecretsError;
use crate::value::{Expiry, SecretValue};

/// A key/value store for secrets, shared as `Arc<dyn SecretStore>`.
///
/// Keys are slash-separated paths checked by [`validate_key`](crate::validate_key). Every
/// method validates its key first. Expired entries behave as absent everywhere and are purged
/// lazily.
#[async_trait]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The store's kind: `memory`, `file`, `keyring` or `vault`.
    fn kind(&self) -> &'static str;

    /// Reads a secret; `Ok(None)` when it is absent or expired.
    ///
    /// # Errors
    /// An invalid key, or the backing store failing (never "absent" on a failure).
    async fn get(&self, key: &str) -> Result<Option<SecretValue>, SecretsError>;

    /// Creates or replaces a secret, optionally expiring.
    ///
    /// # Errors
    /// An invalid key, a value too large for the store, or the backing store failing.
    async fn set(
        &self,
        key: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError>;

    /// Removes a secret. Removing an absent key is not an error.
    ///
    /// # Errors
    /// An invalid key, or the backing store failing.
    async fn delete(&self, key: &str) -> Result<(), SecretsError>;

    /// Every live key strictly under the namespace `prefix` (`""` for all keys; `"a/b"` and
    /// `"a/b/"` both mean the keys that start with `a/b/`), as full paths, sorted.
    ///
    /// # Errors
    /// An invalid prefix, or the backing store failing.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SecretsError>;
}
