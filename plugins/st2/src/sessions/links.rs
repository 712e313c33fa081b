//! One-time login links, kept in the plugin's key-value store so they survive restarts.
//!
//! A link records whose it is (the chat user who asked for it), a salted SHA-256 digest of the
//! shared word (never the word), when it expires, how many attempts failed, and whether it
//! was used. Its id is 256 random bits in hex: the URL is the only way to reach it.

use ferrbot::secrets::SecretValue;
use ferrbot::store::{KvStore, StoreError};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Key prefix of links in the plugin's store.
const PREFIX: &str = "sessions/link/";
/// Length of a link id (32 random bytes in hex).
pub const ID_LEN: usize = 64;
/// How many leading characters of an id are shown to admins (and accepted by `cancel`).
pub const SHORT_ID_LEN: usize = 8;
/// Links ended (used, expired, locked) this long ago are deleted when a new one is made.
const KEEP_ENDED: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// What became of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Waiting for the login form.
    Open,
    /// A credential was accepted through it.
    Consumed,
    /// Too many failed attempts.
    Locked,
}

/// Whether a link can be used now, and if not why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usability {
    /// It can be used.
    Usable,
    /// Its time ran out.
    Expired,
    /// It was used already.
    Consumed,
    /// Too many failed attempts locked it.
    Locked,
}

/// A one-time login link.
#[derive(Clone, Serialize, Deserialize)]
pub struct Link {
    /// The unguessable id (64 hex characters).
    pub id: String,
    /// The chat user it logs in (`backend:local`).
    pub user: String,
    /// Hex salt of the shared word's digest.
    salt: String,
    /// Hex SHA-256 of salt and shared word.
    word_digest: String,
    /// When it was made.
    pub created: jiff::Timestamp,
    /// When it stops working.
    pub expires: jiff::Timestamp,
    /// Failed attempts so far (wrong shared word or refused credentials).
    pub attempts: u32,
    /// What became of it.
    pub state: LinkState,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("id", &self.short_id())
            .field("user", &self.user)
            .field("expires", &self.expires)
            .field("attempts", &self.attempts)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn digest(salt: &str, word: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0u8]);
    hasher.update(word);
    hex::encode(hasher.finalize())
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Normalises a shared word as typed (surrounding whitespace does not count).
pub fn normalise_word(word: &str) -> &str {
    word.trim()
}

/// True when `id` has the shape of a link id (so nothing else is ever looked up).
pub fn is_link_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Link {
    /// A new open link for `user`, protected by `word`, valid for `ttl` from `now`.
    pub fn new(
        user: &str,
        word: &SecretValue,
        now: jiff::Timestamp,
        ttl: std::time::Duration,
    ) -> Self {
        let salt = random_hex(16);
        let word_digest = digest(
            &salt,
            normalise_word(&String::from_utf8_lossy(word.expose())).as_bytes(),
        );
        let ttl =
            jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::from_mins(10));
        Self {
            id: random_hex(32),
            user: user.to_owned(),
            salt,
            word_digest,
            created: now,
            expires: now.checked_add(ttl).unwrap_or(now),
            attempts: 0,
            state: LinkState::Open,
        }
    }

    /// The first characters of the id: enough for an admin to name it, useless as a link.
    pub fn short_id(&self) -> &str {
        self.id.get(..SHORT_ID_LEN).unwrap_or(&self.id)
    }

    /// Whether `word` is the shared word (compared by digest, in constant time).
    pub fn word_matches(&self, word: &SecretValue) -> bool {
        let given = digest(
            &self.salt,
            normalise_word(&String::from_utf8_lossy(word.expose())).as_bytes(),
        );
        SecretValue::from(given) == SecretValue::from(self.word_digest.as_str())
    }

    /// Whether it can be used at `now`.
    pub fn usability(&self, now: jiff::Timestamp) -> Usability {
        match self.state {
            LinkState::Consumed => Usability::Consumed,
            LinkState::Locked => Usability::Locked,
            LinkState::Open if now >= self.expires => Usability::Expired,
            LinkState::Open => Usability::Usable,
        }
    }
}

/// The links of one plugin, in its key-value store.
#[derive(Clone, Debug)]
pub struct Links {
    store: KvStore,
}

