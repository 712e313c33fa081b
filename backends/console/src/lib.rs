//! `ferrbot-backend-console`: chat on stdin and stdout, the embedded default backend.
//!
//! Each line read is a message from `console:<user>` in the room `console:<room>`; replies are
//! printed to stdout (cards as readable text, colour only on a terminal). With piped input it
//! handles every line in order, waits for each line's replies, and reports the end of input so
//! the bot shuts down and exits 0. On a terminal it is a REPL with line editing and history.
//!
//! It depends on the core only; it knows no other backend and no plugin.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrbot::backend::{BackendEvent, Capabilities, ConnectionState};
use ferrbot::markup::{Markup, Span};
use ferrbot::message::{Author, IncomingMessage, Level, OutgoingMessage, actions_as_text};
use ferrbot::registry::BackendSetup;
use ferrbot::{Backend, BackendError, Inbox, MessageId, RoomId, Target, UserId};
use serde::Deserialize;
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

/// `[backends.console]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// The user you are (`console:<user>`); `$USER` by default.
    pub user: Option<String>,
    /// The room you are in (`console:<room>`); `console` by default.
    pub room: Option<String>,
    /// Where the REPL keeps its history; none when absent.
    pub history_file: Option<PathBuf>,
    /// Force colour on or off (default: on when stdout is a terminal).
    pub color: Option<bool>,
    /// Force the REPL on or off (default: on when stdin is a terminal).
    pub interactive: Option<bool>,
}

/// Where output goes: stdout, or a buffer in tests.
pub type Output = Arc<Mutex<Box<dyn Write + Send>>>;

/// The console backend.
pub struct ConsoleBackend {
    name: String,
    user: Author,
    room: RoomId,
    prefix: String,
    color: bool,
    interactive: bool,
    history: Option<PathBuf>,
    out: Output,
    last_output: Mutex<Instant>,
    counter: std::sync::atomic::AtomicU64,
}

fn invalid(e: impl std::fmt::Display) -> ferrbot::error::ConfigError {
    ferrbot::error::ConfigError::new(e.to_string())
}

