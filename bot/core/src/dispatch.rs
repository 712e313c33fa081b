//! The dispatcher: from an incoming message to a command's reply.
//!
//! Prefix (or mention, or a direct message) → shell-like split → longest command match →
//! access check → run isolated with a timeout → reply in the same room and thread. Unknown
//! commands get a short "did you mean" answer; messages that are not commands go to matchers.

use std::sync::Arc;
use std::time::Instant;

use crate::acl::{Caller, Decision};
use crate::backend::{CommandRequest, Envelope, MessageEvent};
use crate::config::BotConfig;
use crate::context::Ctx;
use crate::error::{CommandError, CommandErrorKind, CommandResult};
use crate::id::{MessageId, RoomId, Target, ThreadId};
use crate::markup::Markup;
use crate::message::{Author, IncomingMessage, OutgoingMessage, Reply, ReplyRoute};
use crate::plugin::Captures;
use crate::runtime::{CommandEntry, Shared};

/// Straightens typographic quotes and odd spaces that chat clients substitute, so that
/// `“two words”` quotes like `"two words"`.
pub fn normalise_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}' => '"',
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => '\'',
            '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2009}' => ' ',
            c => c,
        })
        .collect()
}

/// Returns the command line in `message` (without prefix or mention), or `None` when the
/// message is not addressed to the bot.
pub fn command_line<'a>(config: &BotConfig, message: &'a IncomingMessage) -> Option<&'a str> {
    let text = message.text.trim_start();
    let prefixes = std::iter::once(&config.prefix).chain(config.alt_prefixes.iter());
    for prefix in prefixes {
        if !prefix.is_empty()
            && let Some(rest) = text.strip_prefix(prefix.as_str())
        {
            // `! help` with a symbol prefix is not a command; `bot help` with a word prefix is.
            if prefix.chars().all(|c| !c.is_alphanumeric()) && rest.starts_with(char::is_whitespace)
            {
                return None;
            }
            return Some(rest.trim());
        }
    }
    if message.mentioned {
        return Some(text.trim());
    }
    for name in &config.names {
        let lower = text.to_lowercase();
        let name_lower = name.to_lowercase();
        for form in [format!("@{name_lower}"), name_lower.clone()] {
            if let Some(rest) = lower.strip_prefix(&form) {
                let rest_start = text.len() - rest.len();
                let tail = &text[rest_start..];
                let trimmed = tail.trim_start_matches([':', ',']);
                if trimmed.len() != tail.len() || tail.starts_with(char::is_whitespace) {
                    return Some(trimmed.trim());
                }
            }
        }
    }
    if message.direct {
        return Some(text.trim());
    }
    None
}

/// Splits a command line like a shell: quotes group words, backslashes escape.
///
/// # Errors
/// When quotes are unbalanced.
pub fn split(line: &str) -> Result<Vec<String>, CommandError> {
    shlex::split(&normalise_text(line)).ok_or_else(|| {
        CommandError::user("I could not read that command: a quote is not closed")
            .with_hint("close every \" and ', or escape them with \\")
    })
}

