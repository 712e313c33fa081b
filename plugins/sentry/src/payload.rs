//! Lenient parsing of Sentry's webhook bodies into a small neutral model.
//!
//! Sentry's payloads differ by version and source: ids are strings or integers, `culprit` and
//! `level` may be null, `project_slug` may be missing, timestamps come as RFC 3339, epoch
//! floats or odd strings. Nothing here rejects a body that is valid JSON of a known kind for an
//! extra or missing optional field; only non-JSON (or a non-object) is an error.

use serde_json::Value;

/// The resources of the Integration Platform, plus the legacy WebHooks plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// `issue`: created, resolved, assigned, ignored/archived, unresolved.
    Issue,
    /// `event_alert`: an issue alert rule fired.
    EventAlert,
    /// `metric_alert`: critical, warning, resolved.
    MetricAlert,
    /// `error`: created.
    Error,
    /// `comment`: created, updated, deleted.
    Comment,
    /// `installation`: created, deleted.
    Installation,
    /// The legacy WebHooks plugin (no resource header, no signature).
    Legacy,
    /// Anything else.
    Unknown,
}

impl Resource {
    /// The name used in logs, metrics and footers.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Issue => "issue",
            Resource::EventAlert => "event_alert",
            Resource::MetricAlert => "metric_alert",
            Resource::Error => "error",
            Resource::Comment => "comment",
            Resource::Installation => "installation",
            Resource::Legacy => "legacy",
            Resource::Unknown => "unknown",
        }
    }

    /// Reads the `Sentry-Hook-Resource` header.
    pub fn from_header(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "issue" => Resource::Issue,
            "event_alert" => Resource::EventAlert,
            "metric_alert" => Resource::MetricAlert,
            "error" => Resource::Error,
            "comment" => Resource::Comment,
            "installation" => Resource::Installation,
            _ => Resource::Unknown,
        }
    }
}

/// Sentry's event levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// `fatal`.
    Fatal,
    /// `error` (also the default when the level is missing or null).
    Error,
    /// `warning`.
    Warning,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
}

impl Severity {
    fn parse(text: Option<&str>) -> Self {
        match text.map(str::to_ascii_lowercase).as_deref() {
            Some("fatal" | "critical") => Severity::Fatal,
            Some("warning" | "warn") => Severity::Warning,
            Some("info" | "log") => Severity::Info,
            Some("debug" | "sample") => Severity::Debug,
            _ => Severity::Error,
        }
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Debug => "debug",
        }
    }
}

/// The state a metric alert reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricStatus {
    /// Above the critical threshold.
    Critical,
    /// Above the warning threshold.
    Warning,
    /// Back to normal.
    Resolved,
}

/// What kind of alert a card is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    /// A new issue (`issue.created`).
    NewIssue,
    /// An issue that came back (`issue.unresolved`).
    Regression,
    /// An issue alert rule fired (`event_alert.triggered`).
    EventAlert,
    /// An error event (`error.created`).
    Error,
    /// A metric alert changed state.
    Metric(MetricStatus),
    /// The legacy WebHooks plugin.
    Legacy,
}

/// A time as a payload gave it: parsed when possible, as written otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// A parsed instant.
    At(jiff::Timestamp),
    /// Text that is not a timestamp (kept, shortened, for display).
    Raw(String),
}

impl When {
    /// The instant, when parsed.
    pub fn timestamp(&self) -> Option<jiff::Timestamp> {
        match self {
            When::At(ts) => Some(*ts),
            When::Raw(_) => None,
        }
    }

    /// For display: `2019-08-19 20:58 UTC`.
    pub fn display(&self) -> String {
        match self {
            When::At(ts) => ts.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            When::Raw(text) => text.clone(),
        }
    }
}

