//! The [`Plugin`] trait, its [`Manifest`], and typed [`Command`]s.
//!
//! A plugin declares its commands in a manifest. A command is a `clap::Parser` struct — the
//! declaration and the parser at once — whose doc comments are its help; clap's usage and errors
//! become the chat reply. The manifest is plain data plus handlers, so it can also describe a
//! plugin that lives behind a C ABI or in another process.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use regex::Regex;

use crate::backend::MessageEvent;
use crate::context::{Ctx, PluginContext};
use crate::error::{CommandError, CommandResult};
use crate::message::Reply;

/// Who may run a command by default (access rules in config can narrow it further).
/// Ordered from the widest to the narrowest.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Anyone the access rules allow.
    #[default]
    Everyone,
    /// Bot admins only.
    Admins,
}

/// A command with typed arguments.
///
/// ```
/// use ferrbot::prelude::*;
///
/// /// Say hello.
/// #[derive(clap::Parser)]
/// #[command(name = "hello")]
/// struct Hello {
///     /// Who to greet.
///     name: String,
/// }
///
/// impl Command for Hello {
///     async fn run(self, _ctx: &Ctx) -> CommandResult {
///         Ok(Reply::text(format!("Hello, {}!", self.name)))
///     }
/// }
/// ```
pub trait Command: clap::Parser + Send + 'static {
    /// Who may run it by default.
    const ACCESS: Access = Access::Everyone;

    /// Runs the command.
    fn run(self, ctx: &Ctx) -> impl Future<Output = CommandResult> + Send;
}

/// Runs a command with its split arguments (everything after the command's name).
#[async_trait]
pub trait CommandHandler: Send + Sync + 'static {
    /// Handles one invocation.
    async fn call(&self, ctx: Ctx, args: Vec<String>) -> CommandResult;

    /// The same handler under another command name (so usage and errors show the new name),
    /// or `None` when the handler does not print its name.
    fn renamed(&self, _name: &str) -> Option<Arc<dyn CommandHandler>> {
        None
    }
}

