//! Who talks in an incident's room or thread: every message there (commands aside) counts for
//! its author, so the report can name the people who did the talking (Monzo's UserStats).
//! Someone who is not a participant yet becomes one after `auto_join_after` messages
//! (Dispatch's observers), recorded as a `participant` event.
//!
//! Observers' counts live in the plugin's key-value store until they join; participants'
//! counts in their participant row. Counting never replies and never fails a message: errors
//! are logged.

use std::sync::Arc;

use ferrbot::context::Ctx;
use ferrbot::message::Reply;
use ferrbot::plugin::MatcherSpec;

use crate::commands::App;
use crate::model::{EventKind, NewEvent};
use crate::store::{self, DbError, IncidentStore};

/// The matcher's name, for `[[bot.acl]]` rules.
pub const MATCHER: &str = "incident activity";

/// The matcher that counts messages in incident rooms and threads.
pub fn matcher(app: &Arc<App>) -> MatcherSpec {
    let app = app.clone();
    MatcherSpec::pattern(MATCHER, r"\S", move |ctx: Ctx, _captures| {
        let app = app.clone();
        async move {
            if let Err(err) = count(&app, &ctx).await {
                tracing::warn!(error = %err, room = %ctx.room(), "counting an incident message failed");
            }
            Ok(Reply::none())
        }
    })
}

#[derive(Debug, thiserror::Error)]
enum CountError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Kv(#[from] ferrbot::store::StoreError),
}

async fn count(app: &App, ctx: &Ctx) -> Result<(), CountError> {
    let incidents = IncidentStore::new(ctx.db().clone());
    let thread = ctx.thread().map(ToString::to_string);
    let id = {
        let mut c = incidents.read().await?;
        let Some(id) =
            store::incident_by_place(&mut c, &ctx.room().to_string(), thread.as_deref()).await?
        else {
            return Ok(());
        };
        match store::incident(&mut c, id).await? {
            Some(incident) if incident.state.is_open() => id,
            _ => return Ok(()),
        }
    };
    let user = ctx.caller().id.to_string();
    let mut tx = incidents.begin().await?;
    let counted = store::count_message(&mut tx, id, &user).await?;
    store::commit(tx).await?;
    if counted {
        return Ok(());
    }
    // An observer. (The key-value store is written outside the transaction: on SQLite a
    // second writer would wait for the transaction's lock.)
    let key = format!("observer-messages/{id}/{user}");
    let seen = u64::try_from(ctx.store().incr(&key).await?).unwrap_or(0);
    let threshold = u64::from(app.config.auto_join_after);
    if threshold == 0 || seen < threshold {
        return Ok(());
    }
    let mut tx = incidents.begin().await?;
    let now = ctx.now();
    store::join(&mut tx, id, &user, now).await?;
    store::set_message_count(&mut tx, id, &user, seen).await?;
    let event = store::append_event(
        &mut tx,
        id,
        NewEvent::new(
            now,
            user.clone(),
            EventKind::Participant,
            format!("{user} joined ({seen} messages in the incident's room)"),
        ),
        now,
    )
    .await?;
    store::commit(tx).await?;
    if let Err(err) = ctx.store().delete(&key).await {
        tracing::warn!(error = %err, "forgetting an observer's count failed");
    }
    crate::notify::after_change_logged(&app.config, ctx.plugin(), &event).await;
    Ok(())
}