/// An alert worth a card.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// What happened.
    pub kind: AlertKind,
    /// The resource and action, for the footer (`issue.created`).
    pub source: String,
    /// The Sentry issue (group) id, when known.
    pub issue_id: Option<String>,
    /// The key repeats are folded by (issue, or metric incident and state).
    pub group: Option<String>,
    /// The title.
    pub title: String,
    /// A link to the issue or alert in Sentry.
    pub url: Option<String>,
    /// The event level.
    pub severity: Severity,
    /// Where it happened (function, module, route).
    pub culprit: Option<String>,
    /// The event's message, or the metric alert's description.
    pub message: Option<String>,
    /// The project slug.
    pub project: Option<String>,
    /// Other project slugs (metric alerts over several projects).
    pub more_projects: Vec<String>,
    /// The environment.
    pub environment: Option<String>,
    /// The release.
    pub release: Option<String>,
    /// Tags, as sent.
    pub tags: Vec<(String, String)>,
    /// The short id (`FRONT-END-9`).
    pub short_id: Option<String>,
    /// The alert rule.
    pub rule: Option<String>,
    /// A metric alert's query.
    pub query: Option<String>,
    /// First seen.
    pub first_seen: Option<When>,
    /// Last seen.
    pub last_seen: Option<When>,
    /// Number of events.
    pub count: Option<String>,
    /// Number of users affected.
    pub user_count: Option<String>,
    /// When the event happened.
    pub timestamp: Option<When>,
}

/// What a follow-up reports about an issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// Resolved (`now`, `in_next_release`, `in_release`, `in_commit`, …).
    Resolved {
        /// How, when Sentry says.
        how: Option<String>,
    },
    /// Assigned to someone or a team.
    Assigned {
        /// To whom.
        to: Option<String>,
    },
    /// Ignored or archived.
    Ignored {
        /// The action's name (`ignored` or `archived`).
        verb: String,
        /// Until when or what, when Sentry says.
        until: Option<String>,
    },
    /// A comment was created, updated or deleted.
    Comment {
        /// `created`, `updated` or `deleted`.
        action: String,
        /// The comment's text.
        text: Option<String>,
    },
}

/// A follow-up about an issue: a one-liner, threaded under the issue's card when possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The resource and action (`issue.resolved`).
    pub source: String,
    /// The issue id.
    pub issue_id: Option<String>,
    /// The short id.
    pub short_id: Option<String>,
    /// The issue's title.
    pub title: Option<String>,
    /// A link to the issue.
    pub url: Option<String>,
    /// The project slug.
    pub project: Option<String>,
    /// Who did it.
    pub actor: Option<String>,
}

/// A parsed webhook body.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// Post a card.
    Alert(Box<Alert>),
    /// Post a one-liner about an issue.
    Notice(Notice),
    /// An installation event: acknowledged, not posted.
    Installation {
        /// The action.
        action: String,
    },
    /// A kind this relay does not post: acknowledged and logged.
    Unknown {
        /// The resource.
        resource: String,
        /// The action.
        action: String,
    },
}

impl Payload {
    /// The resource, for logs and metrics.
    pub fn resource(&self) -> &str {
        match self {
            Payload::Alert(a) => a.source.split('.').next().unwrap_or("unknown"),
            Payload::Notice(n) => n.source.split('.').next().unwrap_or("unknown"),
            Payload::Installation { .. } => "installation",
            Payload::Unknown { .. } => "unknown",
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON.
    #[error("the body is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not an object.
    #[error("the body is JSON but not an object")]
    NotAnObject,
}

/// Context a payload may need: the organisation and Sentry's address, for links.
#[derive(Clone, Debug, Default)]
pub struct LinkContext<'a> {
    /// The route's organisation slug.
    pub organization: Option<&'a str>,
    /// Sentry's base URL.
    pub sentry_url: &'a str,
}

// ---- lenient accessors ------------------------------------------------------------------

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    if cur.is_null() { None } else { Some(cur) }
}

/// Text at `path`: strings as they are, numbers and booleans as text; empty is none.
fn text(v: &Value, path: &[&str]) -> Option<String> {
    scalar_text(at(v, path)?)
}

fn scalar_text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    if s.is_empty() { None } else { Some(s) }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A link, if it is an http(s) URL (`&amp;` left by HTML-escaping is undone).
fn link(v: &Value, path: &[&str]) -> Option<String> {
    let url = text(v, path)?.replace("&amp;", "&");
    (url.starts_with("https://") || url.starts_with("http://")).then_some(url)
}

