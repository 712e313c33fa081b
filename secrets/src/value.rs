//! [`SecretValue`], the redacting container for secret bytes, and [`Expiry`].

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Secret bytes (usually UTF-8 text): wiped from memory on drop, printed as `[redacted]`.
///
/// Read it only through [`expose`](Self::expose) or [`expose_str`](Self::expose_str), so every
/// place that sees the clear value is easy to find. It implements `Deserialize` (config structs
/// may hold one) but deliberately not `Serialize`: to write one out on purpose, use
/// `#[serde(serialize_with = "ferrbot_secrets::serialize_exposed")]`.
///
/// Equality compares in constant time for values of the same length.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretValue {
    bytes: Vec<u8>,
}

impl SecretValue {
    /// Wraps bytes. The vector is moved, not copied.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// Copies a slice into a new value.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
        }
    }

    /// The clear bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// The clear text, or `None` if the bytes are not UTF-8.
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for the empty value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Moves the bytes out into a buffer that is still wiped on drop.
    #[must_use]
    pub fn into_zeroizing(mut self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(std::mem::take(&mut self.bytes))
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        if self.bytes.len() != other.bytes.len() {
            return false;
        }
        let diff = self
            .bytes
            .iter()
            .zip(&other.bytes)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl Eq for SecretValue {}

impl From<String> for SecretValue {
    fn from(s: String) -> Self {
        Self::new(s.into_bytes())
    }
}

impl From<&str> for SecretValue {
    fn from(s: &str) -> Self {
        Self::from_slice(s.as_bytes())
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<&[u8]> for SecretValue {
    fn from(bytes: &[u8]) -> Self {
        Self::from_slice(bytes)
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SecretValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretValue, E> {
                Ok(SecretValue::from(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretValue, E> {
                Ok(SecretValue::from(v))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<SecretValue, E> {
                Ok(SecretValue::from(v))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<SecretValue, E> {
                Ok(SecretValue::from(v))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Serializes a [`SecretValue`] in clear (as a string when it is UTF-8, else as bytes).
///
/// For `#[serde(serialize_with = "ferrbot_secrets::serialize_exposed")]` on a field that must
/// really be written out; `SecretValue` has no `Serialize` of its own so that this never happens
/// by accident.
///
/// # Errors
/// Whatever the serializer returns.
pub fn serialize_exposed<S: serde::Serializer>(
    value: &SecretValue,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value.expose_str() {
        Some(s) => serializer.serialize_str(s),
        None => serializer.serialize_bytes(value.expose()),
    }
}

/// When a secret stops existing: at an instant, or after a duration counted from the `set`.
///
/// Expired entries behave as absent in every store and are purged lazily (on a later read or
/// write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// At this instant.
    At(Timestamp),
    /// This long after the value is set.
    After(Duration),
}

impl Expiry {
    /// The absolute instant, counting [`Expiry::After`] from `now` (saturating far in the
    /// future).
    #[must_use]
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            Self::At(at) => at,
            Self::After(d) => now.checked_add(d).unwrap_or(Timestamp::MAX),
        }
    }
}

impl From<Timestamp> for Expiry {
    fn from(at: Timestamp) -> Self {
        Self::At(at)
    }
}

impl From<Duration> for Expiry {
    fn from(d: Duration) -> Self {
        Self::After(d)
    }
}

/// Resolves an optional expiry against the current time.
pub(crate) fn expires_at(expiry: Option<Expiry>) -> Option<Timestamp> {
    expiry.map(|e| e.resolve(Timestamp::now()))
}

/// True when `expires_at` is set and not in the future.
pub(crate) fn is_expired(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|at| at <= now)
}
