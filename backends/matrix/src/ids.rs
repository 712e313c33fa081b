//! ferrbot's backend-qualified ids ⇄ Matrix ids.
//!
//! Users are `matrix:@alice:example.org`, rooms `matrix:!abc:example.org` (or, in targets,
//! an alias `matrix:#ops:example.org`, resolved when used), messages and thread roots are event
//! ids (`matrix:$event`). The prefix is the backend instance's name.

use ferrbot::{BackendError, MessageId, RoomId, ThreadId, UserId};
use matrix_sdk::ruma::{
    EventId, OwnedEventId, OwnedRoomAliasId, OwnedRoomId, OwnedUserId, RoomAliasId,
    RoomId as MxRoomId, UserId as MxUserId,
};

/// A room as a target names it: by id, or by an alias still to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomRef {
    /// `!abc:example.org`.
    Id(OwnedRoomId),
    /// `#ops:example.org`.
    Alias(OwnedRoomAliasId),
}

fn check(backend: &str, id_backend: &str, what: &str, text: &str) -> Result<(), BackendError> {
    if backend == id_backend {
        Ok(())
    } else {
        Err(BackendError::rejected(format!(
            "{what} `{text}` does not belong to the `{backend}` backend"
        )))
    }
}

/// The Matrix room (or alias) behind a ferrbot room id.
///
/// # Errors
/// `Rejected` when the id belongs to another backend or is not a Matrix room id or alias.
pub fn room_ref(backend: &str, room: &RoomId) -> Result<RoomRef, BackendError> {
    check(backend, room.backend(), "room", &room.to_string())?;
    let local = room.local();
    if local.starts_with('#') {
        return RoomAliasId::parse(local)
            .map(RoomRef::Alias)
            .map_err(|e| BackendError::rejected(format!("`{local}` is not a room alias: {e}")));
    }
    MxRoomId::parse(local)
        .map(RoomRef::Id)
        .map_err(|e| BackendError::rejected(format!("`{local}` is not a Matrix room id: {e}")))
}

/// The Matrix user behind a ferrbot user id.
///
/// # Errors
/// `Rejected` when the id belongs to another backend or is not a Matrix user id.
pub fn user(backend: &str, user: &UserId) -> Result<OwnedUserId, BackendError> {
    check(backend, user.backend(), "user", &user.to_string())?;
    MxUserId::parse(user.local()).map_err(|e| {
        BackendError::rejected(format!("`{}` is not a Matrix user id: {e}", user.local()))
    })
}

/// The Matrix event behind a ferrbot message id.
///
/// # Errors
/// `Rejected` when the id belongs to another backend or is not an event id.
pub fn event(backend: &str, message: &MessageId) -> Result<OwnedEventId, BackendError> {
    check(backend, message.backend(), "message", &message.to_string())?;
    EventId::parse(message.local()).map_err(|e| {
        BackendError::rejected(format!(
            "`{}` is not a Matrix event id: {e}",
            message.local()
        ))
    })
}

/// The thread root event behind a ferrbot thread id.
///
/// # Errors
/// `Rejected` when the id belongs to another backend or is not an event id.
pub fn thread_root(backend: &str, thread: &ThreadId) -> Result<OwnedEventId, BackendError> {
    check(backend, thread.backend(), "thread", &thread.to_string())?;
    EventId::parse(thread.local()).map_err(|e| {
        BackendError::rejected(format!(
            "`{}` is not a Matrix event id: {e}",
            thread.local()
        ))
    })
}

fn invalid(e: ferrbot::id::IdError) -> BackendError {
    BackendError::rejected(e.to_string())
}

/// A ferrbot room id for a Matrix room.
///
/// # Errors
/// When the backend name is invalid.
pub fn to_room(backend: &str, room: &MxRoomId) -> Result<RoomId, BackendError> {
    RoomId::new(backend, room.as_str()).map_err(invalid)
}

/// A ferrbot user id for a Matrix user.
///
/// # Errors
/// When the backend name is invalid or the id empty.
pub fn to_user(backend: &str, user: &str) -> Result<UserId, BackendError> {
    UserId::new(backend, user).map_err(invalid)
}

/// A ferrbot message id for a Matrix event.
///
/// # Errors
/// When the backend name is invalid or the id empty.
pub fn to_message(backend: &str, event: &str) -> Result<MessageId, BackendError> {
    MessageId::new(backend, event).map_err(invalid)
}

/// A ferrbot thread id for a Matrix thread root.
///
/// # Errors
/// When the backend name is invalid or the id empty.
pub fn to_thread(backend: &str, root: &str) -> Result<ThreadId, BackendError> {
    ThreadId::new(backend, root).map_err(invalid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rooms_by_id_and_alias() {
        let r: RoomId = "matrix:!abc:example.org".parse().unwrap();
        assert_eq!(
            room_ref("matrix", &r).unwrap(),
            RoomRef::Id(MxRoomId::parse("!abc:example.org").unwrap())
        );
        let a: RoomId = "matrix:#ops:example.org".parse().unwrap();
        assert!(matches!(room_ref("matrix", &a).unwrap(), RoomRef::Alias(_)));
        let other: RoomId = "slack:C1".parse().unwrap();
        let e = room_ref("matrix", &other).unwrap_err().to_string();
        assert!(e.contains("does not belong"), "{e}");
        let bad: RoomId = "matrix:general".parse().unwrap();
        assert!(room_ref("matrix", &bad).is_err());
    }

    #[test]
    fn users_events_threads_round_trip() {
        let u: UserId = "matrix:@alice:example.org".parse().unwrap();
        assert_eq!(user("matrix", &u).unwrap().as_str(), "@alice:example.org");
        assert!(user("matrix", &"matrix:alice".parse().unwrap()).is_err());
        let m = to_message("matrix", "$ev:example.org").unwrap();
        assert_eq!(m.to_string(), "matrix:$ev:example.org");
        assert_eq!(event("matrix", &m).unwrap().as_str(), "$ev:example.org");
        let t = to_thread("matrix", "$root").unwrap();
        assert_eq!(thread_root("matrix", &t).unwrap().as_str(), "$root");
        let room = to_room("m2", &MxRoomId::parse("!x:y").unwrap()).unwrap();
        assert_eq!(room.to_string(), "m2:!x:y");
    }
}
