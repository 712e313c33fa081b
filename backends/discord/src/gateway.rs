//! Gateway events → ferrbot events.
//!
//! serenity keeps the WebSocket alive (heartbeats, RESUME after a drop or an op 7 RECONNECT,
//! a fresh IDENTIFY after an INVALID_SESSION); this handler turns what arrives into
//! [`BackendEvent`]s: messages (the bot's own and, by default, other bots' are ignored; a
//! leading `<@bot>` mention sets [`IncomingMessage::mentioned`] and is stripped; a reply's
//! `message_reference` sets [`IncomingMessage::reply_to`]), edits and deletions, slash
//! commands and button clicks, and the connection state.

use std::sync::Arc;

use ferrbot::backend::{BackendEvent, CommandSource, ConnectionState, MessageEvent};
use ferrbot::message::{Author, IncomingMessage};
use ferrbot::{Inbox, MessageId, RoomId, UserId};
use serenity::all::{
    ChannelId, CommandDataOptionValue, Context, EventHandler, GuildId, Interaction, Message,
    MessageReferenceKind, MessageType, MessageUpdateEvent, Ready, ResumedEvent,
    ShardStageUpdateEvent, User,
};
use serenity::async_trait;
use serenity::gateway::ConnectionStage;

use crate::Inner;
use crate::interactions::{self, Kind, Pending, Timing};

/// The serenity event handler of one connection.
pub struct Handler {
    pub(crate) inner: Arc<Inner>,
    pub(crate) inbox: Inbox,
}

/// Splits a leading mention of the bot (`<@id>` or `<@!id>`) off `content`.
pub fn strip_mention(content: &str, bot: Option<u64>) -> (String, bool) {
    let text = content.trim_start();
    if let Some(bot) = bot {
        for form in [format!("<@{bot}>"), format!("<@!{bot}>")] {
            if let Some(rest) = text.strip_prefix(&form) {
                let rest = rest
                    .trim_start()
                    .trim_start_matches([':', ','])
                    .trim_start();
                return (rest.to_owned(), true);
            }
        }
    }
    (content.to_owned(), false)
}

fn display_name(user: &User, nick: Option<&str>) -> String {
    nick.map(str::to_owned)
        .or_else(|| user.global_name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| user.name.clone())
}

impl Handler {
    fn author(&self, user: &User, nick: Option<&str>) -> Option<Author> {
        let id = UserId::new(&self.inner.name, &user.id.get().to_string()).ok()?;
        Some(Author {
            id,
            display_name: display_name(user, nick),
        })
    }

    fn room(&self, channel: ChannelId) -> Option<RoomId> {
        RoomId::new(&self.inner.name, &channel.get().to_string()).ok()
    }

    fn message_id(&self, id: u64) -> Option<MessageId> {
        MessageId::new(&self.inner.name, &id.to_string()).ok()
    }

    fn bot_id(&self, ctx: &Context) -> Option<u64> {
        self.inner
            .bot_id()
            .or_else(|| Some(ctx.cache.current_user().id.get()).filter(|id| *id != 0))
    }

    /// The message as ferrbot sees it, or `None` when it is to be ignored.
    fn incoming(&self, ctx: &Context, msg: &Message) -> Option<IncomingMessage> {
        let bot = self.bot_id(ctx);
        if Some(msg.author.id.get()) == bot {
            return None;
        }
        if msg.author.bot && self.inner.config.ignore_bots {
            return None;
        }
        if !matches!(msg.kind, MessageType::Regular | MessageType::InlineReply) {
            return None;
        }
        let (text, mentioned) = strip_mention(&msg.content, bot);
        if text.trim().is_empty() && !mentioned {
            return None;
        }
        let nick = msg.member.as_ref().and_then(|m| m.nick.as_deref());
        Some(IncomingMessage {
            id: self.message_id(msg.id.get()),
            room: self.room(msg.channel_id)?,
            thread: None,
            author: self.author(&msg.author, nick)?,
            text,
            direct: msg.guild_id.is_none(),
            mentioned,
            reply_to: self.replied_to(msg),
        })
    }

    /// The message `msg` replies to: its `message_reference` when that is a reply (type
    /// DEFAULT) in the same channel — forwards and crossposts point elsewhere and are no
    /// replies.
    fn replied_to(&self, msg: &Message) -> Option<MessageId> {
        let reference = msg.message_reference.as_ref()?;
        if reference.kind != MessageReferenceKind::Default || reference.channel_id != msg.channel_id
        {
            return None;
        }
        self.message_id(reference.message_id?.get())
    }

    async fn submit(&self, event: BackendEvent) {
        if self.inbox.submit(event).await.is_err() {
            tracing::debug!("the bot is shutting down; event dropped");
        }
    }

