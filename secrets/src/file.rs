//! The encrypted file store.
//!
//! One file holds every secret, encrypted as a whole with XChaCha20-Poly1305 under a 32-byte
//! key and a fresh random 24-byte nonce at every write. Layout (format version 1):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `FERRBOTS` |
//! | 1 | format version (`1`) |
//! | 16 | key check: the AEAD tag of an empty message under a fixed nonce, to tell a wrong key from damage |
//! | 24 | nonce |
//! | rest | ciphertext + 16-byte tag; magic, version and key check are authenticated as associated data |
//!
//! Writes take an exclusive advisory lock on `<file>.lock` (`flock` through `fs4`), re-read the
//! file under the lock, apply the change, write a temp file in the same directory (mode 0600),
//! fsync it, rename it over the file and fsync the directory. So two processes never lose each
//! other's updates, a crash leaves the previous file intact, and readers (which take no lock)
//! always see a whole file. A file that does not decrypt is an error, never an empty store.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use jiff::Timestamp;
use zeroize::{Zeroize, Zeroizing};

use crate::config::CredentialRef;
use crate::error::SecretsError;
use crate::key::{in_namespace, normalize_prefix, validate_key};
use crate::store::SecretStore;
use crate::value::{Expiry, SecretValue, expires_at, is_expired};

const MAGIC: &[u8; 8] = b"FERRBOTS";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u8 = 1;
const KEY_CHECK_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1 + KEY_CHECK_LEN + NONCE_LEN;
const KEY_CHECK_NONCE: &[u8; NONCE_LEN] = b"ferrbot-key-check-nonce!";
const KEY_CHECK_AAD: &[u8] = b"ferrbot-secrets key check v1";

/// The 32-byte key of the file store. Wiped on drop; `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl FileKey {
    /// A fresh random key from the OS.
    #[must_use]
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// A key from its 32 bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses a key: exactly 32 raw bytes, or text (surrounding whitespace ignored) holding 64
    /// hex digits or the base64 of 32 bytes (standard or URL-safe alphabet, padded or not).
    ///
    /// # Errors
    /// [`SecretsError::Config`] when it is none of these (the message never shows the input).
    pub fn parse(raw: &[u8]) -> Result<Self, SecretsError> {
        let bad = || {
            SecretsError::Config(
                "the file store key must be 32 bytes: 64 hex digits or base64 (generate one with \
                 `openssl rand -hex 32`)"
                    .to_owned(),
            )
        };
        if raw.len() == 32 {
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(raw);
            return Ok(Self(key));
        }
        let text = std::str::from_utf8(raw).map_err(|_| bad())?.trim();
        let mut key = Zeroizing::new([0u8; 32]);
        if text.len() == 64 && hex::decode_to_slice(text, key.as_mut()).is_ok() {
            return Ok(Self(key));
        }
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(text) {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() == 32 {
                    key.copy_from_slice(&bytes);
                    return Ok(Self(key));
                }
            }
        }
        Err(bad())
    }

    /// Reads and parses the key behind a reference (`env:NAME` or `file:/path`).
    ///
    /// # Errors
    /// The reference cannot be read, or does not hold a key (the error names the reference).
    pub fn from_ref(reference: &CredentialRef) -> Result<Self, SecretsError> {
        let raw = reference.resolve()?;
        Self::parse(raw.expose()).map_err(|e| SecretsError::Credential {
            reference: reference.describe(),
            reason: match e {
                SecretsError::Config(m) => m,
                other => other.to_string(),
            },
        })
    }

    /// The key as 64 lower-case hex digits, e.g. to print a freshly generated key once.
    #[must_use]
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        // The temporary copy is wiped here; the cipher wipes its own copy on drop.
        let mut key = Key::from(*self.0);
        let cipher = XChaCha20Poly1305::new(&key);
        key[..].zeroize();
        cipher
    }

    fn check_value(&self) -> [u8; KEY_CHECK_LEN] {
        let mut out = [0u8; KEY_CHECK_LEN];
        let payload = Payload {
            msg: b"",
            aad: KEY_CHECK_AAD,
        };
        // Encrypting an empty message cannot fail; the output is exactly the 16-byte tag.
        if let Ok(tag) = self
            .cipher()
            .encrypt(&XNonce::from(*KEY_CHECK_NONCE), payload)
            && tag.len() == KEY_CHECK_LEN
        {
            out.copy_from_slice(&tag);
        }
        out
    }
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey([redacted])")
    }
}

struct Record {
    value: SecretValue,
    expires_at: Option<Timestamp>,
}

type Records = BTreeMap<String, Record>;

struct Inner {
    path: PathBuf,
    key: FileKey,
}

