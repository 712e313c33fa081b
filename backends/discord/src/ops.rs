//! Outgoing operations besides plain sends: channels and threads, invites, topics, renames,
//! archiving, pins, reactions, direct-message channels and user look-ups.

use ferrbot::backend::RoomSpec;
use ferrbot::message::Author;
use ferrbot::{BackendError, RoomId, Target, UserId};
use serde_json::{Value, json};

use crate::Inner;
use crate::config::RoomKind;
use crate::rest::{Method, RestError, encode_segment, id_of};

/// Channel permission bits used in overwrites.
mod perm {
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MEMBER: u64 = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY;
}

/// A Discord snowflake from an id's local part.
pub fn snowflake(local: &str, what: &str) -> Result<u64, BackendError> {
    local
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| BackendError::rejected(format!("`{local}` is not a Discord {what} id")))
}

/// A channel name Discord accepts: lower-case, dashes for spaces, at most 100 characters.
pub fn channel_name(name: &str) -> String {
    let out: String = channel_name_uncut(name).chars().take(MAX_NAME).collect();
    if out.is_empty() {
        "room".to_owned()
    } else {
        out
    }
}

/// The longest channel or thread name Discord accepts.
pub const MAX_NAME: usize = 100;

/// A new name for a room of this `kind`: a channel name as [`channel_name`] makes it, or a
/// thread's name as given (trimmed); refused (instead of replaced or cut) when nothing usable
/// is left or it is longer than Discord's 100 characters.
///
/// # Errors
/// A `Rejected` error saying what is wrong with the name.
pub fn rename_name(kind: RoomKind, name: &str) -> Result<String, BackendError> {
    let name = name.trim();
    let full = match kind {
        RoomKind::Channel => channel_name_uncut(name),
        RoomKind::Thread => name.to_owned(),
    };
    let usable = !full.is_empty();
    if !usable {
        return Err(BackendError::rejected(format!(
            "`{name}` cannot be a Discord channel name: it needs letters or digits"
        )));
    }
    let len = full.chars().count();
    if len > MAX_NAME {
        return Err(BackendError::rejected(format!(
            "a Discord channel name has at most {MAX_NAME} characters; this one has {len}"
        )));
    }
    Ok(full)
}

