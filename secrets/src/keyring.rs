//! The Linux kernel keyring store (`keyring-core` + `linux-keyutils-keyring-store`).
//!
//! Each secret is one `user` key described `keyring:<key>@<service>`, added to a session
//! keyring this store creates for itself and linked into the user's persistent keyring, so other
//! processes of the same user can read it. The kernel cannot list keys by prefix, so the store
//! keeps an index of its keys in entries of its own (`#index-0`, `#index-1`, …, never valid
//! keys); `list` checks every indexed key and drops stale ones from the index.
//!
//! It is a **cache**, not storage: the persistent keyring expires after
//! `/proc/sys/kernel/keys/persistent_keyring_expiry` seconds unused (3 days by default), and
//! nothing survives a reboot. A value may be at most [`KEYRING_MAX_VALUE`] bytes (the kernel's
//! 32767-byte limit for `user` keys, less a small header); per-user quotas
//! (`/proc/sys/kernel/keys/maxbytes`, 20000 bytes for non-root users by default) apply too.
//! Docker's default seccomp profile blocks the keyring system calls: opening the store then
//! fails with "kernel keyring unavailable".
//!
//! Every keyring call runs on one dedicated thread: the kernel attaches session keyrings to a
//! thread's credentials, and a single thread also makes each value+index update atomic within
//! the process. Updates from several processes at once can lose index entries (values are not
//! lost, but may not be listed); use the file or Vault store for several processes.

use async_trait::async_trait;

use crate::error::SecretsError;
use crate::store::SecretStore;
use crate::value::{Expiry, SecretValue};

/// The largest value the keyring store accepts, in bytes.
pub const KEYRING_MAX_VALUE: usize = MAX_PAYLOAD - ENVELOPE_HEADER;

/// The kernel's limit for the payload of a `user` key.
const MAX_PAYLOAD: usize = 32767;
/// Magic (3) + version (1) + flags (1) + expiry (8).
const ENVELOPE_HEADER: usize = 13;