/// The text of `line` after its first `words` whitespace-separated words (a command's name is
/// plain words), trimmed.
fn raw_args_after(line: &str, words: usize) -> String {
    let mut rest = line.trim_start();
    for _ in 0..words {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest.trim_end().to_owned()
}

struct Origin {
    author: Author,
    room: RoomId,
    thread: Option<ThreadId>,
    direct: bool,
    message: Option<MessageId>,
    reply_to: Option<MessageId>,
}

impl Origin {
    fn target(&self) -> Target {
        Target::Room {
            room: self.room.clone(),
            thread: self.thread.clone(),
        }
    }
}

/// Handles one envelope from a backend.
pub(crate) async fn handle(shared: Arc<Shared>, envelope: Envelope) {
    let Envelope {
        backend,
        event,
        done,
    } = envelope;
    match event {
        crate::backend::BackendEvent::Message(message) => {
            shared.metrics.message_in(&backend);
            on_message(&shared, message).await;
        }
        crate::backend::BackendEvent::Command(request) => {
            shared.metrics.message_in(&backend);
            on_request(&shared, request).await;
        }
        crate::backend::BackendEvent::MessageEvent(event) => on_message_event(&shared, event).await,
        _ => {}
    }
    if let Some(done) = done {
        let _ = done.send(());
    }
}

async fn on_message(shared: &Arc<Shared>, message: IncomingMessage) {
    let origin = Origin {
        author: message.author.clone(),
        room: message.room.clone(),
        thread: message.thread.clone(),
        direct: message.direct,
        message: message.id.clone(),
        reply_to: message.reply_to.clone(),
    };
    match command_line(&shared.config, &message) {
        Some(line) if !line.is_empty() => run_line(shared, &origin, line).await,
        Some(_) => {}
        None => run_matchers(shared, &origin, &message.text).await,
    }
}

async fn on_request(shared: &Arc<Shared>, request: CommandRequest) {
    let origin = Origin {
        author: request.author,
        room: request.room,
        thread: request.thread,
        direct: request.direct,
        message: None,
        reply_to: None,
    };
    let line = request.command.trim();
    let line = line
        .strip_prefix(shared.config.prefix.as_str())
        .unwrap_or(line);
    run_line(shared, &origin, line).await;
}

async fn on_message_event(shared: &Arc<Shared>, event: MessageEvent) {
    for entry in &shared.plugins {
        if !shared.is_enabled(&entry.name) {
            continue;
        }
        let plugin = entry.plugin.clone();
        let ctx = shared.context(&entry.name);
        let event = event.clone();
        let name = entry.name.clone();
        let run = tokio::spawn(async move { plugin.on_message_event(ctx, event).await });
        if let Err(err) = run.await
            && err.is_panic()
        {
            tracing::error!(plugin = %name, "message event handler panicked");
        }
    }
}

fn deliver(shared: &Shared, origin: &Origin, reply: Reply) {
    let Some(message) = reply.message else { return };
    let target = match reply.route {
        ReplyRoute::Origin => origin.target(),
        ReplyRoute::Private if origin.direct => origin.target(),
        ReplyRoute::Private => {
            let can_dm = shared
                .backends
                .get(origin.room.backend())
                .is_some_and(|b| b.capabilities.direct_messages);
            if !can_dm {
                let _ = shared.send(
                    origin.target(),
                    OutgoingMessage::new(
                        "This reply is private, but this chat network cannot send direct messages; ask me again in a direct conversation.",
                    ),
                );
                return;
            }
            Target::direct(origin.author.id.clone())
        }
    };
    let _ = shared.send(target, message);
}

/// The operation of a `BackendError::Unsupported` hidden inside an internal error (a plugin
/// used `?` on a backend call instead of `CommandError::backend`).
fn unsupported_op(err: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<&'static str> {
    match err.downcast_ref::<crate::backend::BackendError>() {
        Some(crate::backend::BackendError::Unsupported { op }) => Some(op),
        _ => None,
    }
}

fn error_reply(command: &str, err: &CommandError, prefix: &str) -> Reply {
    if let CommandErrorKind::Internal(inner) = err.kind()
        && let Some(op) = unsupported_op(inner.as_ref())
    {
        return Reply::text(format!(
            "`{prefix}{command}` needs `{op}`, which this chat network does not offer."
        ));
    }
    match err.kind() {
        CommandErrorKind::Usage(text) => {
            Reply::markup(Markup::new().code_block(None, text.trim_end()))
        }
        CommandErrorKind::User { message, hint } => {
            let mut m = Markup::new().text(message.clone());
            if let Some(hint) = hint {
                m = m.text(format!(" — {hint}"));
            }
            Reply::markup(m)
        }
        CommandErrorKind::Denied(message) => Reply::text(format!("Sorry, {message}.")),
        CommandErrorKind::Unsupported(op) => Reply::text(format!(
            "`{prefix}{command}` needs `{op}`, which this chat network does not offer."
        )),
        CommandErrorKind::Internal(_) => Reply::text(String::new()),
    }
}

fn new_error_id() -> String {
    format!("{:08x}", rand_u32())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish() as u32
}

fn visible_commands<'a>(shared: &'a Shared, origin: &Origin) -> Vec<&'a CommandEntry> {
    shared
        .commands
        .by_name
        .values()
        .filter(|e| !e.spec.hidden && shared.is_enabled(&e.plugin))
        .filter(|e| {
            shared.acl.check(
                &e.spec.name,
                e.spec.access,
                Caller {
                    user: &origin.author.id,
                    room: &origin.room,
                    direct: origin.direct,
                },
            ) == Decision::Allow
        })
        .collect()
}