impl Links {
    /// Links kept in `store`.
    pub fn new(store: KvStore) -> Self {
        Self { store }
    }

    /// Reads a link; `None` for an unknown id or one that is not shaped like an id.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn get(&self, id: &str) -> Result<Option<Link>, StoreError> {
        if !is_link_id(id) {
            return Ok(None);
        }
        self.store.get(&format!("{PREFIX}{id}")).await
    }

    /// Writes a link.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn save(&self, link: &Link) -> Result<(), StoreError> {
        self.store.set(&format!("{PREFIX}{}", link.id), link).await
    }

    /// Deletes a link; true when it existed.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.store.delete(&format!("{PREFIX}{id}")).await
    }

    /// Every stored link, oldest first.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn all(&self) -> Result<Vec<Link>, StoreError> {
        let mut links = Vec::new();
        for key in self.store.list(PREFIX).await? {
            if let Some(link) = self.store.get::<Link>(&key).await? {
                links.push(link);
            }
        }
        links.sort_by_key(|l| l.created);
        Ok(links)
    }

    /// Makes a new link for `user`: the user's earlier open links are withdrawn (one link at a
    /// time), and links that ended a day ago are cleaned up.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn create(
        &self,
        user: &str,
        word: &SecretValue,
        now: jiff::Timestamp,
        ttl: std::time::Duration,
    ) -> Result<Link, StoreError> {
        let stale = now.checked_sub(KEEP_ENDED).unwrap_or(now);
        for old in self.all().await? {
            let withdrawn = old.user == user && old.state == LinkState::Open;
            let ended_long_ago = old.expires < stale;
            if withdrawn || ended_long_ago {
                self.delete(&old.id).await?;
            }
        }
        let link = Link::new(user, word, now, ttl);
        self.save(&link).await?;
        Ok(link)
    }

    /// Open links of `user`, or of everyone with `None`, still usable at `now`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn open(
        &self,
        user: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<Vec<Link>, StoreError> {
        Ok(self
            .all()
            .await?
            .into_iter()
            .filter(|l| user.is_none_or(|u| l.user == u))
            .filter(|l| l.usability(now) == Usability::Usable)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_hex() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        let a = Link::new(
            "test:alice",
            &SecretValue::from("w"),
            now,
            std::time::Duration::from_secs(60),
        );
        let b = Link::new(
            "test:alice",
            &SecretValue::from("w"),
            now,
            std::time::Duration::from_secs(60),
        );
        assert!(is_link_id(&a.id));
        assert_ne!(a.id, b.id);
        assert!(!is_link_id("../etc/passwd"));
        assert!(!is_link_id(&a.id.to_uppercase()));
    }

    #[test]
    fn the_word_is_stored_only_as_a_salted_digest() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        let link = Link::new(
            "test:alice",
            &SecretValue::from(" pineapple "),
            now,
            std::time::Duration::from_secs(60),
        );
        let json = serde_json::to_string(&link).unwrap();
        assert!(!json.contains("pineapple"));
        assert!(!format!("{link:?}").contains(&link.id));
        assert!(link.word_matches(&SecretValue::from("pineapple")));
        assert!(!link.word_matches(&SecretValue::from("pineapples")));
        let other = Link::new(
            "test:bob",
            &SecretValue::from("pineapple"),
            now,
            std::time::Duration::from_secs(60),
        );
        assert_ne!(other.word_digest, link.word_digest, "salted per link");
    }

    #[test]
    fn usability_follows_expiry_and_state() {
        let now = jiff::Timestamp::from_second(1_000).unwrap();
        let mut link = Link::new(
            "test:a",
            &SecretValue::from("w"),
            now,
            std::time::Duration::from_secs(60),
        );
        assert_eq!(link.usability(now), Usability::Usable);
        assert_eq!(
            link.usability(jiff::Timestamp::from_second(1_060).unwrap()),
            Usability::Expired
        );
        link.state = LinkState::Locked;
        assert_eq!(link.usability(now), Usability::Locked);
        link.state = LinkState::Consumed;
        assert_eq!(link.usability(now), Usability::Consumed);
    }
}
