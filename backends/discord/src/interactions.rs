//! Interactions: slash commands and button clicks, and answering them in time.
//!
//! A click on a button (a component interaction) or a use of the slash command becomes a
//! [`CommandRequest`] from the person who clicked or typed, so the dispatcher's access rules
//! apply to them. Discord wants an answer within 3 seconds, so each interaction is tracked
//! per channel ([`Interactions`]) and supervised:
//!
//! - if the command's reply reaches [`crate::DiscordBackend`]'s `send` in time, the reply *is*
//!   the interaction response (callback type 4);
//! - at `defer_after` (2 s by default) a still-running command is acknowledged with a deferred
//!   response (type 5, "ferrbot is thinking…"); its reply later edits that response;
//! - a command that finished without a reply is acknowledged quietly (type 6 for a button; a
//!   short ephemeral "Done." for the slash command), and a deferred response that never got a
//!   reply is deleted after `deferred_cleanup`.
//!
//! Button ids (`custom_id`, at most 100 characters) carry the command line as `fb:c:<line>`;
//! longer lines are kept in the backend's store and referenced as `fb:k:<hash>`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrbot::backend::{CommandRequest, CommandSource, Completion};
use ferrbot::store::KvStore;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::rest::{Method, Rest, RestError, id_of};

/// Discord's limit on a component's `custom_id`.
const CUSTOM_ID_MAX: usize = 100;
const DIRECT: &str = "fb:c:";
const STORED: &str = "fb:k:";

/// Interaction callback types.
mod callback {
    pub const MESSAGE: u8 = 4;
    pub const DEFERRED_MESSAGE: u8 = 5;
    pub const DEFERRED_UPDATE: u8 = 6;
}

/// The ephemeral message flag.
const EPHEMERAL: u64 = 1 << 6;

/// A 64-bit FNV-1a hash, stable across runs (for stored button commands).
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The `custom_id` of a button that runs `command`.
pub async fn custom_id(store: &KvStore, command: &str) -> String {
    let direct = format!("{DIRECT}{command}");
    if direct.chars().count() <= CUSTOM_ID_MAX {
        return direct;
    }
    let key = format!("{:016x}", fnv1a(command));
    if let Err(err) = store.set(&format!("button/{key}"), command).await {
        tracing::warn!(error = %err, "cannot store a long button command; the button will not work");
    }
    format!("{STORED}{key}")
}

/// The command line a button's `custom_id` stands for; `None` when it is not ferrbot's.
pub async fn command_of(store: &KvStore, custom_id: &str) -> Option<String> {
    if let Some(line) = custom_id.strip_prefix(DIRECT) {
        return Some(line.to_owned());
    }
    let key = custom_id.strip_prefix(STORED)?;
    match store.get::<String>(&format!("button/{key}")).await {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read a stored button command");
            None
        }
    }
}

/// The definition of the one slash command (`/ferrbot command:<line>`).
pub fn slash_command_definition(name: &str) -> Value {
    json!({
        "name": name,
        "type": 1,
        "description": "Run a bot command, as if typed with the prefix (e.g. help, status)",
        "dm_permission": true,
        "options": [{
            "type": 3,
            "name": "command",
            "description": "The command line, e.g. `help` or `incident join 42`",
            "required": false,
            "max_length": 1500
        }]
    })
}

/// Whether `name` is a valid slash command name (`^[-_a-z0-9]{1,32}$`, lower case).
pub fn valid_command_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The top-level names of the bot's commands that can be slash commands, each with a
/// description: `incident declare` and `incident ack` become one `/incident` taking the rest.
pub fn top_level_commands(commands: &[ferrbot::backend::CommandInfo]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for info in commands {
        let head = info.name.split(' ').next().unwrap_or(&info.name);
        if !valid_command_name(head) || out.iter().any(|(n, _)| n == head) {
            continue;
        }
        let about = if head == info.name && !info.about.is_empty() {
            info.about.clone()
        } else {
            format!("Run {head} (see help {head})")
        };
        out.push((head.to_owned(), about.chars().take(100).collect()));
    }
    // Discord allows 100 commands per scope; `/ferrbot` takes one of them.
    out.truncate(99);
    out
}