    async fn on_interaction(&self, interaction: Interaction) {
        let (id, token, app, channel, guild, user, nick, kind, command) = match interaction {
            Interaction::Command(ci) => {
                let option = |name: &str| {
                    ci.data
                        .options
                        .iter()
                        .find(|o| o.name == name)
                        .and_then(|o| match &o.value {
                            CommandDataOptionValue::String(s) => Some(s.trim().to_owned()),
                            _ => None,
                        })
                        .filter(|s| !s.is_empty())
                };
                let line = if ci.data.name == self.inner.config.slash_command {
                    option("command").unwrap_or_else(|| "help".to_owned())
                } else if let Some(command) = self.inner.bot_command(&ci.data.name) {
                    match option("args") {
                        Some(args) => format!("{command} {args}"),
                        None => command,
                    }
                } else {
                    return;
                };
                let nick = ci.member.as_ref().and_then(|m| m.nick.clone());
                (
                    ci.id.get(),
                    ci.token,
                    ci.application_id.get(),
                    ci.channel_id,
                    ci.guild_id,
                    ci.user,
                    nick,
                    Kind::Slash,
                    line,
                )
            }
            Interaction::Component(ci) => {
                let Some(line) =
                    interactions::command_of(&self.inner.store, &ci.data.custom_id).await
                else {
                    tracing::debug!(custom_id = %ci.data.custom_id, "a button that is not ferrbot's");
                    return;
                };
                let nick = ci.member.as_ref().and_then(|m| m.nick.clone());
                (
                    ci.id.get(),
                    ci.token,
                    ci.application_id.get(),
                    ci.channel_id,
                    ci.guild_id,
                    ci.user,
                    nick,
                    Kind::Button,
                    line,
                )
            }
            _ => return,
        };
        self.run_interaction(
            id,
            token,
            app,
            channel,
            guild,
            &user,
            nick.as_deref(),
            kind,
            command,
        )
        .await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_interaction(
        &self,
        id: u64,
        token: String,
        app: u64,
        channel: ChannelId,
        guild: Option<GuildId>,
        user: &User,
        nick: Option<&str>,
        kind: Kind,
        command: String,
    ) {
        let (Some(author), Some(room)) = (self.author(user, nick), self.room(channel)) else {
            return;
        };
        let source = match kind {
            Kind::Slash => CommandSource::Slash,
            Kind::Button => CommandSource::Button,
        };
        let channel = channel.get().to_string();
        let pending = Pending::new(id.to_string(), token, app.to_string(), kind);
        self.inner.interactions.register(&channel, pending.clone());
        let request = interactions::request(author, room, guild.is_none(), command, source);
        let Ok(completion) = self.inbox.submit(BackendEvent::Command(request)).await else {
            self.inner.interactions.remove(&channel, &pending);
            return;
        };
        let timing = Timing {
            defer_after: self.inner.config.defer_after,
            cleanup: self.inner.config.deferred_cleanup,
        };
        tokio::spawn(interactions::supervise(
            self.inner.rest.clone(),
            self.inner.interactions.clone(),
            channel,
            pending,
            completion,
            timing,
        ));
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
        self.inner
            .set_identity(ready.user.id.get(), ready.application.id.get());
        self.inbox.connection(ConnectionState::Connected).await;
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.register_slash_command().await });
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        tracing::info!("Discord gateway session resumed");
        self.inbox.connection(ConnectionState::Connected).await;
    }

    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        if event.old == ConnectionStage::Connected && event.new != ConnectionStage::Connected {
            self.inbox
                .connection(ConnectionState::Disconnected {
                    reason: format!(
                        "gateway {}; reconnecting",
                        event.new.to_string().to_lowercase()
                    ),
                })
                .await;
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        if let Some(incoming) = self.incoming(&ctx, &msg) {
            self.submit(BackendEvent::Message(incoming)).await;
        }
    }

    async fn message_update(
        &self,
        ctx: Context,
        _old: Option<Message>,
        _new: Option<Message>,
        event: MessageUpdateEvent,
    ) {
        let Some(text) = event.content else { return };
        if event.author.as_ref().map(|a| a.id.get()) == self.bot_id(&ctx) {
            return;
        }
        if let (Some(room), Some(message)) =
            (self.room(event.channel_id), self.message_id(event.id.get()))
        {
            self.submit(BackendEvent::MessageEvent(MessageEvent::Edited {
                room,
                message,
                text,
            }))
            .await;
        }
    }

    async fn message_delete(
        &self,
        _ctx: Context,
        channel: ChannelId,
        deleted: serenity::all::MessageId,
        _guild: Option<GuildId>,
    ) {
        if let (Some(room), Some(message)) = (self.room(channel), self.message_id(deleted.get())) {
            self.submit(BackendEvent::MessageEvent(MessageEvent::Deleted {
                room,
                message,
            }))
            .await;
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        self.on_interaction(interaction).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_bot_mentions_are_stripped() {
        assert_eq!(strip_mention("<@42> help", Some(42)), ("help".into(), true));
        assert_eq!(
            strip_mention("  <@!42>: status", Some(42)),
            ("status".into(), true)
        );
        assert_eq!(
            strip_mention("<@43> help", Some(42)),
            ("<@43> help".into(), false)
        );
        assert_eq!(
            strip_mention("hi <@42>", Some(42)),
            ("hi <@42>".into(), false)
        );
        assert_eq!(strip_mention("<@42> x", None), ("<@42> x".into(), false));
    }
}
