//! The incident commands through the real dispatcher (ferrbot::testing, a console-like
//! backend, the manual clock): the §4.9 checks 1, 2, 3, 4, 13 and 15, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use ferrbot_plugin_incident::model::{EventKind, Incident, Origin, Review, State};
use ferrbot_plugin_incident::store::{self, IncidentStore};
use support::{advance, ask, ask_in, bot, declared_id, events, incident, incidents};

const A: &str = "console:alice";
const B: &str = "console:bob";

#[tokio::test]
async fn check1_declare_then_resolve_twice_is_a_noop_the_second_time() {
    let bot = bot("").await;
    let reply = ask(&bot, A, "!inc declare Checkout 502s --sev 2").await;
    assert!(
        reply.starts_with("Declared #1 Checkout 502s (active, sev2 (major)"),
        "{reply}"
    );
    let i = incident(&bot, 1).await;
    assert_eq!((i.state, i.severity.map(|s| s.0)), (State::Active, Some(2)));
    assert_eq!(i.reporter.as_deref(), Some(A));

    advance(&bot, 90);
    let reply = ask(&bot, A, "!inc resolve rolled back the deploy").await;
    assert_eq!(
        reply,
        "#1 Checkout 502s resolved at 2026-01-01 01:30 UTC — open for 1 h 30 min."
    );
    advance(&bot, 5);
    let reply = ask(&bot, A, "!incident close").await;
    assert_eq!(reply, "#1 is already resolved at 2026-01-01 01:30 UTC");

    let resolved: Vec<_> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Resolved)
        .collect();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    let i = incident(&bot, 1).await;
    assert_eq!(i.resolution.as_deref(), Some("rolled back the deploy"));
    assert_eq!(i.review, Review::Pending);
}

#[tokio::test]
async fn check2_reopen_clears_resolution_time_and_stateless_is_refused() {
    let bot = bot("").await;
    ask(&bot, A, "!inc declare DB failover").await;
    ask(&bot, A, "!inc stable").await;
    ask(&bot, A, "!inc resolve").await;
    assert!(incident(&bot, 1).await.resolved_at.is_some());
    let reply = ask(&bot, A, "!inc reopen it came back").await;
    assert!(reply.starts_with("#1 DB failover reopened at"), "{reply}");
    let i = incident(&bot, 1).await;
    assert_eq!(
        (i.state, i.resolved_at, i.stable_at),
        (State::Active, None, None)
    );
    let last = events(&bot, 1).await.pop().unwrap();
    assert_eq!(last.kind, EventKind::Reopened);
    assert_eq!(last.text, "reopened: it came back");
    assert_eq!(last.data["from"], "resolved");
    let reply = ask(&bot, A, "!inc reopen").await;
    assert!(reply.contains("is already active"), "{reply}");

    // A stateless source incident (the later intake creates these; here through the store).
    let mut alert: Incident = incident(&bot, 1).await;
    let s = IncidentStore::new(bot.store());
    let mut tx = s.begin().await.unwrap();
    alert.origin = Origin::Source;
    alert.state = State::Stateless;
    alert.title = "disk full".into();
    alert.source = Some("argus".into());
    alert.source_incident_id = Some("x-1".into());
    let id = store::insert_incident(&mut tx, &alert).await.unwrap();
    store::commit(tx).await.unwrap();
    let before = events(&bot, id).await.len();
    for cmd in ["reopen", "resolve", "stable"] {
        let reply = ask(&bot, A, &format!("!inc {cmd} #{id}")).await;
        assert!(
            reply.contains("stateless incidents have no state"),
            "{cmd}: {reply}"
        );
    }
    assert_eq!(events(&bot, id).await.len(), before);
    assert_eq!(incident(&bot, id).await.state, State::Stateless);
    // Ack and notes still work on it.
    let reply = ask(&bot, B, &format!("!inc ack #{id} looking")).await;
    assert!(reply.contains("acknowledged"), "{reply}");
}

