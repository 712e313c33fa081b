//! Errors, split by who reads them.
//!
//! A [`CommandError`] becomes a chat reply to the person who typed the command: usage errors
//! show clap's usage, user errors show a message and a hint, denials say who may do it, and
//! internal errors are logged with an id while the user gets a short apology. The other errors
//! here are for operators (start-up, storage, configuration).

use std::fmt;

use crate::backend::BackendError;

/// Why a command did not produce a reply. Shown to the person who typed it.
///
/// Any `std::error::Error` converts into an internal error with `?`, so plugin code can use
/// `?` on storage, HTTP or parse errors; use [`CommandError::user`] for input problems the
/// user can fix.
pub struct CommandError {
    kind: CommandErrorKind,
}

/// The kinds of [`CommandError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CommandErrorKind {
    /// Bad arguments: clap's usage and error text, shown verbatim.
    Usage(String),
    /// A problem with the input that the user can fix.
    User {
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// The caller may not do this.
    Denied(String),
    /// The backend cannot do this (the caller should have degraded).
    Unsupported(&'static str),
    /// Anything else: logged, and the user gets an apology with an error id.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl CommandError {
    /// A problem with the input that the user can fix.
    pub fn user(message: impl Into<String>) -> Self {
        Self {
            kind: CommandErrorKind::User {
                message: message.into(),
                hint: None,
            },
        }
    }

    /// Adds a hint on how to fix the problem (for user errors).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        if let CommandErrorKind::User { hint: h, .. } = &mut self.kind {
            *h = Some(hint.into());
        }
        self
    }

    /// The caller may not do this; `message` should say who may.
    pub fn denied(message: impl Into<String>) -> Self {
        Self {
            kind: CommandErrorKind::Denied(message.into()),
        }
    }

    /// Bad arguments, with usage text.
    pub fn usage(text: impl Into<String>) -> Self {
        Self {
            kind: CommandErrorKind::Usage(text.into()),
        }
    }

    /// An internal failure with a message (logged, not shown).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: CommandErrorKind::Internal(message.into().into()),
        }
    }

    /// Converts a backend error, keeping `Unsupported` distinct.
    pub fn backend(err: BackendError) -> Self {
        match err {
            BackendError::Unsupported { op } => Self {
                kind: CommandErrorKind::Unsupported(op),
            },
            other => Self {
                kind: CommandErrorKind::Internal(Box::new(other)),
            },
        }
    }

    /// The kind, for callers that render it.
    pub fn kind(&self) -> &CommandErrorKind {
        &self.kind
    }
}

impl<E> From<E> for CommandError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        Self {
            kind: CommandErrorKind::Internal(Box::new(err)),
        }
    }
}

impl fmt::Debug for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.kind, f)
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CommandErrorKind::Usage(text) => f.write_str(text.trim_end()),
            CommandErrorKind::User { message, hint } => {
                f.write_str(message)?;
                if let Some(hint) = hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            CommandErrorKind::Denied(message) => f.write_str(message),
            CommandErrorKind::Unsupported(op) => {
                write!(f, "this chat network does not support `{op}`")
            }
            CommandErrorKind::Internal(err) => write!(f, "internal error: {err}"),
        }
    }
}

/// The result type of commands.
pub type CommandResult<T = crate::message::Reply> = Result<T, CommandError>;

/// A failure while building or starting the bot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Storage could not be opened or migrated.
    #[error("storage: {0}")]
    Storage(#[from] crate::store::StoreError),
    /// Two plugins declare the same command.
    #[error("command `{command}` is declared by both `{first}` and `{second}`")]
    DuplicateCommand {
        /// The command.
        command: String,
        /// The plugin that declared it first.
        first: String,
        /// The plugin that declared it again.
        second: String,
    },
    /// Two plugins or backends have the same name.
    #[error("two {what} are named `{name}`")]
    DuplicateName {
        /// "plugins" or "backends".
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A matcher's or ACL's pattern is invalid.
    #[error("invalid pattern `{pattern}`: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// The web server could not listen.
    #[error("web server cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A plugin failed to start.
    #[error("plugin `{plugin}` failed to start: {reason}")]
    Plugin {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
}

/// A problem in a configuration section, reported by factories.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// What is wrong, naming the key.
    pub message: String,
}

impl ConfigError {
    /// A configuration problem.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