/// The definition of a slash command standing for a bot command (`/status`, `/incident`),
/// with one free-text `args` option for the rest of the line.
pub fn bot_command_definition(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": 1,
        "description": if description.is_empty() { "A bot command" } else { description },
        "dm_permission": true,
        "options": [{
            "type": 3,
            "name": "args",
            "description": "The rest of the command line",
            "required": false,
            "max_length": 1500
        }]
    })
}

/// What kind of interaction is waiting for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The slash command.
    Slash,
    /// A button click.
    Button,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not acknowledged yet.
    Fresh,
    /// Acknowledged with "thinking…"; the reply edits the original response.
    Deferred,
    /// Answered (or given up on).
    Done,
}

/// An interaction that has not been answered yet.
pub struct Pending {
    id: String,
    token: String,
    application_id: String,
    kind: Kind,
    state: tokio::sync::Mutex<State>,
    answered: Notify,
}

impl Pending {
    /// A fresh interaction.
    pub fn new(id: String, token: String, application_id: String, kind: Kind) -> Arc<Self> {
        Arc::new(Self {
            id,
            token,
            application_id,
            kind,
            state: tokio::sync::Mutex::new(State::Fresh),
            answered: Notify::new(),
        })
    }

    fn callback_path(&self) -> String {
        format!(
            "/interactions/{}/{}/callback?with_response=true",
            self.id, self.token
        )
    }

    fn original_path(&self) -> String {
        format!(
            "/webhooks/{}/{}/messages/@original",
            self.application_id, self.token
        )
    }

    fn bucket(&self) -> String {
        format!("webhook {}", self.application_id)
    }

    async fn respond(&self, rest: &Rest, body: &Value) -> Result<Value, RestError> {
        rest.call(
            Method::Post,
            "interaction callback",
            &self.callback_path(),
            Some(body),
        )
        .await
    }

    /// Answers with `body` (a message body); returns the id of the message shown. `Ok(None)`
    /// when the interaction was already answered (the caller posts normally).
    ///
    /// # Errors
    /// When Discord refuses the answer (e.g. the token expired).
    pub async fn answer(&self, rest: &Rest, body: &Value) -> Result<Option<String>, RestError> {
        let mut state = self.state.lock().await;
        let id = match *state {
            State::Done => return Ok(None),
            State::Fresh => {
                let answer = self
                    .respond(rest, &json!({ "type": callback::MESSAGE, "data": body }))
                    .await?;
                *state = State::Done;
                match answer.pointer("/resource/message").map(id_of) {
                    Some(Ok(id)) => id,
                    _ => {
                        let original = rest
                            .call(Method::Get, &self.bucket(), &self.original_path(), None)
                            .await?;
                        id_of(&original)?
                    }
                }
            }
            State::Deferred => {
                let message = rest
                    .call(
                        Method::Patch,
                        &self.bucket(),
                        &self.original_path(),
                        Some(body),
                    )
                    .await?;
                *state = State::Done;
                id_of(&message)?
            }
        };
        self.answered.notify_one();
        Ok(Some(id))
    }

    /// Marks the interaction answered without touching Discord (after a failed answer).
    pub async fn abandon(&self) {
        *self.state.lock().await = State::Done;
        self.answered.notify_one();
    }
}

/// The interactions waiting for an answer, per channel, oldest first.
#[derive(Default)]
pub struct Interactions {
    by_channel: Mutex<HashMap<String, VecDeque<Arc<Pending>>>>,
}

impl Interactions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Arc<Pending>>>> {
        self.by_channel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tracks an interaction from `channel`.
    pub fn register(&self, channel: &str, pending: Arc<Pending>) {
        self.lock()
            .entry(channel.to_owned())
            .or_default()
            .push_back(pending);
    }

    /// The oldest unanswered interaction of `channel`, no longer tracked.
    pub fn take(&self, channel: &str) -> Option<Arc<Pending>> {
        let mut map = self.lock();
        let queue = map.get_mut(channel)?;
        let found = queue.pop_front();
        if queue.is_empty() {
            map.remove(channel);
        }
        found
    }

