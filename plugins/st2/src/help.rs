//! `!st2help` / `!st2 help`: the aliases a user can run, grouped by pack, from
//! `GET /api/v1/actionalias/help`; and the alias cache refresh.

use ferrbot::context::Ctx;
use ferrbot::error::{CommandError, CommandResult};
use ferrbot::markup::Markup;
use ferrbot::message::Reply;

use crate::App;
use crate::client::{HelpPage, HelpQuery, St2Error};

/// How many lines a help page shows by default.
pub const DEFAULT_LIMIT: usize = 50;

/// List the StackStorm action-aliases you can run.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "st2help")]
pub struct HelpArgs {
    /// Only this pack.
    #[arg(long)]
    pub pack: Option<String>,
    /// Only aliases whose format matches this regular expression (case-insensitive).
    #[arg(long)]
    pub filter: Option<String>,
    /// At most this many lines.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Skip this many lines (next pages).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

/// Runs the help command.
///
/// # Errors
/// When StackStorm cannot be asked or refuses the filter.
pub async fn run(app: App, ctx: Ctx, args: HelpArgs) -> CommandResult {
    if args.limit == 0 {
        return Err(CommandError::user("`--limit` must be at least 1"));
    }
    let query = HelpQuery {
        pack: args.pack.clone(),
        filter: args.filter.clone(),
        limit: Some(args.limit),
        offset: Some(args.offset),
    };
    let client = app.core.client.clone();
    let page = app
        .core
        .auth
        .call(ctx.now(), |c| {
            let client = client.clone();
            let query = query.clone();
            async move { client.help(&c, &query).await }
        })
        .await;
    match page {
        Ok(page) => Ok(Reply::markup(render(&app, &ctx, &args, &page))),
        Err(St2Error::BadRequest(fault)) => Err(CommandError::user(format!(
            "StackStorm refused the help query: {fault}"
        ))
        .with_hint("`--filter` is a regular expression; check its syntax")),
        Err(e) => Err(
            CommandError::user(format!("Cannot list the aliases: {e}")).with_hint(format!(
                "`{}{} status` shows the connection",
                ctx.prefix(),
                app.core.settings.prefix
            )),
        ),
    }
}

/// The help text, grouped by pack in StackStorm's order.
pub fn render(app: &App, ctx: &Ctx, args: &HelpArgs, page: &HelpPage) -> Markup {
    let p = format!("{}{}", ctx.prefix(), app.core.settings.prefix);
    if page.helpstrings.is_empty() {
        let mut m = Markup::new().text("No action-alias found");
        if args.pack.is_some() || args.filter.is_some() {
            m = m.text(" for this pack or filter");
        }
        return m.text(".");
    }
    let mut packs: Vec<(&str, Vec<Markup>)> = Vec::new();
    for h in &page.helpstrings {
        let line = Markup::new().code(format!("{p} {}", h.display));
        let line = if h.description.trim().is_empty() {
            line
        } else {
            line.text(format!(" — {}", h.description.trim()))
        };
        match packs.iter_mut().find(|(name, _)| *name == h.pack) {
            Some((_, lines)) => lines.push(line),
            None => packs.push((&h.pack, vec![line])),
        }
    }
    let mut m = Markup::new();
    for (i, (pack, lines)) in packs.into_iter().enumerate() {
        if i > 0 {
            m = m.line();
        }
        m = m.bold(Markup::new().text(pack)).line().list(lines);
    }
    let shown = page.helpstrings.len();
    let from = args.offset + 1;
    let to = args.offset + shown;
    m = m
        .line()
        .text(format!("Aliases {from}–{to} of {}.", page.available));
    if to < page.available {
        m = m.text(format!(
            " Next page: `{}{}help --offset {to}`.",
            ctx.prefix(),
            app.core.settings.prefix
        ));
    }
    m
}

/// Refills the alias cache (every page) with the bot's credential.
pub async fn refresh_aliases(app: &App) {
    let client = app.core.client.clone();
    let result = app
        .core
        .auth
        .call(app.ctx.now(), |c| {
            let client = client.clone();
            async move { client.list_aliases(&c).await }
        })
        .await;
    match result {
        Ok(aliases) => {
            tracing::debug!(count = aliases.len(), "StackStorm alias cache refreshed");
            app.core.aliases.set(aliases, app.ctx.now());
        }
        Err(e) => tracing::warn!(error = %e, "refreshing the StackStorm alias cache failed"),
    }
}