/// Parses times as Sentry sends them: RFC 3339, epoch seconds (float or integer, or
/// milliseconds), or an odd string whose date and time can still be read.
pub fn parse_when(v: &Value) -> Option<When> {
    match v {
        Value::Number(n) => {
            let secs = n.as_f64()?;
            let secs = if secs > 1e11 { secs / 1000.0 } else { secs };
            // Microseconds: as precise as Sentry's floats are, without f64 noise.
            let micros = (secs * 1e6).round();
            if !micros.is_finite() {
                return None;
            }
            jiff::Timestamp::from_microsecond(micros as i64)
                .ok()
                .map(When::At)
        }
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            if let Ok(ts) = s.parse::<jiff::Timestamp>() {
                return Some(When::At(ts));
            }
            if let Ok(secs) = s.parse::<f64>() {
                return parse_when(&serde_json::json!(secs));
            }
            // `2025-07-14T11:41:32+053096Z` and friends: read the date and time, as UTC.
            if let Some(prefix) = s.get(..19)
                && let Ok(dt) = prefix.replace(' ', "T").parse::<jiff::civil::DateTime>()
                && let Ok(ts) = dt.to_zoned(jiff::tz::TimeZone::UTC)
            {
                return Some(When::At(ts.timestamp()));
            }
            Some(When::Raw(s.chars().take(40).collect()))
        }
        _ => None,
    }
}

fn when(v: &Value, path: &[&str]) -> Option<When> {
    parse_when(at(v, path)?)
}

/// Tags as `[["k","v"], …]`, `[{"key":"k","value":"v"}, …]` or `{"k":"v", …}`.
fn tags(v: &Value, path: &[&str]) -> Vec<(String, String)> {
    let Some(tags) = at(v, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match tags {
        Value::Array(items) => {
            for item in items {
                let pair = match item {
                    Value::Array(kv) if kv.len() >= 2 => kv
                        .first()
                        .and_then(scalar_text)
                        .zip(kv.get(1).and_then(scalar_text)),
                    Value::Object(_) => text(item, &["key"]).zip(text(item, &["value"])),
                    _ => None,
                };
                out.extend(pair);
            }
        }
        Value::Object(map) => {
            for (k, val) in map {
                if let Some(val) = scalar_text(val) {
                    out.push((k.clone(), val));
                }
            }
        }
        _ => {}
    }
    out
}

fn tag(tags: &[(String, String)], key: &str) -> Option<String> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The project slug in an API or web URL: `/projects/<org>/<slug>/…`.
fn project_from_url(url: &str) -> Option<String> {
    let mut parts = url.split('/');
    parts.find(|p| *p == "projects")?;
    let _org = parts.next()?;
    let slug = parts.next()?;
    (!slug.is_empty()).then(|| slug.to_owned())
}

/// The issue id in `/issues/<id>/`.
fn issue_from_url(url: &str) -> Option<String> {
    let mut parts = url.split('/');
    parts.find(|p| *p == "issues" || *p == "group")?;
    let id = parts.next()?;
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_owned())
}

fn issue_link(links: &LinkContext<'_>, issue_id: Option<&str>) -> Option<String> {
    let org = links.organization?;
    let id = issue_id?;
    Some(format!(
        "{}/organizations/{org}/issues/{id}/",
        links.sentry_url.trim_end_matches('/')
    ))
}

/// The event's message, when it says more than the title.
fn event_message(e: &Value, title: &str) -> Option<String> {
    let candidates = [
        text(e, &["message"]),
        text(e, &["logentry", "formatted"]),
        text(e, &["logentry", "message"]),
        text(e, &["metadata", "value"]),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|m| !title.contains(m.as_str()))
}

fn action_of(body: &Value) -> String {
    text(body, &["action"]).unwrap_or_else(|| "unknown".to_owned())
}

fn actor_of(body: &Value) -> Option<String> {
    text(body, &["actor", "name"]).filter(|n| n != "Sentry")
}

// ---- the kinds ------------------------------------------------------------------------------

