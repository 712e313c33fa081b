//! The chat commands: `st2 session start|end|list|cancel` and the hidden `st2session_start`.

use ferrbot::error::CommandError;
use ferrbot::id::{Target, UserId};
use ferrbot::markup::Markup;
use ferrbot::secrets::SecretValue;
use ferrbot::{Access, CommandResult, CommandSpec, Ctx, OutgoingMessage, Reply};

use super::links::{SHORT_ID_LEN, normalise_word};
use super::{SessionError, Sessions};
use crate::credential::{CredentialSource, USER_CREDENTIAL_NAME, UserCredential};

/// The longest shared word accepted.
const MAX_WORD: usize = 200;

fn internal(e: SessionError) -> CommandError {
    CommandError::internal(e.to_string())
}

pub(super) fn specs(sessions: &Sessions) -> Vec<CommandSpec> {
    let w = &sessions.command_word;
    let start = |name: &str, about: &str| {
        let s = sessions.clone();
        CommandSpec::raw(name, about, move |ctx: Ctx, _args: Vec<String>| {
            let s = s.clone();
            async move { s.start(&ctx).await }
        })
        .raw_text()
    };
    let end = {
        let s = sessions.clone();
        CommandSpec::raw(
            &format!("{w} session end"),
            "End your StackStorm session: the bot forgets your StackStorm credential.",
            move |ctx: Ctx, _args: Vec<String>| {
                let s = s.clone();
                async move { s.end(&ctx).await.map_err(internal) }
            },
        )
    };
    let list = {
        let s = sessions.clone();
        CommandSpec::raw(
            &format!("{w} session list"),
            "List users with a StackStorm session and open login links (admins).",
            move |ctx: Ctx, _args: Vec<String>| {
                let s = s.clone();
                async move { s.list(&ctx).await.map_err(internal) }
            },
        )
        .access(Access::Admins)
    };
    let cancel = {
        let s = sessions.clone();
        CommandSpec::raw(
            &format!("{w} session cancel"),
            "Withdraw a login link (by the id `session list` shows) or end a user's session (by user id) (admins).",
            move |ctx: Ctx, args: Vec<String>| {
                let s = s.clone();
                async move { s.cancel(&ctx, &args).await }
            },
        )
        .access(Access::Admins)
    };
    vec![
        start(
            &format!("{w} session start"),
            "Log in to StackStorm with your own account: send it in a direct message with a shared word you choose; you get a one-time login link.",
        ),
        start(
            &format!("{w}session_start"),
            "Same as session start (err-stackstorm's name).",
        )
        .hidden()
        .alias_of(&format!("{w} session start")),
        end,
        list,
        cancel,
    ]
}

/// `"two words"` or `'two words'` as typed means the words, without the quotes.
fn unquote(word: &str) -> &str {
    let pairs = [
        ('"', '"'),
        ('\'', '\''),
        ('\u{201c}', '\u{201d}'),
        ('\u{2018}', '\u{2019}'),
    ];
    for (open, close) in pairs {
        if let Some(inner) = word.strip_prefix(open).and_then(|w| w.strip_suffix(close)) {
            return normalise_word(inner);
        }
    }
    word
}

