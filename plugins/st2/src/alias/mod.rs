//! StackStorm's action-alias format language, reproduced locally.
//!
//! ferrbot sends the chat command to StackStorm, which decides the parameters itself; this
//! local copy of st2's parser (`st2common/models/utils/action_alias_utils.py`,
//! `ActionAliasFormatParser`) serves help, previews and "did you mean", the fake StackStorm in
//! the tests, and `ferrbot st2 alias-test --format F COMMAND` for alias authors. It reproduces
//! st2 at commit c2eaf56b339b on every case of `tests/data/alias-vectors.json`, surprises
//! included (a format is a live Python regex, the command is padded with one space on each
//! side, the trailing `key=value` run is removed everywhere in the command, …).
//!
//! API (the signatures fixed for the plugin are kept): [`AliasFormat::parse`] compiles a
//! format once; [`AliasFormat::extract`] runs st2's `extract_parameters` on a command and
//! [`AliasFormat::matches`] is `extract(..).is_ok()`; [`extract_parameters`] is both in one
//! call; [`normalize_command`] replaces smart quotes and non-breaking spaces (do it first, as
//! hubot does); [`alias_test`] returns the JSON object `ferrbot st2 alias-test` prints, and
//! [`AliasError::exit_code`] its exit status ([`alias_test_cli`] does both, for the daemon's
//! subcommand). Additions: [`PreparedCommand`] with
//! [`AliasFormat::extract_prepared`] (one command against many formats: the command is split
//! once instead of once per format) and [`AliasFormat::extract_all`] (st2's
//! `match_multiple`, one parameter set per match).
//!
//! How a format is compiled and run, in st2's order:
//! 1. `kv`: the trailing run of `key=value` extras is cut off the command; the rest is padded
//!    to `" " + rest + " "`.
//! 2. `format`: the defaults of `{{name=default}}` are collected, then the placeholders are
//!    rewritten textually into Python named groups (st2's two `re.sub`).
//! 3. `pyregex`: the result is parsed as Python `re` syntax (CPython 3.11 rules and error
//!    messages); `anchors` decides, like st2's `search_regex_tokens`, whether to add `^\s*`
//!    and `\s*$`; the tree is written out as fancy-regex syntax with Python's semantics.
//! 4. The regex is searched in the padded stream; named groups, then defaults for empty
//!    values, then the extras (later ones win) make the parameters.
//!
//! Errors: [`AliasError::NoMatch`] and [`AliasError::NoValue`] carry st2's exact texts. Every
//! Python `re.error` (bad group name, duplicate group, unbalanced parenthesis, the
//! `{{a}} = {{b}}` trap, …) is [`AliasError::InvalidFormat`] with Python's message
//! (`re.error: bad character in group name 'app.name' at position 14`), never a panic.
//!
//! Pathological backtracking: matching runs fancy-regex's backtracking engine with a limit of
//! [`BACKTRACK_LIMIT`] steps. Hitting it is an [`AliasError::InvalidFormat`] whose reason
//! starts with `matching gave up` (the format's regex is what has to change; st2 itself would
//! keep a worker busy). The `key=value` and placeholder patterns have no look-around and run
//! on the linear-time engine, so only the format's own regex can hit the limit; a plain
//! `run {{cmd}}` handles commands of 100,000 characters, but not of several hundred thousand.
//!
//! The handful of constant patterns (`snippets`) are compiled once into a process-wide
//! immutable cache; nothing else is shared.
//!
//! Known differences from Python (none is exercised by real aliases we know of):
//! case-insensitive matching follows Rust's Unicode case folding (`\w`, `\b` and `\s` are
//! spelled out to Python's definitions), `\N{name}` escapes are refused, the deprecated `(?t)`
//! flag is unknown, groups nest at most 50 deep (fancy-regex's limit; Python allows a few
//! hundred), and an optional `{{name=default}}` whose default spans lines gives st2's
//! `KeyError` (HTTP 500 there) as [`AliasError::InvalidFormat`] once a command matches.

mod anchors;
mod format;
mod kv;
mod pyregex;
mod snippets;

use std::collections::BTreeMap;

