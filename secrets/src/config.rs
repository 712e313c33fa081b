//! The `[secrets]` configuration table and credential references.
//!
//! ```toml
//! [secrets]
//! store = "file"
//! path = "/var/lib/ferrbot/secrets.enc"
//! key = "env:FERRBOT_SECRETS_KEY"
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::SecretsError;
use crate::value::SecretValue;

/// The `[secrets]` table: which store, and that store's settings.
///
/// The `store` key selects the variant; the other keys belong to that store and unknown keys
/// are rejected.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "store", rename_all = "lowercase")]
#[non_exhaustive]
pub enum SecretsConfig {
    /// Clear text in process memory, lost on restart (tests, throwaway bots).
    Memory(MemoryConfig),
    /// An encrypted file on this host (the default for a single host).
    File(FileConfig),
    /// The Linux kernel keyring: a cache, lost on reboot.
    Keyring(KeyringConfig),
    /// HashiCorp Vault or OpenBao, KV version 2.
    Vault(VaultConfig),
}

impl SecretsConfig {
    /// The default for one host: an encrypted file `secrets.enc` in `data_dir`, keyed by the
    /// environment variable `FERRBOT_SECRETS_KEY`.
    #[must_use]
    pub fn default_file(data_dir: &Path) -> Self {
        Self::File(FileConfig {
            path: data_dir.join("secrets.enc"),
            key: CredentialRef::Env("FERRBOT_SECRETS_KEY".to_owned()),
        })
    }

    /// The memory store.
    #[must_use]
    pub fn memory() -> Self {
        Self::Memory(MemoryConfig {})
    }

    /// The store's kind, as written in `store = "…"`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::File(_) => "file",
            Self::Keyring(_) => "keyring",
            Self::Vault(_) => "vault",
        }
    }
}

/// Settings of the memory store (none).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {}

/// Settings of the encrypted file store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The encrypted file. Its directory also holds `<name>.lock` and, briefly, temp files.
    pub path: PathBuf,
    /// The 32-byte key, as a reference: `env:NAME` or `file:/path`, holding 64 hex digits or
    /// base64 (a key file may also hold the 32 raw bytes).
    pub key: CredentialRef,
}

/// Settings of the kernel keyring store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringConfig {
    /// The keyring "service" the entries are filed under (`ferrbot` by default); give each bot
    /// on the same host and user its own.
    #[serde(default = "default_service")]
    pub service: String,
}

impl Default for KeyringConfig {
    fn default() -> Self {
        Self {
            service: default_service(),
        }
    }
}

fn default_service() -> String {
    "ferrbot".to_owned()
}

/// Settings of the Vault/OpenBao store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// The server, e.g. `https://vault.example.org:8200`.
    pub address: String,
    /// Where the KV version 2 engine is mounted (`secret` by default).
    #[serde(default = "default_mount")]
    pub mount: String,
    /// A path prefix inside the mount; ferrbot's keys live under it (`ferrbot` by default, `""`
    /// for the mount's root).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// A Vault Enterprise / OpenBao namespace (`X-Vault-Namespace`), if any.
    #[serde(default)]
    pub namespace: Option<String>,
    /// PEM files of CA certificates to trust for an `https` address.
    #[serde(default)]
    pub ca_certs: Vec<PathBuf>,
    /// Per-request timeout (`"10s"`, `"1m"`, or seconds); 10 s by default.
    #[serde(default = "default_timeout", with = "duration_serde")]
    pub timeout: Duration,
    /// How to log in.
    pub auth: VaultAuth,
}

fn default_mount() -> String {
    "secret".to_owned()
}

fn default_prefix() -> String {
    "ferrbot".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// How the Vault store logs in.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum VaultAuth {
    /// A token given to the bot; renewed in the background when it is renewable.
    Token {
        /// The token, as a reference (`env:VAULT_TOKEN`, `file:/run/secrets/vault-token`).
        token: CredentialRef,
    },
    /// AppRole: logs in with role_id + secret_id, renews the token, logs in again when the
    /// token can no longer be renewed.
    #[serde(rename = "approle")]
    AppRole {
        /// The role id, as a reference.
        role_id: CredentialRef,
        /// The secret id, as a reference; read again at every login, so a rotated file is
        /// picked up.
        secret_id: CredentialRef,
        /// Where the AppRole auth method is mounted (`approle` by default).
        #[serde(default = "default_approle_mount")]
        mount: String,
    },
}

