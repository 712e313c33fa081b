//! Python `re` pattern syntax (CPython 3.11 `sre_parse`) and its translation to fancy-regex.
//!
//! StackStorm compiles alias formats with Python's `re`, so a format is Python regex source.
//! This module parses that source into a small syntax tree shaped like `sre_parse`'s output
//! (what [`super::anchors`] searches), reports the errors Python would raise with Python's own
//! messages and positions (`bad character in group name 'x.y' at position 14`), and writes the
//! tree back out as fancy-regex syntax with Python's semantics made explicit:
//!
//! - every literal is escaped, so Python's literal `{` (as in `{.+?}`) stays a literal;
//! - `$` becomes `(?=\n?\z)` (Python's `$` also matches before a final newline), `\Z` becomes
//!   `\z`, `^` becomes `\A` (or `(?m:^)` under `(?m)`);
//! - `\s` includes U+001C..U+001F like Python's `str.isspace`;
//! - inline flags are resolved while parsing and attached to the atoms they affect;
//! - named groups are written as plain numbered groups (Python and fancy-regex number groups
//!   the same way), and their names are kept in [`Pattern::group_names`];
//! - possessive repeats become atomic groups.

use std::fmt::Write as _;

mod emit;
mod parse;
mod width;

pub(crate) use emit::to_fancy;
pub(crate) use parse::parse;
pub(crate) use width::check_lookbehinds;

/// Python `re` flags that change how atoms match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    /// `re.I`
    pub ignorecase: bool,
    /// `re.M`
    pub multiline: bool,
    /// `re.S`
    pub dotall: bool,
    /// `re.X`
    pub verbose: bool,
    /// `re.A`
    pub ascii: bool,
}

/// Zero-width position tokens (`sre_parse` `AT` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtKind {
    /// `^`
    Beginning,
    /// `\A`
    BeginningString,
    /// `$`
    End,
    /// `\Z`
    EndString,
    /// `\b`
    Boundary,
    /// `\B`
    NonBoundary,
}

/// `\d \D \s \S \w \W`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Digit,
    NotDigit,
    Space,
    NotSpace,
    Word,
    NotWord,
}

/// One member of a `[...]` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClassItem {
    Char(char),
    Range(char, char),
    Category(Category),
}

/// Greedy, lazy (`*?`) or possessive (`*+`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RepeatKind {
    Greedy,
    Lazy,
    Possessive,
}

/// A node of the parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Literal {
        c: char,
        ignorecase: bool,
    },
    Any {
        dotall: bool,
    },
    Class {
        negated: bool,
        items: Vec<ClassItem>,
        ignorecase: bool,
        ascii: bool,
    },
    Category {
        category: Category,
        ascii: bool,
    },
    At {
        kind: AtKind,
        multiline: bool,
        /// For `\b` / `\B`: ASCII word characters only (`re.A`).
        ascii: bool,
    },
    /// `(...)`, `(?P<n>...)`, `(?:...)`, `(?i:...)`: `sre_parse`'s `SUBPATTERN`.
    Group {
        index: Option<usize>,
        body: Vec<Node>,
    },
    Assert {
        behind: bool,
        negated: bool,
        body: Vec<Node>,
    },
    Atomic(Vec<Node>),
    Repeat {
        min: u32,
        max: Option<u32>,
        kind: RepeatKind,
        body: Vec<Node>,
    },
    /// `a|b|c`: `sre_parse`'s `BRANCH`.
    Branch(Vec<Vec<Node>>),
    Backref {
        group: usize,
        ignorecase: bool,
    },
    Conditional {
        group: usize,
        yes: Vec<Node>,
        no: Vec<Node>,
    },
}

/// A parsed pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// Top-level nodes.
    pub nodes: Vec<Node>,
    /// Named groups: name and group number, in order of appearance.
    pub group_names: Vec<(String, usize)>,
}

