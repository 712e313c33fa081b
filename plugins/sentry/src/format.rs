//! Rendering: one card per alert, one-liners for follow-ups, and storm updates — all neutral
//! messages that every backend renders natively. Nothing here knows a backend: limits come from
//! [`Capabilities`].

use ferrbot::backend::Capabilities;
use ferrbot::id::UserId;
use ferrbot::markup::Markup;
use ferrbot::message::{Card, Field, Level, OutgoingMessage};

use crate::config::FormatSettings;
use crate::payload::{Alert, AlertKind, MetricStatus, Notice, NoticeKind, Severity};

/// Longest title shown.
const MAX_TITLE: usize = 200;
/// Longest field value shown.
const MAX_FIELD: usize = 200;
/// Room left for what backends add around a card.
const MARGIN: usize = 64;

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The card colour of an alert.
pub fn level(alert: &Alert) -> Level {
    match alert.kind {
        AlertKind::Metric(MetricStatus::Critical) => Level::Critical,
        AlertKind::Metric(MetricStatus::Warning) => Level::Warning,
        AlertKind::Metric(MetricStatus::Resolved) => Level::Success,
        _ => match alert.severity {
            Severity::Fatal => Level::Critical,
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
            Severity::Info => Level::Info,
            Severity::Debug => Level::Neutral,
        },
    }
}

fn headline(alert: &Alert) -> &'static str {
    match alert.kind {
        AlertKind::NewIssue => "New issue",
        AlertKind::Regression => "Issue unresolved",
        AlertKind::EventAlert => "Alert rule triggered",
        AlertKind::Error => "Error",
        AlertKind::Metric(MetricStatus::Critical) => "Metric alert critical",
        AlertKind::Metric(MetricStatus::Warning) => "Metric alert warning",
        AlertKind::Metric(MetricStatus::Resolved) => "Metric alert resolved",
        AlertKind::Legacy => "Sentry alert",
    }
}

fn mentions_markup(mentions: &[UserId]) -> Markup {
    let mut text = Markup::new();
    for (i, user) in mentions.iter().enumerate() {
        if i > 0 {
            text = text.text(" ");
        }
        text = text.mention(user.clone());
    }
    text
}

fn card_fields(alert: &Alert, settings: &FormatSettings) -> Card {
    let mut card = Card::new(truncate(&alert.title, MAX_TITLE)).level(level(alert));
    if let Some(url) = &alert.url {
        card = card.url(url.clone());
    }
    let short = |v: &str| truncate(v, MAX_FIELD);
    if let Some(culprit) = &alert.culprit {
        card = card.field("Culprit", Markup::new().code(short(culprit)));
    }
    if let Some(project) = &alert.project {
        let mut all = vec![project.clone()];
        all.extend(alert.more_projects.iter().cloned());
        card = card.inline_field(
            if all.len() > 1 { "Projects" } else { "Project" },
            short(&all.join(", ")),
        );
    }
    if let Some(env) = &alert.environment {
        card = card.inline_field("Environment", short(env));
    }
    if let Some(release) = &alert.release {
        card = card.inline_field("Release", Markup::new().code(short(release)));
    }
    if let Some(id) = &alert.short_id {
        card = card.inline_field("Short ID", short(id));
    }
    if !matches!(alert.kind, AlertKind::Metric(_)) {
        card = card.inline_field("Level", alert.severity.as_str());
    }
    if let Some(rule) = &alert.rule {
        card = card.inline_field("Rule", short(rule));
    }
    if let Some(query) = &alert.query {
        card = card.field("Query", Markup::new().code(short(query)));
    }
    if let Some(first) = &alert.first_seen {
        card = card.inline_field("First seen", first.display());
    }
    if let Some(last) = &alert.last_seen {
        card = card.inline_field("Last seen", last.display());
    }
    if let Some(count) = &alert.count {
        card = card.inline_field("Events", short(count));
    }
    if let Some(users) = &alert.user_count {
        card = card.inline_field("Users", short(users));
    }
    let shown: Vec<String> = settings
        .tags
        .iter()
        .filter_map(|key| {
            alert
                .tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(k, v)| format!("{k}: {}", truncate(v, 80)))
        })
        .take(settings.max_tags)
        .collect();
    if !shown.is_empty() {
        card = card.field("Tags", shown.join(" · "));
    }
    card = card.footer(format!("Sentry · {}", headline(alert)));
    if let Some(ts) = alert.timestamp.as_ref().and_then(|w| w.timestamp()) {
        card = card.timestamp(ts);
    }
    card
}

