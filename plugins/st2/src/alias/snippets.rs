//! st2's regex snippets (`generate_snippets`), written for fancy-regex with Python semantics.
//!
//! `\s`/`\S` are spelled as sets that include U+001C..U+001F (Python's `str.isspace`), `.` is
//! DOTALL, and Python's literal `{`/`}` are escaped. These patterns have no look-around, so
//! fancy-regex hands them whole to the linear-time `regex` engine: they cannot backtrack
//! catastrophically whatever the command is.

use std::sync::LazyLock;

use fancy_regex::Regex;

/// Python `\s`.
const S: &str = r"[\s\x{1C}-\x{1F}]";
/// Python `\S`.
const NS: &str = r"[^\s\x{1C}-\x{1F}]";
/// Python `.` under DOTALL.
const DOT: &str = "(?s:.)";
/// Python `.` without DOTALL (anything but `\n`).
const DOT_NO_NL: &str = "(?-s:.)";

/// `snippets["pairs"]`: `(?:^|\s+)\s*(\S+?)\s*=(""|''|"(.+?)"|'(.+?)'|({.+?})|(\S+))`.
/// Groups: 1 key, 2 whole value, 3..=6 the value alternatives.
fn pairs() -> String {
    format!(r#"(?:^|{S}+){S}*({NS}+?){S}*=(""|''|"({DOT}+?)"|'({DOT}+?)'|(\{{{DOT}+?\}})|({NS}+))"#)
}

/// `snippets["optional"]`: `{{\s*(\S+?)\s*\s*=\s*(?:""|''|"(.+?)"|'(.+?)'|({.+?})|(.+?))\s*}}`.
/// Groups: 1 key, 2..=5 the default alternatives. `dot` is `.` with or without DOTALL: st2
/// collects defaults with DOTALL but rewrites the format without it.
fn optional(dot: &str) -> String {
    format!(
        r#"\{{\{{{S}*({NS}+?){S}*{S}*={S}*(?:""|''|"({dot}+?)"|'({dot}+?)'|(\{{{dot}+?\}})|({dot}+?)){S}*\}}\}}"#
    )
}

/// `snippets["required"]`: `{{\s*(\S+?)\s*}}`. Group 1: key.
fn required() -> String {
    format!(r"\{{\{{{S}*({NS}+?){S}*\}}\}}")
}

/// Compiled constant patterns. Their sources are fixed in this file (a unit test compiles
/// them), so a failure here is a bug in ferrbot, reported as a bad format rather than a panic.
pub(crate) struct Snippets {
    /// `pairs`, for `findall` over the trailing run.
    pub pairs: Regex,
    /// st2's `re.match(r".*?((pairs\s*)*)$", command)` asks for the earliest start from
    /// which pairs run to the end; that is the leftmost match of `(?:pairs\s*)+\z`, which
    /// needs no captures (so it runs on a DFA). Its match is st2's group 1.
    pub run: Regex,
    /// `optional`, for `findall` over the format (defaults).
    pub optional: Regex,
    /// `(\s*)` + `optional` without DOTALL, for the rewrite (group 1 whitespace, group 2 key).
    pub sub_optional: Regex,
    /// `(\s*)` + `required`, for the rewrite (group 1 whitespace, group 2 key).
    pub sub_required: Regex,
}

fn build() -> Result<Snippets, String> {
    let compile = |source: String| Regex::new(&source).map_err(|e| format!("{e} in {source}"));
    Ok(Snippets {
        pairs: compile(pairs())?,
        run: compile(format!(r"(?:{}{S}*)+\z", pairs()))?,
        optional: compile(optional(DOT))?,
        sub_optional: compile(format!("({S}*){}", optional(DOT_NO_NL)))?,
        sub_required: compile(format!("({S}*){}", required()))?,
    })
}

static SNIPPETS: LazyLock<Result<Snippets, String>> = LazyLock::new(build);

/// The compiled snippets (compiled once: immutable constants, not state).
pub(crate) fn snippets() -> Result<&'static Snippets, String> {
    SNIPPETS
        .as_ref()
        .map_err(|e| format!("internal error: a built-in pattern does not compile: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_compile() {
        assert!(build().is_ok(), "{:?}", build().err());
    }
}