impl ConsoleBackend {
    /// Builds the backend from `[backends.<name>]`, writing to stdout.
    ///
    /// # Errors
    /// When the section has unknown keys or an invalid user or room name.
    pub fn from_setup(setup: &BackendSetup) -> Result<Self, ferrbot::error::ConfigError> {
        let config: ConsoleConfig = setup
            .config
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message()))?;
        let out: Output = Arc::new(Mutex::new(Box::new(std::io::stdout())));
        Self::new(&setup.name, &config, &setup.prefix, out)
    }

    /// Builds the backend with an explicit output.
    ///
    /// # Errors
    /// When the user or room name is not a valid id.
    pub fn new(
        name: &str,
        config: &ConsoleConfig,
        prefix: &str,
        out: Output,
    ) -> Result<Self, ferrbot::error::ConfigError> {
        let user_name = config
            .user
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "user".to_owned());
        let user = UserId::new(name, user_name.trim()).map_err(invalid)?;
        let room =
            RoomId::new(name, config.room.as_deref().unwrap_or("console")).map_err(invalid)?;
        Ok(Self {
            name: name.to_owned(),
            user: Author {
                display_name: user.local().to_owned(),
                id: user,
            },
            room,
            prefix: prefix.to_owned(),
            color: config
                .color
                .unwrap_or_else(|| std::io::stdout().is_terminal()),
            interactive: config
                .interactive
                .unwrap_or_else(|| std::io::stdin().is_terminal()),
            history: config.history_file.clone(),
            out,
            last_output: Mutex::new(Instant::now()),
            counter: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The user lines come from.
    pub fn user(&self) -> &UserId {
        &self.user.id
    }

    fn message(&self, text: String) -> IncomingMessage {
        IncomingMessage {
            id: None,
            room: self.room.clone(),
            thread: None,
            author: self.user.clone(),
            text,
            direct: false,
            mentioned: false,
            reply_to: None,
        }
    }

    async fn submit_and_wait(&self, inbox: &Inbox, line: String) -> bool {
        let Ok(done) = inbox
            .submit(BackendEvent::Message(self.message(line)))
            .await
        else {
            return false;
        };
        done.wait().await;
        true
    }

    async fn run_piped(&self, inbox: &Inbox, shutdown: &CancellationToken) {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            let line = tokio::select! {
                () = shutdown.cancelled() => return,
                line = lines.next_line() => line,
            };
            match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => {
                    if !self.submit_and_wait(inbox, line).await {
                        return;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::error!(error = %err, "cannot read standard input");
                    break;
                }
            }
        }
        let _ = inbox.submit(BackendEvent::EndOfInput).await;
    }

    async fn run_repl(&self, inbox: &Inbox, shutdown: &CancellationToken) {
        let (line_tx, mut line_rx) = tokio::sync::mpsc::channel::<Option<String>>(1);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let history = self.history.clone();
        let prompt = format!("{}> ", self.user.id.local());
        std::thread::spawn(move || {
            let Ok(mut editor) = rustyline::DefaultEditor::new() else {
                let _ = line_tx.blocking_send(None);
                return;
            };
            if let Some(path) = &history {
                let _ = editor.load_history(path);
            }
            loop {
                match editor.readline(&prompt) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                            if let Some(path) = &history {
                                let _ = editor.save_history(path);
                            }
                        }
                        if line_tx.blocking_send(Some(line)).is_err() || ready_rx.recv().is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = line_tx.blocking_send(None);
                        return;
                    }
                }
            }
        });
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => return,
                next = line_rx.recv() => next,
            };
            let Some(Some(line)) = next else { break };
            if !line.trim().is_empty() {
                if !self.submit_and_wait(inbox, line).await {
                    return;
                }
                self.wait_for_quiet_output().await;
            }
            if ready_tx.send(()).is_err() {
                break;
            }
        }
        let _ = inbox.submit(BackendEvent::EndOfInput).await;
    }

    /// Lets the replies of a line be printed before the next prompt.
    async fn wait_for_quiet_output(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let last = *self
                .last_output
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.elapsed() >= Duration::from_millis(60) {
                return;
            }
        }
    }

    fn style(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn render_markup(&self, markup: &Markup) -> String {
        if !self.color {
            return markup.to_plain();
        }
        let mut out = String::new();
        for span in markup.spans() {
            match span {
                Span::Bold { inner } => out.push_str(&self.style("1", &self.render_markup(inner))),
                Span::Italic { inner } => {
                    out.push_str(&self.style("3", &self.render_markup(inner)))
                }
                Span::Code { code } => out.push_str(&self.style("36", code)),
                Span::CodeBlock { code, .. } => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    for line in code.lines() {
                        out.push_str(&self.style("36", &format!("    {line}")));
                        out.push('\n');
                    }
                }
                other => out.push_str(&Markup::new().push(other.clone()).to_plain()),
            }
        }
        out
    }

    /// Renders a message as the console shows it.
    pub fn render(&self, target: &Target, message: &OutgoingMessage) -> String {
        let mut out = self.render_markup(&message.text);
        if let Some(card) = &message.card {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            let colour = match card.level {
                Level::Critical | Level::Error => "31",
                Level::Warning => "33",
                Level::Success => "32",
                Level::Info => "34",
                _ => "0",
            };
            let plain = card.to_plain();
            let mut lines = plain.lines();
            if let Some(title) = lines.next() {
                out.push_str(&self.style(&format!("1;{colour}"), title));
                out.push('\n');
            }
            for line in lines {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        if !message.actions.is_empty() {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&actions_as_text(&message.actions, &self.prefix));
        }
        let out = out.trim_end_matches('\n').to_owned();
        match target {
            Target::Room { room, thread } => {
                let mut tag = String::new();
                if *room != self.room {
                    tag.push_str(&format!("[{}] ", room.local()));
                }
                if let Some(thread) = thread {
                    tag.push_str(&format!("[thread {}] ", thread.local()));
                }
                format!("{tag}{out}")
            }
            Target::Direct { user } => format!("[private to {}] {out}", user.local()),
        }
    }
}