fn body(message: Option<&str>, url: Option<&str>) -> Markup {
    let mut body = Markup::new();
    if let Some(message) = message {
        body = body.text(message.to_owned());
    }
    if let Some(url) = url {
        if message.is_some() {
            body = body.line();
        }
        body = body.link("Open in Sentry", url.to_owned());
    }
    body
}

/// The message for an alert: mentions, then the card. The event message is cut to fit the
/// backend's `max_message_len` (and `format.message_max_chars`).
pub fn alert_message(
    alert: &Alert,
    caps: &Capabilities,
    mentions: &[UserId],
    settings: &FormatSettings,
) -> OutgoingMessage {
    let card = card_fields(alert, settings);
    let skeleton = OutgoingMessage::new(mentions_markup(mentions))
        .with_card(card.clone().body(body(None, alert.url.as_deref())));
    let used = skeleton.to_plain("!").chars().count();
    let budget = caps
        .max_message_len
        .saturating_sub(used)
        .saturating_sub(MARGIN)
        .min(settings.message_max_chars);
    let message = alert
        .message
        .as_deref()
        .filter(|_| budget >= 8)
        .map(|m| truncate(m.trim(), budget));
    OutgoingMessage::new(mentions_markup(mentions))
        .with_card(card.body(body(message.as_deref(), alert.url.as_deref())))
}

fn times(count: u64) -> String {
    format!("×{count}")
}

/// The original card with the repeat count, for backends that edit.
pub fn with_repeats(
    original: &OutgoingMessage,
    count: u64,
    since: jiff::Timestamp,
) -> OutgoingMessage {
    let mut updated = original.clone();
    if let Some(card) = updated.card.as_mut() {
        let value = format!("{} since {}", times(count), since.strftime("%H:%M UTC"));
        card.fields.retain(|f| f.name != "Repeats");
        card.fields.insert(
            0,
            Field {
                name: "Repeats".to_owned(),
                value: Markup::new().bold(value),
                inline: true,
            },
        );
    }
    updated
}

/// A "×N" note, threaded under the card where the backend has threads.
pub fn repeat_note(
    alert_title: &str,
    short_id: Option<&str>,
    count: u64,
    since: jiff::Timestamp,
    threaded: bool,
) -> OutgoingMessage {
    let mut text = Markup::new().bold(times(count)).text(format!(
        " — seen {count} times since {}",
        since.strftime("%H:%M UTC")
    ));
    if !threaded {
        let name = short_id.map_or_else(|| truncate(alert_title, 80), str::to_owned);
        text = text.text(": ").text(name);
    }
    OutgoingMessage::new(text)
}

/// The original card, greyed out with its new status (resolved, ignored), for backends that
/// edit.
pub fn with_status(original: &OutgoingMessage, status: &str) -> OutgoingMessage {
    let mut updated = original.clone();
    if let Some(card) = updated.card.as_mut() {
        card.level = Level::Neutral;
        card.fields.retain(|f| f.name != "Status");
        card.fields.insert(
            0,
            Field {
                name: "Status".to_owned(),
                value: Markup::new().bold(status.to_owned()),
                inline: true,
            },
        );
    }
    updated
}

/// The short status word of a notice, for [`with_status`]; `None` when the card keeps its
/// colour (assignments, comments).
pub fn status_word(notice: &Notice) -> Option<String> {
    match &notice.kind {
        NoticeKind::Resolved { .. } => Some("Resolved".to_owned()),
        NoticeKind::Ignored { verb, .. } => {
            let mut word = verb.clone();
            if let Some(first) = word.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            Some(word)
        }
        _ => None,
    }
}