/// Secrets in one encrypted file; see the [module docs](self) for the format and guarantees.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// Opens (or prepares to create) the store at `path`. Blocking: creates the directory
    /// (mode 0700) and the lock file if missing, and when the file exists decrypts it once so
    /// a wrong key or a damaged file is reported now rather than at the first read.
    ///
    /// # Errors
    /// I/O errors, [`SecretsError::WrongKey`], [`SecretsError::Corrupted`],
    /// [`SecretsError::UnsupportedVersion`].
    pub fn open(path: impl Into<PathBuf>, key: FileKey) -> Result<Self, SecretsError> {
        let path = path.into();
        if path.file_name().is_none() {
            return Err(SecretsError::Config(format!(
                "the secrets file path {} has no file name",
                path.display()
            )));
        }
        let dir = parent_dir(&path);
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| SecretsError::io("creating directory", &dir, e))?;
        }
        drop(open_lock_file(&path)?);
        load(&path, &key)?;
        Ok(Self {
            inner: Arc::new(Inner { path, key }),
        })
    }

    /// The encrypted file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn blocking<R, F>(&self, what: &str, f: F) -> Result<R, SecretsError>
    where
        R: Send + 'static,
        F: FnOnce(&Inner) -> Result<R, SecretsError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| SecretsError::internal(what, e))?
    }
}

#[async_trait]
impl SecretStore for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn get(&self, key: &str) -> Result<Option<SecretValue>, SecretsError> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |inner| {
            let mut records = load(&inner.path, &inner.key)?;
            Ok(match records.remove(&k) {
                Some(r) if !is_expired(r.expires_at, Timestamp::now()) => Some(r.value),
                _ => None,
            })
        })
        .await
    }

    async fn set(
        &self,
        key: &str,
        value: &SecretValue,
        expiry: Option<Expiry>,
    ) -> Result<(), SecretsError> {
        validate_key(key)?;
        if u32::try_from(value.len()).is_err() {
            return Err(SecretsError::TooLarge {
                key: key.to_owned(),
                store: "file",
                len: value.len(),
                max: u32::MAX as usize,
            });
        }
        let record = Record {
            value: value.clone(),
            expires_at: expires_at(expiry),
        };
        let k = key.to_owned();
        self.blocking(key, move |inner| {
            modify(&inner.path, &inner.key, move |records| {
                records.insert(k, record);
                true
            })
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), SecretsError> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |inner| {
            modify(&inner.path, &inner.key, move |records| {
                records.remove(&k).is_some()
            })
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        let prefix = normalize_prefix(prefix)?;
        self.blocking(&prefix.clone(), move |inner| {
            let records = load(&inner.path, &inner.key)?;
            let now = Timestamp::now();
            Ok(records
                .into_iter()
                .filter(|(k, r)| in_namespace(k, &prefix) && !is_expired(r.expires_at, now))
                .map(|(k, _)| k)
                .collect())
        })
        .await
    }
}

/// Re-encrypts the secrets file at `path` from `old` to `new`, under the write lock.
///
/// Stop every process using the file first (or restart them with the new key right after):
/// a process still holding the old key gets [`SecretsError::WrongKey`] at its next access,
/// and loses nothing. Blocking.
///
/// # Errors
/// [`SecretsError::WrongKey`] if `old` is not the file's key; I/O errors.
pub fn rotate_file_key(path: &Path, old: &FileKey, new: &FileKey) -> Result<(), SecretsError> {
    let _lock = lock_exclusive(path)?;
    remove_stale_temp_files(path);
    let records = load(path, old)?;
    save(path, new, &records)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn lock_path(path: &Path) -> PathBuf {
    parent_dir(path).join(format!("{}.lock", file_name(path)))
}

fn temp_prefix(path: &Path) -> String {
    format!(".{}.tmp-", file_name(path))
}

fn open_lock_file(path: &Path) -> Result<File, SecretsError> {
    let lock = lock_path(path);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock)
        .map_err(|e| SecretsError::io("opening lock file", &lock, e))
}

/// Opens the lock file and takes an exclusive `flock`; released when the file is dropped.
fn lock_exclusive(path: &Path) -> Result<File, SecretsError> {
    let file = open_lock_file(path)?;
    fs4::FileExt::lock(&file).map_err(|e| SecretsError::io("locking", lock_path(path), e))?;
    Ok(file)
}

/// Under the exclusive lock no other writer can be mid-write, so any temp file of ours is a
/// leftover of a crash: remove it.
fn remove_stale_temp_files(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(dir) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in dir.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let stale = entry.path();
            match fs::remove_file(&stale) {
                Ok(()) => {
                    tracing::info!(path = %stale.display(), "removed a stale secrets temp file")
                }
                Err(e) => {
                    tracing::warn!(path = %stale.display(), error = %e, "cannot remove a stale secrets temp file");
                }
            }
        }
    }
}

/// Locks, re-reads, applies `change` (which says whether it changed anything), purges expired
/// entries, and writes back if anything changed.
fn modify(
    path: &Path,
    key: &FileKey,
    change: impl FnOnce(&mut Records) -> bool,
) -> Result<(), SecretsError> {
    let _lock = lock_exclusive(path)?;
    remove_stale_temp_files(path);
    let mut records = load(path, key)?;
    let mut changed = change(&mut records);
    let now = Timestamp::now();
    let before = records.len();
    records.retain(|_, r| !is_expired(r.expires_at, now));
    changed |= records.len() != before;
    if changed {
        save(path, key, &records)?;
    }
    Ok(())
}

