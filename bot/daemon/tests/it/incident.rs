//! `!incident` on the console backend, as an on-call engineer would run it: a whole incident
//! piped from `declare` to `report`, and a `kill -9` after confirmed commands that loses nothing
//! (incident, timeline, acknowledgement, subscription, tasks, reminder state).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::{ferrbot, run_piped, text};

fn config(dir: &Path) -> String {
    let path = dir.join("ferrbot.toml");
    std::fs::write(
        &path,
        "[backends.console]\nuser = \"alice\"\ninteractive = false\n\
         [web]\nlisten = \"127.0.0.1:0\"\n\
         [plugins.incident]\ntimezone = \"Europe/Oslo\"\n",
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_whole_incident_piped_from_declare_to_report() {
    let data = tempfile::tempdir().unwrap();
    let config = config(data.path());
    let script = "\
!incident declare Checkout 502s --sev 2 --started -70m --summary \"cards declined\"
!inc lead @alice
!inc ack looking
!inc note rolled back v2
!inc task add check replicas
!inc task add add an alert on 502s --followup --kind detective
!inc update errors back to normal, watching
!inc task done T1
!inc stable
!inc resolve rolled back the deploy
!inc report 1
";
    let out = run_piped(&["--config", &config], data.path(), script, &[]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        stdout.contains("Declared #1 Checkout 502s (active, sev2 (major)"),
        "{stdout}"
    );
    let report = stdout
        .split("# Incident #1: Checkout 502s")
        .nth(1)
        .unwrap_or_else(|| panic!("no report in\n{stdout}"));
    for line in [
        "- Severity: sev2 (major)",
        "- Lead: console:alice",
        "- State: resolved",
        "- Time to resolve: 1 h 10 min",
        "## Status updates",
        "console:alice (update): errors back to normal, watching",
        "— note — console:alice: rolled back v2",
        "- [x] T1 check replicas",
        "### Follow-ups",
        "- [ ] T2 add an alert on 502s (detective)",
        "## Participants",
    ] {
        assert!(report.contains(line), "missing `{line}` in\n{report}");
    }
    // The timeline is dated, with UTC and the configured zone on every line.
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
    assert!(timeline.len() >= 8, "{timeline:?}");
    for l in &timeline {
        assert!(l.contains(" UTC (") && l.contains("Europe/Oslo)"), "{l}");
    }
    for kind in ["declared", "acknowledged", "stable", "resolved"] {
        assert!(
            timeline.iter().any(|l| l.contains(kind)),
            "no `{kind}` line in {timeline:#?}"
        );
    }
}

/// A running bot whose stdin stays open, with its stdout read line by line.
struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(config: &str, data: &Path) -> Self {
        let mut child = ferrbot()
            .args(["run", "--config", config])
            .env("FERRBOT_DATA_DIR", data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// Sends `command` and waits (at most 30 s) for a reply line containing `confirmation`.
    fn confirm(&mut self, command: &str, confirmation: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains(confirmation) => return line,
                Ok(line) => seen.push(line),
                Err(e) => panic!("no `{confirmation}` after `{command}` ({e}); saw {seen:#?}"),
            }
        }
    }
}

#[test]
fn kill_9_after_confirmed_commands_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let config = config(data.path());
    let mut bot = Running::start(&config, data.path());
    bot.confirm(
        "!incident declare Payments down --sev 1 --tag service=payments",
        "Declared #1 Payments down",
    );
    bot.confirm("!inc ack 2h on it", "#1 acknowledged until");
    bot.confirm("!inc note #1 failover started", "#1 noted");
    bot.confirm("!inc subscribe --here --tag service=payments", "S1 →");
    bot.confirm("!inc task add page the bank", "T1");
    bot.confirm("!inc snooze 3h", "snoozed until");
    // No graceful shutdown: the process dies right after the last confirmation.
    bot.child.kill().unwrap();
    bot.child.wait().unwrap();

    let out = run_piped(
        &["--config", &config],
        data.path(),
        "!inc status 1\n!inc timeline #1\n!inc subscriptions\n!inc task list #1\n",
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for expected in [
        "#1 Payments down",
        "Acknowledged by console:alice until",
        "failover started",
        "service=payments",
        "page the bank",
        "Reminders snoozed until",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` after kill -9:\n{stdout}"
        );
    }
}