/// Extracted parameters: name → value (`None` for an unmatched regex group).
pub type Params = BTreeMap<String, Option<String>>;

/// Why a command yields no parameters for a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// The command does not match the format (st2's `ParseException` text).
    #[error("Command \"{command}\" doesn't match format string \"{format}\"")]
    NoMatch {
        /// The command as given.
        command: String,
        /// The alias format.
        format: String,
    },
    /// The format has parameters but the command supplied none and there are no defaults.
    #[error("No value supplied and no default value found.")]
    NoValue,
    /// The format is not a valid alias format (st2 would answer 500 with `re.error`).
    #[error("bad alias format \"{format}\": {reason}")]
    InvalidFormat {
        /// The alias format.
        format: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl AliasError {
    /// The vector file's `error_kind`: `no_match`, `no_value` or `invalid_format`.
    pub fn kind(&self) -> &'static str {
        match self {
            AliasError::NoMatch { .. } => "no_match",
            AliasError::NoValue => "no_value",
            AliasError::InvalidFormat { .. } => "invalid_format",
        }
    }
}

/// How many backtracking steps one match may take before it is abandoned.
pub const BACKTRACK_LIMIT: usize = 1_000_000;

impl AliasError {
    /// Exit status of `ferrbot st2 alias-test`: 1 for no match / no value, 2 for a bad format.
    pub fn exit_code(&self) -> i32 {
        match self {
            AliasError::NoMatch { .. } | AliasError::NoValue => 1,
            AliasError::InvalidFormat { .. } => 2,
        }
    }
}

/// A compiled alias format.
#[derive(Debug, Clone)]
pub struct AliasFormat {
    format: String,
    regex: fancy_regex::Regex,
    /// Named groups of the regex: parameter name and group number.
    groups: Vec<(String, usize)>,
    /// `{{name=default}}` defaults, in format order.
    defaults: Vec<(String, String)>,
}

impl AliasFormat {
    /// Compiles a format; an invalid one is [`AliasError::InvalidFormat`].
    pub fn parse(format: &str) -> Result<Self, AliasError> {
        let invalid = |reason: String| AliasError::InvalidFormat {
            format: format.to_owned(),
            reason,
        };
        let snippets = snippets::snippets().map_err(invalid)?;
        let defaults = format::defaults(snippets, format).map_err(invalid)?;
        let source = format::to_python_regex(snippets, format).map_err(invalid)?;
        // st2 parses (and compiles) with re.DOTALL
        let flags = pyregex::Flags {
            dotall: true,
            ..pyregex::Flags::default()
        };
        let parsed = pyregex::parse(&source, flags).map_err(|e| invalid(e.render(&source)))?;
        let mut anchored = String::with_capacity(source.len() + 8);
        if !anchors::has_anchor(&parsed.nodes, anchors::Anchor::Begin) {
            anchored.push_str(r"^\s*");
        }
        anchored.push_str(&source);
        if !anchors::has_anchor(&parsed.nodes, anchors::Anchor::End) {
            anchored.push_str(r"\s*$");
        }
        let parsed = pyregex::parse(&anchored, flags)
            .and_then(|parsed| pyregex::check_lookbehinds(&parsed.nodes).map(|()| parsed))
            .map_err(|e| invalid(e.render(&anchored)))?;
        let translated = pyregex::to_fancy(&parsed.nodes);
        let regex = fancy_regex::RegexBuilder::new(&translated)
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map_err(|e| invalid(format!("the regex engine refused the pattern: {e}")))?;
        Ok(AliasFormat {
            format: format.to_owned(),
            regex,
            groups: parsed.group_names,
            defaults,
        })
    }

    /// The format as written.
    pub fn format(&self) -> &str {
        &self.format
    }

    /// The parameters StackStorm would extract from `command` (no smart-quote normalisation:
    /// call [`normalize_command`] first).
    pub fn extract(&self, command: &str) -> Result<Params, AliasError> {
        self.extract_prepared(&PreparedCommand::new(command))
    }