fn when(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

impl Sessions {
    async fn start(&self, ctx: &Ctx) -> CommandResult {
        let cmd = format!("{}{} session start", ctx.prefix(), self.command_word);
        if !ctx.is_direct() {
            tracing::info!(user = %ctx.caller().id, room = %ctx.room(), "session start refused outside a direct message");
            return Err(CommandError::user(format!(
                "{cmd} only works in a direct message with me: the shared word protects your login \
                 link and must not be seen by others. Send the command to me privately, and choose \
                 another shared word since this one was posted here."
            )));
        }
        let word = unquote(normalise_word(ctx.raw_args()));
        if word.is_empty() {
            return Err(CommandError::usage(format!(
                "Usage: {cmd} <shared word>\nChoose a word you will type again on the login page."
            )));
        }
        if word.chars().count() > MAX_WORD {
            return Err(CommandError::user(format!(
                "The shared word is too long (at most {MAX_WORD} characters)."
            )));
        }
        let Some(_) = self.base_url() else {
            return Err(CommandError::user(
                "Logging in through a link is not set up: the bot has no public URL. Ask the bot \
                 admins to set public_url in [plugins.st2.rbac.clientside].",
            ));
        };
        let word = SecretValue::from(word);
        let link = Self::links(ctx.plugin())
            .create(
                &ctx.caller().id.to_string(),
                &word,
                ctx.now(),
                self.settings.link_ttl,
            )
            .await
            .map_err(|e| internal(e.into()))?;
        let url = self.link_url(ctx.name(), &link.id).unwrap_or_default();
        tracing::info!(link = link.short_id(), user = %ctx.caller().id, expires = %link.expires, "login link issued");
        let ttl = ferrbot::config::duration::format(self.settings.link_ttl);
        let text = Markup::new()
            .text(format!(
                "Open this link within {ttl} to log in to StackStorm: "
            ))
            .link(url.clone(), url)
            .line()
            .text("It works once, and asks for the shared word you just chose. Do not share it.");
        let has_session = match ctx.caller_credentials() {
            Ok(creds) => creds
                .get(USER_CREDENTIAL_NAME)
                .await
                .ok()
                .flatten()
                .and_then(|v| UserCredential::from_secret(&v))
                .is_some_and(|c| c.is_live(ctx.now(), std::time::Duration::ZERO)),
            Err(_) => false,
        };
        let text = if has_session {
            text.line()
                .text("You already have a StackStorm session: logging in again replaces it.")
        } else {
            text
        };
        Ok(Reply::message(OutgoingMessage::new(text)).private())
    }

    async fn end(&self, ctx: &Ctx) -> Result<Reply, SessionError> {
        let user = ctx.caller().id.to_string();
        let creds = ctx.caller_credentials()?;
        let had = creds.get(USER_CREDENTIAL_NAME).await?.is_some();
        if had {
            creds.delete(USER_CREDENTIAL_NAME).await?;
        }
        let links = Self::links(ctx.plugin());
        let open = links.open(Some(&user), ctx.now()).await?;
        for link in &open {
            links.delete(&link.id).await?;
        }
        tracing::info!(user = %user, had_session = had, withdrawn_links = open.len(), "session end");
        let text = match (had, open.is_empty()) {
            (true, _) => {
                "Your StackStorm session has ended: I no longer hold a StackStorm credential for you."
            }
            (false, false) => "You had no StackStorm session; your open login link is withdrawn.",
            (false, true) => "You have no StackStorm session.",
        };
        Ok(Reply::text(text))
    }

    async fn list(&self, ctx: &Ctx) -> Result<Reply, SessionError> {
        let now = ctx.now();
        let cache = ctx.credentials()?;
        let mut sessions = Vec::new();
        for user in cache.list_users().await? {
            let Some(value) = cache.get(&user, USER_CREDENTIAL_NAME).await? else {
                continue;
            };
            let Some(cred) = UserCredential::from_secret(&value) else {
                continue;
            };
            if !cred.is_live(now, std::time::Duration::ZERO) {
                continue;
            }
            let source = match cred.source {
                CredentialSource::Clientside => "clientside",
                CredentialSource::Serverside => "serverside",
            };
            let st2_user = cred
                .st2_user
                .as_deref()
                .map(|u| format!(" as {u}"))
                .unwrap_or_default();
            let until = cred
                .expiry
                .map(|e| format!(", until {}", when(e)))
                .unwrap_or_default();
            sessions.push(
                format!("{user}{st2_user} ({:?}, {source}{until})", cred.kind)
                    .replace("Token", "token")
                    .replace("ApiKey", "API key"),
            );
        }
        let links = Self::links(ctx.plugin()).open(None, now).await?;
        let mut text = Markup::new().bold("StackStorm sessions").line();
        text = if sessions.is_empty() {
            text.text("none").line()
        } else {
            text.list(sessions.into_iter().map(Markup::from))
        };
        text = text.bold("Open login links").line();
        text = if links.is_empty() {
            text.text("none")
        } else {
            text.list(links.iter().map(|l| {
                Markup::new().code(l.short_id()).text(format!(
                    " for {}, expires {}, {} failed attempt(s)",
                    l.user,
                    when(l.expires),
                    l.attempts
                ))
            }))
        };
        Ok(Reply::markup(text))
    }

    async fn cancel(&self, ctx: &Ctx, args: &[String]) -> CommandResult {
        let cmd = format!("{}{} session cancel", ctx.prefix(), self.command_word);
        let [target] = args else {
            return Err(CommandError::usage(format!(
                "Usage: {cmd} <link id | user id>\nSee {}{} session list for ids.",
                ctx.prefix(),
                self.command_word
            )));
        };
        if target.contains(':') {
            return self.cancel_user(ctx, target).await.map_err(internal);
        }
        let prefix = target.to_ascii_lowercase();
        if prefix.len() < SHORT_ID_LEN || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CommandError::user(format!(
                "`{target}` is neither a link id (at least {SHORT_ID_LEN} hex characters) nor a user id (backend:user)."
            )));
        }
        let links = Self::links(ctx.plugin());
        let all = links.all().await.map_err(|e| internal(e.into()))?;
        let found: Vec<_> = all.iter().filter(|l| l.id.starts_with(&prefix)).collect();
        match found.as_slice() {
            [] => Err(
                CommandError::user(format!("No login link `{target}`.")).with_hint(format!(
                    "{}{} session list",
                    ctx.prefix(),
                    self.command_word
                )),
            ),
            [link] => {
                links
                    .delete(&link.id)
                    .await
                    .map_err(|e| internal(e.into()))?;
                tracing::info!(link = link.short_id(), user = %link.user, by = %ctx.caller().id, "login link withdrawn by an admin");
                Ok(Reply::text(format!(
                    "Login link {} of {} withdrawn.",
                    link.short_id(),
                    link.user
                )))
            }
            _ => Err(CommandError::user(format!(
                "`{target}` names several links; give more characters."
            ))),
        }
    }

    async fn cancel_user(&self, ctx: &Ctx, user: &str) -> Result<Reply, SessionError> {
        let cache = ctx.credentials()?;
        let had = cache.get(user, USER_CREDENTIAL_NAME).await?.is_some();
        if had {
            cache.delete(user, USER_CREDENTIAL_NAME).await?;
        }
        let links = Self::links(ctx.plugin());
        let open = links.open(Some(user), ctx.now()).await?;
        for link in &open {
            links.delete(&link.id).await?;
        }
        tracing::info!(user, by = %ctx.caller().id, had_session = had, withdrawn_links = open.len(), "session cancelled by an admin");
        if !had && open.is_empty() {
            return Ok(Reply::text(format!(
                "{user} has no StackStorm session and no open login link."
            )));
        }
        if had && let Ok(id) = user.parse::<UserId>() {
            ctx.send(
                Target::direct(id),
                OutgoingMessage::new(Markup::new().text(format!(
                    "A bot admin ended your StackStorm session. Use {}{} session start <shared word> to log in again.",
                    ctx.prefix(),
                    self.command_word
                ))),
            );
        }
        Ok(Reply::text(format!(
            "{user}: session {}, {} open login link(s) withdrawn.",
            if had { "ended" } else { "none" },
            open.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_around_the_word_are_not_part_of_it() {
        assert_eq!(unquote("\"two words\""), "two words");
        assert_eq!(unquote("'w'"), "w");
        assert_eq!(unquote("\u{201c}smart\u{201d}"), "smart");
        assert_eq!(unquote("it's"), "it's");
        assert_eq!(unquote("\"unbalanced"), "\"unbalanced");
    }
}