/// Guesses the resource of a body that came without a `Sentry-Hook-Resource` header.
fn infer(body: &Value) -> Resource {
    if let Some(data) = at(body, &["data"])
        && at(body, &["action"]).is_some()
    {
        return if data.get("issue").is_some() {
            Resource::Issue
        } else if data.get("metric_alert").is_some() {
            Resource::MetricAlert
        } else if data.get("event").is_some() {
            Resource::EventAlert
        } else if data.get("error").is_some() {
            Resource::Error
        } else if data.get("comment_id").is_some() || data.get("comment").is_some() {
            Resource::Comment
        } else if data.get("installation").is_some() {
            Resource::Installation
        } else {
            Resource::Unknown
        };
    }
    let legacy_keys = [
        "event",
        "culprit",
        "project_slug",
        "triggering_rules",
        "project_name",
    ];
    if legacy_keys.iter().any(|k| body.get(k).is_some()) {
        Resource::Legacy
    } else {
        Resource::Unknown
    }
}

/// Reads a body. `resource` is the `Sentry-Hook-Resource` header, when sent.
///
/// # Errors
/// When the body is not JSON, or not a JSON object.
pub fn parse(
    resource: Option<&str>,
    bytes: &[u8],
    links: &LinkContext<'_>,
) -> Result<Payload, PayloadError> {
    let body: Value = serde_json::from_slice(bytes)?;
    if !body.is_object() {
        return Err(PayloadError::NotAnObject);
    }
    let resource = match resource {
        Some(header) => match Resource::from_header(header) {
            Resource::Unknown => {
                return Ok(Payload::Unknown {
                    resource: header.chars().take(40).collect(),
                    action: action_of(&body),
                });
            }
            known => known,
        },
        None => infer(&body),
    };
    Ok(match resource {
        Resource::Issue => issue(&body, links),
        Resource::EventAlert => event(&body, links, &["data", "event"], AlertKind::EventAlert),
        Resource::Error => event(&body, links, &["data", "error"], AlertKind::Error),
        Resource::MetricAlert => metric(&body),
        Resource::Comment => comment(&body, links),
        Resource::Installation => Payload::Installation {
            action: action_of(&body),
        },
        Resource::Legacy => legacy(&body, links),
        Resource::Unknown => Payload::Unknown {
            resource: "unknown".to_owned(),
            action: action_of(&body),
        },
    })
}

fn empty_alert(kind: AlertKind, source: String, title: String) -> Alert {
    Alert {
        kind,
        source,
        issue_id: None,
        group: None,
        title,
        url: None,
        severity: Severity::Error,
        culprit: None,
        message: None,
        project: None,
        more_projects: Vec::new(),
        environment: None,
        release: None,
        tags: Vec::new(),
        short_id: None,
        rule: None,
        query: None,
        first_seen: None,
        last_seen: None,
        count: None,
        user_count: None,
        timestamp: None,
    }
}