    /// [`AliasFormat::extract`] for a command prepared once (cheaper when one command is
    /// tried against many formats, as previews and "did you mean" do).
    pub fn extract_prepared(&self, command: &PreparedCommand) -> Result<Params, AliasError> {
        let split = command.parts().map_err(|e| self.invalid(e))?;
        let caps = match self.regex.captures(split.stream.as_str()) {
            Ok(Some(caps)) => caps,
            Ok(None) => {
                return Err(AliasError::NoMatch {
                    command: command.command.clone(),
                    format: self.format.clone(),
                });
            }
            Err(e) => return Err(self.runtime_error(e)),
        };
        self.params(&caps, split)
    }

    /// st2's `match_multiple` extraction (`finditer`): one parameter set per non-overlapping
    /// match, in order; empty when nothing matches (st2 then schedules no execution).
    pub fn extract_all(&self, command: &str) -> Result<Vec<Params>, AliasError> {
        let command = PreparedCommand::new(command);
        let split = command.parts().map_err(|e| self.invalid(e))?;
        let mut all = Vec::new();
        for caps in self.regex.captures_iter(split.stream.as_str()) {
            let caps = caps.map_err(|e| self.runtime_error(e))?;
            all.push(self.params(&caps, split)?);
        }
        Ok(all)
    }

    fn invalid(&self, reason: String) -> AliasError {
        AliasError::InvalidFormat {
            format: self.format.clone(),
            reason,
        }
    }

    fn runtime_error(&self, error: fancy_regex::Error) -> AliasError {
        match error {
            fancy_regex::Error::RuntimeError(fancy_regex::RuntimeError::BacktrackLimitExceeded) => {
                self.invalid(format!(
                    "matching gave up after {BACKTRACK_LIMIT} backtracking steps: the format's \
                     regex backtracks too much on this command (nested or adjacent unbounded \
                     repeats, or a command of hundreds of kilobytes)"
                ))
            }
            other => self.invalid(format!("matching failed: {other}")),
        }
    }

    /// st2's `match_params_in_stream` for one match.
    fn params(
        &self,
        caps: &fancy_regex::Captures<'_, str>,
        split: &Split,
    ) -> Result<Params, AliasError> {
        let mut params: Params = self
            .groups
            .iter()
            .map(|(name, index)| {
                (
                    name.clone(),
                    caps.get(*index).map(|m| m.as_str().to_owned()),
                )
            })
            .collect();
        for (name, default) in &self.defaults {
            let Some(value) = params.get(name) else {
                // st2 collects defaults with DOTALL but rewrites placeholders without it, so a
                // default spanning lines never becomes a group and st2 fails (HTTP 500).
                return Err(self.invalid(format!(
                    "KeyError: {}: the default of this placeholder spans several lines, so \
                     StackStorm never turns it into a parameter",
                    pyregex::py_repr(name)
                )));
            };
            if value.as_deref().is_none_or(str::is_empty) {
                params.insert(name.clone(), Some(default.clone()));
            }
        }
        for (key, value) in &split.pairs {
            params.insert(key.clone(), Some(value.clone()));
        }
        let nothing_typed = split.stream.chars().all(pyregex::py_isspace);
        let all_empty = params
            .values()
            .all(|value| value.as_deref().is_none_or(str::is_empty));
        if !self.format.is_empty() && nothing_typed && all_empty {
            return Err(AliasError::NoValue);
        }
        Ok(params)
    }

    /// Whether `command` matches this format.
    pub fn matches(&self, command: &str) -> bool {
        self.extract(command).is_ok()
    }
}

/// A command split the way st2 does before matching: trailing `key=value` extras taken off,
/// the rest padded with one space on each side. Prepare once, match against many formats.
#[derive(Debug, Clone)]
pub struct PreparedCommand {
    command: String,
    /// The split command, or why the built-in patterns failed (a ferrbot bug).
    parts: Result<Split, String>,
}

/// A command after st2's step 1.
#[derive(Debug, Clone)]
struct Split {
    /// Trailing `key=value` extras, in order.
    pairs: Vec<(String, String)>,
    /// The rest, padded with one space on each side.
    stream: String,
}