fn corrupted(path: &Path, reason: impl Into<String>) -> SecretsError {
    SecretsError::Corrupted {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads and decrypts the file; a missing file is an empty store, anything unreadable an error.
fn load(path: &Path, key: &FileKey) -> Result<Records, SecretsError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Records::new()),
        Err(e) => return Err(SecretsError::io("reading", path, e)),
    };
    if bytes.is_empty() {
        return Err(corrupted(path, "the file is empty"));
    }
    let magic_len = MAGIC.len().min(bytes.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(corrupted(
            path,
            "it is not a ferrbot secrets file (bad magic bytes)",
        ));
    }
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(corrupted(
            path,
            format!(
                "truncated: {} bytes, shorter than the {}-byte header and tag",
                bytes.len(),
                HEADER_LEN + TAG_LEN
            ),
        ));
    }
    let version = bytes[MAGIC.len()];
    if version != FORMAT_VERSION {
        return Err(SecretsError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let (header, body) = bytes.split_at(HEADER_LEN);
    let check = &header[MAGIC.len() + 1..MAGIC.len() + 1 + KEY_CHECK_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&header[HEADER_LEN - NONCE_LEN..]);
    let aad = &header[..MAGIC.len() + 1 + KEY_CHECK_LEN];
    let plain = key
        .cipher()
        .decrypt(&XNonce::from(nonce), Payload { msg: body, aad })
        .map(Zeroizing::new);
    let plain = match plain {
        Ok(p) => p,
        Err(_) if check != key.check_value() => {
            return Err(SecretsError::WrongKey {
                path: path.to_path_buf(),
            });
        }
        Err(_) => {
            return Err(corrupted(
                path,
                "authentication failed: the file was truncated or modified",
            ));
        }
    };
    decode(&plain).map_err(|reason| corrupted(path, reason))
}

/// Encrypts `records` and replaces the file atomically.
fn save(path: &Path, key: &FileKey, records: &Records) -> Result<(), SecretsError> {
    let plain = encode(records);
    let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&key.check_value());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    out.extend_from_slice(&nonce);
    let aad_end = MAGIC.len() + 1 + KEY_CHECK_LEN;
    let sealed = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: &plain,
                aad: &out[..aad_end],
            },
        )
        .map_err(|_| SecretsError::internal("(whole file)", "encryption failed"))?;
    out.extend_from_slice(&sealed);
    write_atomic(path, &out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SecretsError> {
    let dir = parent_dir(path);
    let tmp = dir.join(format!(
        "{}{}-{:016x}",
        temp_prefix(path),
        std::process::id(),
        OsRng.next_u64()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| SecretsError::io("creating", &tmp, e))?;
        // The mode given to open() is filtered by the umask; make sure it is exactly 0600.
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| SecretsError::io("setting mode 0600 on", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| SecretsError::io("writing", &tmp, e))?;
        f.sync_all()
            .map_err(|e| SecretsError::io("syncing", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| SecretsError::io("renaming over", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SecretsError::io("syncing directory", &dir, e))
}

// Plaintext (version 1): u32 count, then per entry: u16 key length, key, u8 flags (bit 0: has
// expiry), [i64 expiry in ms since the epoch], u32 value length, value. Big-endian.

fn encode(records: &Records) -> Zeroizing<Vec<u8>> {
    let size: usize = 4 + records
        .iter()
        .map(|(k, r)| 2 + k.len() + 1 + 8 + 4 + r.value.len())
        .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for (k, r) in records {
        // Keys are at most MAX_KEY_LEN (1024) bytes and values were checked to fit in u32.
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        match r.expires_at {
            Some(at) => {
                out.push(1);
                out.extend_from_slice(&at.as_millisecond().to_be_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(r.value.len() as u32).to_be_bytes());
        out.extend_from_slice(r.value.expose());
    }
    out
}

fn decode(plain: &[u8]) -> Result<Records, String> {
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if self.0.len() < n {
                return Err("the decrypted content is truncated".to_owned());
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }
        fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
            let mut a = [0u8; N];
            a.copy_from_slice(self.take(N)?);
            Ok(a)
        }
    }
    let mut r = Reader(plain);
    let count = u32::from_be_bytes(r.array()?);
    let mut records = Records::new();
    for _ in 0..count {
        let klen = u16::from_be_bytes(r.array()?) as usize;
        let key = std::str::from_utf8(r.take(klen)?)
            .map_err(|_| "an entry's key is not UTF-8".to_owned())?
            .to_owned();
        let expires_at = match r.array::<1>()?[0] {
            0 => None,
            1 => Some(
                Timestamp::from_millisecond(i64::from_be_bytes(r.array()?))
                    .map_err(|_| format!("entry `{key}` has an out-of-range expiry"))?,
            ),
            _ => return Err(format!("entry `{key}` has unknown flags")),
        };
        let vlen = u32::from_be_bytes(r.array()?) as usize;
        let value = SecretValue::from_slice(r.take(vlen)?);
        records.insert(key, Record { value, expires_at });
    }
    if !r.0.is_empty() {
        return Err("trailing bytes after the last entry".to_owned());
    }
    Ok(records)
}