fn default_approle_mount() -> String {
    "approle".to_owned()
}

/// A reference to a credential in config: `env:NAME`, `file:/path`, or — for tests only —
/// `literal:VALUE`.
///
/// A bare value is rejected, so a token or key pasted into the config file is caught. `Debug`
/// and [`describe`](Self::describe) show the reference, never a literal's value.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub enum CredentialRef {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file.
    File(PathBuf),
    /// The value itself; for tests only (a warning is logged when it is used).
    Literal(SecretValue),
}

impl CredentialRef {
    /// Parses `env:NAME`, `file:/path` or `literal:VALUE`.
    ///
    /// # Errors
    /// [`SecretsError::Config`] for anything else (the message does not repeat the input).
    pub fn parse(s: &str) -> Result<Self, SecretsError> {
        if let Some(name) = s.strip_prefix("env:") {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(SecretsError::Config(format!(
                    "`env:{name}` does not name an environment variable"
                )));
            }
            Ok(Self::Env(name.to_owned()))
        } else if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(SecretsError::Config("`file:` needs a path".to_owned()));
            }
            Ok(Self::File(PathBuf::from(path)))
        } else if let Some(value) = s.strip_prefix("literal:") {
            Ok(Self::Literal(SecretValue::from(value)))
        } else {
            Err(SecretsError::Config(
                "a credential must be a reference: `env:NAME` or `file:/path` (`literal:VALUE` \
                 only in tests); the value given was not shown"
                    .to_owned(),
            ))
        }
    }

    /// The reference for messages: `env:NAME`, `file:/path` or `literal:[redacted]`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Env(name) => format!("env:{name}"),
            Self::File(path) => format!("file:{}", path.display()),
            Self::Literal(_) => "literal:[redacted]".to_owned(),
        }
    }

    /// Reads the credential now: the environment variable, the whole file, or the literal.
    ///
    /// # Errors
    /// [`SecretsError::Credential`] naming the reference when the variable is unset or the file
    /// unreadable or empty.
    pub fn resolve(&self) -> Result<SecretValue, SecretsError> {
        let fail = |reason: String| SecretsError::Credential {
            reference: self.describe(),
            reason,
        };
        let value = match self {
            Self::Env(name) => match std::env::var_os(name) {
                Some(v) => {
                    use std::os::unix::ffi::OsStringExt;
                    SecretValue::new(v.into_vec())
                }
                None => return Err(fail("the environment variable is not set".to_owned())),
            },
            Self::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
                warn_if_readable_by_others(path);
                SecretValue::new(bytes)
            }
            Self::Literal(v) => {
                tracing::warn!(
                    "a secrets credential is given as `literal:` in the config; use env:NAME or \
                     file:/path outside tests"
                );
                v.clone()
            }
        };
        if value.is_empty() {
            return Err(fail("it is empty".to_owned()));
        }
        Ok(value)
    }

    /// Like [`resolve`](Self::resolve), with surrounding whitespace (a trailing newline in a
    /// file) removed; for tokens and ids.
    ///
    /// # Errors
    /// As [`resolve`](Self::resolve), and when the value is not UTF-8 or only whitespace.
    pub fn resolve_trimmed(&self) -> Result<SecretValue, SecretsError> {
        let raw = self.resolve()?;
        let fail = |reason: &str| SecretsError::Credential {
            reference: self.describe(),
            reason: reason.to_owned(),
        };
        let text = raw
            .expose_str()
            .ok_or_else(|| fail("it is not UTF-8 text"))?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        Ok(SecretValue::from(trimmed))
    }
}

impl TryFrom<String> for CredentialRef {
    type Error = SecretsError;
    fn try_from(s: String) -> Result<Self, SecretsError> {
        let s = zeroize::Zeroizing::new(s);
        Self::parse(&s)
    }
}

impl fmt::Debug for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "a secrets credential file is readable by group or others; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// `"10s"`, `"500ms"`, `"2m"`, `"1h"` or a number of seconds.
mod duration_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => parse(&t).ok_or_else(|| {
                D::Error::custom(format!(
                    "`{t}` is not a duration (use e.g. \"500ms\", \"10s\", \"2m\", \"1h\")"
                ))
            }),
        }
    }

    fn parse(t: &str) -> Option<Duration> {
        let t = t.trim();
        let split = t.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = t.split_at(split);
        let n: u64 = n.parse().ok()?;
        match unit.trim() {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
            "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
            _ => None,
        }
    }
}