/// One command a plugin offers.
#[derive(Clone)]
pub struct CommandSpec {
    pub(crate) name: String,
    pub(crate) about: String,
    pub(crate) help: String,
    pub(crate) access: Access,
    pub(crate) hidden: bool,
    pub(crate) raw_text: bool,
    pub(crate) alias_of: Option<String>,
    pub(crate) handler: Arc<dyn CommandHandler>,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSpec")
            .field("name", &self.name)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

fn chat_command(cmd: clap::Command, name: &str) -> clap::Command {
    cmd.name(name.to_owned())
        .bin_name(name.to_owned())
        .color(clap::ColorChoice::Never)
        .disable_colored_help(true)
        .disable_version_flag(true)
        .max_term_width(100)
}

fn normalise_name(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

struct TypedHandler<A, F> {
    cmd: clap::Command,
    run: Arc<F>,
    _args: std::marker::PhantomData<fn() -> A>,
}

/// Parses `args` with clap; `Ok(Err(reply))` is help output that should be shown as is.
fn parse_args<A: clap::FromArgMatches>(
    cmd: &clap::Command,
    args: Vec<String>,
) -> Result<Result<A, Reply>, CommandError> {
    let argv = std::iter::once(cmd.get_name().to_owned()).chain(args);
    match cmd.clone().try_get_matches_from(argv) {
        Ok(mut matches) => A::from_arg_matches_mut(&mut matches)
            .map(Ok)
            .map_err(|e| CommandError::usage(e.render().to_string())),
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            | clap::error::ErrorKind::DisplayVersion => Ok(Err(Reply::markup(
                crate::markup::Markup::new().code_block(None, e.render().to_string().trim_end()),
            ))),
            _ => Err(CommandError::usage(e.render().to_string())),
        },
    }
}

#[async_trait]
impl<A, F, Fut> CommandHandler for TypedHandler<A, F>
where
    A: clap::FromArgMatches + Send + 'static,
    F: Fn(A, Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CommandResult> + Send + 'static,
{
    async fn call(&self, ctx: Ctx, args: Vec<String>) -> CommandResult {
        match parse_args::<A>(&self.cmd, args)? {
            Ok(parsed) => (self.run)(parsed, ctx).await,
            Err(help) => Ok(help),
        }
    }

    fn renamed(&self, name: &str) -> Option<Arc<dyn CommandHandler>> {
        Some(Arc::new(TypedHandler::<A, F> {
            cmd: chat_command(self.cmd.clone(), name),
            run: self.run.clone(),
            _args: std::marker::PhantomData,
        }))
    }
}

struct RawHandler<F>(F);

#[async_trait]
impl<F, Fut> CommandHandler for RawHandler<F>
where
    F: Fn(Ctx, Vec<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CommandResult> + Send + 'static,
{
    async fn call(&self, ctx: Ctx, args: Vec<String>) -> CommandResult {
        (self.0)(ctx, args).await
    }
}

impl CommandSpec {
    /// A command from a [`Command`] type; its name is clap's command name.
    pub fn typed<C: Command>() -> Self {
        let cmd = C::command();
        let name = cmd.get_name().to_owned();
        Self::from_parts::<C, _, _>(cmd, &name, C::ACCESS, |args: C, ctx: Ctx| async move {
            args.run(&ctx).await
        })
    }

    /// A command whose arguments are parsed into `A` and handled by a closure, for plugins
    /// whose handlers need the plugin's own state (capture it in the closure).
    pub fn from_fn<A, F, Fut>(handler: F) -> Self
    where
        A: clap::Parser + Send + 'static,
        F: Fn(A, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandResult> + Send + 'static,
    {
        let cmd = A::command();
        let name = cmd.get_name().to_owned();
        Self::from_parts::<A, _, _>(cmd, &name, Access::Everyone, handler)
    }

    /// A command that takes its arguments as split words, with its own name and help.
    pub fn raw<F, Fut>(name: &str, about: &str, handler: F) -> Self
    where
        F: Fn(Ctx, Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandResult> + Send + 'static,
    {
        let name = normalise_name(name);
        Self {
            help: format!("{about}\n\nUsage: {name} [ARGS]..."),
            about: about.to_owned(),
            name,
            access: Access::Everyone,
            hidden: false,
            raw_text: false,
            alias_of: None,
            handler: Arc::new(RawHandler(handler)),
        }
    }

    fn from_parts<A, F, Fut>(cmd: clap::Command, name: &str, access: Access, run: F) -> Self
    where
        A: clap::FromArgMatches + Send + 'static,
        F: Fn(A, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandResult> + Send + 'static,
    {
        let name = normalise_name(name);
        let mut cmd = chat_command(cmd, &name);
        let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
        let help = cmd.render_long_help().to_string();
        Self {
            name,
            about,
            help,
            access,
            hidden: false,
            raw_text: false,
            alias_of: None,
            handler: Arc::new(TypedHandler {
                cmd,
                run: Arc::new(run),
                _args: std::marker::PhantomData,
            }),
        }
    }

    /// Renames the command (several words make a sub-command: `st2 session start`).
    pub fn named(mut self, name: &str) -> Self {
        let old = self.name.clone();
        self.name = normalise_name(name);
        self.help = self.help.replacen(&old, &self.name, 2);
        if let Some(handler) = self.handler.renamed(&self.name) {
            self.handler = handler;
        }
        self
    }

    /// Sets who may run it by default.
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Hides it from `help` (it still runs, e.g. as an alias).
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Marks it as reading the text as typed ([`Ctx::raw_args`](crate::Ctx::raw_args)): quotes,
    /// backslashes and line breaks reach the handler unchanged, and an unclosed quote is not
    /// refused (the split words are then plain whitespace-separated words).
    pub fn raw_text(mut self) -> Self {
        self.raw_text = true;
        self
    }

    /// Marks it as another name for `command` (`inc resolve` for `incident resolve`):
    /// `[[bot.acl]]` rules and the `Admins` access of `command` then apply to this name too,
    /// so an alias never gets around a rule written for the command it stands for.
    pub fn alias_of(mut self, command: &str) -> Self {
        self.alias_of = Some(normalise_name(command));
        self
    }

    /// The name access rules are checked against: the command it is an alias of, or its own.
    pub fn acl_name(&self) -> &str {
        self.alias_of.as_deref().unwrap_or(&self.name)
    }

    /// The command's name (`st2 auth`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One line of help.
    pub fn about(&self) -> &str {
        &self.about
    }

    /// The full help, with usage.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// Who may run it by default.
    pub fn default_access(&self) -> Access {
        self.access
    }
}

/// What a matcher handler receives: the regex captures of a message.
#[derive(Clone, Debug)]
pub struct Captures {
    /// Capture groups by position (0 is the whole match).
    pub groups: Vec<Option<String>>,
    /// Named capture groups.
    pub named: std::collections::BTreeMap<String, String>,
}

type MatchFn = dyn Fn(Ctx, Captures) -> BoxFuture<'static, CommandResult> + Send + Sync;

/// A regular expression run on every message that is not a command (like Errbot's
/// `re_botcmd`/`botmatch`).
#[derive(Clone)]
pub struct MatcherSpec {
    pub(crate) name: String,
    pub(crate) regex: Result<Regex, String>,
    pub(crate) handler: Arc<MatchFn>,
}

impl MatcherSpec {
    /// A matcher named `name` (used in access rules) for `regex`.
    pub fn new<F, Fut>(name: &str, regex: Regex, handler: F) -> Self
    where
        F: Fn(Ctx, Captures) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandResult> + Send + 'static,
    {
        Self {
            name: name.to_owned(),
            regex: Ok(regex),
            handler: Arc::new(move |ctx, caps| Box::pin(handler(ctx, caps))),
        }
    }

    /// A matcher from a pattern; an invalid pattern stops the bot from starting, with the
    /// pattern and the reason (so `manifest()` needs no error handling).
    pub fn pattern<F, Fut>(name: &str, pattern: &str, handler: F) -> Self
    where
        F: Fn(Ctx, Captures) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandResult> + Send + 'static,
    {
        Self {
            name: name.to_owned(),
            regex: Regex::new(pattern).map_err(|e| format!("{pattern}\u{0}{e}")),
            handler: Arc::new(move |ctx, caps| Box::pin(handler(ctx, caps))),
        }
    }
}

/// What a plugin offers: its name, version, description, commands and matchers.
#[derive(Clone)]
pub struct Manifest {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) commands: Vec<CommandSpec>,
    pub(crate) matchers: Vec<MatcherSpec>,
}

impl Manifest {
    /// A manifest for plugin `name` at `version`.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            description: String::new(),
            commands: Vec::new(),
            matchers: Vec::new(),
        }
    }

    /// Sets the one-line description.
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// Adds a typed command.
    pub fn command<C: Command>(self) -> Self {
        self.command_spec(CommandSpec::typed::<C>())
    }

    /// Adds a command described by a [`CommandSpec`].
    pub fn command_spec(mut self, spec: CommandSpec) -> Self {
        self.commands.push(spec);
        self
    }

    /// Adds a matcher.
    pub fn matcher(mut self, matcher: MatcherSpec) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The commands.
    pub fn commands(&self) -> &[CommandSpec] {
        &self.commands
    }
}

/// A failure inside a plugin's start-up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PluginError(pub String);

/// A plugin: commands, background work, HTTP routes and message matchers.
///
/// Held as `Arc<dyn Plugin>` by the bot. Every call runs isolated: a panic in a command,
/// route or job is caught and logged, and never takes the daemon down.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// What the plugin offers. Called once, when the bot is built.
    fn manifest(&self) -> Manifest;

    /// Starts background work (streams, pollers, scheduled jobs). Called once at start-up,
    /// after storage is ready and before messages are dispatched. Spawn long-running work
    /// with [`PluginContext::spawn`] so it stops at shutdown.
    async fn start(&self, _ctx: PluginContext) -> Result<(), PluginError> {
        Ok(())
    }

    /// HTTP routes, mounted under `/plugins/<name>/` on the bot's web server.
    fn routes(&self, _ctx: PluginContext) -> Option<axum::Router> {
        None
    }

    /// Routes at fixed paths outside `/plugins/<name>/`, for compatibility with the URLs of
    /// the tools a plugin replaces (err-stackstorm's `/chatops/message`). Each is `(path,
    /// handlers)`. The web server refuses, with a logged error, a path under `/plugins/` or
    /// `/backends/`, one of its own (`/healthz`, `/readyz`, `/metrics`) or one another plugin
    /// already took. Like [`Plugin::routes`], they answer 503 while the plugin is disabled.
    fn root_routes(&self, _ctx: PluginContext) -> Vec<(String, axum::routing::MethodRouter)> {
        Vec::new()
    }

    /// Called when a backend reports a pin, reaction, edit or deletion.
    async fn on_message_event(&self, _ctx: PluginContext, _event: MessageEvent) {}
}
