//! The `!incident …` commands (alias `!inc …`), one multi-word command each so that
//! `[[bot.acl]]` rules can name any of them.
//!
//! The core's shell-like splitter treats a word starting with `#` as a comment (so
//! `!inc status #42` would lose `#42`). These commands therefore read the text as typed
//! ([`Ctx::raw_args`]) and split it here, keeping `#`. A leading `#42` or `inc-42` names the
//! incident for every command (`!inc note #42 rolled back`).

use std::future::Future;
use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::markup::Markup;
use ferrbot::message::Reply;
use ferrbot::plugin::CommandSpec;
use jiff::Timestamp;
use sqlx::AnyConnection;

use crate::config::Config;
use crate::model::{Incident, Participant, RoleAssignment};
use crate::policy::{Caller, check_edit};
use crate::reference::{self, RefError};
use crate::store::{self, IncidentStore};
use crate::util::time::{format_ts, parse_when};

pub mod ack;
pub mod edit;
pub mod lifecycle;
pub mod links;
pub mod remind;
pub mod rooms;
pub mod subscribe;
pub mod view;
pub mod work;

/// What every command shares: the validated config.
#[derive(Debug)]
pub struct App {
    /// The config.
    pub config: Config,
}

/// `--incident`, shared by commands that act on one incident.
#[derive(clap::Args, Debug, Default)]
pub struct Target {
    /// The incident (42, #42 or inc-42); default: this room's incident or focus.
    #[arg(short = 'i', long = "incident", value_name = "REF")]
    pub incident: Option<String>,
}

/// Splits a command line like a shell (quotes group, backslash escapes) but keeps `#`, and
/// an apostrophe inside a word (`it's`) is plain text.
///
/// # Errors
/// When a quote is not closed.
pub fn split(line: &str) -> Result<Vec<String>, CommandError> {
    let line = ferrbot::dispatch::normalise_text(line);
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => match chars.next() {
                Some(n @ ('"' | '\\')) => word.push(n),
                Some(n) => {
                    word.push('\\');
                    word.push(n);
                }
                None => word.push('\\'),
            },
            (Some(_), c) => word.push(c),
            (None, '"') => {
                quote = Some(c);
                in_word = true;
            }
            // An apostrophe inside a word (`it's`) is text, not a quote.
            (None, '\'') if !in_word => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(
            CommandError::user("I could not read that command: a quote is not closed")
                .with_hint("close every \" and ', or escape them with \\"),
        );
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Rewrites a leading `#42`/`inc-42` into `--incident`, and `--sev<=N` into `--max-sev N`.
fn prepare(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len() + 2);
    for (i, w) in words.into_iter().enumerate() {
        if i == 0 && reference::is_explicit(&w) {
            out.push("--incident".to_owned());
            out.push(w);
        } else if let Some(n) = w.strip_prefix("--sev<=") {
            out.push("--max-sev".to_owned());
            out.push(n.to_owned());
        } else {
            out.push(w);
        }
    }
    out
}

fn clap_command<A: clap::CommandFactory>(name: &str) -> clap::Command {
    A::command()
        .name(name.to_owned())
        .bin_name(name.to_owned())
        .color(clap::ColorChoice::Never)
        .disable_colored_help(true)
        .disable_version_flag(true)
        .max_term_width(100)
}

fn parse<A: clap::Parser>(name: &str, raw: &str) -> Result<Result<A, Reply>, CommandError> {
    let words = prepare(split(raw)?);
    let argv = std::iter::once(name.to_owned()).chain(words);
    match clap_command::<A>(name).try_get_matches_from(argv) {
        Ok(mut m) => A::from_arg_matches_mut(&mut m)
            .map(Ok)
            .map_err(|e| CommandError::usage(e.render().to_string())),
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Ok(Err(
                Reply::markup(Markup::new().code_block(None, e.render().to_string().trim_end())),
            )),
            _ => Err(CommandError::usage(e.render().to_string())),
        },
    }
}

/// Registers `incident <name>` plus the hidden `inc <name>` and aliases.
pub(crate) fn specs_for<A, F, Fut>(
    app: &Arc<App>,
    name: &str,
    aliases: &[&str],
    handler: F,
) -> Vec<CommandSpec>
where
    A: clap::Parser + Send + 'static,
    F: Fn(Arc<App>, A, Ctx) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = CommandResult> + Send + 'static,
{
    let about = clap_command::<A>(name)
        .get_about()
        .map(ToString::to_string)
        .unwrap_or_default();
    let canonical = format!("incident {name}").trim().to_owned();
    let mut names = vec![(canonical.clone(), false)];
    names.push((format!("inc {name}").trim().to_owned(), true));
    for alias in aliases {
        names.push((format!("incident {alias}"), true));
        names.push((format!("inc {alias}"), true));
    }
    names
        .into_iter()
        .map(|(full, hidden)| {
            let app = app.clone();
            let handler = handler.clone();
            let shown = full.clone();
            let spec = CommandSpec::raw(&full, &about, move |ctx: Ctx, _words| {
                let app = app.clone();
                let handler = handler.clone();
                let shown = shown.clone();
                async move {
                    match parse::<A>(&shown, ctx.raw_args())? {
                        Ok(args) => handler(app, args, ctx).await,
                        Err(help) => Ok(help),
                    }
                }
            })
            .raw_text();
            if hidden {
                // `inc resolve` obeys the access rules written for `incident resolve`.
                spec.hidden().alias_of(&canonical)
            } else {
                spec
            }
        })
        .collect()
}