/// A one-liner for a follow-up. Threaded, it needs not name the issue; in the room it does.
pub fn notice_message(notice: &Notice, threaded: bool, mentions: &[UserId]) -> OutgoingMessage {
    let actor = notice.actor.as_deref();
    let by = |text: Markup| match actor {
        Some(who) => text.text(" by ").text(who.to_owned()),
        None => text,
    };
    let mut text = match &notice.kind {
        NoticeKind::Resolved { how } => {
            let t = by(Markup::new().text("✅ ").bold("Resolved"));
            match how.as_deref() {
                Some("now") | None => t,
                Some(how) => t.text(format!(" ({})", how.replace('_', " "))),
            }
        }
        NoticeKind::Assigned { to } => {
            let t = Markup::new().text("👤 ").bold("Assigned");
            let t = match to {
                Some(to) => t.text(" to ").text(to.clone()),
                None => t,
            };
            by(t)
        }
        NoticeKind::Ignored { verb, until } => {
            let word = status_word(notice).unwrap_or_else(|| verb.clone());
            let t = by(Markup::new().text("🔕 ").bold(word));
            match until {
                Some(until) => t.text(format!(" ({until})")),
                None => t,
            }
        }
        NoticeKind::Comment { action, text } => {
            let who = actor.unwrap_or("Someone").to_owned();
            let verb = match action.as_str() {
                "created" => "commented",
                "updated" => "edited a comment",
                "deleted" => "deleted a comment",
                _ => "changed a comment",
            };
            let t = Markup::new().text("💬 ").text(who).text(format!(" {verb}"));
            match text {
                Some(body) if action != "deleted" => t.text(": ").italic(truncate(body, 300)),
                _ => t,
            }
        }
    };
    if !threaded {
        let name = notice
            .short_id
            .clone()
            .or_else(|| notice.title.as_deref().map(|t| truncate(t, 80)))
            .or_else(|| notice.issue_id.as_ref().map(|id| format!("issue {id}")))
            .unwrap_or_else(|| "an issue".to_owned());
        text = text.text(" — ");
        text = match &notice.url {
            Some(url) => text.link(name, url.clone()),
            None => text.bold(name),
        };
        if let (Some(title), Some(_)) = (&notice.title, &notice.short_id) {
            text = text.text(format!(": {}", truncate(title, 80)));
        }
    }
    if !mentions.is_empty() {
        text = text.text(" ").append(mentions_markup(mentions));
    }
    OutgoingMessage::new(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{LinkContext, Payload, parse};

    fn settings() -> FormatSettings {
        FormatSettings {
            tags: vec!["browser".into(), "os".into(), "handled".into()],
            max_tags: 2,
            message_max_chars: 1000,
        }
    }

    fn alert(body: &str, resource: &str) -> Alert {
        let links = LinkContext {
            organization: None,
            sentry_url: "https://sentry.io",
        };
        match parse(Some(resource), body.as_bytes(), &links).unwrap() {
            Payload::Alert(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_messages_are_cut_to_the_backend_limit() {
        let long = "x".repeat(5000);
        let a = alert(
            &format!(
                r#"{{"action":"created","data":{{"issue":{{"id":"1","title":"T","metadata":{{"value":"{long}"}}}}}}}}"#
            ),
            "issue",
        );
        let caps = Capabilities {
            max_message_len: 600,
            ..Capabilities::minimal()
        };
        let msg = alert_message(&a, &caps, &[], &settings());
        let plain = msg.to_plain("!");
        assert!(plain.chars().count() <= 600, "{}", plain.len());
        assert!(plain.contains("xxx…"));
        let roomy = Capabilities {
            max_message_len: usize::MAX,
            ..Capabilities::minimal()
        };
        let plain = alert_message(&a, &roomy, &[], &settings()).to_plain("!");
        assert!(plain.chars().count() < 1300, "message_max_chars applies");
    }

    #[test]
    fn levels_follow_sentry_levels_and_metric_states() {
        for (level, expected) in [
            ("fatal", Level::Critical),
            ("error", Level::Error),
            ("warning", Level::Warning),
            ("info", Level::Info),
            ("debug", Level::Neutral),
        ] {
            let a = alert(
                &format!(
                    r#"{{"action":"created","data":{{"issue":{{"id":"1","level":"{level}"}}}}}}"#
                ),
                "issue",
            );
            assert_eq!(super::level(&a), expected, "{level}");
        }
        let resolved = alert(
            r#"{"action":"resolved","data":{"metric_alert":{"id":"1"}}}"#,
            "metric_alert",
        );
        assert_eq!(super::level(&resolved), Level::Success);
    }

    #[test]
    fn repeats_and_status_edit_the_card() {
        let a = alert(
            r#"{"action":"created","data":{"issue":{"id":"1","title":"T"}}}"#,
            "issue",
        );
        let msg = alert_message(&a, &Capabilities::full(), &[], &settings());
        let since = jiff::Timestamp::from_second(1_767_225_600).unwrap();
        let edited = with_repeats(&with_repeats(&msg, 2, since), 3, since);
        let card = edited.card.unwrap();
        assert_eq!(card.fields[0].name, "Repeats");
        assert_eq!(card.fields[0].value.to_plain(), "×3 since 00:00 UTC");
        assert_eq!(
            card.fields.iter().filter(|f| f.name == "Repeats").count(),
            1
        );
        let done = with_status(&msg, "Resolved").card.unwrap();
        assert_eq!(done.level, Level::Neutral);
    }
}
