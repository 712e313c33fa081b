//! The post-incident report (§4.6) as Markdown: header, times and durations, texts, status
//! updates, the timeline (date, time and zone on every line; starred events first; joins and
//! leaves collapsed), tasks by phase, participants and links.

use jiff::tz::TimeZone;

use crate::model::{
    EventKind, Incident, Participant, RoleAssignment, SeverityScale, StatusUpdate, Task, TaskPhase,
    TaskStatus, TimelineEvent,
};
use crate::stats::durations;
use crate::util::time::{format_duration, format_ts};

/// Everything a report shows.
#[derive(Clone, Debug)]
pub struct ReportData {
    /// The incident.
    pub incident: Incident,
    /// Its timeline.
    pub events: Vec<TimelineEvent>,
    /// Its tasks.
    pub tasks: Vec<Task>,
    /// Its status updates.
    pub updates: Vec<StatusUpdate>,
    /// Its role history.
    pub roles: Vec<RoleAssignment>,
    /// Its participants.
    pub participants: Vec<Participant>,
}

/// Renders the report.
pub fn render(d: &ReportData, scale: &SeverityScale, tz: Option<&TimeZone>) -> String {
    let i = &d.incident;
    let t = |ts| format_ts(ts, tz);
    let opt = |ts: Option<jiff::Timestamp>| ts.map_or_else(|| "—".to_owned(), |x| format_ts(x, tz));
    let mut out = Vec::new();
    out.push(format!("# Incident #{}: {}", i.id, i.title));
    out.push(String::new());
    out.push(format!(
        "- Severity: {}",
        i.severity
            .map_or_else(|| "not set".to_owned(), |s| scale.label(s))
    ));
    let mut state = i.state.to_string();
    if i.retro {
        state.push_str(" (report-only, declared after the fact)");
    }
    if i.false_alarm {
        state.push_str(" (false alarm)");
    }
    out.push(format!("- State: {state}"));
    out.push(format!("- Lead: {}", i.lead.as_deref().unwrap_or("—")));
    out.push(format!(
        "- Reporter: {}",
        i.reporter.as_deref().unwrap_or("—")
    ));
    if !i.tags.is_empty() {
        let tags: Vec<String> = i.tags.iter().map(ToString::to_string).collect();
        out.push(format!("- Tags: {}", tags.join(" ")));
    }
    if !d.roles.is_empty() {
        out.push("- Roles:".to_owned());
        for r in &d.roles {
            let until = r.until.map_or_else(|| "now".to_owned(), &t);
            out.push(format!(
                "  - {} {} ({} – {until})",
                r.role,
                r.user,
                t(r.from)
            ));
        }
    }
    out.push(String::new());
    out.push("## Times".to_owned());
    out.push(format!("- Started: {}", t(i.started_at)));
    out.push(format!("- Reported: {}", t(i.reported_at)));
    out.push(format!("- First acknowledged: {}", opt(i.first_ack_at)));
    out.push(format!("- Stable: {}", opt(i.stable_at)));
    out.push(format!("- Resolved: {}", opt(i.resolved_at)));
    let dur = durations(i);
    let show = |x: Option<jiff::SignedDuration>| x.map_or_else(|| "—".to_owned(), format_duration);
    out.push(format!("- Time to acknowledge: {}", show(dur.ack)));
    out.push(format!("- Time to mitigate: {}", show(dur.mitigate)));
    out.push(format!("- Time to resolve: {}", show(dur.resolve)));
    for (name, text) in [
        ("Summary", &i.summary),
        ("Impact", &i.impact),
        ("Resolution", &i.resolution),
    ] {
        out.push(String::new());
        out.push(format!("## {name}"));
        out.push(text.clone().unwrap_or_else(|| "—".to_owned()));
    }
    out.push(String::new());
    out.push("## Status updates".to_owned());
    if d.updates.is_empty() {
        out.push("—".to_owned());
    }
    for u in &d.updates {
        out.push(format!(
            "- {} — {} ({}): {}",
            t(u.at),
            u.author,
            u.kind,
            u.text.replace('\n', "; ")
        ));
    }
    out.push(String::new());
    out.push("## Timeline".to_owned());
    let live: Vec<&TimelineEvent> = d.events.iter().filter(|e| e.deleted_at.is_none()).collect();
    let starred: Vec<&&TimelineEvent> = live.iter().filter(|e| e.starred).collect();
    if !starred.is_empty() {
        out.push("### Starred".to_owned());
        for e in starred {
            out.push(event_line(e, tz));
        }
        out.push("### All events".to_owned());
    }
    let mut collapsed = 0;
    for e in &live {
        if e.kind == EventKind::Participant {
            collapsed += 1;
            continue;
        }
        out.push(event_line(e, tz));
    }
    if collapsed > 0 {
        out.push(format!("- ({collapsed} joins and leaves not shown)"));
    }
    out.push(String::new());
    out.push("## Tasks".to_owned());
    if d.tasks.is_empty() {
        out.push("—".to_owned());
    }
    for (phase, title) in [
        (TaskPhase::During, "During the incident"),
        (TaskPhase::Followup, "Follow-ups"),
    ] {
        let list: Vec<&Task> = d.tasks.iter().filter(|x| x.phase == phase).collect();
        if list.is_empty() {
            continue;
        }
        out.push(format!("### {title}"));
        for x in list {
            let mut line = format!(
                "- [{}] T{} {}",
                if x.status == TaskStatus::Done {
                    "x"
                } else {
                    " "
                },
                x.number,
                x.text
            );
            if let Some(k) = &x.kind {
                line.push_str(&format!(" ({k})"));
            }
            if !x.assignees.is_empty() {
                line.push_str(&format!(" — {}", x.assignees.join(", ")));
            }
            if let Some(at) = x.done_at {
                line.push_str(&format!(" — done {}", t(at)));
            }
            out.push(line);
        }
    }
    out.push(String::new());
    out.push("## Participants".to_owned());
    let mut people: Vec<&Participant> = d.participants.iter().collect();
    people.sort_by(|a, b| {
        b.message_count
            .cmp(&a.message_count)
            .then(a.joined_at.cmp(&b.joined_at))
    });
    if people.is_empty() {
        out.push("—".to_owned());
    }
    for p in people.iter().take(5) {
        out.push(format!(
            "- {} (joined {}, {} messages)",
            p.user,
            t(p.joined_at),
            p.message_count
        ));
    }
    if people.len() > 5 {
        out.push(format!("- and {} more", people.len() - 5));
    }
    let links: Vec<String> = [
        ("Room", &i.room),
        ("Ticket", &i.ticket_url),
        ("Details", &i.details_url),
        ("Review", &i.review_url),
    ]
    .into_iter()
    .filter_map(|(n, v)| v.as_ref().map(|v| format!("- {n}: {v}")))
    .collect();
    if !links.is_empty() {
        out.push(String::new());
        out.push("## Links".to_owned());
        out.extend(links);
    }
    out.join("\n")
}

fn event_line(e: &TimelineEvent, tz: Option<&TimeZone>) -> String {
    format!(
        "- {} — {} — {}: {}",
        format_ts(e.at, tz),
        e.kind,
        e.actor,
        e.text.replace('\n', "; ")
    )
}