/// Every command of the plugin.
pub fn specs(app: &Arc<App>) -> Vec<CommandSpec> {
    let mut all = Vec::new();
    all.extend(lifecycle::specs(app));
    all.extend(edit::specs(app));
    all.extend(ack::specs(app));
    all.extend(work::specs(app));
    all.extend(links::specs(app));
    all.extend(subscribe::specs(app));
    all.extend(view::specs(app));
    all.extend(remind::specs(app));
    all.extend(rooms::specs(app));
    all
}

type Factory = fn() -> clap::Command;

/// Every shown command with its clap definition, for `incident help`.
const HELP: &[(&str, Factory)] = &[
    (
        "declare",
        <lifecycle::Declare as clap::CommandFactory>::command,
    ),
    ("status", <view::Status as clap::CommandFactory>::command),
    ("list", <view::List as clap::CommandFactory>::command),
    (
        "stable",
        <lifecycle::Stable as clap::CommandFactory>::command,
    ),
    (
        "resolve",
        <lifecycle::Resolve as clap::CommandFactory>::command,
    ),
    (
        "reopen",
        <lifecycle::Reopen as clap::CommandFactory>::command,
    ),
    ("ack", <ack::AckCmd as clap::CommandFactory>::command),
    ("unack", <ack::Unack as clap::CommandFactory>::command),
    ("title", <edit::Title as clap::CommandFactory>::command),
    ("summary", <edit::Summary as clap::CommandFactory>::command),
    ("impact", <edit::Impact as clap::CommandFactory>::command),
    (
        "resolution",
        <edit::Resolution as clap::CommandFactory>::command,
    ),
    (
        "severity",
        <edit::SeverityCmd as clap::CommandFactory>::command,
    ),
    ("tag add", <edit::TagAdd as clap::CommandFactory>::command),
    ("tag rm", <edit::TagRm as clap::CommandFactory>::command),
    ("tags", <edit::Tags as clap::CommandFactory>::command),
    ("lead", <edit::Lead as clap::CommandFactory>::command),
    ("handoff", <links::Handoff as clap::CommandFactory>::command),
    ("ticket", <links::Ticket as clap::CommandFactory>::command),
    (
        "review",
        <links::ReviewCmd as clap::CommandFactory>::command,
    ),
    ("private", <links::Private as clap::CommandFactory>::command),
    (
        "subscribe",
        <subscribe::Subscribe as clap::CommandFactory>::command,
    ),
    (
        "unsubscribe",
        <subscribe::Unsubscribe as clap::CommandFactory>::command,
    ),
    (
        "subscriptions",
        <subscribe::Subscriptions as clap::CommandFactory>::command,
    ),
    ("role", <edit::Role as clap::CommandFactory>::command),
    ("roles", <edit::Roles as clap::CommandFactory>::command),
    ("note", <work::Note as clap::CommandFactory>::command),
    (
        "timeline",
        <work::Timeline as clap::CommandFactory>::command,
    ),
    (
        "timeline edit",
        <work::TimelineEdit as clap::CommandFactory>::command,
    ),
    (
        "timeline rm",
        <work::TimelineRm as clap::CommandFactory>::command,
    ),
    (
        "timeline star",
        <work::TimelineStar as clap::CommandFactory>::command,
    ),
    ("task add", <work::TaskAdd as clap::CommandFactory>::command),
    (
        "task list",
        <work::TaskList as clap::CommandFactory>::command,
    ),
    (
        "task done",
        <work::TaskDone as clap::CommandFactory>::command,
    ),
    (
        "task reopen",
        <work::TaskReopen as clap::CommandFactory>::command,
    ),
    (
        "task assign",
        <work::TaskAssign as clap::CommandFactory>::command,
    ),
    ("update", <work::Update as clap::CommandFactory>::command),
    ("join", <work::Join as clap::CommandFactory>::command),
    ("invite", <rooms::Invite as clap::CommandFactory>::command),
    ("room", <rooms::RoomCmd as clap::CommandFactory>::command),
    ("rename", <rooms::Rename as clap::CommandFactory>::command),
    ("pin", <rooms::Pin as clap::CommandFactory>::command),
    ("leave", <work::Leave as clap::CommandFactory>::command),
    (
        "participants",
        <work::Participants as clap::CommandFactory>::command,
    ),
    ("focus", <work::Focus as clap::CommandFactory>::command),
    (
        "duration",
        <view::Duration as clap::CommandFactory>::command,
    ),
    ("report", <view::Report as clap::CommandFactory>::command),
    ("stats", <view::Stats as clap::CommandFactory>::command),
    ("snooze", <remind::Snooze as clap::CommandFactory>::command),
    ("help", <view::Help as clap::CommandFactory>::command),
];

