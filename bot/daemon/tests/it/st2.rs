//! `ferrbot st2 alias-test`: alias authors check a format against a command offline.

use crate::{ferrbot, text};

fn alias_test(format: &str, command: &str) -> (i32, String, String) {
    let out = ferrbot()
        .args(["st2", "alias-test", "--format", format, command])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn prints_the_parameters_as_json_and_exits_0() {
    let (code, out, err) = alias_test(
        "run {{cmd}} on {{hosts=localhost}}",
        "run \u{201c}uname -a\u{201d} on web1 timeout=30",
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"cmd": "uname -a", "hosts": "web1", "timeout": "30"})
    );
    // A default fills an omitted optional parameter.
    let (code, out, err) = alias_test("run {{cmd}} on {{hosts=localhost}}", "run date on");
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"cmd": "date", "hosts": "localhost"})
    );
}

#[test]
fn a_command_that_does_not_match_says_so_and_exits_non_zero() {
    let (code, out, err) = alias_test("run {{cmd}} on {{hosts}}", "deploy web1");
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("Command \"deploy web1\" doesn't match format string"),
        "{err}"
    );
}

#[test]
fn an_invalid_format_is_a_clear_error() {
    let (code, out, err) = alias_test("{{a}} = {{b}}", "x = y");
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("bad alias format"), "{err}");
    let (code, _, err) = alias_test("run (unclosed {{x}}", "run (unclosed y");
    assert_eq!(code, 2);
    assert!(err.contains("bad alias format"), "{err}");
}
