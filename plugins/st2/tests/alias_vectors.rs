//! Every case of StackStorm's real alias parser (`tests/data/alias-vectors.json`, produced by
//! st2 commit c2eaf56b339b under CPython 3.11) against ferrbot's local parser, then the
//! generated cross-check cases of `tests/data/alias-differential.json` (see its README).
//!
//! All cases run; the failures are collected and reported together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ferrbot_plugin_st2::alias::{AliasError, AliasFormat, alias_test, extract_parameters};
use serde::Deserialize;

/// The number of cases in the vector file (a truncated copy must fail).
const EXPECTED_CASES: usize = 44;
/// The number of cases in the differential file.
const EXPECTED_DIFFERENTIAL_CASES: usize = 103;

#[derive(Debug, Deserialize)]
struct VectorFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    format: String,
    command: String,
    #[serde(default)]
    expected: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    error_kind: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

fn load_file(name: &str) -> VectorFile {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load() -> VectorFile {
    load_file("alias-vectors.json")
}

/// Runs every case of `file`, asserting its size, and reports all failures at once.
fn run_all(file: &VectorFile, expected_len: usize) {
    assert_eq!(
        file.cases.len(),
        expected_len,
        "vector file truncated or changed"
    );
    let failures: Vec<String> = file
        .cases
        .iter()
        .filter_map(|case| check(case).map(|why| format!("{}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
}

/// What is wrong with one case, if anything.
fn check(case: &Case) -> Option<String> {
    let got = extract_parameters(&case.format, &case.command);
    if case.error || case.error_kind.is_some() {
        let kind = case.error_kind.as_deref().unwrap_or("?");
        let message = case.error_message.as_deref().unwrap_or("?");
        let err = match got {
            Ok(params) => return Some(format!("expected {kind} error, got {params:?}")),
            Err(err) => err,
        };
        if err.kind() != kind {
            return Some(format!("expected {kind}, got {err:?}"));
        }
        let text = match &err {
            AliasError::InvalidFormat { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        if text != message {
            return Some(format!("message {text:?}, expected {message:?}"));
        }
        None
    } else {
        let expected = case.expected.as_ref()?;
        match got {
            Ok(params) if &params == expected => None,
            Ok(params) => Some(format!("got {params:?}, expected {expected:?}")),
            Err(err) => Some(format!("error {err:?}, expected {expected:?}")),
        }
    }
}

#[test]
fn every_vector_matches_stackstorm() {
    run_all(&load(), EXPECTED_CASES);
}

#[test]
fn differential_cases_match_stackstorm_logic() {
    run_all(
        &load_file("alias-differential.json"),
        EXPECTED_DIFFERENTIAL_CASES,
    );
}

#[test]
fn every_vector_has_an_outcome() {
    for case in load().cases {
        assert!(
            case.error != case.expected.is_some(),
            "{}: needs exactly one of expected / error",
            case.name
        );
    }
}

#[test]
fn compiled_format_agrees_with_one_shot_extraction() {
    for case in load().cases {
        let Ok(format) = AliasFormat::parse(&case.format) else {
            continue;
        };
        assert_eq!(
            format.extract(&case.command),
            extract_parameters(&case.format, &case.command),
            "{}",
            case.name
        );
        assert_eq!(format.matches(&case.command), !case.error, "{}", case.name);
        assert_eq!(format.format(), case.format);
    }
}

#[test]
fn alias_test_prints_json_with_null_for_unmatched_groups() {
    let json = alias_test(r"x|y {{a}}", "x").unwrap();
    assert_eq!(json, r#"{"a":null}"#);
    let json = alias_test("run {{cmd}} on {{hosts}}", "run date on web1 timeout=5").unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"cmd": "date", "hosts": "web1", "timeout": "5"})
    );
}

#[test]
fn alias_test_exit_codes() {
    let no_match = alias_test("run {{cmd}}", "walk").unwrap_err();
    assert_eq!(no_match.exit_code(), 1);
    let no_value = alias_test("{{a=\"\"}}", "").unwrap_err();
    assert_eq!(no_value.exit_code(), 1);
    let invalid = alias_test("{{a}} = {{b}}", "x = y").unwrap_err();
    assert_eq!(invalid.exit_code(), 2);
    assert!(
        invalid
            .to_string()
            .contains("bad character in group name 'a}}'"),
        "{invalid}"
    );
}