fn styled(name: &str, factory: Factory) -> clap::Command {
    let full = format!("incident {name}");
    factory()
        .name(full.clone())
        .bin_name(full)
        .color(clap::ColorChoice::Never)
        .disable_colored_help(true)
        .disable_version_flag(true)
        .max_term_width(100)
}

/// One command's full help (`declare`, `task add`).
pub(crate) fn help_for(topic: &str) -> Option<String> {
    let topic = topic
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    HELP.iter()
        .find(|(name, _)| *name == topic)
        .map(|(name, f)| styled(name, *f).render_long_help().to_string())
}

/// Every command with its one-line help.
pub(crate) fn overview() -> Vec<(String, String)> {
    HELP.iter()
        .map(|(name, f)| {
            let about = styled(name, *f)
                .get_about()
                .map(ToString::to_string)
                .unwrap_or_default();
            ((*name).to_owned(), about)
        })
        .collect()
}

/// The caller's id as stored.
pub(crate) fn who(ctx: &Ctx) -> String {
    ctx.caller().id.to_string()
}

/// The caller as the policy sees them.
pub(crate) fn caller(ctx: &Ctx) -> (String, bool) {
    (who(ctx), ctx.caller_is_admin())
}

/// The store of the running bot.
pub(crate) fn store_of(ctx: &Ctx) -> IncidentStore {
    IncidentStore::new(ctx.db().clone())
}

/// A time for people: UTC plus the configured zone.
pub(crate) fn when(app: &App, t: Timestamp) -> String {
    format_ts(t, app.config.timezone.as_ref())
}

/// Parses a time typed by a user (`14:05`, ISO 8601, `-10m`) in the configured zone.
pub(crate) fn parse_time(app: &App, ctx: &Ctx, text: &str) -> Result<Timestamp, CommandError> {
    let tz = app
        .config
        .timezone
        .clone()
        .unwrap_or(jiff::tz::TimeZone::UTC);
    parse_when(text, ctx.now(), &tz).map_err(|e| CommandError::user(e.to_string()))
}

/// A user typed as `@bob`, `bob`, `slack:U123`, a Matrix id (`@bob:example.org`) or a mention
/// as Slack and Discord deliver it (`<@U0BOB>`, `<@!1234>`, `<@U0BOB|bob>`), as a
/// backend-qualified id. Names without a network are on the caller's network.
pub(crate) fn parse_user(ctx: &Ctx, text: &str) -> Result<ferrbot::id::UserId, CommandError> {
    use ferrbot::id::UserId;
    let t = text.trim().trim_end_matches(',');
    let bad = |why: String| {
        CommandError::user(format!(
            "`{text}` is not a user{why}: write @name or network:id (e.g. {})",
            ctx.caller().id
        ))
    };
    let home = ctx.caller().id.backend().to_owned();
    if let Some(inner) = t.strip_prefix("<@").and_then(|r| r.strip_suffix('>')) {
        let id = inner
            .trim_start_matches('!')
            .split('|')
            .next()
            .unwrap_or_default();
        return UserId::new(&home, id).map_err(|e| bad(format!(" ({e})")));
    }
    let bare = t.trim_start_matches('@');
    if bare.is_empty() {
        return Err(bad(String::new()));
    }
    if let Ok(id) = bare.parse::<UserId>() {
        if ctx.capabilities(id.backend()).is_some() {
            return Ok(id);
        }
        if !t.starts_with('@') {
            return Err(bad(format!(
                " (this bot is on no chat network called `{}`)",
                id.backend()
            )));
        }
    }
    // `@bob:example.org` is a whole Matrix id, not network `bob`.
    let local = if t.starts_with('@') && bare.contains(':') {
        t
    } else {
        bare
    };
    UserId::new(&home, local).map_err(|e| bad(format!(" ({e})")))
}

/// [`parse_user`], as stored.
pub(crate) fn user_arg(ctx: &Ctx, text: &str) -> Result<String, CommandError> {
    parse_user(ctx, text).map(|id| id.to_string())
}