/// [`channel_name`] without the cut to 100 characters and the fallback name.
fn channel_name_uncut(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() || c == '_' {
            out.extend(c.to_lowercase());
        } else if (c.is_whitespace() || c == '-') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// What a failed rename means, for the person who asked. Rate limits stay `RateLimited`
/// (Discord allows two renames of a channel per ten minutes).
fn rename_error(err: RestError, name: &str) -> BackendError {
    let why = match &err {
        RestError::Status { status: 403, .. } | RestError::Status { code: 50_013, .. } => {
            "the bot lacks the Manage Channels permission (Manage Threads for a thread) there"
                .to_owned()
        }
        e if e.is_not_found() => "no such channel".to_owned(),
        RestError::Status { status: 400, .. } => format!("Discord refused the name `{name}`"),
        _ => return err.into(),
    };
    BackendError::rejected(format!("the channel could not be renamed: {why} ({err})"))
}

/// A reaction as Discord's route wants it: a Unicode emoji, or `name:id` for a custom one.
/// Common Slack-style short names (`thumbsup`, `:eyes:`) are translated.
pub fn emoji(reaction: &str) -> String {
    let name = reaction.trim().trim_matches(':');
    let unicode = match name {
        "+1" | "thumbsup" | "thumbs_up" => "👍",
        "-1" | "thumbsdown" | "thumbs_down" => "👎",
        "eyes" => "👀",
        "white_check_mark" | "check" => "✅",
        "heavy_check_mark" => "✔️",
        "x" => "❌",
        "warning" => "⚠️",
        "rocket" => "🚀",
        "tada" => "🎉",
        "fire" => "🔥",
        "heart" => "❤️",
        "rotating_light" => "🚨",
        "hourglass" | "hourglass_flowing_sand" => "⏳",
        "pushpin" => "📌",
        "bell" => "🔔",
        "ok" => "🆗",
        "wave" => "👋",
        "sos" => "🆘",
        "stop_sign" | "octagonal_sign" => "🛑",
        "repeat" => "🔁",
        "question" => "❓",
        "exclamation" => "❗",
        _ => name,
    };
    unicode.to_owned()
}

impl Inner {
    /// The channel a target posts in: the room's, the thread's (a thread is a channel), or
    /// the user's direct-message channel (opened and remembered).
    pub(crate) async fn channel_for(&self, target: &Target) -> Result<String, BackendError> {
        match target {
            Target::Room {
                thread: Some(thread),
                ..
            } => Ok(snowflake(thread.local(), "thread")?.to_string()),
            Target::Room { room, thread: None } => {
                Ok(snowflake(room.local(), "channel")?.to_string())
            }
            Target::Direct { user } => self.dm_channel(user).await,
        }
    }

    async fn dm_channel(&self, user: &UserId) -> Result<String, BackendError> {
        let id = snowflake(user.local(), "user")?.to_string();
        if let Some(channel) = self.dm_cached(&id) {
            return Ok(channel);
        }
        let answer = self
            .rest
            .call_retrying(
                Method::Post,
                "POST /users/@me/channels",
                "/users/@me/channels",
                Some(&json!({ "recipient_id": id })),
            )
            .await?;
        let channel = id_of(&answer)?;
        self.dm_remember(&id, &channel);
        Ok(channel)
    }

    /// `create_room`: a text channel or a thread, per `create_room`.
    pub(crate) async fn create_room(&self, spec: &RoomSpec) -> Result<RoomId, BackendError> {
        let id = match self.config.create_room {
            RoomKind::Channel => self.create_channel(spec).await?,
            RoomKind::Thread => self.create_thread(spec).await?,
        };
        RoomId::new(&self.name, &id).map_err(|e| BackendError::rejected(e.to_string()))
    }

    async fn create_channel(&self, spec: &RoomSpec) -> Result<String, BackendError> {
        let guild = self.config.guild_id.ok_or_else(|| {
            BackendError::rejected(
                "creating channels needs `guild_id` in the Discord backend's config",
            )
        })?;
        let mut body = json!({ "name": channel_name(&spec.name), "type": 0 });
        if let Some(topic) = spec.topic.as_deref().filter(|t| !t.trim().is_empty()) {
            body["topic"] = json!(crate::render::truncate(topic, 1024));
        }
        if let Some(parent) = self.config.room_parent {
            body["parent_id"] = json!(parent.to_string());
        }
        if spec.private {
            // @everyone (the role whose id is the guild's) may not see it; the bot and the
            // invited users may.
            let mut overwrites = vec![json!({
                "id": guild.to_string(), "type": 0, "allow": "0", "deny": perm::VIEW_CHANNEL.to_string()
            })];
            let members = self.bot_id().into_iter().map(|b| b.to_string()).chain(
                spec.invite
                    .iter()
                    .filter_map(|u| snowflake(u.local(), "user").ok())
                    .map(|u| u.to_string()),
            );
            for member in members {
                overwrites.push(json!({
                    "id": member, "type": 1, "allow": perm::MEMBER.to_string(), "deny": "0"
                }));
            }
            body["permission_overwrites"] = Value::Array(overwrites);
        }
        let answer = self
            .rest
            .call_retrying(
                Method::Post,
                &format!("POST /guilds/{guild}/channels"),
                &format!("/guilds/{guild}/channels"),
                Some(&body),
            )
            .await?;
        Ok(id_of(&answer)?)
    }

    async fn create_thread(&self, spec: &RoomSpec) -> Result<String, BackendError> {
        let parent = self.config.room_parent.ok_or_else(|| {
            BackendError::rejected(
                "creating threads needs `room_parent` in the Discord backend's config",
            )
        })?;
        let name: String = spec.name.trim().chars().take(100).collect();
        let body = json!({
            "name": if name.is_empty() { "thread".to_owned() } else { name },
            "type": if spec.private { 12 } else { 11 },
            "auto_archive_duration": 10080,
            "invitable": false,
        });
        let answer = self
            .rest
            .call_retrying(
                Method::Post,
                &format!("POST /channels/{parent}/threads"),
                &format!("/channels/{parent}/threads"),
                Some(&body),
            )
            .await?;
        let thread = id_of(&answer)?;
        for user in &spec.invite {
            self.add_thread_member(&thread, user).await?;
        }
        if let Some(topic) = spec.topic.as_deref().filter(|t| !t.trim().is_empty()) {
            // Threads have no topic; the first message carries it.
            let text = format!("**Topic:** {}", crate::render::escape(topic));
            let body = json!({ "content": crate::render::truncate(&text, 2000), "allowed_mentions": { "parse": [] } });
            self.rest
                .call_retrying(
                    Method::Post,
                    &format!("POST /channels/{thread}/messages"),
                    &format!("/channels/{thread}/messages"),
                    Some(&body),
                )
                .await?;
        }
        Ok(thread)
    }

    async fn add_thread_member(&self, thread: &str, user: &UserId) -> Result<(), BackendError> {
        let user = snowflake(user.local(), "user")?;
        self.rest
            .call_retrying(
                Method::Put,
                &format!("PUT /channels/{thread}/thread-members"),
                &format!("/channels/{thread}/thread-members/{user}"),
                None,
            )
            .await?;
        Ok(())
    }

    /// `invite`: thread members (thread mode) or a per-user permission overwrite (channels).
    pub(crate) async fn invite(&self, room: &RoomId, users: &[UserId]) -> Result<(), BackendError> {
        let channel = snowflake(room.local(), "channel")?;
        for user in users {
            match self.config.create_room {
                RoomKind::Thread => self.add_thread_member(&channel.to_string(), user).await?,
                RoomKind::Channel => {
                    let uid = snowflake(user.local(), "user")?;
                    self.rest
                        .call_retrying(
                            Method::Put,
                            &format!("PUT /channels/{channel}/permissions"),
                            &format!("/channels/{channel}/permissions/{uid}"),
                            Some(&json!({ "type": 1, "allow": perm::MEMBER.to_string(), "deny": "0" })),
                        )
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// `PATCH /channels/{id}` with `body`.
    pub(crate) async fn modify_channel(
        &self,
        room: &RoomId,
        body: Value,
    ) -> Result<(), BackendError> {
        let channel = snowflake(room.local(), "channel")?;
        self.rest
            .call_retrying(
                Method::Patch,
                &format!("PATCH /channels/{channel}"),
                &format!("/channels/{channel}"),
                Some(&body),
            )
            .await?;
        Ok(())
    }

    /// `rename_room`: `PATCH /channels/{id}` with the new name, in the channel's own
    /// rate-limit bucket (threads are channels too).
    pub(crate) async fn rename_room(&self, room: &RoomId, name: &str) -> Result<(), BackendError> {
        let channel = snowflake(room.local(), "channel")?;
        let name = rename_name(self.config.create_room, name)?;
        self.rest
            .call_retrying(
                Method::Patch,
                &format!("PATCH /channels/{channel}"),
                &format!("/channels/{channel}"),
                Some(&json!({ "name": name })),
            )
            .await
            .map_err(|err| rename_error(err, &name))?;
        Ok(())
    }

    /// `pin`.
    pub(crate) async fn pin(
        &self,
        room: &RoomId,
        message: &ferrbot::MessageId,
    ) -> Result<(), BackendError> {
        let channel = snowflake(room.local(), "channel")?;
        let message = snowflake(message.local(), "message")?;
        self.rest
            .call_retrying(
                Method::Put,
                &format!("PUT /channels/{channel}/pins"),
                &format!("/channels/{channel}/pins/{message}"),
                None,
            )
            .await?;
        Ok(())
    }

    /// `react`.
    pub(crate) async fn react(
        &self,
        room: &RoomId,
        message: &ferrbot::MessageId,
        reaction: &str,
    ) -> Result<(), BackendError> {
        let channel = snowflake(room.local(), "channel")?;
        let message = snowflake(message.local(), "message")?;
        let emoji = emoji(reaction);
        if emoji.is_empty() {
            return Err(BackendError::rejected("an empty reaction"));
        }
        self.rest
            .call_retrying(
                Method::Put,
                &format!("PUT /channels/{channel}/messages/reactions"),
                &format!(
                    "/channels/{channel}/messages/{message}/reactions/{}/@me",
                    encode_segment(&emoji)
                ),
                None,
            )
            .await?;
        Ok(())
    }

    /// `user`: the global display name, else the user name.
    pub(crate) async fn user(&self, user: &UserId) -> Result<Author, BackendError> {
        let id = snowflake(user.local(), "user")?;
        let answer = self
            .rest
            .call_retrying(Method::Get, "GET /users", &format!("/users/{id}"), None)
            .await?;
        let name = answer
            .get("global_name")
            .and_then(Value::as_str)
            .or_else(|| answer.get("username").and_then(Value::as_str))
            .filter(|n| !n.trim().is_empty())
            .map(str::to_owned);
        Ok(match name {
            Some(display_name) => Author {
                id: user.clone(),
                display_name,
            },
            None => Author::from_id(user.clone()),
        })
    }

    /// Whether `user` may manage the channel (or, for a thread, its parent channel): the
    /// guild's owner, administrators, and members whose roles and the channel's overwrites
    /// grant MANAGE_CHANNELS. Nobody administers a direct-message channel.
    pub(crate) async fn is_room_admin(
        &self,
        room: &RoomId,
        user: &UserId,
    ) -> Result<bool, BackendError> {
        let channel_id = snowflake(room.local(), "channel")?;
        let user_id = snowflake(user.local(), "user")?;
        let get = |bucket: &'static str, path: String| async move {
            self.rest
                .call_retrying(Method::Get, bucket, &path, None)
                .await
        };
        let mut channel = get("GET /channels", format!("/channels/{channel_id}")).await?;
        let Some(guild_id) = channel
            .get("guild_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Ok(false);
        };
        // Threads (types 10, 11, 12) take their permissions from the parent channel.
        if matches!(channel.get("type").and_then(Value::as_u64), Some(10..=12))
            && let Some(parent) = channel.get("parent_id").and_then(Value::as_str)
        {
            let parent = snowflake(parent, "channel")?;
            channel = get("GET /channels", format!("/channels/{parent}")).await?;
        }
        let guild_id = snowflake(&guild_id, "guild")?;
        let guild = get("GET /guilds", format!("/guilds/{guild_id}")).await?;
        let member = match get(
            "GET /guilds/members",
            format!("/guilds/{guild_id}/members/{user_id}"),
        )
        .await
        {
            Ok(member) => member,
            Err(err) if err.is_not_found() => return Ok(false),
            Err(err) => return Err(err.into()),
        };
        Ok(crate::permissions::may_manage_channel(
            &guild, &member, &channel,
        ))
    }

    /// Posts one message body to `channel`. With `wait`, rate limits and passing failures are
    /// waited out here (for the later parts of a split message, which must not make the
    /// outbox resend the earlier parts).
    pub(crate) async fn post(
        &self,
        channel: &str,
        body: &Value,
        wait: bool,
    ) -> Result<String, BackendError> {
        let bucket = format!("POST /channels/{channel}/messages");
        let path = format!("/channels/{channel}/messages");
        if !wait {
            return Ok(id_of(
                &self
                    .rest
                    .call(Method::Post, &bucket, &path, Some(body))
                    .await?,
            )?);
        }
        let mut backoff = std::time::Duration::from_millis(500);
        let mut attempts = 0;
        loop {
            match self
                .rest
                .call_retrying(Method::Post, &bucket, &path, Some(body))
                .await
            {
                Ok(answer) => return Ok(id_of(&answer)?),
                Err(err) => {
                    let retry =
                        matches!(err, RestError::Network(_) | RestError::RateLimited { .. })
                            || matches!(err, RestError::Status { status, .. } if status >= 500);
                    attempts += 1;
                    if !retry || attempts >= 5 {
                        return Err(BackendError::rejected(format!(
                            "a later part of a split message was not delivered: {err}"
                        )));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
    }

    /// `PATCH /channels/{channel}/messages/{message}`.
    pub(crate) async fn edit_message(
        &self,
        channel: &str,
        message: &str,
        body: &Value,
    ) -> Result<(), BackendError> {
        let message = snowflake(message, "message")?;
        self.rest
            .call_retrying(
                Method::Patch,
                &format!("PATCH /channels/{channel}/messages"),
                &format!("/channels/{channel}/messages/{message}"),
                Some(body),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_normalised() {
        assert_eq!(
            channel_name("INC 42: Checkout down!"),
            "inc-42-checkout-down"
        );
        assert_eq!(channel_name("  "), "room");
        assert_eq!(channel_name(&"a".repeat(150)).len(), 100);
    }

    #[test]
    fn rename_names_are_normalised_or_refused_with_the_reason() {
        assert_eq!(
            rename_name(RoomKind::Channel, "Search War Room")
                .ok()
                .as_deref(),
            Some("search-war-room")
        );
        assert_eq!(
            rename_name(RoomKind::Thread, "  Search War Room ")
                .ok()
                .as_deref(),
            Some("Search War Room")
        );
        let err = rename_name(RoomKind::Channel, &"a".repeat(101))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at most 100 characters; this one has 101"),
            "{err}"
        );
        assert!(rename_name(RoomKind::Thread, &"é".repeat(100)).is_ok());
        let err = rename_name(RoomKind::Channel, "!!")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs letters or digits"), "{err}");
        assert!(rename_name(RoomKind::Thread, "  ").is_err());
    }

    #[test]
    fn short_names_become_emoji() {
        assert_eq!(emoji(":eyes:"), "👀");
        assert_eq!(emoji("+1"), "👍");
        assert_eq!(emoji("🎉"), "🎉");
        assert_eq!(emoji("party:123"), "party:123");
    }

    #[test]
    fn ids_must_be_snowflakes() {
        assert!(snowflake("80351110224678912", "user").is_ok());
        assert!(snowflake("general", "channel").is_err());
    }
}
