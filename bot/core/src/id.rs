//! Backend-qualified identifiers: `slack:U024BE7LH`, `matrix:@alice:example.org`, `console:alice`.
//!
//! Every user, room, thread and message id carries the name of the backend instance it belongs
//! to, so ids from several chat networks can live side by side in one config, one ACL list and
//! one database column. The text form `<backend>:<local>` is what config files, ACLs and
//! storage use; [`std::str::FromStr`] and [`std::fmt::Display`] convert both ways.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid backend-qualified id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string has no `backend:` prefix.
    #[error("id `{0}` has no backend prefix (expected `<backend>:<id>`, e.g. `slack:U024BE7LH`)")]
    MissingBackend(String),
    /// The backend name has characters other than ASCII letters, digits, `-` and `_`.
    #[error("id `{0}` has an invalid backend name (letters, digits, `-` and `_` only)")]
    InvalidBackend(String),
    /// Nothing follows the `backend:` prefix.
    #[error("id `{0}` is empty after its backend prefix")]
    EmptyLocal(String),
}

fn split_qualified(s: &str) -> Result<(&str, &str), IdError> {
    let Some((backend, local)) = s.split_once(':') else {
        return Err(IdError::MissingBackend(s.to_owned()));
    };
    if backend.is_empty()
        || !backend
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(IdError::InvalidBackend(s.to_owned()));
    }
    if local.is_empty() {
        return Err(IdError::EmptyLocal(s.to_owned()));
    }
    Ok((backend, local))
}

macro_rules! qualified_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            backend: Arc<str>,
            local: Arc<str>,
        }

        impl $name {
            /// Builds an id from a backend name and the backend's own id.
            ///
            /// # Errors
            /// When the backend name is invalid or the local part is empty.
            pub fn new(backend: &str, local: &str) -> Result<Self, IdError> {
                let text = format!("{backend}:{local}");
                let (b, l) = split_qualified(&text)?;
                Ok(Self { backend: b.into(), local: l.into() })
            }

            /// The backend instance this id belongs to (`slack` in `slack:U024BE7LH`).
            pub fn backend(&self) -> &str {
                &self.backend
            }

            /// The backend's own id (`U024BE7LH` in `slack:U024BE7LH`).
            pub fn local(&self) -> &str {
                &self.local
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let (backend, local) = split_qualified(s)?;
                Ok(Self { backend: backend.into(), local: local.into() })
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}:{}", self.backend, self.local)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

qualified_id!(
    /// A chat user: `slack:U024BE7LH`, `discord:80351110224678912`, `matrix:@alice:example.org`.
    UserId
);
qualified_id!(
    /// A room, channel or conversation: `slack:C024BE91L`, `matrix:!abc:example.org`.
    RoomId
);
qualified_id!(
    /// A thread inside a room (Slack `thread_ts`, a Discord thread channel, a Matrix thread root).
    ThreadId
);
qualified_id!(
    /// A message, as the backend identifies it (Slack `ts`, Discord snowflake, Matrix event id).
    MessageId
);

/// Where a message goes: a room (optionally a thread in it) or a user's direct messages.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A room, and optionally a thread in it.
    Room {
        /// The room.
        room: RoomId,
        /// The thread inside the room, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<ThreadId>,
    },
    /// A user's direct messages (the backend opens the conversation if needed).
    Direct {
        /// The user.
        user: UserId,
    },
}

impl Target {
    /// A room, outside any thread.
    pub fn room(room: RoomId) -> Self {
        Self::Room { room, thread: None }
    }

    /// A thread in a room.
    pub fn thread(room: RoomId, thread: ThreadId) -> Self {
        Self::Room {
            room,
            thread: Some(thread),
        }
    }

    /// A user's direct messages.
    pub fn direct(user: UserId) -> Self {
        Self::Direct { user }
    }

    /// The backend instance that delivers to this target.
    pub fn backend(&self) -> &str {
        match self {
            Self::Room { room, .. } => room.backend(),
            Self::Direct { user } => user.backend(),
        }
    }

    /// A key that keeps messages to one conversation in order (room, or user for DMs).
    pub fn lane_key(&self) -> String {
        match self {
            Self::Room { room, .. } => room.to_string(),
            Self::Direct { user } => format!("dm/{user}"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Room { room, thread: None } => write!(f, "{room}"),
            Self::Room {
                room,
                thread: Some(t),
            } => write!(f, "{room} (thread {})", t.local()),
            Self::Direct { user } => write!(f, "direct messages of {user}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_backend_shape() {
        for s in [
            "slack:U024BE7LH",
            "discord:80351110224678912",
            "matrix:@alice:example.org",
            "matrix:!room:example.org",
            "console:alice",
            "slack-corp:C1",
        ] {
            let id: UserId = s.parse().unwrap();
            assert_eq!(id.to_string(), s);
        }
        let m: UserId = "matrix:@alice:example.org".parse().unwrap();
        assert_eq!(m.backend(), "matrix");
        assert_eq!(m.local(), "@alice:example.org");
    }

    #[test]
    fn rejects_malformed_ids_with_a_reason() {
        assert_eq!(
            "alice".parse::<UserId>(),
            Err(IdError::MissingBackend("alice".into()))
        );
        assert!(matches!(
            "sl ack:U1".parse::<UserId>(),
            Err(IdError::InvalidBackend(_))
        ));
        assert!(matches!(
            "slack:".parse::<RoomId>(),
            Err(IdError::EmptyLocal(_))
        ));
        let msg = "alice".parse::<UserId>().unwrap_err().to_string();
        assert!(msg.contains("backend prefix"), "{msg}");
    }

    #[test]
    fn serde_uses_the_text_form() {
        let id: RoomId = "slack:C1".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"slack:C1\"");
        let back: RoomId = serde_json::from_str("\"slack:C1\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<RoomId>("\"nope\"").is_err());
    }
}
