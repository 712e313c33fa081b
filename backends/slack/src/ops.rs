//! Outgoing operations: sends (threads, splitting, `response_url`), edits, channels,
//! invites, topics, archiving, pins, reactions and room-admin checks.

use std::time::Duration;

use ferrbot::backend::RoomSpec;
use ferrbot::message::OutgoingMessage;
use ferrbot::{BackendError, MessageId, RoomId, Target, UserId};
use serde_json::{Value, json};

use crate::Inner;
use crate::api::ApiError;
use crate::ids;

/// A channel name Slack accepts: lower-case letters, digits, `-` and `_`, at most 80.
pub fn channel_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() || c == '_' {
            out.extend(c.to_lowercase());
        } else if (c.is_whitespace() || c == '-' || c == '.' || c == ':') && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(80).collect();
    if out.is_empty() {
        "room".to_owned()
    } else {
        out
    }
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
}
