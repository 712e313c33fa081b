//! Outgoing operations: sends (threads, splitting, `response_url`), edits, channels,
//! invites, topics, renames, archiving, pins, reactions and room-admin checks.

use std::time::Duration;

use ferrbot::backend::RoomSpec;
use ferrbot::message::OutgoingMessage;
use ferrbot::{BackendError, MessageId, RoomId, Target, UserId};
use serde_json::{Value, json};

use crate::Inner;
use crate::api::ApiError;
use crate::ids;

/// The longest channel name Slack accepts.
pub const MAX_CHANNEL_NAME: usize = 80;

/// `name` with only what Slack allows in channel names: lower-case letters, digits, `-` and
/// `_` (spaces, dots and colons become one `-`; other characters are dropped), no leading or
/// trailing `-`, not cut to length.
fn slack_chars(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() || c == '_' {
            out.extend(c.to_lowercase());
        } else if (c.is_whitespace() || c == '-' || c == '.' || c == ':') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// A channel name Slack accepts: lower-case letters, digits, `-` and `_`, at most 80.
pub fn channel_name(name: &str) -> String {
    let out: String = slack_chars(name).chars().take(MAX_CHANNEL_NAME).collect();
    if out.is_empty() {
        "room".to_owned()
    } else {
        out
    }
}

/// A new name for `conversations.rename`: normalised as [`channel_name`] does, but refused
/// (instead of replaced or cut) when nothing usable is left or it is too long.
///
/// # Errors
/// A `Rejected` error saying what is wrong with the name.
pub fn rename_name(name: &str) -> Result<String, BackendError> {
    let normalised = slack_chars(name);
    if normalised.is_empty() {
        return Err(BackendError::rejected(format!(
            "`{name}` cannot be a Slack channel name: it needs letters or digits"
        )));
    }
    let len = normalised.chars().count();
    if len > MAX_CHANNEL_NAME {
        return Err(BackendError::rejected(format!(
            "a Slack channel name has at most {MAX_CHANNEL_NAME} characters; this one has {len}"
        )));
    }
    Ok(normalised)
}

/// What a `conversations.rename` error code means, for the person who asked.
fn rename_error(err: ApiError, name: &str) -> BackendError {
    let why = match err.code() {
        Some("name_taken") => format!("a channel named `{name}` already exists"),
        Some(
            "invalid_name"
            | "invalid_name_specials"
            | "invalid_name_punctuation"
            | "invalid_name_required",
        ) => format!(
            "`{name}` is not a valid channel name (lower-case letters, digits, `-` and `_` only)"
        ),
        Some("invalid_name_maxlength") => {
            format!("`{name}` is longer than {MAX_CHANNEL_NAME} characters")
        }
        Some("not_authorized" | "restricted_action") => {
            "the bot may not rename this channel (only its creator, a workspace admin or a \
             channel manager may)"
                .to_owned()
        }
        Some("missing_scope") => {
            "the Slack app lacks the `channels:manage` (public) or `groups:write` (private) scope"
                .to_owned()
        }
        Some("not_in_channel") => "the bot is not a member of this channel".to_owned(),
        Some("is_archived") => "the channel is archived".to_owned(),
        Some("channel_not_found") => "no such channel".to_owned(),
        Some("method_not_supported_for_channel_type") => {
            "this kind of conversation cannot be renamed".to_owned()
        }
        _ => return err.into(),
    };
    BackendError::rejected(format!(
        "Slack refused to rename the channel: {why} ({err})"
    ))
}

/// A reaction name as `reactions.add` wants it: `thumbsup`, not `:thumbsup:` or `👍`.
pub fn reaction_name(reaction: &str) -> String {
    let name = reaction.trim().trim_matches(':');
    let named = match name {
        "👍" => "+1",
        "👎" => "-1",
        "👀" => "eyes",
        "✅" => "white_check_mark",
        "✔️" | "✔" => "heavy_check_mark",
        "❌" => "x",
        "⚠️" | "⚠" => "warning",
        "🚀" => "rocket",
        "🎉" => "tada",
        "🔥" => "fire",
        "❤️" | "❤" => "heart",
        "🚨" => "rotating_light",
        "⏳" => "hourglass_flowing_sand",
        "📌" => "pushpin",
        "🔔" => "bell",
        "👋" => "wave",
        "🆘" => "sos",
        "🛑" => "octagonal_sign",
        "❓" => "question",
        "❗" => "exclamation",
        _ => name,
    };
    named.to_owned()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn no_answer(method: &str, what: &str) -> BackendError {
    BackendError::rejected(format!("`{method}` answered without {what}"))
}

/// Slack codes that mean the operation's goal is already reached.
fn already(err: &ApiError, codes: &[&str]) -> bool {
    err.code().is_some_and(|c| codes.contains(&c))
}

impl Inner {
    /// The channel a target posts in, and the thread.
    async fn destination(&self, target: &Target) -> Result<(String, Option<String>), BackendError> {
        match target {
            Target::Room { room, thread } => Ok((
                ids::channel_of(room)?,
                thread.as_ref().map(|t| t.local().to_owned()),
            )),
            Target::Direct { user } => Ok((self.dm_channel(user).await?, None)),
        }
    }

    async fn dm_channel(&self, user: &UserId) -> Result<String, BackendError> {
        let id = ids::user_of(user)?;
        if let Some(channel) = self.dm_cached(&id) {
            return Ok(channel);
        }
        let answer = self
            .api
            .post_retrying("conversations.open", &json!({ "users": id }))
            .await?;
        let channel = str_at(&answer, "/channel/id")
            .ok_or_else(|| no_answer("conversations.open", "a channel id"))?
            .to_owned();
        self.dm_remember(&id, &channel);
        Ok(channel)
    }

    pub(crate) async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError> {
        let (channel, thread) = self.destination(target).await?;
        let bodies = crate::blocks::render(&self.name, &self.prefix, message);
        if bodies.is_empty() {
            return Err(BackendError::rejected("an empty message"));
        }
        let mut first: Option<MessageId> = None;
        for (i, mut body) in bodies.into_iter().enumerate() {
            if i == 0
                && thread.is_none()
                && let Some(url) = self.take_response_url(&channel)
            {
                let mut answer = body.clone();
                answer["response_type"] = json!("in_channel");
                match self.api.post_url(&url, &answer).await {
                    Ok(()) => {
                        first = ids::message_id(&self.name, &channel, "response");
                        continue;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot answer through response_url; posting instead");
                    }
                }
            }
            body["channel"] = json!(channel);
            if let Some(ts) = &thread {
                body["thread_ts"] = json!(ts);
            }
            let answer = if i == 0 {
                // A rate limit goes back to the outbox, which holds this room's queue.
                self.api.post("chat.postMessage", &body).await?
            } else {
                self.post_later_part(&body).await?
            };
            let posted_in = str_at(&answer, "/channel").unwrap_or(&channel).to_owned();
            let ts = str_at(&answer, "/ts").ok_or_else(|| no_answer("chat.postMessage", "a ts"))?;
            if first.is_none() {
                first = ids::message_id(&self.name, &posted_in, ts);
            }
        }
        first.ok_or_else(|| BackendError::rejected("Slack gave the message an invalid id"))
    }

    /// Later parts of a split message: waited out and retried here, so the outbox never
    /// resends the earlier parts.
    async fn post_later_part(&self, body: &Value) -> Result<Value, BackendError> {
        let mut backoff = Duration::from_millis(500);
        let mut attempts = 0;
        loop {
            match self.api.post_retrying("chat.postMessage", body).await {
                Ok(answer) => return Ok(answer),
                Err(err) => {
                    let retry = BackendError::from(err.clone()).is_retryable();
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

    pub(crate) async fn edit(
        &self,
        target: &Target,
        message: &MessageId,
        new: &OutgoingMessage,
    ) -> Result<(), BackendError> {
        let (channel, _) = self.destination(target).await?;
        let (channel, ts) = ids::split_message(message, Some(&channel))?;
        let bodies = crate::blocks::render(&self.name, &self.prefix, new);
        let Some(mut body) = bodies.into_iter().next() else {
            return Err(BackendError::rejected("an empty message"));
        };
        body["channel"] = json!(channel);
        body["ts"] = json!(ts);
        if body.get("attachments").is_none() {
            body["attachments"] = json!([]);
        }
        if body.get("text").is_none() {
            body["text"] = json!("");
        }
        self.api.post_retrying("chat.update", &body).await?;
        Ok(())
    }

    pub(crate) async fn create_room(&self, spec: &RoomSpec) -> Result<RoomId, BackendError> {
        let base = channel_name(&spec.name);
        let mut name = base.clone();
        let mut attempt = 1;
        let channel = loop {
            match self
                .api
                .post_retrying(
                    "conversations.create",
                    &json!({ "name": name, "is_private": spec.private }),
                )
                .await
            {
                Ok(answer) => {
                    break str_at(&answer, "/channel/id")
                        .ok_or_else(|| no_answer("conversations.create", "a channel id"))?
                        .to_owned();
                }
                Err(err) if already(&err, &["name_taken"]) && attempt < 5 => {
                    attempt += 1;
                    let suffix = format!("-{attempt}");
                    let keep = 80 - suffix.len();
                    name = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
                }
                Err(err) => return Err(err.into()),
            }
        };
        let room = ids::room(&self.name, &channel)
            .ok_or_else(|| no_answer("conversations.create", "a valid channel id"))?;
        if let Some(topic) = spec.topic.as_deref().filter(|t| !t.trim().is_empty()) {
            self.set_topic(&room, topic).await?;
        }
        if !spec.invite.is_empty() {
            self.invite(&room, &spec.invite).await?;
        }
        Ok(room)
    }

    pub(crate) async fn invite(&self, room: &RoomId, users: &[UserId]) -> Result<(), BackendError> {
        let channel = ids::channel_of(room)?;
        let own = self.identity().map(|i| i.user_id);
        let mut list = Vec::new();
        for user in users {
            let id = ids::user_of(user)?;
            if Some(&id) != own.as_ref() && !list.contains(&id) {
                list.push(id);
            }
        }
        // conversations.invite takes at most 1,000 users per call.
        for chunk in list.chunks(1_000) {
            match self
                .api
                .post_retrying(
                    "conversations.invite",
                    &json!({ "channel": channel, "users": chunk.join(",") }),
                )
                .await
            {
                Ok(_) => {}
                Err(err) if already(&err, &["already_in_channel", "cant_invite_self"]) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }

    pub(crate) async fn set_topic(&self, room: &RoomId, topic: &str) -> Result<(), BackendError> {
        let channel = ids::channel_of(room)?;
        let topic = crate::mrkdwn::truncate(topic.trim(), 250);
        self.api
            .post_retrying(
                "conversations.setTopic",
                &json!({ "channel": channel, "topic": topic }),
            )
            .await?;
        Ok(())
    }

    /// `conversations.rename` (needs `channels:manage` for public channels, `groups:write`
    /// for private ones; only a channel's creator, a workspace admin or a channel manager may).
    pub(crate) async fn rename_room(&self, room: &RoomId, name: &str) -> Result<(), BackendError> {
        let channel = ids::channel_of(room)?;
        let name = rename_name(name)?;
        self.api
            .post_retrying(
                "conversations.rename",
                &json!({ "channel": channel, "name": name }),
            )
            .await
            .map_err(|err| rename_error(err, &name))?;
        Ok(())
    }

    pub(crate) async fn archive(&self, room: &RoomId) -> Result<(), BackendError> {
        let channel = ids::channel_of(room)?;
        match self
            .api
            .post_retrying("conversations.archive", &json!({ "channel": channel }))
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if already(&err, &["already_archived"]) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    pub(crate) async fn pin(&self, room: &RoomId, message: &MessageId) -> Result<(), BackendError> {
        let room_channel = ids::channel_of(room)?;
        let (channel, ts) = ids::split_message(message, Some(&room_channel))?;
        match self
            .api
            .post_retrying("pins.add", &json!({ "channel": channel, "timestamp": ts }))
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if already(&err, &["already_pinned"]) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    pub(crate) async fn react(
        &self,
        room: &RoomId,
        message: &MessageId,
        reaction: &str,
    ) -> Result<(), BackendError> {
        let room_channel = ids::channel_of(room)?;
        let (channel, ts) = ids::split_message(message, Some(&room_channel))?;
        let name = reaction_name(reaction);
        if name.is_empty() {
            return Err(BackendError::rejected("an empty reaction"));
        }
        match self
            .api
            .post_retrying(
                "reactions.add",
                &json!({ "channel": channel, "timestamp": ts, "name": name }),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if already(&err, &["already_reacted"]) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Workspace admins and owners administer every room; otherwise the channel's creator.
    pub(crate) async fn is_room_admin(
        &self,
        room: &RoomId,
        user: &UserId,
    ) -> Result<bool, BackendError> {
        if user.backend() != self.name || room.backend() != self.name {
            return Ok(false);
        }
        let channel = ids::channel_of(room)?;
        let id = ids::user_of(user)?;
        if self.users.get(&self.api, &id).await?.is_admin {
            return Ok(true);
        }
        let answer = self
            .api
            .get_retrying("conversations.info", &[("channel", channel)])
            .await?;
        Ok(str_at(&answer, "/channel/creator") == Some(id.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_and_reactions_are_normalised() {
        assert_eq!(
            channel_name("INC 42: Checkout down!"),
            "inc-42-checkout-down"
        );
        assert_eq!(channel_name("  "), "room");
        assert_eq!(channel_name(&"a".repeat(100)).len(), 80);
        assert_eq!(reaction_name(":eyes:"), "eyes");
        assert_eq!(reaction_name("👍"), "+1");
        assert_eq!(reaction_name("white_check_mark"), "white_check_mark");
    }

    #[test]
    fn rename_names_are_normalised_or_refused_with_the_reason() {
        assert_eq!(
            rename_name("Search War-Room").ok().as_deref(),
            Some("search-war-room")
        );
        assert_eq!(rename_name(&"a".repeat(80)).ok().map(|n| n.len()), Some(80));
        let err = rename_name(&"a".repeat(81)).unwrap_err().to_string();
        assert!(
            err.contains("at most 80 characters; this one has 81"),
            "{err}"
        );
        let err = rename_name(" -- ").unwrap_err().to_string();
        assert!(err.contains("needs letters or digits"), "{err}");
    }

    #[test]
    fn rename_errors_say_what_went_wrong() {
        let slack = |code: &str| ApiError::Slack {
            method: "conversations.rename".into(),
            code: code.into(),
        };
        let err = rename_error(slack("name_taken"), "ops").to_string();
        assert!(
            err.contains("a channel named `ops` already exists"),
            "{err}"
        );
        assert!(err.contains("name_taken"), "{err}");
        let err = rename_error(slack("invalid_name_specials"), "x").to_string();
        assert!(err.contains("not a valid channel name"), "{err}");
        let err = rename_error(slack("missing_scope"), "x").to_string();
        assert!(err.contains("channels:manage"), "{err}");
        // Passing failures stay retryable.
        assert!(rename_error(slack("internal_error"), "x").is_retryable());
    }
}