fn issue(body: &Value, links: &LinkContext<'_>) -> Payload {
    let action = action_of(body);
    let source = format!("issue.{action}");
    let Some(i) = at(body, &["data", "issue"]) else {
        return Payload::Unknown {
            resource: "issue".to_owned(),
            action,
        };
    };
    let issue_id = text(i, &["id"]);
    let short_id = text(i, &["shortId"]).or_else(|| text(i, &["short_id"]));
    let title = text(i, &["title"])
        .map(|t| one_line(&t))
        .or_else(|| short_id.clone())
        .unwrap_or_else(|| "Sentry issue".to_owned());
    let url = link(i, &["web_url"])
        .or_else(|| link(i, &["permalink"]))
        .or_else(|| issue_link(links, issue_id.as_deref()));
    let project = text(i, &["project", "slug"])
        .or_else(|| text(i, &["project", "name"]))
        .or_else(|| text(i, &["project"]));
    let notice = |kind| {
        Payload::Notice(Notice {
            kind,
            source: source.clone(),
            issue_id: issue_id.clone(),
            short_id: short_id.clone(),
            title: Some(title.clone()),
            url: url.clone(),
            project: project.clone(),
            actor: actor_of(body),
        })
    };
    let kind = match action.as_str() {
        "created" => AlertKind::NewIssue,
        "unresolved" => AlertKind::Regression,
        "resolved" => {
            return notice(NoticeKind::Resolved {
                how: text(body, &["data", "resolution_type"]).or_else(|| {
                    text(i, &["statusDetails", "inRelease"]).map(|r| format!("in release {r}"))
                }),
            });
        }
        "assigned" => {
            let to = text(i, &["assignedTo", "name"])
                .or_else(|| text(i, &["assignedTo", "email"]))
                .or_else(|| text(i, &["assignedTo"]))
                .map(|who| match text(i, &["assignedTo", "type"]).as_deref() {
                    Some("team") => format!("team {who}"),
                    _ => who,
                });
            return notice(NoticeKind::Assigned { to });
        }
        "ignored" | "archived" => {
            let until = text(i, &["statusDetails", "ignoreUntil"])
                .or_else(|| {
                    text(i, &["statusDetails", "ignoreCount"]).map(|n| format!("{n} more events"))
                })
                .or_else(|| {
                    text(i, &["statusDetails", "ignoreUserCount"])
                        .map(|n| format!("{n} more users"))
                })
                .or_else(|| text(i, &["substatus"]).map(|s| s.replace('_', " ")));
            return notice(NoticeKind::Ignored {
                verb: action.clone(),
                until,
            });
        }
        _ => {
            return Payload::Unknown {
                resource: "issue".to_owned(),
                action,
            };
        }
    };
    let mut alert = empty_alert(kind, source, title);
    alert.group = issue_id.as_ref().map(|id| format!("issue:{id}"));
    alert.issue_id = issue_id;
    alert.short_id = short_id;
    alert.url = url;
    alert.severity = Severity::parse(text(i, &["level"]).as_deref());
    alert.culprit = text(i, &["culprit"]);
    alert.message = text(i, &["metadata", "value"]).filter(|m| !alert.title.contains(m.as_str()));
    alert.project = project;
    alert.first_seen = when(i, &["firstSeen"]);
    alert.last_seen = when(i, &["lastSeen"]);
    alert.count = text(i, &["count"]);
    alert.user_count = text(i, &["userCount"]);
    alert.timestamp = alert.last_seen.clone();
    Payload::Alert(Box::new(alert))
}

fn event(body: &Value, links: &LinkContext<'_>, path: &[&str], kind: AlertKind) -> Payload {
    let action = action_of(body);
    let resource = if kind == AlertKind::Error {
        "error"
    } else {
        "event_alert"
    };
    let Some(e) = at(body, path) else {
        return Payload::Unknown {
            resource: resource.to_owned(),
            action,
        };
    };
    let title = text(e, &["title"])
        .or_else(|| {
            let ty = text(e, &["metadata", "type"])?;
            Some(match text(e, &["metadata", "value"]) {
                Some(v) => format!("{ty}: {v}"),
                None => ty,
            })
        })
        .or_else(|| text(e, &["message"]))
        .map(|t| one_line(&t))
        .unwrap_or_else(|| "Sentry event".to_owned());
    let issue_id = text(e, &["issue_id"])
        .or_else(|| text(e, &["group_id"]))
        .or_else(|| text(e, &["issue_url"]).and_then(|u| issue_from_url(&u)));
    let tags = tags(e, &["tags"]);
    let mut alert = empty_alert(kind, format!("{resource}.{action}"), title);
    alert.url = link(e, &["web_url"]).or_else(|| issue_link(links, issue_id.as_deref()));
    alert.group = issue_id.as_ref().map(|id| format!("issue:{id}"));
    alert.issue_id = issue_id;
    alert.severity = Severity::parse(
        text(e, &["level"])
            .or_else(|| tag(&tags, "level"))
            .as_deref(),
    );
    alert.culprit = text(e, &["culprit"]).or_else(|| text(e, &["transaction"]));
    alert.message = event_message(e, &alert.title);
    alert.project = text(e, &["url"])
        .and_then(|u| project_from_url(&u))
        .or_else(|| text(e, &["project_slug"]))
        .or_else(|| {
            at(e, &["project"])
                .filter(|p| p.is_string())
                .and_then(scalar_text)
        });
    alert.environment = text(e, &["environment"]).or_else(|| tag(&tags, "environment"));
    alert.release = text(e, &["release"]).or_else(|| tag(&tags, "release"));
    alert.rule = text(body, &["data", "triggered_rule"])
        .or_else(|| text(body, &["data", "issue_alert", "title"]));
    alert.timestamp = when(e, &["datetime"]).or_else(|| when(e, &["timestamp"]));
    alert.tags = tags;
    Payload::Alert(Box::new(alert))
}

