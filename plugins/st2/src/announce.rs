//! Delivering a StackStorm chat message (`{message, channel, user, whisper, extra}`, from the
//! stream or the webhook) to its room, or privately to its user when `whisper` is set.
//!
//! Channels and users are what the bot sent as `source_channel` and `user`: backend-qualified
//! ids (`slack:C024BE91L`). A plain name (`#ops`, `C024BE91L`) is accepted when the bot runs
//! exactly one backend, so rules written for err-stackstorm keep working.

use ferrbot::context::PluginContext;
use ferrbot::id::{RoomId, Target, UserId};
use serde::Deserialize;
use serde_json::Value;

use crate::render;

/// One chat message from StackStorm.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Announcement {
    /// The text (`{~}` splits plain text from the rich part).
    #[serde(default)]
    pub message: String,
    /// The room.
    #[serde(default)]
    pub channel: Option<String>,
    /// The user it is about (the one who ran the alias).
    #[serde(default)]
    pub user: Option<String>,
    /// Send privately to `user`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub whisper: bool,
    /// Rendering hints (`extra.slack`).
    #[serde(default)]
    pub extra: Value,
}

/// st2 sometimes sends booleans as strings ("true"/"false").
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => matches!(s.trim().to_lowercase().as_str(), "true" | "yes" | "1"),
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    })
}

/// Why a message could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// No channel (and not a whisper with a user).
    #[error("the message has no `channel`")]
    NoChannel,
    /// A whisper without a `user`.
    #[error("`whisper` is set but the message has no `user`")]
    NoUser,
    /// The room or user names no running backend.
    #[error("{0}")]
    Unknown(String),
}

/// Where `announcement` goes.
///
/// # Errors
/// When the room or user cannot be resolved.
pub fn target(backends: &[String], a: &Announcement) -> Result<Target, AnnounceError> {
    if a.whisper {
        let user = a
            .user
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .ok_or(AnnounceError::NoUser)?;
        return qualify(backends, user.trim().trim_start_matches('@'))
            .and_then(|(b, l)| {
                UserId::new(&b, &l).map_err(|e| AnnounceError::Unknown(e.to_string()))
            })
            .map(Target::direct);
    }
    let channel = a
        .channel
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .ok_or(AnnounceError::NoChannel)?;
    qualify(backends, channel.trim())
        .and_then(|(b, l)| RoomId::new(&b, &l).map_err(|e| AnnounceError::Unknown(e.to_string())))
        .map(Target::room)
}

/// Splits `backend:local` when `backend` is running; a plain name goes to the only backend.
fn qualify(backends: &[String], name: &str) -> Result<(String, String), AnnounceError> {
    if let Some((b, l)) = name.split_once(':')
        && backends.iter().any(|x| x == b)
        && !l.is_empty()
    {
        return Ok((b.to_owned(), l.to_owned()));
    }
    match backends {
        [only] => Ok((only.clone(), name.to_owned())),
        _ => Err(AnnounceError::Unknown(format!(
            "{name:?} names no running backend; use a backend-qualified id like \"{}:{name}\"",
            backends.first().map_or("slack", String::as_str)
        ))),
    }
}

/// Sends `announcement` where it belongs.
///
/// # Errors
/// When it cannot be addressed (logged by the caller; nothing is sent).
pub fn deliver(ctx: &PluginContext, announcement: &Announcement) -> Result<Target, AnnounceError> {
    let target = target(&ctx.backends(), announcement)?;
    let message = render::render(&announcement.message, &announcement.extra);
    let _receipt = ctx.send(target.clone(), message);
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(v: Value) -> Announcement {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn qualified_and_plain_channels() {
        let two = vec!["discord".to_owned(), "slack".to_owned()];
        let t = target(
            &two,
            &ann(serde_json::json!({"message": "m", "channel": "slack:C1"})),
        )
        .unwrap();
        assert_eq!(t.to_string(), "slack:C1");
        assert!(target(&two, &ann(serde_json::json!({"channel": "#ops"}))).is_err());
        let one = vec!["slack".to_owned()];
        let t = target(&one, &ann(serde_json::json!({"channel": "#ops"}))).unwrap();
        assert_eq!(t.to_string(), "slack:#ops");
    }

    #[test]
    fn whisper_goes_to_the_user() {
        let one = vec!["slack".to_owned()];
        let t = target(
            &one,
            &ann(serde_json::json!({"channel": "slack:C1", "user": "slack:U1", "whisper": "true"})),
        )
        .unwrap();
        assert_eq!(t, Target::direct("slack:U1".parse().unwrap()));
        let e = target(
            &one,
            &ann(serde_json::json!({"channel": "slack:C1", "whisper": true})),
        );
        assert_eq!(e, Err(AnnounceError::NoUser));
    }
}