/// [`user_arg`], checked with the chat network where it can tell: a user it says does not
/// exist (a typo, a Matrix id without its server) is refused before anything is written. When
/// the network cannot answer right now, the name is taken as typed.
pub(crate) async fn known_user(ctx: &Ctx, text: &str) -> Result<String, CommandError> {
    let id = parse_user(ctx, text)?;
    match ctx.chat().user(&id).await {
        Ok(_) => Ok(id.to_string()),
        Err(ferrbot::BackendError::Rejected { message }) => Err(CommandError::user(format!(
            "`{text}` is not a user on {}: {message}",
            id.backend()
        ))),
        Err(err) => {
            tracing::debug!(error = %err, user = %id, "could not check a user; taking it as typed");
            Ok(id.to_string())
        }
    }
}

/// [`known_user`] for each of `texts`.
pub(crate) async fn known_users(ctx: &Ctx, texts: &[String]) -> Result<Vec<String>, CommandError> {
    let mut users = Vec::with_capacity(texts.len());
    for text in texts {
        users.push(known_user(ctx, text).await?);
    }
    Ok(users)
}

fn ref_error(err: RefError) -> CommandError {
    match err {
        RefError::Db(e) => CommandError::from(e),
        other => CommandError::user(other.to_string()),
    }
}

/// The incident a command acts on (named, or inferred from the room/thread, then the focus).
pub(crate) async fn target(
    ctx: &Ctx,
    c: &mut AnyConnection,
    given: Option<&str>,
) -> Result<Incident, CommandError> {
    let thread = ctx.thread().map(ToString::to_string);
    reference::resolve(c, given, &ctx.room().to_string(), thread.as_deref())
        .await
        .map_err(ref_error)
}

/// Roles and participants, for policy checks.
pub(crate) async fn people(
    c: &mut AnyConnection,
    id: u64,
) -> Result<(Vec<RoleAssignment>, Vec<Participant>), CommandError> {
    Ok((
        store::roles(c, id).await?,
        store::participants(c, id).await?,
    ))
}

/// Refuses unless the caller may `action` the incident under the edit policy; logs refusals
/// as `access_denied` audit lines.
pub(crate) async fn require_edit(
    app: &App,
    ctx: &Ctx,
    c: &mut AnyConnection,
    incident: &Incident,
    action: &str,
) -> Result<(), CommandError> {
    let (roles, participants) = people(c, incident.id).await?;
    let (user, admin) = caller(ctx);
    check_edit(
        app.config.edit_policy,
        incident,
        &roles,
        &participants,
        &app.config.roles,
        Caller { user: &user, admin },
        action,
    )
    .map_err(|denied| {
        tracing::info!(
            audit = "access_denied",
            user = %user,
            incident = incident.id,
            action,
            "incident command refused by policy"
        );
        CommandError::denied(denied.to_string())
    })
}

/// Commits a change and then tells everyone who follows it (subscribers, the headline, the
/// room topic): the one way a command ends a change, so none forgets the second half.
pub(crate) async fn commit_and_notify(
    app: &App,
    ctx: &Ctx,
    tx: store::Tx,
    event: &crate::model::TimelineEvent,
) -> Result<(), CommandError> {
    store::commit(tx).await?;
    crate::notify::after_change_logged(&app.config, ctx, event).await;
    Ok(())
}

/// Refuses changes to a resolved incident's working data where that makes no sense.
pub(crate) fn user_err(e: impl std::fmt::Display) -> CommandError {
    CommandError::user(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_hash_and_quotes() {
        assert_eq!(
            split("#42 \"two words\" it's\\ ok").unwrap_or_default(),
            ["#42", "two words", "it's ok"].map(String::from)
        );
        assert_eq!(
            split("a 'b \"c' \"d \\\" e\"").unwrap_or_default(),
            ["a", "b \"c", "d \" e"].map(String::from)
        );
        assert!(split("\"open").is_err());
        assert_eq!(
            prepare(split("inc-7 30m --sev<=2").unwrap_or_default()),
            ["--incident", "inc-7", "30m", "--max-sev", "2"].map(String::from)
        );
        assert_eq!(prepare(vec!["42".into()]), ["42"].map(String::from));
    }

    #[test]
    fn the_core_splitter_drops_hash_words_so_we_split_ourselves() {
        // If this starts failing, the core stopped treating `#` as a comment and the own
        // splitter could go.
        let core = ferrbot::dispatch::split("status #42 now").unwrap_or_default();
        assert_eq!(core, ["status"].map(String::from));
        assert_eq!(
            split("status #42 now").unwrap_or_default(),
            ["status", "#42", "now"].map(String::from)
        );
    }

    #[test]
    fn every_command_definition_is_valid() {
        for (name, factory) in HELP {
            styled(name, *factory).debug_assert();
        }
        <view::Root as clap::CommandFactory>::command().debug_assert();
    }
}