fn metric(body: &Value) -> Payload {
    let action = action_of(body);
    let Some(m) = at(body, &["data", "metric_alert"]) else {
        return Payload::Unknown {
            resource: "metric_alert".to_owned(),
            action,
        };
    };
    let status = match action.as_str() {
        "critical" => MetricStatus::Critical,
        "warning" => MetricStatus::Warning,
        "resolved" => MetricStatus::Resolved,
        _ => match at(m, &["status"]).and_then(Value::as_i64) {
            Some(20) => MetricStatus::Critical,
            Some(10) => MetricStatus::Warning,
            Some(2) => MetricStatus::Resolved,
            _ => {
                return Payload::Unknown {
                    resource: "metric_alert".to_owned(),
                    action,
                };
            }
        },
    };
    let rule = text(m, &["alert_rule", "name"]);
    let title = text(body, &["data", "description_title"])
        .or_else(|| text(m, &["title"]))
        .or_else(|| rule.clone())
        .map(|t| one_line(&t))
        .unwrap_or_else(|| "Metric alert".to_owned());
    let mut projects: Vec<String> = at(m, &["projects"])
        .or_else(|| at(m, &["alert_rule", "projects"]))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar_text).collect())
        .unwrap_or_default();
    let incident = text(m, &["id"]).or_else(|| {
        let rule = text(m, &["alert_rule", "id"])?;
        Some(format!(
            "{rule}-{}",
            text(m, &["identifier"]).unwrap_or_default()
        ))
    });
    let mut alert = empty_alert(
        AlertKind::Metric(status),
        format!("metric_alert.{action}"),
        title,
    );
    alert.group = incident.map(|id| format!("metric:{id}:{action}"));
    alert.url = link(body, &["data", "web_url"]);
    alert.severity = match status {
        MetricStatus::Critical => Severity::Fatal,
        MetricStatus::Warning => Severity::Warning,
        MetricStatus::Resolved => Severity::Info,
    };
    alert.message = text(body, &["data", "description_text"]).map(|t| t.replace("\\n", "\n"));
    if !projects.is_empty() {
        alert.project = Some(projects.remove(0));
        alert.more_projects = projects;
    }
    alert.environment = text(m, &["alert_rule", "environment"]);
    alert.rule = rule;
    alert.query =
        text(m, &["alert_rule", "query"]).map(|q| match text(m, &["alert_rule", "aggregate"]) {
            Some(agg) => format!("{agg} where {q}"),
            None => q,
        });
    alert.timestamp = when(m, &["date_detected"])
        .or_else(|| when(m, &["date_started"]))
        .or_else(|| when(m, &["date_created"]));
    Payload::Alert(Box::new(alert))
}

fn comment(body: &Value, links: &LinkContext<'_>) -> Payload {
    let action = action_of(body);
    let issue_id = text(body, &["data", "issue_id"]);
    Payload::Notice(Notice {
        kind: NoticeKind::Comment {
            action: action.clone(),
            text: text(body, &["data", "comment"]).map(|t| one_line(&t)),
        },
        source: format!("comment.{action}"),
        url: issue_link(links, issue_id.as_deref()),
        issue_id,
        short_id: None,
        title: None,
        project: text(body, &["data", "project_slug"]),
        actor: actor_of(body),
    })
}