#[async_trait]
impl Backend for ConsoleBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            direct_messages: true,
            // One terminal, no rooms to create or rename.
            rename_rooms: false,
            max_message_len: usize::MAX,
            ..Capabilities::minimal()
        }
    }

    async fn run(&self, inbox: Inbox, shutdown: CancellationToken) -> Result<(), BackendError> {
        inbox.connection(ConnectionState::Connected).await;
        if self.interactive {
            self.run_repl(&inbox, &shutdown).await;
        } else {
            self.run_piped(&inbox, &shutdown).await;
        }
        Ok(())
    }

    async fn send(
        &self,
        target: &Target,
        message: &OutgoingMessage,
    ) -> Result<MessageId, BackendError> {
        let text = self.render(target, message);
        {
            let mut out = self
                .out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            writeln!(out, "{text}")
                .and_then(|()| out.flush())
                .map_err(|e| BackendError::rejected(format!("cannot write to the console: {e}")))?;
        }
        *self
            .last_output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        MessageId::new(&self.name, &n.to_string())
            .map_err(|e| BackendError::rejected(e.to_string()))
    }

    /// The person at the console owns it: they administer its room, nobody else does.
    async fn is_room_admin(&self, room: &RoomId, user: &UserId) -> Result<bool, BackendError> {
        Ok(*room == self.room && *user == self.user.id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferrbot::message::{Action, Card};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn backend(color: bool) -> (ConsoleBackend, Buf) {
        let buf = Buf::default();
        let config = ConsoleConfig {
            user: Some("alice".into()),
            color: Some(color),
            interactive: Some(false),
            ..Default::default()
        };
        let out: Output = Arc::new(Mutex::new(Box::new(buf.clone())));
        (
            ConsoleBackend::new("console", &config, "!", out).unwrap(),
            buf,
        )
    }

    #[tokio::test]
    async fn the_console_user_administers_the_console_room_only() {
        let (console, _) = backend(false);
        let room: RoomId = "console:console".parse().unwrap();
        let alice: UserId = "console:alice".parse().unwrap();
        let bob: UserId = "console:bob".parse().unwrap();
        assert!(console.is_room_admin(&room, &alice).await.unwrap());
        assert!(!console.is_room_admin(&room, &bob).await.unwrap());
        let other: RoomId = "console:ops".parse().unwrap();
        assert!(!console.is_room_admin(&other, &alice).await.unwrap());
    }

    #[tokio::test]
    async fn rooms_cannot_be_renamed() {
        let (console, buf) = backend(false);
        assert!(!console.capabilities().rename_rooms);
        let room: RoomId = "console:console".parse().unwrap();
        let err = console.rename_room(&room, "ops").await.unwrap_err();
        assert!(
            matches!(err, BackendError::Unsupported { op: "rename_room" }),
            "{err}"
        );
        assert!(buf.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn prints_cards_and_actions_as_readable_text() {
        let (console, buf) = backend(false);
        let msg = OutgoingMessage::new(Markup::new().bold("Deploy").text(" queued"))
            .with_card(
                Card::new("Deploy 42")
                    .level(Level::Warning)
                    .field("Env", "prod"),
            )
            .with_action(Action::new("Approve", "deploy approve 42"));
        let room = Target::room("console:console".parse().unwrap());
        console.send(&room, &msg).await.unwrap();
        let thread = Target::thread(
            "console:ops".parse().unwrap(),
            "console:t1".parse().unwrap(),
        );
        console
            .send(&thread, &OutgoingMessage::new("in a thread"))
            .await
            .unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "Deploy queued\n[warning] Deploy 42\n  Env: prod\nActions — Approve: !deploy approve 42\n[ops] [thread t1] in a thread\n"
        );
    }

    #[tokio::test]
    async fn colour_only_when_asked() {
        let (console, buf) = backend(true);
        let room = Target::room("console:console".parse().unwrap());
        console
            .send(&room, &OutgoingMessage::new(Markup::new().bold("hi")))
            .await
            .unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "\x1b[1mhi\x1b[0m\n");
    }

    #[test]
    fn rejects_a_bad_user_name() {
        let config = ConsoleConfig {
            user: Some(String::new()),
            ..Default::default()
        };
        let out: Output = Arc::new(Mutex::new(Box::new(std::io::sink())));
        // An empty name falls back to $USER or "user", never an invalid id.
        let console = ConsoleBackend::new("console", &config, "!", out).unwrap();
        assert!(!console.user().local().is_empty());
    }
}