fn suggestions(shared: &Shared, origin: &Origin, words: &[String]) -> Vec<String> {
    let typed = words
        .iter()
        .take(2)
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>();
    let first = typed.first().cloned().unwrap_or_default();
    let two = typed.join(" ");
    let mut scored: Vec<(f64, String)> = visible_commands(shared, origin)
        .into_iter()
        .map(|e| {
            let name = &e.spec.name;
            let head = name.split(' ').next().unwrap_or(name);
            let score = strsim::jaro_winkler(&two, name)
                .max(strsim::jaro_winkler(&first, head))
                .max(strsim::jaro_winkler(&first, name));
            (score, name.clone())
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

async fn run_line(shared: &Arc<Shared>, origin: &Origin, line: &str) {
    let prefix = shared.config.prefix.clone();
    let (words, unbalanced) = match split(line) {
        Ok(words) if words.is_empty() => return,
        Ok(words) => (words, None),
        Err(err) => (
            line.split_whitespace().map(str::to_owned).collect(),
            Some(err),
        ),
    };
    let found = shared.commands.lookup(&words);
    if let Some(err) = unbalanced {
        // Only commands that read the text as typed accept an unclosed quote.
        if !found.is_some_and(|(entry, _)| entry.spec.raw_text) {
            deliver(shared, origin, error_reply("", &err, &prefix));
            return;
        }
    }
    let Some((entry, used)) = found else {
        if !shared.config.suggest_unknown {
            return;
        }
        let typed = &words[0];
        let mut text = Markup::new()
            .text("Unknown command ")
            .code(format!("{prefix}{typed}"))
            .text(".");
        let found = suggestions(shared, origin, &words);
        if !found.is_empty() {
            text = text.text(" Did you mean ");
            for (i, name) in found.iter().enumerate() {
                if i > 0 {
                    text = text.text(if i + 1 == found.len() { " or " } else { ", " });
                }
                text = text.code(format!("{prefix}{name}"));
            }
            text = text.text("?");
        }
        text = text
            .text(" Type ")
            .code(format!("{prefix}help"))
            .text(" for the list.");
        deliver(shared, origin, Reply::markup(text));
        shared.metrics.command("unknown", "unknown", 0.0);
        return;
    };
    let name = entry.spec.name.clone();
    if !shared.is_enabled(&entry.plugin) {
        deliver(
            shared,
            origin,
            Reply::text(format!(
                "`{prefix}{name}` belongs to the plugin `{}`, which is disabled. A bot admin can enable it with `{prefix}plugins enable {}`.",
                entry.plugin, entry.plugin
            )),
        );
        shared.metrics.command(&name, "disabled", 0.0);
        return;
    }
    let caller = Caller {
        user: &origin.author.id,
        room: &origin.room,
        direct: origin.direct,
    };
    // An alias is checked as the command it stands for, with the stricter of both accesses.
    let access = entry
        .spec
        .alias_of
        .as_ref()
        .and_then(|canonical| shared.commands.by_name.get(canonical))
        .map_or(entry.spec.access, |c| c.spec.access.max(entry.spec.access));
    if let Decision::Deny(reason) = shared.acl.check(entry.spec.acl_name(), access, caller) {
        tracing::info!(command = %name, user = %origin.author.id, room = %origin.room, "command denied");
        deliver(shared, origin, Reply::text(format!("Sorry, {reason}.")));
        shared.metrics.command(&name, "denied", 0.0);
        return;
    }
    let ctx = Ctx {
        plugin: shared.context(&entry.plugin),
        caller: origin.author.clone(),
        room: origin.room.clone(),
        thread: origin.thread.clone(),
        direct: origin.direct,
        admin: shared.acl.is_admin(&origin.author.id),
        command: name.clone(),
        raw_args: raw_args_after(line, used),
        message: origin.message.clone(),
        reply_to: origin.reply_to.clone(),
    };
    let args = words[used..].to_vec();
    let handler = entry.spec.handler.clone();
    let started = Instant::now();
    let timeout = shared.config.command_timeout;
    let task = tokio::spawn(async move { handler.call(ctx, args).await });
    let abort = task.abort_handle();
    let outcome: Result<CommandResult, &'static str> =
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(join)) if join.is_panic() => Err("panicked"),
            Ok(Err(_)) => Err("cancelled"),
            Err(_) => {
                abort.abort();
                Err("timeout")
            }
        };
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(Ok(reply)) => {
            shared.metrics.command(&name, "ok", seconds);
            deliver(shared, origin, reply);
        }
        Ok(Err(err)) => {
            let label = match err.kind() {
                CommandErrorKind::Usage(_) => "usage",
                CommandErrorKind::User { .. } => "user_error",
                CommandErrorKind::Denied(_) => "denied",
                CommandErrorKind::Unsupported(_) => "unsupported",
                CommandErrorKind::Internal(inner) if unsupported_op(inner.as_ref()).is_some() => {
                    "unsupported"
                }
                CommandErrorKind::Internal(_) => "error",
            };
            shared.metrics.command(&name, label, seconds);
            if let CommandErrorKind::Internal(inner) = err.kind()
                && unsupported_op(inner.as_ref()).is_none()
            {
                let id = new_error_id();
                tracing::error!(command = %name, error_id = %id, error = %inner, user = %origin.author.id, "command failed");
                deliver(
                    shared,
                    origin,
                    Reply::text(format!(
                        "Sorry, `{prefix}{name}` failed. The error was logged as {id}."
                    )),
                );
            } else {
                deliver(shared, origin, error_reply(&name, &err, &prefix));
            }
        }
        Err(what) => {
            shared.metrics.command(&name, what, seconds);
            let id = new_error_id();
            let text = if what == "timeout" {
                tracing::warn!(command = %name, error_id = %id, ?timeout, "command timed out");
                format!(
                    "Sorry, `{prefix}{name}` did not finish within {} and was stopped ({id}).",
                    crate::config::duration::format(timeout)
                )
            } else {
                tracing::error!(command = %name, error_id = %id, "command {what}");
                format!("Sorry, `{prefix}{name}` failed. The error was logged as {id}.")
            };
            deliver(shared, origin, Reply::text(text));
        }
    }
}

