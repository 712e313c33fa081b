//! The `ferrbot` binary, run as ops and console users run it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod incident;
mod secrets;
mod st2;

pub(crate) fn ferrbot() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrbot"));
    for (key, _) in std::env::vars() {
        if key.starts_with("FERRBOT__") || key == "FERRBOT_CONFIG" || key == "FERRBOT_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub(crate) fn run_piped(args: &[&str], data: &Path, input: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = ferrbot();
    cmd.arg("run")
        .args(args)
        .env("FERRBOT_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn piped_console_session_answers_every_line_and_exits_0() {
    let data = tempfile::tempdir().unwrap();
    let out = run_piped(
        &["--user", "tester"],
        data.path(),
        "!help\n!whoami\n!nosuch\n",
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {}",
        out.status,
        text(&out.stderr)
    );
    let help = stdout.find("Commands you can run").expect("help list");
    let whoami = stdout
        .find("You are tester (`console:tester`)")
        .expect("whoami");
    let unknown = stdout
        .find("Unknown command `!nosuch`")
        .expect("unknown command reply");
    assert!(
        help < whoami && whoami < unknown,
        "replies in input order:\n{stdout}"
    );
    assert!(
        stdout.contains("`!whoami` — Who the bot thinks you are"),
        "{stdout}"
    );
    assert!(
        data.path().join("ferrbot.db").exists(),
        "SQLite in the data directory"
    );
}

#[test]
fn a_typo_gets_a_did_you_mean() {
    let data = tempfile::tempdir().unwrap();
    let out = run_piped(&["--user", "tester"], data.path(), "!helpp\n", &[]);
    assert!(
        text(&out.stdout).contains("Did you mean `!help`?"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn environment_overrides_config_keys() {
    let data = tempfile::tempdir().unwrap();
    let out = run_piped(
        &["--user", "root"],
        data.path(),
        "?whoami\n!whoami\n",
        &[
            ("FERRBOT__BOT__PREFIX", "?"),
            ("FERRBOT__BOT__ADMINS", r#"["console:root"]"#),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        stdout.matches("You are root").count(),
        1,
        "only `?whoami` is a command: {stdout}"
    );
    assert!(stdout.contains("You are a bot admin."), "{stdout}");
}

#[test]
fn check_config_accepts_the_example() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.example.toml");
    let out = ferrbot()
        .arg("check-config")
        .arg(&example)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with(": ok\n"));
}

fn check(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ferrbot.toml");
    std::fs::write(&file, config).unwrap();
    let out = ferrbot().arg("check-config").arg(&file).output().unwrap();
    let stderr = text(&out.stderr).replace(&file.display().to_string(), "FILE");
    (out.status.success(), stderr)
}

#[test]
fn check_config_names_file_line_and_key_of_each_problem() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[bot\nprefix = \"!\"\n",
            &["FILE:1: bot: unclosed table, expected `]`"],
        ),
        (
            "[bot]\nprefix = 1\nprefx = \"!\"\n[web]\nlisten = \"nowhere\"\n",
            &[
                "FILE:2: bot.prefix: invalid type: integer `1`, expected a string",
                "FILE:3: bot.prefx: unknown field `prefx`",
                "FILE:5: web.listen: invalid socket address syntax",
            ],
        ),
        (
            "[bot]\ncommand_timeout = \"soon\"\n",
            &["FILE:2: bot.command_timeout: `soon` is not a duration"],
        ),
        ("[chat]\nx = 1\n", &["FILE:1: chat: unknown section"]),
        (
            "[backends.irc]\nserver = \"x\"\n",
            &["FILE:1: backends.irc: unknown backend kind `irc`"],
        ),
        (
            "[backends.console]\ncolour = true\n",
            &["FILE:1: backends.console: unknown field `colour`, expected one of `user`, `room`"],
        ),
        (
            "[plugins.nosuch]\n",
            &["FILE:1: plugins.nosuch: unknown plugin `nosuch`"],
        ),
        (
            "[bot]\nadmins = [\"slack:[U\"]\n",
            &["FILE:2: bot.acl: invalid pattern `slack:[U`"],
        ),
        (
            "[storage]\nurl = \"mysql://x\"\n",
            &["FILE:2: storage.url: expected `sqlite://PATH` or `postgres://…`"],
        ),
        (
            "[storage]\nurl = \"env:FERRBOT_TEST_UNSET_DB_URL\"\n",
            &[
                "FILE:2: storage.url: refers to the environment variable `FERRBOT_TEST_UNSET_DB_URL`, which is not set",
            ],
        ),
    ];
    for (config, expected) in cases {
        let (ok, stderr) = check(config);
        assert!(!ok, "accepted:\n{config}");
        for want in *expected {
            assert!(
                stderr.contains(want),
                "for:\n{config}\nwanted {want:?} in:\n{stderr}"
            );
        }
        assert!(
            stderr.contains(&format!("{} problem(s)", expected.len())),
            "for:\n{config}\ncount in:\n{stderr}"
        );
    }
}

#[test]
fn run_refuses_an_invalid_config_with_the_same_messages() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[bot]\nprefix = 1\n").unwrap();
    let out = run_piped(&["--config", file.to_str().unwrap()], dir.path(), "", &[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.toml:2: bot.prefix: invalid type"),
        "{stderr}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let data = tempfile::tempdir().unwrap();
    let out = run_piped(
        &[
            "--user",
            "tester",
            "--log-format",
            "json",
            "--log-level",
            "info",
        ],
        data.path(),
        "!whoami\n",
        &[],
    );
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "info logs expected");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
    }
}

#[test]
fn sigterm_stops_gracefully_with_exit_0() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("ferrbot.toml");
    std::fs::write(
        &config,
        "[web]\nlisten = \"127.0.0.1:0\"\n[backends.console]\nuser = \"ops\"\ninteractive = false\n",
    )
    .unwrap();
    let mut child = ferrbot()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--log-level",
            "info",
        ])
        .env("FERRBOT_DATA_DIR", data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"!whoami\n").unwrap();
    stdin.flush().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("You are ops"), "{line}");
    // stdin stays open: only the signal can stop the bot now.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    assert!(status.success(), "exit {status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
}
