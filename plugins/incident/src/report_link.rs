//! Report links: `!inc report --link` hands out an address where the report can be read in a
//! browser or fetched by a script — `GET /plugins/incident/incidents/{id}/report.md?key=…`,
//! served as `text/markdown` — without an account on the bot.
//!
//! Each link carries a key of 256 random bits, bound to one incident and kept in the plugin's
//! key-value store with its expiry (`report_link_ttl`, default 24 h). Only someone who may see
//! the incident gets a link; the key is the only way in, so a link is as private as the
//! channel it is shared in. An unknown, expired or mismatched key is refused with 404 and
//! the same text, so a key cannot be probed for; expired keys are forgotten when met.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrbot::context::PluginContext;
use ferrbot::store::{KvStore, StoreError};
use jiff::Timestamp;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::commands::App;
use crate::report::{ReportData, render};
use crate::store::{self, DbError, IncidentStore};

/// Length of a key (32 random bytes in hex).
const KEY_LEN: usize = 64;

/// What the store keeps for a link.
#[derive(Debug, Serialize, Deserialize)]
struct Link {
    incident: u64,
    expires_at: Timestamp,
}

fn kv_key(key: &str) -> String {
    format!("report-links/{key}")
}

/// A new link for incident `id`, valid until `expires_at`; returns the key.
///
/// # Errors
/// When the store fails.
pub async fn create(kv: &KvStore, id: u64, expires_at: Timestamp) -> Result<String, StoreError> {
    let mut bytes = [0u8; KEY_LEN / 2];
    rand::rng().fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    kv.set(
        &kv_key(&key),
        &Link {
            incident: id,
            expires_at,
        },
    )
    .await?;
    Ok(key)
}

/// The address of a link.
pub fn url(public_url: &str, id: u64, key: &str) -> String {
    format!(
        "{}/plugins/incident/incidents/{id}/report.md?key={key}",
        public_url.trim_end_matches('/')
    )
}

/// Whether `key` opens incident `id` at `now`. Expired links are deleted.
///
/// # Errors
/// When the store fails.
pub async fn opens(kv: &KvStore, id: u64, key: &str, now: Timestamp) -> Result<bool, StoreError> {
    if key.len() != KEY_LEN || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let Some(link) = kv.get::<Link>(&kv_key(key)).await? else {
        return Ok(false);
    };
    if link.expires_at <= now {
        kv.delete(&kv_key(key)).await?;
        return Ok(false);
    }
    Ok(link.incident == id)
}

#[derive(Clone)]
struct Web {
    app: Arc<App>,
    ctx: PluginContext,
}

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

/// The plugin's HTTP routes (mounted under `/plugins/incident`).
pub fn router(app: Arc<App>, ctx: PluginContext) -> axum::Router {
    axum::Router::new()
        .route("/incidents/{id}/report.md", get(report))
        .with_state(Web { app, ctx })
}

const NOT_FOUND: &str = "No report here: the link is unknown or has expired. Ask for a new one \
                         with `!incident report <id> --link`.\n";

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn report(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(q): Query<KeyQuery>,
) -> Response {
    let (Ok(id), Some(key)) = (id.parse::<u64>(), q.key) else {
        return text(StatusCode::NOT_FOUND, NOT_FOUND.to_owned());
    };
    match opens(&web.ctx.store(), id, &key, web.ctx.now()).await {
        Ok(true) => {}
        Ok(false) => return text(StatusCode::NOT_FOUND, NOT_FOUND.to_owned()),
        Err(err) => {
            tracing::warn!(error = %err, "reading a report link failed");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "The bot's storage is not answering; try again shortly.\n".to_owned(),
            );
        }
    }
    match load(&web.ctx, id).await {
        Ok(Some(data)) => text(
            StatusCode::OK,
            render(
                &data,
                &web.app.config.severities,
                web.app.config.timezone.as_ref(),
            ),
        ),
        Ok(None) => text(StatusCode::NOT_FOUND, NOT_FOUND.to_owned()),
        Err(err) => {
            tracing::warn!(error = %err, incident = id, "reading a report failed");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "The bot's storage is not answering; try again shortly.\n".to_owned(),
            )
        }
    }
}

/// Everything the report shows about incident `id`.
///
/// # Errors
/// When the database fails.
pub async fn load(ctx: &PluginContext, id: u64) -> Result<Option<ReportData>, DbError> {
    let incidents = IncidentStore::new(ctx.db().clone());
    let mut c = incidents.read().await?;
    let Some(incident) = store::incident(&mut c, id).await? else {
        return Ok(None);
    };
    Ok(Some(ReportData {
        events: store::events(&mut c, id).await?,
        tasks: store::tasks(&mut c, id).await?,
        updates: store::updates(&mut c, id).await?,
        roles: store::roles(&mut c, id).await?,
        participants: store::participants(&mut c, id).await?,
        incident,
    }))
}