fn legacy(body: &Value, links: &LinkContext<'_>) -> Payload {
    let e = at(body, &["event"]).cloned().unwrap_or(Value::Null);
    let tags = tags(&e, &["tags"]);
    let title = text(&e, &["title"])
        .or_else(|| text(body, &["message"]))
        .or_else(|| text(&e, &["message"]))
        .or_else(|| text(body, &["culprit"]))
        .map(|t| one_line(&t))
        .unwrap_or_else(|| "Sentry alert".to_owned());
    let issue_id =
        text(body, &["id"]).or_else(|| text(body, &["url"]).and_then(|u| issue_from_url(&u)));
    let rules: Vec<String> = at(body, &["triggering_rules"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar_text).collect())
        .unwrap_or_default();
    let mut alert = empty_alert(AlertKind::Legacy, "legacy.triggered".to_owned(), title);
    alert.url = link(body, &["url"]).or_else(|| issue_link(links, issue_id.as_deref()));
    alert.group = issue_id.as_ref().map(|id| format!("issue:{id}"));
    alert.issue_id = issue_id;
    alert.severity = Severity::parse(
        text(body, &["level"])
            .or_else(|| text(&e, &["level"]))
            .or_else(|| tag(&tags, "level"))
            .as_deref(),
    );
    alert.culprit = text(body, &["culprit"]).or_else(|| text(&e, &["culprit"]));
    alert.message = text(body, &["message"])
        .filter(|m| !alert.title.contains(m.as_str()))
        .or_else(|| event_message(&e, &alert.title));
    alert.project = text(body, &["project_slug"])
        .or_else(|| {
            at(body, &["project"])
                .filter(|p| p.is_string())
                .and_then(scalar_text)
        })
        .or_else(|| text(body, &["project_name"]));
    alert.environment = text(&e, &["environment"]).or_else(|| tag(&tags, "environment"));
    alert.release = text(&e, &["release"]).or_else(|| tag(&tags, "release"));
    alert.rule = (!rules.is_empty()).then(|| rules.join(", "));
    alert.timestamp = when(&e, &["datetime"])
        .or_else(|| when(&e, &["timestamp"]))
        .or_else(|| when(&e, &["received"]));
    alert.tags = tags;
    Payload::Alert(Box::new(alert))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> LinkContext<'static> {
        LinkContext {
            organization: Some("acme"),
            sentry_url: "https://sentry.io",
        }
    }

    fn alert(resource: Option<&str>, body: &str) -> Alert {
        match parse(resource, body.as_bytes(), &links()).unwrap() {
            Payload::Alert(a) => *a,
            other => panic!("not an alert: {other:?}"),
        }
    }

    #[test]
    fn null_and_missing_optional_fields_are_accepted() {
        let a = alert(
            Some("issue"),
            r#"{"action":"created","data":{"issue":{"id":42,"title":"Boom","culprit":null,"level":null,"project":null}}}"#,
        );
        assert_eq!(a.issue_id.as_deref(), Some("42"));
        assert_eq!(a.severity, Severity::Error);
        assert_eq!(a.culprit, None);
        assert_eq!(
            a.url.as_deref(),
            Some("https://sentry.io/organizations/acme/issues/42/")
        );
        let a = alert(
            Some("issue"),
            r#"{"action":"created","data":{"issue":{"extra_field":{"x":1}}},"new_top_level":true}"#,
        );
        assert_eq!(a.title, "Sentry issue");
    }

    #[test]
    fn old_sentry_8_legacy_payloads_parse() {
        let a = alert(
            None,
            r#"{"id":"27379932","project":"project-slug","project_name":"Project Name",
                "culprit":"raven.scripts.runner in main","level":"error",
                "url":"https://app.getsentry.com/getsentry/project-slug/group/27379932/",
                "checksum":"c4a4d06bc314205bb3b6bdb612dde7f1","logger":"root",
                "message":"This is an example Python exception",
                "event":{"extra":{},"tags":[["foo","bar"]],"sentry.interfaces.User":{"id":"1"}}}"#,
        );
        assert_eq!(a.kind, AlertKind::Legacy);
        assert_eq!(a.title, "This is an example Python exception");
        assert_eq!(a.project.as_deref(), Some("project-slug"));
        assert_eq!(a.issue_id.as_deref(), Some("27379932"));
        assert_eq!(a.tags, [("foo".to_owned(), "bar".to_owned())]);
    }

    #[test]
    fn odd_timestamps_are_read_or_kept() {
        let cases = [
            (r#""2019-08-19T20:58:37.391000Z""#, "2019-08-19 20:58 UTC"),
            ("1566248777.677", "2019-08-19 21:06 UTC"),
            ("1566248777677", "2019-08-19 21:06 UTC"),
            (r#""1566248777.677""#, "2019-08-19 21:06 UTC"),
            (r#""2025-07-14T11:41:32+053096Z""#, "2025-07-14 11:41 UTC"),
            (r#""2025-07-14 11:41:32""#, "2025-07-14 11:41 UTC"),
            (r#""last tuesday""#, "last tuesday"),
        ];
        for (json, shown) in cases {
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(parse_when(&v).unwrap().display(), shown, "{json}");
        }
        assert_eq!(parse_when(&Value::Null), None);
    }

    #[test]
    fn bodies_without_a_header_are_recognised_by_shape() {
        let cases = [
            (
                r#"{"action":"created","data":{"issue":{"id":"1"}}}"#,
                "issue",
            ),
            (
                r#"{"action":"triggered","data":{"event":{}}}"#,
                "event_alert",
            ),
            (
                r#"{"action":"critical","data":{"metric_alert":{"status":20}}}"#,
                "metric_alert",
            ),
            (r#"{"action":"created","data":{"error":{}}}"#, "error"),
            (
                r#"{"action":"created","data":{"comment_id":1,"issue_id":"2"}}"#,
                "comment",
            ),
            (
                r#"{"action":"created","data":{"installation":{}}}"#,
                "installation",
            ),
            (r#"{"culprit":"x","url":"https://sentry.io/x/"}"#, "legacy"),
            (r#"{"hello":"world"}"#, "unknown"),
        ];
        for (body, resource) in cases {
            let p = parse(None, body.as_bytes(), &links()).unwrap();
            assert_eq!(p.resource(), resource, "{body}");
        }
    }

    #[test]
    fn unknown_resources_and_actions_are_not_alerts() {
        let p = parse(Some("seer"), br#"{"action":"done"}"#, &links()).unwrap();
        assert_eq!(
            p,
            Payload::Unknown {
                resource: "seer".into(),
                action: "done".into()
            }
        );
        let p = parse(
            Some("issue"),
            br#"{"action":"exploded","data":{"issue":{}}}"#,
            &links(),
        )
        .unwrap();
        assert!(matches!(p, Payload::Unknown { .. }));
        let p = parse(
            Some("metric_alert"),
            br#"{"action":"meh","data":{"metric_alert":{}}}"#,
            &links(),
        )
        .unwrap();
        assert!(matches!(p, Payload::Unknown { .. }));
    }

    #[test]
    fn non_json_and_non_objects_are_errors() {
        assert!(matches!(
            parse(None, b"not json", &links()),
            Err(PayloadError::Json(_))
        ));
        assert!(matches!(
            parse(None, b"[1,2]", &links()),
            Err(PayloadError::NotAnObject)
        ));
    }

    #[test]
    fn assignment_comments_and_ignores_become_notices() {
        let p = parse(
            Some("issue"),
            br#"{"action":"assigned","actor":{"name":"Bob"},"data":{"issue":{"id":"7","shortId":"X-1","assignedTo":{"type":"team","name":"backend"}}}}"#,
            &links(),
        )
        .unwrap();
        let Payload::Notice(n) = p else { panic!() };
        assert_eq!(
            n.kind,
            NoticeKind::Assigned {
                to: Some("team backend".into())
            }
        );
        assert_eq!(n.actor.as_deref(), Some("Bob"));
        let p = parse(
            Some("comment"),
            br#"{"action":"created","actor":{"name":"Ann"},"data":{"comment_id":12,"issue_id":7,"comment":"on it","project_slug":"api"}}"#,
            &links(),
        )
        .unwrap();
        let Payload::Notice(n) = p else { panic!() };
        assert_eq!(n.issue_id.as_deref(), Some("7"));
        assert_eq!(
            n.kind,
            NoticeKind::Comment {
                action: "created".into(),
                text: Some("on it".into())
            }
        );
        let p = parse(
            Some("issue"),
            br#"{"action":"archived","data":{"issue":{"id":"7","substatus":"archived_until_escalating"}}}"#,
            &links(),
        )
        .unwrap();
        let Payload::Notice(n) = p else { panic!() };
        assert_eq!(
            n.kind,
            NoticeKind::Ignored {
                verb: "archived".into(),
                until: Some("archived until escalating".into())
            }
        );
    }
}
