//! `ferrbot-secrets`: the pluggable secrets store of the ferrbot chat-ops bot.
//!
//! Where it sits: a leaf crate. The daemon opens a store from the `[secrets]` config table
//! with [`open_store`] and hands plugins views of it ([`PluginSecrets`],
//! [`CredentialCache`]); the core may depend on it. It depends on no other ferrbot crate and
//! must know nothing of chat: no backends, messages, rooms or commands. A user id is an
//! opaque string here (`slack:U024BE7LH`), a plugin only a name.
//!
//! What it provides:
//! - [`SecretValue`]: secret bytes, wiped on drop, `[redacted]` in `Debug`/`Display`.
//! - [`SecretStore`]: an object-safe async trait (`Arc<dyn SecretStore>`) over slash-separated
//!   keys (`plugins/st2/users/slack:U123/token`), with optional [`Expiry`].
//! - Four stores: [`MemoryStore`], [`FileStore`] (XChaCha20-Poly1305 encrypted file, the
//!   default for one host), [`KeyringStore`] (Linux kernel keyring, a cache) and
//!   [`VaultStore`] (Vault/OpenBao KV v2, token or AppRole login, renewal).
//! - [`resolve_reference`] for config values: `secret:<key>`, `env:NAME`, or a literal.
//!
//! Errors ([`SecretsError`]) name the key, variable, file or address at fault and never a
//! secret value.
//!
//! ```
//! # async fn demo() -> Result<(), ferrbot_secrets::SecretsError> {
//! use ferrbot_secrets::{CredentialCache, SecretValue, SecretsConfig, open_store};
//!
//! let store = open_store(&SecretsConfig::memory()).await?;
//! let creds = CredentialCache::new(store, "st2")?;
//! creds
//!     .set("slack:U024BE7LH", "api_key", &SecretValue::from("s3cr3t"), None)
//!     .await?;
//! let key = creds.get("slack:U024BE7LH", "api_key").await?;
//! assert_eq!(format!("{key:?}"), "Some([redacted])");
//! # Ok(()) }
//! ```

use std::sync::Arc;

pub mod config;
pub mod error;
pub mod file;
pub mod key;
pub mod keyring;
pub mod memory;
pub mod plugin;
pub mod reference;
pub mod store;
pub mod value;
pub mod vault;

pub use config::{
    CredentialRef, FileConfig, KeyringConfig, MemoryConfig, SecretsConfig, VaultAuth, VaultConfig,
};
pub use error::SecretsError;
pub use file::{FileKey, FileStore, rotate_file_key};
pub use key::{escape_user_id, normalize_prefix, unescape_user_id, validate_key};
pub use keyring::KeyringStore;
pub use memory::MemoryStore;
pub use plugin::{CredentialCache, PluginSecrets, UserCredentials};
pub use reference::{ResolvedValue, ValueSource, resolve_reference};
pub use store::SecretStore;
pub use value::{Expiry, SecretValue, serialize_exposed};
pub use vault::VaultStore;

/// Opens the store the config selects.
///
/// For `file`, reads the key reference and, when the file exists, decrypts it once (so a
/// wrong key fails here); for `keyring`, creates the session keyring and probes it; for
/// `vault`, logs in and starts token renewal (so it must run inside a Tokio runtime).
///
/// # Errors
/// Whatever opening the chosen store reports: a credential reference that cannot be read,
/// [`SecretsError::WrongKey`], [`SecretsError::KeyringUnavailable`],
/// [`SecretsError::VaultLogin`], [`SecretsError::VaultSealed`], ….
pub async fn open_store(config: &SecretsConfig) -> Result<Arc<dyn SecretStore>, SecretsError> {
    match config {
        SecretsConfig::Memory(_) => Ok(Arc::new(MemoryStore::new())),
        SecretsConfig::File(c) => {
            let c = c.clone();
            let store = tokio::task::spawn_blocking(move || {
                let key = FileKey::from_ref(&c.key)?;
                FileStore::open(c.path, key)
            })
            .await
            .map_err(|e| SecretsError::internal("(open)", e))??;
            Ok(Arc::new(store))
        }
        SecretsConfig::Keyring(c) => Ok(Arc::new(KeyringStore::open(&c.service).await?)),
        SecretsConfig::Vault(c) => Ok(Arc::new(VaultStore::connect(c).await?)),
    }
}