/// Secrets in the Linux kernel keyring; see the [module docs](self).
pub struct KeyringStore {
    service: String,
    #[cfg(target_os = "linux")]
    worker: imp::Handle,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl KeyringStore {
    /// Starts the keyring thread, creates this process's session keyring
    /// (`KeyRing::from_special_id(Session, true)`), and probes it with a write and a delete.
    ///
    /// # Errors
    /// [`SecretsError::KeyringUnavailable`] when the kernel refuses (seccomp, no keyring
    /// support, access denied); [`SecretsError::Unsupported`] off Linux;
    /// [`SecretsError::Config`] for an unusable service name.
    pub async fn open(service: &str) -> Result<Self, SecretsError> {
        if service.is_empty() || service.contains('@') || service.chars().any(char::is_control) {
            return Err(SecretsError::Config(format!(
                "keyring service `{service}` must be non-empty, without `@` or control characters"
            )));
        }
        #[cfg(target_os = "linux")]
        {
            let worker = imp::Handle::start(service.to_owned()).await?;
            Ok(Self {
                service: service.to_owned(),
                worker,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(SecretsError::Unsupported { store: "keyring" })
        }
    }

    /// The service name the entries are filed under.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }
}

#[cfg(target_os = "linux")]
#[async_trait]
impl SecretStore for KeyringStore {
    fn kind(&self) -> &'static str {
        "keyring"
    }

    async fn get(&self, key: &str) -> Result<Option<SecretValue>, SecretsError> {
        crate::key::validate_key(key)?;
        let k = key.to_owned();
        self.worker.call(key, move |w| w.get(&k)).await
    }

    async fn set(
        &self,
        key: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        crate::key::validate_key(key)?;
        if value.len() > KEYRING_MAX_VALUE {
            return Err(SecretsError::TooLarge {
                key: key.to_owned(),
                store: "keyring",
                len: value.len(),
                max: KEYRING_MAX_VALUE,
            });
        }
        let envelope = imp::encode(value, crate::value::expires_at(expiry));
        let k = key.to_owned();
        self.worker.call(key, move |w| w.set(&k, &envelope)).await
    }

    async fn delete(&self, key: &str) -> Result<(), SecretsError> {
        crate::key::validate_key(key)?;
        let k = key.to_owned();
        self.worker.call(key, move |w| w.delete(&k)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        let prefix = crate::key::normalize_prefix(prefix)?;
        let what = prefix.clone();
        self.worker.call(&what, move |w| w.list(&prefix)).await
    }
}

#[cfg(not(target_os = "linux"))]
#[async_trait]
impl SecretStore for KeyringStore {
    fn kind(&self) -> &'static str {
        "keyring"
    }
    async fn get(&self, _key: &str) -> Result<Option<SecretValue>, SecretsError> {
        Err(SecretsError::Unsupported { store: "keyring" })
    }
    async fn set(
        &self,
        _key: &str,
        _value: &SecretValue,
        _expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        Err(SecretsError::Unsupported { store: "keyring" })
    }
    async fn delete(&self, _key: &str) -> Result<(), SecretsError> {
        Err(SecretsError::Unsupported { store: "keyring" })
    }
    async fn list(&self, _prefix: &str) -> Result<Vec<String>, SecretsError> {
        Err(SecretsError::Unsupported { store: "keyring" })
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::sync::mpsc;

    use jiff::Timestamp;
    use keyring_core::Entry;
    use keyring_core::api::CredentialStoreApi;
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};
    use linux_keyutils_keyring_store::Store;
    use zeroize::Zeroizing;

    use super::{ENVELOPE_HEADER, MAX_PAYLOAD};
    use crate::error::SecretsError;
    use crate::key::in_namespace;
    use crate::value::{SecretValue, is_expired};

    const MAGIC: &[u8; 3] = b"FBK";
    const VERSION: u8 = 1;
    const INDEX_PREFIX: &str = "#index-";
    const PROBE: &str = "#probe";
    /// Index chunks stay well under the payload limit.
    const INDEX_CHUNK: usize = 30_000;
    const ENOSYS: i32 = 38;

    type Job = Box<dyn FnOnce(&Worker) + Send>;

    /// The sending side of the keyring thread; dropping it ends the thread.
    pub(super) struct Handle {
        tx: mpsc::Sender<Job>,
    }

    impl Handle {
        pub(super) async fn start(service: String) -> Result<Self, SecretsError> {
            let (tx, rx) = mpsc::channel::<Job>();
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("ferrbot-keyring".to_owned())
                .spawn(move || {
                    let worker = match Worker::init(service) {
                        Ok(w) => {
                            let _ = ready_tx.send(Ok(()));
                            w
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    while let Ok(job) = rx.recv() {
                        // A panic in one job must not take the thread (and the store) down.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            job(&worker);
                        }));
                    }
                })
                .map_err(|e| SecretsError::KeyringUnavailable {
                    reason: format!("cannot start the keyring thread: {e}"),
                })?;
            ready_rx
                .await
                .map_err(|_| SecretsError::internal("(open)", "the keyring thread stopped"))??;
            Ok(Self { tx })
        }

        pub(super) async fn call<R, F>(&self, what: &str, f: F) -> Result<R, SecretsError>
        where
            R: Send + 'static,
            F: FnOnce(&Worker) -> Result<R, SecretsError> + Send + 'static,
        {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.tx
                .send(Box::new(move |w: &Worker| {
                    let _ = tx.send(f(w));
                }))
                .map_err(|_| SecretsError::internal(what, "the keyring thread has stopped"))?;
            rx.await
                .map_err(|_| SecretsError::internal(what, "the keyring operation panicked"))?
        }
    }

    pub(super) struct Worker {
        store: Arc<Store>,
        service: String,
    }

    impl Worker {
        fn init(service: String) -> Result<Self, SecretsError> {
            // Without a session keyring of its own the process only has the user-session
            // keyring, which it does not possess: add_key then fails with EACCES.
            KeyRing::from_special_id(KeyRingIdentifier::Session, true).map_err(|e| {
                SecretsError::KeyringUnavailable {
                    reason: format!("cannot create a session keyring: {}", describe(e)),
                }
            })?;
            let store = Store::new().map_err(|e| unavailable_or(PROBE, e))?;
            let worker = Self { store, service };
            // Probe a write and a delete, so that a refusing kernel is reported at start.
            worker
                .write(PROBE, b"probe")
                .and_then(|()| worker.remove(PROBE).map(|_| ()))
                .map_err(|e| match e {
                    SecretsError::Keyring { reason, .. } => SecretsError::KeyringUnavailable {
                        reason: format!("a probe write failed: {reason}"),
                    },
                    other => other,
                })?;
            worker.read_index()?;
            Ok(worker)
        }

        fn entry(&self, user: &str) -> Result<Entry, SecretsError> {
            self.store
                .build(&self.service, user, None)
                .map_err(|e| unavailable_or(user, e))
        }

        fn read(&self, user: &str) -> Result<Option<Zeroizing<Vec<u8>>>, SecretsError> {
            match self.entry(user)?.get_secret() {
                Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(unavailable_or(user, e)),
            }
        }

        fn write(&self, user: &str, bytes: &[u8]) -> Result<(), SecretsError> {
            self.entry(user)?
                .set_secret(bytes)
                .map_err(|e| unavailable_or(user, e))
        }

        /// Removes an entry; `Ok(false)` when there was none.
        fn remove(&self, user: &str) -> Result<bool, SecretsError> {
            match self.entry(user)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(unavailable_or(user, e)),
            }
        }

        fn read_index(&self) -> Result<BTreeSet<String>, SecretsError> {
            let mut keys = BTreeSet::new();
            for i in 0.. {
                let name = format!("{INDEX_PREFIX}{i}");
                let Some(chunk) = self.read(&name)? else {
                    break;
                };
                let text = std::str::from_utf8(&chunk).map_err(|_| SecretsError::Malformed {
                    key: name.clone(),
                    reason: "the keyring index is not UTF-8".to_owned(),
                })?;
                keys.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
            }
            Ok(keys)
        }

        fn write_index(&self, keys: &BTreeSet<String>) -> Result<(), SecretsError> {
            let mut chunks: Vec<String> = Vec::new();
            let mut current = String::new();
            for k in keys {
                if !current.is_empty() && current.len() + k.len() + 1 > INDEX_CHUNK {
                    chunks.push(std::mem::take(&mut current));
                }
                current.push_str(k);
                current.push('\n');
            }
            if !current.is_empty() {
                chunks.push(current);
            }
            for (i, chunk) in chunks.iter().enumerate() {
                self.write(&format!("{INDEX_PREFIX}{i}"), chunk.as_bytes())?;
            }
            for i in chunks.len().. {
                if !self.remove(&format!("{INDEX_PREFIX}{i}"))? {
                    break;
                }
            }
            Ok(())
        }

        pub(super) fn get(&self, key: &str) -> Result<Option<SecretValue>, SecretsError> {
            let Some(raw) = self.read(key)? else {
                return Ok(None);
            };
            let (value, expires_at) = decode(key, &raw)?;
            if is_expired(expires_at, Timestamp::now()) {
                self.delete(key)?;
                return Ok(None);
            }
            Ok(Some(value))
        }

        pub(super) fn set(&self, key: &str, envelope: &[u8]) -> Result<(), SecretsError> {
            self.write(key, envelope)?;
            let mut index = self.read_index()?;
            if index.insert(key.to_owned()) {
                self.write_index(&index)?;
            }
            Ok(())
        }

        pub(super) fn delete(&self, key: &str) -> Result<(), SecretsError> {
            self.remove(key)?;
            let mut index = self.read_index()?;
            if index.remove(key) {
                self.write_index(&index)?;
            }
            Ok(())
        }

        pub(super) fn list(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
            let mut index = self.read_index()?;
            let now = Timestamp::now();
            let mut live = Vec::new();
            let mut stale = Vec::new();
            for key in index.iter().filter(|k| in_namespace(k, prefix)) {
                match self.read(key)? {
                    Some(raw) => {
                        let (_, expires_at) = decode(key, &raw)?;
                        if is_expired(expires_at, now) {
                            self.remove(key)?;
                            stale.push(key.clone());
                        } else {
                            live.push(key.clone());
                        }
                    }
                    None => stale.push(key.clone()),
                }
            }
            if !stale.is_empty() {
                for k in &stale {
                    index.remove(k);
                }
                self.write_index(&index)?;
            }
            Ok(live)
        }
    }