async fn run_matchers(shared: &Arc<Shared>, origin: &Origin, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    for entry in &shared.plugins {
        if entry.matchers.is_empty() || !shared.is_enabled(&entry.name) {
            continue;
        }
        for (matcher, regex) in &entry.matchers {
            let Some(caps) = regex.captures(text) else {
                continue;
            };
            let caller = Caller {
                user: &origin.author.id,
                room: &origin.room,
                direct: origin.direct,
            };
            if shared
                .acl
                .check(&matcher.name, crate::plugin::Access::Everyone, caller)
                != Decision::Allow
            {
                continue;
            }
            let captures = Captures {
                groups: caps
                    .iter()
                    .map(|m| m.map(|m| m.as_str().to_owned()))
                    .collect(),
                named: regex
                    .capture_names()
                    .flatten()
                    .filter_map(|n| caps.name(n).map(|m| (n.to_owned(), m.as_str().to_owned())))
                    .collect(),
            };
            let ctx = Ctx {
                plugin: shared.context(&entry.name),
                caller: origin.author.clone(),
                room: origin.room.clone(),
                thread: origin.thread.clone(),
                direct: origin.direct,
                admin: shared.acl.is_admin(&origin.author.id),
                command: matcher.name.clone(),
                raw_args: String::new(),
                message: origin.message.clone(),
                reply_to: origin.reply_to.clone(),
            };
            let handler = matcher.handler.clone();
            let task = tokio::spawn(async move { handler(ctx, captures).await });
            match tokio::time::timeout(shared.config.command_timeout, task).await {
                Ok(Ok(Ok(reply))) => deliver(shared, origin, reply),
                Ok(Ok(Err(err))) => {
                    let prefix = shared.config.prefix.clone();
                    if let CommandErrorKind::Internal(inner) = err.kind()
                        && unsupported_op(inner.as_ref()).is_none()
                    {
                        let id = new_error_id();
                        tracing::error!(matcher = %matcher.name, error_id = %id, error = %inner, "matcher failed");
                        deliver(
                            shared,
                            origin,
                            Reply::text(format!(
                                "Sorry, that failed. The error was logged as {id}."
                            )),
                        );
                    } else {
                        deliver(shared, origin, error_reply(&matcher.name, &err, &prefix));
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    tracing::error!(matcher = %matcher.name, "matcher panicked or timed out");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str, direct: bool, mentioned: bool) -> IncomingMessage {
        IncomingMessage {
            id: None,
            room: "test:room".parse().unwrap(),
            thread: None,
            author: Author::from_id("test:alice".parse().unwrap()),
            text: text.to_owned(),
            direct,
            mentioned,
            reply_to: None,
        }
    }

    fn check(config: &BotConfig, text: &str, direct: bool, mentioned: bool) -> Option<String> {
        command_line(config, &msg(text, direct, mentioned)).map(str::to_owned)
    }

    #[test]
    fn finds_the_command_line() {
        let config = BotConfig {
            alt_prefixes: vec![".".into(), "bot ".into()],
            ..BotConfig::default()
        };
        let cases: &[(&str, bool, bool, Option<&str>)] = &[
            ("!help", false, false, Some("help")),
            ("  !help me ", false, false, Some("help me")),
            (".help", false, false, Some("help")),
            ("bot help", false, false, Some("help")),
            ("! help", false, false, None),
            ("hello there", false, false, None),
            ("hello there", true, false, Some("hello there")),
            ("!help", true, false, Some("help")),
            ("help", false, true, Some("help")),
            ("@ferrbot help", false, false, Some("help")),
            ("ferrbot: help", false, false, Some("help")),
            ("FerrBot, help", false, false, Some("help")),
            ("ferrbotty help", false, false, None),
        ];
        for (text, direct, mentioned, want) in cases {
            assert_eq!(
                check(&config, text, *direct, *mentioned).as_deref(),
                *want,
                "{text:?} direct={direct} mentioned={mentioned}"
            );
        }
    }

    #[test]
    fn splits_like_a_shell_and_forgives_smart_quotes() {
        assert_eq!(
            split(r#"incident declare "db down" --sev 1"#).unwrap(),
            ["incident", "declare", "db down", "--sev", "1"]
        );
        assert_eq!(
            split("st2 run “echo hi” on web1").unwrap(),
            ["st2", "run", "echo hi", "on", "web1"]
        );
        assert_eq!(split("say it\u{00A0}now").unwrap(), ["say", "it", "now"]);
        let err = split("say \"unbalanced").unwrap_err().to_string();
        assert!(err.contains("quote is not closed"), "{err}");
    }
}