impl PreparedCommand {
    /// Splits `command` (no smart-quote normalisation: call [`normalize_command`] first).
    pub fn new(command: &str) -> Self {
        let parts = snippets::snippets()
            .and_then(|snippets| kv::split_extras(snippets, command))
            .map(|extras| Split {
                pairs: extras.pairs,
                stream: format!(" {} ", extras.rest),
            });
        PreparedCommand {
            command: command.to_owned(),
            parts,
        }
    }

    /// The command as given.
    pub fn command(&self) -> &str {
        &self.command
    }

    fn parts(&self) -> Result<&Split, String> {
        self.parts.as_ref().map_err(Clone::clone)
    }
}

/// Parses `format` and extracts the parameters of `command` from it.
pub fn extract_parameters(format: &str, command: &str) -> Result<Params, AliasError> {
    AliasFormat::parse(format)?.extract(command)
}

/// Replaces typographic quotes with ASCII ones and non-breaking spaces with spaces.
pub fn normalize_command(command: &str) -> String {
    command
        .chars()
        .map(|c| match c {
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{00ab}' | '\u{00bb}' => '"',
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' => '\'',
            '\u{00a0}' | '\u{2007}' | '\u{202f}' => ' ',
            other => other,
        })
        .collect()
}

/// The parameters as one JSON object string (values as strings, `null` for unmatched groups).
pub fn alias_test(format: &str, command: &str) -> Result<String, AliasError> {
    let params = extract_parameters(format, command)?;
    let map: serde_json::Map<String, serde_json::Value> = params
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect();
    Ok(serde_json::Value::Object(map).to_string())
}

