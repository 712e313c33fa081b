//! The one error type of this crate.
//!
//! Every message names what was at fault — a key path, an environment variable, a file, a
//! Vault address — and never a secret value: no variant has a field that could hold one.

use std::path::PathBuf;

/// Everything that can go wrong in a secrets store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// A key path is malformed (empty segment, `..`, a character outside the allowed set, …).
    #[error("invalid secret key `{key}`: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A user id cannot be used for per-user credentials (empty or too long).
    #[error("invalid user id `{user}`: {reason}")]
    InvalidUserId {
        /// The user id as given.
        user: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The `[secrets]` configuration is unusable.
    #[error("invalid secrets config: {0}")]
    Config(String),

    /// A credential reference (`env:NAME`, `file:/path`) could not be read.
    #[error("credential reference `{reference}` cannot be used: {reason}")]
    Credential {
        /// The reference, e.g. `env:FERRBOT_SECRETS_KEY` (never the value behind it).
        reference: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// A `secret:<key>` reference points at a key that is not in the store.
    #[error("secret `{key}` is not in the secrets store")]
    NotFound {
        /// The missing key.
        key: String,
    },

    /// An `env:NAME` reference names a variable that is not set (or not UTF-8).
    #[error("environment variable `{name}` is not set or is not valid UTF-8")]
    EnvMissing {
        /// The variable's name.
        name: String,
    },

    /// A value is larger than the store accepts.
    #[error("secret `{key}` is too large for the {store} store: {len} bytes, at most {max}")]
    TooLarge {
        /// The key being written.
        key: String,
        /// The store's kind.
        store: &'static str,
        /// The value's length in bytes.
        len: usize,
        /// The largest value the store accepts.
        max: usize,
    },

    /// The file store's key is not the one the file was encrypted with.
    #[error(
        "secrets file {path}: the key does not match the one the file was encrypted with \
         (or the file's header is corrupted); the file was left untouched"
    )]
    WrongKey {
        /// The secrets file.
        path: PathBuf,
    },

    /// The secrets file is damaged (truncated, modified, or not a secrets file at all).
    #[error("secrets file {path} is corrupted: {reason}; the file was left untouched")]
    Corrupted {
        /// The secrets file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },

    /// The secrets file was written by a newer (or unknown) format version.
    #[error("secrets file {path} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The secrets file.
        path: PathBuf,
        /// The version in the file.
        found: u8,
        /// The version this build reads and writes.
        supported: u8,
    },

    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`reading`, `renaming`, …).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The kernel keyring cannot be used (blocked by seccomp, no session keyring, …).
    #[error("kernel keyring unavailable: {reason}")]
    KeyringUnavailable {
        /// What the kernel answered.
        reason: String,
    },

    /// A kernel keyring operation on one key failed.
    #[error("kernel keyring: `{key}`: {reason}")]
    Keyring {
        /// The key concerned.
        key: String,
        /// What failed.
        reason: String,
    },

    /// Vault (or OpenBao) answered 503: it is sealed or not ready.
    #[error("vault at {address} is sealed or not ready (503); `{key}` cannot be reached")]
    VaultSealed {
        /// The Vault address.
        address: String,
        /// The key (or operation) being attempted.
        key: String,
    },

    /// Vault could not be reached at all.
    #[error("vault at {address} is unreachable while accessing `{key}`: {reason}")]
    VaultUnreachable {
        /// The Vault address.
        address: String,
        /// The key (or operation) being attempted.
        key: String,
        /// The transport error.
        reason: String,
    },

    /// Vault refused the token (403): bad, expired or revoked token, or a missing policy.
    #[error(
        "vault at {address} denied access to `{key}` (403 permission denied): the token is \
         invalid or expired, or its policy does not allow this path"
    )]
    VaultPermissionDenied {
        /// The Vault address.
        address: String,
        /// The key (or operation) being attempted.
        key: String,
    },

    /// Logging in to Vault failed.
    #[error("vault at {address}: {method} login failed: {reason}")]
    VaultLogin {
        /// The Vault address.
        address: String,
        /// `token` or `approle`.
        method: &'static str,
        /// Why (status code and Vault's error list).
        reason: String,
    },

    /// Any other Vault error.
    #[error("vault at {address}: `{key}`: {reason}")]
    Vault {
        /// The Vault address.
        address: String,
        /// The key (or operation) being attempted.
        key: String,
        /// Status code and Vault's error list, or the client error.
        reason: String,
    },

    /// A stored entry could not be decoded (written by something else, or damaged).
    #[error("stored entry `{key}` is malformed: {reason}")]
    Malformed {
        /// The key concerned.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A store is not available on this platform.
    #[error("the {store} secrets store is not supported on this platform")]
    Unsupported {
        /// The store's kind.
        store: &'static str,
    },

    /// A background task of the store failed (panicked or was cancelled).
    #[error("secrets store internal error while accessing `{key}`: {reason}")]
    Internal {
        /// The key (or operation) being attempted.
        key: String,
        /// What happened.
        reason: String,
    },
}

impl SecretsError {
    /// True when the error means the backing store cannot be reached or used at all (sealed
    /// or unreachable Vault, unavailable kernel keyring), as opposed to a problem with one key.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::VaultSealed { .. }
                | Self::VaultUnreachable { .. }
                | Self::KeyringUnavailable { .. }
        )
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn internal(key: &str, reason: impl std::fmt::Display) -> Self {
        Self::Internal {
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }
}