    /// Stops tracking one interaction.
    pub fn remove(&self, channel: &str, pending: &Arc<Pending>) {
        let mut map = self.lock();
        if let Some(queue) = map.get_mut(channel) {
            queue.retain(|p| !Arc::ptr_eq(p, pending));
            if queue.is_empty() {
                map.remove(channel);
            }
        }
    }
}

/// Timing of the supervision.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// When a running command is deferred.
    pub defer_after: Duration,
    /// How long a deferred response may wait for a reply after the command finished.
    pub cleanup: Duration,
}

/// Makes sure the interaction is acknowledged in time (see the module docs).
pub async fn supervise(
    rest: Arc<Rest>,
    interactions: Arc<Interactions>,
    channel: String,
    pending: Arc<Pending>,
    completion: Completion,
    timing: Timing,
) {
    let deadline = tokio::time::Instant::now() + timing.defer_after;
    let mut completion = Box::pin(completion.wait());
    let finished = tokio::select! {
        () = tokio::time::sleep_until(deadline) => false,
        () = &mut completion => true,
    };
    if finished {
        // The reply is queued; give it until the deadline to become the answer.
        tokio::select! {
            () = pending.answered.notified() => return,
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
    {
        let mut state = pending.state.lock().await;
        if *state != State::Fresh {
            return;
        }
        let ack = match (finished, pending.kind) {
            (true, Kind::Button) => json!({ "type": callback::DEFERRED_UPDATE }),
            (true, Kind::Slash) => json!({
                "type": callback::MESSAGE,
                "data": { "content": "Done.", "flags": EPHEMERAL, "allowed_mentions": { "parse": [] } }
            }),
            (false, _) => json!({ "type": callback::DEFERRED_MESSAGE }),
        };
        match pending.respond(&rest, &ack).await {
            Ok(_) if !finished => *state = State::Deferred,
            Ok(_) => {
                *state = State::Done;
                interactions.remove(&channel, &pending);
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot acknowledge an interaction");
                *state = State::Done;
                interactions.remove(&channel, &pending);
                return;
            }
        }
    }
    completion.await;
    tokio::select! {
        () = pending.answered.notified() => return,
        () = tokio::time::sleep(timing.cleanup) => {}
    }
    let mut state = pending.state.lock().await;
    if *state == State::Deferred {
        *state = State::Done;
        interactions.remove(&channel, &pending);
        if let Err(err) = rest
            .call(
                Method::Delete,
                &pending.bucket(),
                &pending.original_path(),
                None,
            )
            .await
        {
            tracing::debug!(error = %err, "cannot remove an unanswered deferred response");
        }
    }
}

/// Builds the request for the dispatcher.
pub fn request(
    author: ferrbot::Author,
    room: ferrbot::RoomId,
    direct: bool,
    command: String,
    source: CommandSource,
) -> CommandRequest {
    CommandRequest {
        author,
        room,
        thread: None,
        direct,
        command,
        source,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn button_ids_round_trip_short_and_long_commands() {
        let store = ferrbot::store::Store::memory()
            .await
            .unwrap()
            .kv("backend/discord");
        let short = custom_id(&store, "incident join 42").await;
        assert_eq!(short, "fb:c:incident join 42");
        assert_eq!(
            command_of(&store, &short).await.as_deref(),
            Some("incident join 42")
        );
        let long_cmd = format!("say {}", "x".repeat(200));
        let long = custom_id(&store, &long_cmd).await;
        assert!(long.chars().count() <= CUSTOM_ID_MAX);
        assert!(long.starts_with("fb:k:"));
        assert_eq!(command_of(&store, &long).await, Some(long_cmd));
        assert_eq!(command_of(&store, "someone-else").await, None);
    }

    #[test]
    fn queue_is_per_channel_and_fifo() {
        let i = Interactions::default();
        let a = Pending::new("1".into(), "t1".into(), "9".into(), Kind::Button);
        let b = Pending::new("2".into(), "t2".into(), "9".into(), Kind::Slash);
        i.register("c", a.clone());
        i.register("c", b.clone());
        i.remove("c", &a);
        assert!(Arc::ptr_eq(&i.take("c").unwrap(), &b));
        assert!(i.take("c").is_none());
    }
}