/// What `ferrbot st2 alias-test --format F COMMAND` does: the command is normalised like a
/// chat message ([`normalize_command`]), then extracted. Returns the exit status and the text
/// to print: `(0, json)` for stdout, or `(1 | 2, reason)` for stderr
/// (see [`AliasError::exit_code`]).
pub fn alias_test_cli(format: &str, command: &str) -> (i32, String) {
    match alias_test(format, &normalize_command(command)) {
        Ok(json) => (0, json),
        Err(err) => (err.exit_code(), err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, Option<&str>)]) -> Params {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
            .collect()
    }

    fn ok(format: &str, command: &str) -> Params {
        match extract_parameters(format, command) {
            Ok(p) => p,
            Err(e) => panic!("{format:?} / {command:?}: {e}"),
        }
    }

    fn reason(format: &str, command: &str) -> String {
        match extract_parameters(format, command) {
            Err(AliasError::InvalidFormat { reason, .. }) => reason,
            other => panic!("{format:?} / {command:?}: expected a bad format, got {other:?}"),
        }
    }

    #[test]
    fn normalize_replaces_smart_quotes_and_nbsp() {
        assert_eq!(
            normalize_command("run \u{201c}ls -la\u{201d} on\u{a0}web1"),
            "run \"ls -la\" on web1"
        );
        assert_eq!(normalize_command("say \u{2018}hi\u{2019}"), "say 'hi'");
        assert_eq!(
            normalize_command("\u{201e}a\u{201f} \u{ab}b\u{bb} \u{201a}c\u{201b}"),
            "\"a\" \"b\" 'c'"
        );
        assert_eq!(normalize_command("a\u{2007}b\u{202f}c"), "a b c");
        assert_eq!(normalize_command("plain héllo 🎉"), "plain héllo 🎉");
    }

    #[test]
    fn normalized_smart_quotes_then_parse_as_quotes() {
        let command = normalize_command("run \u{201c}ls -la\u{201d} on web1");
        assert_eq!(
            ok("run {{cmd}} on {{hosts}}", &command),
            params(&[("cmd", Some("ls -la")), ("hosts", Some("web1"))])
        );
    }

    #[test]
    fn surprising_behaviours_of_st2_are_reproduced() {
        assert_eq!(
            extract_parameters("browse {{link}}", "browse http://h/?q=1")
                .unwrap_err()
                .kind(),
            "no_match"
        );
        assert_eq!(
            ok("say {{m}}", r#"say hi x="1"2"#),
            params(&[("m", Some("hi")), ("x", Some("1"))])
        );
        assert_eq!(
            ok("say {{m}}", r#"say hi j={"a": {"b": 2}}"#),
            params(&[("m", Some("hi")), ("j", Some(r#"{"a": {"b": 2}"#))])
        );
        assert_eq!(
            ok("say {{m}}", "say p k=v q k=v"),
            params(&[("m", Some("p q")), ("k", Some("v"))])
        );
        assert_eq!(ok("{{m}}", ""), params(&[("m", Some(" "))]));
        assert_eq!(ok("hi {{m=x}}", "hi  "), params(&[("m", Some(" "))]));
        assert_eq!(
            ok("get {{what}}{{ lim=10 }}", "get items"),
            params(&[("what", Some("i")), ("lim", Some("tems"))])
        );
        assert_eq!(
            extract_parameters("price $ {{a}}", "price $ 4")
                .unwrap_err()
                .kind(),
            "no_match"
        );
        assert_eq!(ok(r"x|y {{a}}", "x"), params(&[("a", None)]));
        assert_eq!(
            ok(r"run {{cmd}}", r#"run "ls -la"#),
            params(&[("cmd", Some("ls -la"))])
        );
        assert_eq!(ok(r"say {{m}}", r#"say """#), params(&[("m", Some("\""))]));
    }

    #[test]
    fn escaped_regex_characters_are_literal() {
        assert_eq!(
            ok(r"price \$ {{a}}", "price $ 4"),
            params(&[("a", Some("4"))])
        );
        assert!(!AliasFormat::parse(r"a\+b").unwrap().matches("aab"));
        assert!(AliasFormat::parse(r"a\+b").unwrap().matches("a+b"));
        assert!(AliasFormat::parse(r"a+b").unwrap().matches("aab"));
    }

    #[test]
    fn a_space_matches_one_ascii_space_only() {
        let format = AliasFormat::parse("run {{cmd}}").unwrap();
        assert!(!format.matches("run\tdate"));
        assert_eq!(
            format.extract("run  date").unwrap(),
            params(&[("cmd", Some(" date"))])
        );
    }

    #[test]
    fn no_match_and_no_value_carry_st2_texts() {
        let err = extract_parameters("run {{cmd}}", "walk").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Command \"walk\" doesn't match format string \"run {{cmd}}\""
        );
        let err = extract_parameters("{{a=\"\"}}", "   ").unwrap_err();
        assert_eq!(err, AliasError::NoValue);
        assert_eq!(
            err.to_string(),
            "No value supplied and no default value found."
        );
    }

    #[test]
    fn invalid_formats_are_errors_with_python_reasons() {
        assert_eq!(
            reason("{{a}} = {{b}}", "x = y"),
            "re.error: bad character in group name 'a}}' at position 13"
        );
        assert!(
            reason("run {{cmd}} {{cmd}}", "run a b").contains("redefinition of group name 'cmd'")
        );
        assert!(reason("run (", "run (").contains("missing ), unterminated subpattern"));
        assert!(reason("(?i)run {{cmd}}", "run a").contains("global flags not at the start"));
        assert!(reason("run {{x-y}}", "run a").contains("bad character in group name 'x-y'"));
        assert!(reason("a)", "a").contains("unbalanced parenthesis"));
        let err = AliasFormat::parse("run [").unwrap_err();
        assert_eq!(err.kind(), "invalid_format");
        assert!(
            err.to_string()
                .starts_with("bad alias format \"run [\": re.error: "),
            "{err}"
        );
    }

    #[test]
    fn multiline_default_is_st2s_key_error() {
        let format = "say {{a=x\ny}}";
        assert_eq!(
            extract_parameters(format, "say").unwrap_err().kind(),
            "no_match"
        );
        let why = reason(format, "say {{a=x\ny}}");
        assert!(why.starts_with("KeyError: 'a'"), "{why}");
    }

    #[test]
    fn user_anchors_and_named_groups() {
        assert_eq!(
            ok(r"^\s*get (?P<id>\d+)\s*$", "get 42"),
            params(&[("id", Some("42"))])
        );
        assert!(
            !AliasFormat::parse(r"^get (?P<id>\d+)$")
                .unwrap()
                .matches("get 42")
        );
        assert_eq!(
            ok(
                r"(?:\b|^)dup of (?P<k>[A-Z]+-[0-9]+)(?:\b|$)",
                "x dup of AB-1 tail"
            ),
            params(&[("k", Some("AB-1"))])
        );
    }

    #[test]
    fn match_multiple_extracts_every_match() {
        let format = AliasFormat::parse(
            r"(?:\b|^)duplicate of (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)(?:\b|$)",
        )
        .unwrap();
        let all = format
            .extract_all(
                "JKROWLING-4 is a duplicate of JRRTOLKIEN-24 which is a duplicate of DRSEUSS-12",
            )
            .unwrap();
        assert_eq!(
            all,
            vec![
                params(&[("issue_key", Some("JRRTOLKIEN-24"))]),
                params(&[("issue_key", Some("DRSEUSS-12"))])
            ]
        );
        let run = AliasFormat::parse("run {{cmd}}").unwrap();
        assert_eq!(
            run.extract_all("run date").unwrap(),
            vec![params(&[("cmd", Some("date"))])]
        );
        assert!(run.extract_all("walk").unwrap().is_empty());
    }

    #[test]
    fn prepared_command_gives_the_same_answers() {
        let command = PreparedCommand::new("run date on web1 timeout=5");
        assert_eq!(command.command(), "run date on web1 timeout=5");
        for format in [
            "run {{cmd}} on {{hosts}}",
            "run {{cmd}}",
            "walk {{x}}",
            "run (",
        ] {
            let Ok(compiled) = AliasFormat::parse(format) else {
                continue;
            };
            assert_eq!(
                compiled.extract_prepared(&command),
                compiled.extract(command.command()),
                "{format}"
            );
        }
    }

    #[test]
    fn multiline_commands_and_formats() {
        assert_eq!(
            ok("say {{a}}\nthen {{b}}", "say one\nthen two\nlines"),
            params(&[("a", Some("one")), ("b", Some("two\nlines"))])
        );
    }

    #[test]
    fn long_chat_messages_stay_within_the_backtracking_limit() {
        // Slack's longest message is 40,000 characters
        let long = "x y".repeat(13_333);
        let command = format!("run {long} on web1");
        assert_eq!(
            ok("run {{cmd}} on {{host}}", &command),
            params(&[("cmd", Some(long.as_str())), ("host", Some("web1"))])
        );
    }

    #[test]
    fn pathological_backtracking_is_a_clear_error() {
        let command = format!("go {}", "x".repeat(40));
        let why = reason("go {{p}}(x+x+)+y", &command);
        assert!(why.starts_with("matching gave up after"), "{why}");
    }

    #[test]
    fn cli_prints_json_or_the_reason_with_its_exit_status() {
        assert_eq!(
            alias_test_cli(
                "run {{cmd}} on {{hosts}}",
                "run \u{201c}ls -la\u{201d} on web1"
            ),
            (0, r#"{"cmd":"ls -la","hosts":"web1"}"#.to_owned())
        );
        assert_eq!(
            alias_test_cli("run {{cmd}}", "walk"),
            (
                1,
                "Command \"walk\" doesn't match format string \"run {{cmd}}\"".to_owned()
            )
        );
        assert_eq!(
            alias_test_cli("{{a=\"\"}}", ""),
            (
                1,
                "No value supplied and no default value found.".to_owned()
            )
        );
        let (code, text) = alias_test_cli("get {{app.name}}", "get web");
        assert_eq!(code, 2);
        assert_eq!(
            text,
            "bad alias format \"get {{app.name}}\": re.error: bad character in group name \
             'app.name' at position 14"
        );
    }

    #[test]
    fn compiled_formats_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<AliasFormat>();
        shareable::<PreparedCommand>();
    }

    #[test]
    fn exit_codes_follow_the_cli_contract() {
        let no_match = AliasError::NoMatch {
            command: "a".into(),
            format: "b".into(),
        };
        assert_eq!(no_match.exit_code(), 1);
        assert_eq!(AliasError::NoValue.exit_code(), 1);
        let invalid = AliasError::InvalidFormat {
            format: "(".into(),
            reason: "r".into(),
        };
        assert_eq!(invalid.exit_code(), 2);
    }
}