    /// Magic, version, flags (bit 0: has expiry), expiry in ms (big-endian), value.
    pub(super) fn encode(value: &SecretValue, expires_at: Option<Timestamp>) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(ENVELOPE_HEADER + value.len()));
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(u8::from(expires_at.is_some()));
        out.extend_from_slice(
            &expires_at
                .map_or(0, Timestamp::as_millisecond)
                .to_be_bytes(),
        );
        out.extend_from_slice(value.expose());
        debug_assert!(out.len() <= MAX_PAYLOAD);
        out
    }

    fn decode(key: &str, raw: &[u8]) -> Result<(SecretValue, Option<Timestamp>), SecretsError> {
        let malformed = |reason: &str| SecretsError::Malformed {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        if raw.len() < ENVELOPE_HEADER || &raw[..3] != MAGIC {
            return Err(malformed("not written by ferrbot (bad header)"));
        }
        if raw[3] != VERSION {
            return Err(malformed("unknown envelope version"));
        }
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&raw[5..ENVELOPE_HEADER]);
        let expires_at = match raw[4] {
            0 => None,
            1 => Some(
                Timestamp::from_millisecond(i64::from_be_bytes(ms))
                    .map_err(|_| malformed("expiry out of range"))?,
            ),
            _ => return Err(malformed("unknown flags")),
        };
        Ok((SecretValue::from_slice(&raw[ENVELOPE_HEADER..]), expires_at))
    }

    fn describe(e: KeyError) -> String {
        match e {
            KeyError::PermissionDenied => {
                "permission denied (EPERM; a seccomp profile such as Docker's default blocks \
                 the keyring system calls)"
                    .to_owned()
            }
            KeyError::AccessDenied => {
                "access denied (EACCES; the process does not possess the keyring)".to_owned()
            }
            KeyError::Unknown(ENOSYS) => {
                "not implemented (ENOSYS; the kernel has no keyring support, or seccomp hides it)"
                    .to_owned()
            }
            KeyError::QuotaExceeded => "the kernel key quota is exceeded (EDQUOT; see \
                 /proc/sys/kernel/keys/maxkeys and maxbytes)"
                .to_owned(),
            other => format!("{other:?}"),
        }
    }

    /// Maps a keyring error to "unavailable" when the kernel refuses the keyring as a whole,
    /// else to an error about `key`. Never includes secret data (the error variants that carry
    /// data are only described by name).
    fn unavailable_or(key: &str, e: keyring_core::Error) -> SecretsError {
        let platform = match &e {
            keyring_core::Error::NoStorageAccess(inner)
            | keyring_core::Error::PlatformFailure(inner) => {
                inner.downcast_ref::<KeyError>().copied()
            }
            _ => None,
        };
        match platform {
            Some(
                k @ (KeyError::PermissionDenied
                | KeyError::AccessDenied
                | KeyError::OperationNotSupported
                | KeyError::Unknown(ENOSYS)),
            ) => SecretsError::KeyringUnavailable {
                reason: describe(k),
            },
            Some(k) => SecretsError::Keyring {
                key: key.to_owned(),
                reason: describe(k),
            },
            None => SecretsError::Keyring {
                key: key.to_owned(),
                reason: match e {
                    keyring_core::Error::BadEncoding(_) => "bad encoding".to_owned(),
                    keyring_core::Error::BadDataFormat(..) => "bad data format".to_owned(),
                    other => other.to_string(),
                },
            },
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn platform(e: KeyError) -> keyring_core::Error {
            keyring_core::Error::NoStorageAccess(Box::new(e))
        }

        #[test]
        fn refusals_of_the_whole_keyring_are_unavailable() {
            for e in [
                KeyError::PermissionDenied,
                KeyError::AccessDenied,
                KeyError::OperationNotSupported,
                KeyError::Unknown(ENOSYS),
            ] {
                let err = unavailable_or("k", platform(e));
                assert!(
                    matches!(err, SecretsError::KeyringUnavailable { .. }),
                    "{e:?}: {err}"
                );
                assert!(err.to_string().starts_with("kernel keyring unavailable: "));
            }
            let err = unavailable_or("a/b", platform(KeyError::QuotaExceeded));
            assert!(matches!(err, SecretsError::Keyring { ref key, .. } if key == "a/b"));
            assert!(err.to_string().contains("quota"), "{err}");
            let err = unavailable_or(
                "a/b",
                keyring_core::Error::BadDataFormat(
                    b"s3cr3t".to_vec(),
                    Box::new(KeyError::WriteError),
                ),
            );
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }

        #[test]
        fn envelopes_round_trip_and_reject_foreign_data() {
            let at = Timestamp::from_second(2_000_000_000).ok();
            let v = SecretValue::from("value");
            let (back, exp) = decode("k", &encode(&v, at)).expect("decodes");
            assert_eq!((back, exp), (v, at));
            assert!(decode("k", b"plain password").is_err());
            assert!(decode("k", b"FBK").is_err());
        }
    }
}