/// An error as Python's `re.error` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PyReError {
    msg: String,
    pos: Option<usize>,
}

impl PyReError {
    fn at(msg: impl Into<String>, pos: usize) -> Self {
        PyReError {
            msg: msg.into(),
            pos: Some(pos),
        }
    }

    /// `str(re.error)` for `pattern`, prefixed `re.error: ` like StackStorm's 500 answer.
    pub fn render(&self, pattern: &str) -> String {
        let Some(pos) = self.pos else {
            return format!("re.error: {}", self.msg);
        };
        let mut out = format!("re.error: {} at position {pos}", self.msg);
        if pattern.contains('\n') {
            let before: String = pattern.chars().take(pos).collect();
            let line = before.matches('\n').count() + 1;
            let col = pos
                - before
                    .rfind('\n')
                    .map_or(0, |i| before[..i].chars().count() + 1)
                + 1;
            let _ = write!(out, " (line {line}, column {col})");
        }
        out
    }
}

/// Python's `%r` of a string (good enough for error messages).
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isspace` for one character.
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotall() -> Flags {
        Flags {
            dotall: true,
            ..Flags::default()
        }
    }

    fn err(source: &str) -> String {
        match parse(source, dotall()).and_then(|p| check_lookbehinds(&p.nodes)) {
            Ok(()) => panic!("{source:?} parsed"),
            Err(e) => e.render(source),
        }
    }

    fn fancy(source: &str) -> String {
        match parse(source, dotall()) {
            Ok(p) => to_fancy(&p.nodes),
            Err(e) => panic!("{source:?}: {}", e.render(source)),
        }
    }

    fn is_match(source: &str, text: &str) -> bool {
        let re = fancy_regex::Regex::new(&fancy(source)).unwrap();
        re.is_match(text).unwrap()
    }

    #[test]
    fn python_error_messages_and_positions() {
        assert_eq!(
            err(r#"get ["\']?(?P<app.name>.+?)"#),
            "re.error: bad character in group name 'app.name' at position 14"
        );
        assert_eq!(err("a)"), "re.error: unbalanced parenthesis at position 1");
        assert_eq!(
            err("(a"),
            "re.error: missing ), unterminated subpattern at position 0"
        );
        assert_eq!(err("*a"), "re.error: nothing to repeat at position 0");
        assert_eq!(err("a**"), "re.error: multiple repeat at position 2");
        assert_eq!(
            err("[a"),
            "re.error: unterminated character set at position 0"
        );
        assert_eq!(err(r"\q"), r"re.error: bad escape \q at position 0");
        assert_eq!(
            err("+\\"),
            r"re.error: bad escape (end of pattern) at position 1"
        );
        assert_eq!(
            err(r"(?(1)a|b)x"),
            "re.error: invalid group reference 1 at position 3"
        );
        assert!(parse(r"(?(1)a|b)(x)", dotall()).is_ok());
        assert_eq!(
            err(r"(?\d+"),
            r"re.error: unknown extension ?\d at position 1"
        );
        assert_eq!(
            err("[z-a]"),
            "re.error: bad character range z-a at position 1"
        );
        assert_eq!(
            err("(?P<a>x)(?P<a>y)"),
            "re.error: redefinition of group name 'a' as group 2; was group 1 at position 12"
        );
        assert_eq!(
            err("x(?i)y"),
            "re.error: global flags not at the start of the expression at position 1"
        );
        assert_eq!(
            err("a{3,1}"),
            "re.error: min repeat greater than max repeat at position 2"
        );
        assert_eq!(
            err(r"(a)\2"),
            "re.error: invalid group reference 2 at position 4"
        );
        assert_eq!(
            err("(?<=a+)b"),
            "re.error: look-behind requires fixed-width pattern"
        );
        assert_eq!(
            err("a\n(b"),
            "re.error: missing ), unterminated subpattern at position 2 (line 2, column 1)"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(err(&deep).contains("too many nested groups"));
        let fine = format!("^{}a+{}$", "(?:".repeat(40), ")*".repeat(40));
        assert!(is_match(&fine, "a"));
    }

    #[test]
    fn python_literal_brace_and_quantifiers() {
        assert!(is_match(r"^{.+?}$", "{x}"));
        assert!(is_match(r"^a{2}$", "aa"));
        assert!(!is_match(r"^a{2}$", "aaa"));
        assert!(is_match(r"^a{,2}$", ""));
        assert!(is_match(r"^a{x}$", "a{x}"));
        assert!(is_match(r"^x{}$", "x{}"));
    }

    #[test]
    fn python_dollar_matches_before_final_newline() {
        assert!(is_match("^ab$", "ab\n"));
        assert!(!is_match(r"^ab\Z", "ab\n"));
        assert!(!is_match("^ab$", "ab\n\n"));
    }

    #[test]
    fn space_class_includes_information_separators() {
        assert!(is_match(r"^\s$", "\u{1c}"));
        assert!(!is_match(r"^\S$", "\u{1f}"));
        assert!(is_match(r"^[\s]$", "\u{1d}"));
        assert!(py_isspace('\u{1e}') && py_isspace('\u{a0}') && !py_isspace('x'));
    }

    #[test]
    fn word_characters_follow_python() {
        // Python: str.isalnum() or '_' (numbers of every kind, no combining marks)
        assert!(is_match(r"^\w$", "\u{b2}"));
        assert!(is_match(r"^\w+$", "x_9é"));
        assert!(!is_match(r"^\w$", "\u{301}"));
        assert!(is_match(r"^\W$", "\u{301}"));
        assert!(is_match(r"^[\w-]+$", "a-b"));
        assert!(is_match(r"(?a)^\w$", "a"));
        assert!(!is_match(r"(?a)^\w$", "é"));
        assert!(is_match(r"^a\b b$", "a b"));
        assert!(!is_match(r"^a\bb$", "ab"));
        assert!(is_match(r"^a\Bb$", "ab"));
        assert!(is_match(r"^e\b\u0301$", "e\u{301}"));
        assert!(!is_match(r"(?a)^\xe9\b$", "é"));
        assert!(is_match(r"(?a)^\xe9\B$", "é"));
    }

    #[test]
    fn flags_and_groups_translate() {
        assert!(is_match("(?i)^abc$", "ABC"));
        assert!(is_match("^a(?i:b)c$", "aBc"));
        assert!(!is_match("^a(?i:b)c$", "aBC"));
        assert!(is_match("(?x)^a b # comment\n c$", "abc"));
        assert!(is_match(r"^(?P<x>a+)-(?P=x)$", "aa-aa"));
        assert!(!is_match(r"^(?P<x>a+)-(?P=x)$", "aa-a"));
        assert!(is_match(r"^(?<=)(?:<b>)$", "<b>"));
        assert!(is_match(r"^a++$", "aaa"));
        assert!(!is_match(r"^a++a$", "aaa"));
        assert!(is_match(r"^(?=a)*?a$", "a"));
        assert!(is_match(r"^(?=b){,2}a$", "a"));
        assert!(!is_match(r"^(?=b){1,2}a$", "a"));
        let p = parse(r"(a)(?P<n>b)(?:c)(?P<m>d)", dotall()).unwrap();
        assert_eq!(
            p.group_names,
            vec![("n".to_owned(), 2), ("m".to_owned(), 3)]
        );
    }

    #[test]
    fn unicode_group_names_are_identifiers() {
        assert!(parse("(?P<größe>x)", dotall()).is_ok());
        assert!(parse("(?P<1a>x)", dotall()).is_err());
        assert!(parse("(?P<a-b>x)", dotall()).is_err());
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(py_repr("a}}"), "'a}}'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a\nb"), "'a\\nb'");
    }
}