#[tokio::test]
async fn check3_permission_matrix() {
    let bot = bot("").await;
    ask(&bot, A, "!inc declare Payments slow --sev 3").await;
    let reply = ask(&bot, B, "!inc severity 1").await;
    assert!(reply.starts_with("Sorry, only responders of #1"), "{reply}");
    for who in [
        "the lead",
        "role holders (deputy, scribe, comms)",
        "the reporter (console:alice)",
        "bot admins",
    ] {
        assert!(reply.contains(who), "{who} missing: {reply}");
    }
    assert!(reply.ends_with("may change the severity of #1."), "{reply}");
    assert_eq!(incident(&bot, 1).await.severity.map(|s| s.0), Some(3));
    let reply = ask(&bot, B, "!inc resolve fixed").await;
    assert!(
        reply.starts_with("Sorry, only responders of #1") && reply.ends_with("may resolve #1."),
        "{reply}"
    );
    let i = incident(&bot, 1).await;
    assert_eq!((i.state, i.resolution), (State::Active, None));
    assert_eq!(events(&bot, 1).await.len(), 1, "a refusal writes nothing");
    // Role holders and admins may; a role makes bob a responder.
    assert!(
        ask(&bot, "console:root", "!inc severity 2")
            .await
            .contains("sev2 (major)")
    );
    ask(&bot, A, "!inc role scribe @bob").await;
    let reply = ask(&bot, B, "!inc severity 1").await;
    assert_eq!(reply, "#1 severity is now sev1 (critical).");
    // A non-responder may still read, join, note and ack.
    assert!(
        ask(&bot, "console:carol", "!inc note looked at it")
            .await
            .contains("noted")
    );
    assert!(
        ask(&bot, "console:carol", "!inc join")
            .await
            .contains("joined")
    );

    let anyone = bot_anyone().await;
    ask(&anyone, A, "!inc declare Payments slow --sev 3").await;
    let reply = ask(&anyone, B, "!inc severity 1").await;
    assert_eq!(reply, "#1 severity is now sev1 (critical).");

    let participants = support::bot("edit_policy = \"participants\"").await;
    ask(&participants, A, "!inc declare Payments slow --sev 3").await;
    let reply = ask(&participants, B, "!inc sev 1").await;
    assert!(reply.starts_with("Sorry, only participants"), "{reply}");
    ask(&participants, B, "!inc join").await;
    assert!(ask(&participants, B, "!inc sev 1").await.contains("sev1"));
}

async fn bot_anyone() -> ferrbot::testing::TestBot {
    bot("edit_policy = \"anyone\"").await
}

#[tokio::test]
async fn check4_ack_expires_with_the_clock() {
    let bot = bot("").await;
    ask(&bot, A, "!inc declare Checkout 502s --sev 2").await;
    advance(&bot, 2);
    let reply = ask(&bot, B, "!inc ack 30m on it").await;
    assert_eq!(reply, "#1 acknowledged until 2026-01-01 00:32 UTC: on it.");
    assert!(
        ask(&bot, A, "!inc status")
            .await
            .contains("Acknowledged by console:bob until")
    );
    assert!(incident(&bot, 1).await.first_ack_at.is_some());
    advance(&bot, 31);
    assert!(
        ask(&bot, A, "!inc status")
            .await
            .contains("Not acknowledged")
    );
    bot.run_jobs().await;
    bot.run_jobs().await;
    let expired: Vec<_> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::AckExpired)
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].text, "acknowledgement by console:bob expired");
    // Expired acks are read-only.
    let reply = ask(&bot, B, "!inc unack").await;
    assert!(reply.contains("expired at 2026-01-01 00:32 UTC"), "{reply}");
    // A fresh ack without duration lasts; unack withdraws it.
    ask(&bot, B, "!inc ack").await;
    advance(&bot, 600);
    assert!(
        ask(&bot, A, "!inc status")
            .await
            .contains("Acknowledged by console:bob")
    );
    assert_eq!(
        ask(&bot, B, "!inc unack").await,
        "#1 acknowledgement withdrawn."
    );
    assert!(
        ask(&bot, A, "!inc status")
            .await
            .contains("Not acknowledged")
    );
}

#[tokio::test]
async fn check13_report_has_dated_timeline_tasks_and_durations() {
    let bot = bot("timezone = \"Europe/Oslo\"").await;
    ask(
        &bot,
        A,
        "!inc declare Checkout 502s --sev 2 --started -10m --tag team=web",
    )
    .await;
    advance(&bot, 5);
    ask(&bot, A, "!inc lead @bob").await;
    advance(&bot, 5);
    let reply = ask(&bot, B, "!inc note rolled back v2").await;
    assert!(reply.starts_with("#1 noted as E"), "{reply}");
    let event_id: String = reply["#1 noted as ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    ask(&bot, B, &format!("!inc timeline star {event_id}")).await;
    ask(&bot, B, "!inc task add check replicas --assign @carol").await;
    ask(
        &bot,
        B,
        "!inc task add add an alert on 502s --followup --kind detective",
    )
    .await;
    ask(&bot, B, "!inc update errors back to normal, watching").await;
    advance(&bot, 20);
    ask(&bot, B, "!inc task done T1").await;
    ask(&bot, B, "!inc stable").await;
    advance(&bot, 30);
    ask(&bot, B, "!inc resolve").await;

    let report = ask(&bot, A, "!inc report 1").await;
    for line in [
        "# Incident #1: Checkout 502s",
        "- Severity: sev2 (major)",
        "- Lead: console:bob",
        "- Started: 2025-12-31 23:50 UTC (2026-01-01 00:50 Europe/Oslo)",
        "- Time to acknowledge: 5 min",
        "- Time to mitigate: 40 min",
        "- Time to resolve: 1 h 10 min",
        "## Status updates",
        "console:bob (update): errors back to normal, watching",
        "### Starred",
        "- 2026-01-01 00:10 UTC (01:10 Europe/Oslo) — note — console:bob: rolled back v2",
        "### During the incident",
        "- [x] T1 check replicas — console:carol — done 2026-01-01 00:30 UTC",
        "### Follow-ups",
        "- [ ] T2 add an alert on 502s (detective)",
        "## Participants",
    ] {
        assert!(report.contains(line), "missing `{line}` in\n{report}");
    }
    // Every timeline line carries a date and a zone.
    let timeline: Vec<&str> = report
        .split("## Timeline")
        .nth(1)
        .unwrap()
        .split("## Tasks")
        .next()
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- 20"))
        .collect();
    assert!(timeline.len() >= 6, "{timeline:?}");
    for l in &timeline {
        assert!(l.contains(" UTC (") && l.contains("Europe/Oslo)"), "{l}");
    }
}

#[tokio::test]
async fn check13_stats_on_a_fixture_with_known_answers() {
    let bot = bot("").await;
    // sev1: resolve after 60 and 120 min, acked after 10 and 30 min; sev2: 30 min; one
    // false alarm that must not count.
    for (title, ack, stable, resolve, false_alarm) in [
        ("one", 10, 40, 60, false),
        ("two", 30, 90, 120, false),
        ("three", 5, 0, 30, false),
        ("noise", 1, 0, 2, true),
    ] {
        let sev = if title == "three" { 2 } else { 1 };
        let id = declared_id(&ask(&bot, A, &format!("!inc declare {title} --sev {sev}")).await);
        advance(&bot, ack);
        ask(&bot, B, &format!("!inc ack #{id}")).await;
        if stable > 0 {
            advance(&bot, stable - ack);
            ask(&bot, A, &format!("!inc stable #{id}")).await;
            advance(&bot, resolve - stable);
        } else {
            advance(&bot, resolve - ack);
        }
        let flag = if false_alarm { " --false-alarm" } else { "" };
        ask(&bot, A, &format!("!inc resolve #{id}{flag}")).await;
    }
    let reply = ask(&bot, A, "!inc stats").await;
    assert!(
        reply.starts_with("Incident stats (all time): 3 incidents, 1 false alarm left out"),
        "{reply}"
    );
    assert!(
        reply.contains(
            "sev1 (critical): 2 incidents · time to ack: mean 20 min, median 20 min, p90 30 min (n=2) \
             · time to mitigate: mean 1 h 5 min, median 1 h 5 min, p90 1 h 30 min (n=2) \
             · time to resolve: mean 1 h 30 min, median 1 h 30 min, p90 2 h (n=2)"
        ),
        "{reply}"
    );
    assert!(
        reply.contains(
            "sev2 (major): 1 incident · time to ack: mean 5 min, median 5 min, p90 5 min (n=1) \
             · time to mitigate: mean 30 min"
        ),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc stats --sev<=1").await;
    assert!(
        reply.contains("2 incidents, 1 false alarm left out") && !reply.contains("sev2"),
        "{reply}"
    );
}

#[tokio::test]
async fn check15_references_and_inference() {
    let bot = bot("").await;
    ask(&bot, A, "!inc declare Checkout 502s").await;
    ask(&bot, A, "!inc declare Search down").await;
    for r in ["1", "#1", "inc-1", "INC-1", "--incident 1", "-i #1"] {
        let reply = ask(&bot, A, &format!("!inc status {r}")).await;
        assert!(reply.starts_with("#1 Checkout 502s"), "{r}: {reply}");
    }
    // The core's splitter would drop `#1` as a comment; a leading reference works everywhere.
    let reply = ask(&bot, A, "!inc note #1 it's the load balancer").await;
    assert!(reply.starts_with("#1 noted"), "{reply}");
    let notes: Vec<_> = events(&bot, 1)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Note)
        .collect();
    assert_eq!(notes[0].text, "it's the load balancer");
    // The declaring room's focus is the newest incident.
    assert!(
        ask(&bot, A, "!inc status")
            .await
            .starts_with("#2 Search down")
    );
    // Another room without focus: an error that lists the open incidents.
    let reply = ask_in(&bot, "console:ops", A, "!inc lead").await;
    assert!(reply.contains("which incident?"), "{reply}");
    assert!(
        reply.contains("open incidents: #2 Search down, #1 Checkout 502s"),
        "{reply}"
    );
    assert!(
        ask_in(&bot, "console:ops", A, "!inc focus inc-1")
            .await
            .contains("focus is now #1")
    );
    assert_eq!(
        ask_in(&bot, "console:ops", A, "!inc lead").await,
        "#1 lead: console:alice."
    );
    // An incident's own room (and thread) wins over the focus.
    let mut second = incident(&bot, 2).await;
    second.room = Some("console:inc-2".into());
    let s = IncidentStore::new(bot.store());
    let mut tx = s.begin().await.unwrap();
    store::save_incident(&mut tx, &second).await.unwrap();
    store::commit(tx).await.unwrap();
    assert!(
        ask_in(&bot, "console:inc-2", A, "!inc status")
            .await
            .starts_with("#2 Search down")
    );
    bot.say_in_thread("console:inc-2", "t1", A, "!inc duration")
        .await;
    assert!(bot.next_reply().await.plain().starts_with("#2: Running"));
    // Unknown ids list the open ones too.
    let reply = ask(&bot, A, "!inc status 99").await;
    assert_eq!(
        reply,
        "there is no incident #99; open incidents: #2 Search down, #1 Checkout 502s"
    );
    let reply = ask(&bot, A, "!inc status #x").await;
    assert!(reply.contains("is not an incident reference"), "{reply}");
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_writes_nothing() {
    let bot = bot("").await;
    let reply = ask(&bot, A, "!inc declare Checkout 502s --sev 12").await;
    assert_eq!(
        reply,
        "unknown severity `12`; valid levels: 1 critical, 2 major, 3 minor, 4 trivial, 5 info"
    );
    let long = "x".repeat(201);
    let reply = ask(&bot, A, &format!("!inc declare {long}")).await;
    assert_eq!(
        reply,
        "the title is 201 characters long; at most 200 are allowed"
    );
    let reply = ask(
        &bot,
        A,
        &format!("!inc declare ok --summary {}", "y".repeat(4001)),
    )
    .await;
    assert_eq!(
        reply,
        "the summary is 4001 characters long; at most 4000 are allowed"
    );
    let reply = ask(&bot, A, "!inc declare ok --tag Bad=1").await;
    assert!(reply.contains("must match ^[a-z0-9_]+$"), "{reply}");
    assert!(incidents(&bot).await.is_empty(), "nothing declared");
    let reply = ask(&bot, A, "!inc status").await;
    assert!(reply.contains("there are no open incidents"), "{reply}");

    ask(&bot, A, "!inc declare Checkout 502s --sev 2").await;
    let before = events(&bot, 1).await.len();
    let reply = ask(&bot, A, "!inc severity sev 12").await;
    assert!(
        reply.contains("usage") || reply.contains("unexpected"),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc severity maj").await;
    assert!(
        reply.contains("valid levels: 1 critical, 2 major"),
        "{reply}"
    );
    let reply = ask(&bot, A, &format!("!inc title {long}")).await;
    assert_eq!(
        reply,
        "the title is 201 characters long; at most 200 are allowed"
    );
    let reply = ask(&bot, A, &format!("!inc impact {}", "z".repeat(4001))).await;
    assert_eq!(
        reply,
        "the impact is 4001 characters long; at most 4000 are allowed"
    );
    advance(&bot, 60);
    let reply = ask(&bot, A, "!inc ack until 00:30 fixing").await;
    assert!(reply.contains("not in the future"), "{reply}");
    assert!(reply.contains("2026-01-01 00:30 UTC"), "{reply}");
    let reply = ask(&bot, A, "!inc status 7").await;
    assert!(
        reply.contains("there is no incident #7; open incidents: #1 Checkout 502s"),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc note \"unclosed").await;
    assert!(reply.contains("quote is not closed"), "{reply}");
    let reply = ask(&bot, A, "!inc role pilot @bob").await;
    assert!(
        reply.contains("roles: lead, deputy, scribe, comms"),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc task done T9").await;
    assert_eq!(reply, "#1 has no task T9");
    assert_eq!(events(&bot, 1).await.len(), before, "refusals wrote events");
    let i = incident(&bot, 1).await;
    assert_eq!(
        (i.title.as_str(), i.impact.as_deref()),
        ("Checkout 502s", None)
    );
}

#[tokio::test]
async fn retro_list_focus_tasks_and_help() {
    let bot = bot("").await;
    advance(&bot, 600);
    let reply = ask(
        &bot,
        A,
        "!inc declare --retro Old outage --start 02:00 --end 03:00 --sev 3",
    )
    .await;
    assert!(
        reply.starts_with("Declared #1 Old outage (resolved, report-only, sev3"),
        "{reply}"
    );
    let i = incident(&bot, 1).await;
    assert!(i.retro && i.state == State::Resolved);
    assert_eq!(
        i.resolved_at
            .unwrap()
            .duration_since(i.started_at)
            .as_secs(),
        3600
    );
    let reply = ask(
        &bot,
        A,
        "!inc declare --retro Later --start 02:00 --end 23:00",
    )
    .await;
    assert!(reply.contains("in the future"), "{reply}");
    ask(&bot, A, "!inc declare Live one --sev 1 --tag env=prod").await;
    ask(&bot, A, "!inc declare Live two --sev 3 --tag env=dev").await;
    let reply = ask(&bot, A, "!inc list").await;
    assert_eq!(reply.lines().count(), 3, "{reply}");
    assert!(
        reply.lines().next().unwrap().contains("#3 Live two"),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc list --open --tag env=prod --tag env=dev").await;
    assert_eq!(reply.lines().count(), 2, "{reply}");
    let reply = ask(&bot, A, "!inc list --sev<=2").await;
    assert!(
        reply.contains("#2 Live one") && !reply.contains("#3"),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc list --resolved").await;
    assert!(
        reply.contains("#1 Old outage") && !reply.contains("#2"),
        "{reply}"
    );
    advance(&bot, 120);
    let reply = ask(&bot, A, "!inc list --all --since 1h").await;
    assert!(
        reply.contains("#3 Live two") && reply.contains("#2 Live one"),
        "{reply}"
    );
    assert!(!reply.contains("#1 Old outage"), "{reply}");
    let reply = ask(&bot, A, "!inc duration #3").await;
    assert!(reply.starts_with("#3: Running for 2 h (since"), "{reply}");
    // Bulk ack: all or nothing.
    let reply = ask(&bot, B, "!inc ack 2 #3 99").await;
    assert!(reply.starts_with("there is no incident #99"), "{reply}");
    assert!(
        ask(&bot, A, "!inc status 2")
            .await
            .contains("Not acknowledged")
    );
    assert_eq!(
        ask(&bot, B, "!inc ack 2 inc-3").await,
        "#2, #3 acknowledged."
    );
    assert!(
        ask(&bot, A, "!inc status 2")
            .await
            .contains("Acknowledged by console:bob")
    );
    assert!(ask(&bot, A, "!inc list --acked").await.lines().count() == 2);
    let reply = ask(&bot, A, "!inc").await;
    assert!(reply.contains("• declare —"), "{reply}");
    let reply = ask(&bot, A, "!incident declare --help").await;
    assert!(
        reply.contains("--retro") && reply.contains("Usage: incident declare"),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc help").await;
    assert!(
        reply.contains("• declare —") && reply.contains("• task add —"),
        "{reply}"
    );
    let reply = ask(&bot, A, "!inc help task add").await;
    assert!(reply.contains("--assign"), "{reply}");
    let reply = ask(&bot, A, "!inc task list").await;
    assert_eq!(reply, "#3 has no open tasks.");
    let reply = ask(
        &bot,
        A,
        "!inc update --tactical --conditions \"errors 5%\" --needs db help",
    )
    .await;
    assert_eq!(reply, "#3 tactical posted.");
    let reply = ask(&bot, A, "!inc tag add team=web,site=osl").await;
    assert_eq!(reply, "#3 tags: env=dev site=osl team=web");
    assert_eq!(
        ask(&bot, A, "!inc tag rm site=osl").await,
        "#3 tags: env=dev team=web"
    );
    let reply = ask(&bot, A, "!inc participants").await;
    assert!(reply.contains("console:alice"), "{reply}");
    let reply = ask(&bot, A, "!inc timeline --all").await;
    assert!(
        reply.contains("declared") && reply.contains("tags"),
        "{reply}"
    );
}

#[tokio::test]
async fn ticket_review_private_and_handoff() {
    let bot = bot("").await;
    ask(
        &bot,
        A,
        "!inc declare Checkout 502s --lead @alice --summary \"card payments fail\"",
    )
    .await;
    ask(&bot, A, "!inc task add check replicas").await;
    ask(&bot, A, "!inc update failing over").await;
    let reply = ask(&bot, A, "!inc ticket not-a-link").await;
    assert!(reply.contains("is not a link"), "{reply}");
    assert_eq!(
        ask(&bot, A, "!inc ticket https://jira.example/OPS-1").await,
        "#1 ticket: https://jira.example/OPS-1"
    );
    assert!(
        ask(&bot, A, "!inc ticket create")
            .await
            .contains("no ticket integration")
    );
    let reply = ask(&bot, B, "!inc private").await;
    assert_eq!(
        reply,
        "Sorry, only the lead of #1 (console:alice) and bot admins may make it private."
    );
    assert!(
        ask(&bot, A, "!inc private")
            .await
            .contains("cannot be undone")
    );
    assert!(incident(&bot, 1).await.private);
    assert_eq!(
        ask(&bot, "console:carol", "!inc list").await,
        "No incidents match."
    );
    assert!(ask(&bot, A, "!inc list").await.contains("#1 Checkout 502s"));

    // Handoff: the console has no DMs, so the brief goes to the room with a mention.
    bot.say(A, "!inc handoff @bob going off shift").await;
    let brief = bot.next_reply().await.plain();
    let reply = bot.next_reply().await.plain();
    assert!(
        brief.starts_with("console:bob: You are now the lead of #1 Checkout 502s"),
        "{brief}"
    );
    for part in [
        "Note: going off shift",
        "Summary: card payments fail",
        "Open tasks: T1 check replicas",
        "failing over",
    ] {
        assert!(brief.contains(part), "{part}: {brief}");
    }
    assert_eq!(
        reply,
        "#1 lead handed to console:bob; console:alice is deputy."
    );
    let roles = ask(&bot, A, "!inc roles").await;
    assert!(
        roles.contains("lead: console:bob") && roles.contains("deputy: console:alice"),
        "{roles}"
    );

    ask(&bot, B, "!inc resolve").await;
    assert!(ask(&bot, B, "!inc review").await.contains("pending"));
    assert_eq!(
        ask(&bot, B, "!inc review https://docs.example/pm-1").await,
        "#1 review document https://docs.example/pm-1."
    );
    assert_eq!(ask(&bot, B, "!inc review done").await, "#1 review done.");
    let report = ask(&bot, B, "!inc report").await;
    assert!(
        report.contains("- Ticket: https://jira.example/OPS-1"),
        "{report}"
    );
    assert!(
        report.contains("- Review: https://docs.example/pm-1"),
        "{report}"
    );
}

/// The command surface is the same on every capability set (only DMs change where a
/// handoff brief goes).
#[tokio::test]
async fn same_commands_on_slack_discord_matrix_and_console_like_networks() {
    use ferrbot::testing::caps;
    for (name, c) in [
        ("slack", caps::slack()),
        ("discord", caps::discord()),
        ("matrix", caps::matrix()),
        ("console", caps::console()),
    ] {
        let bot = support::bot_with(name, c, "").await;
        let alice = format!("{name}:alice");
        let reply = ask(&bot, &alice, "!inc declare Checkout 502s --sev 2").await;
        assert!(reply.starts_with("Declared #1"), "{name}: {reply}");
        assert!(
            ask(&bot, &alice, "!inc ack 30m")
                .await
                .contains("acknowledged until")
        );
        assert!(
            ask(&bot, &alice, "!inc resolve")
                .await
                .contains("resolved at")
        );
        assert!(
            ask(&bot, &alice, "!inc resolve")
                .await
                .contains("already resolved at")
        );
        let report = ask(&bot, &alice, "!inc report").await;
        assert!(
            report.contains("# Incident #1: Checkout 502s"),
            "{name}: {report}"
        );
    }
}
