//! The writer: [`Node`]s to fancy-regex syntax with Python's semantics spelled out.

use std::fmt::Write as _;

use super::width::width;
use super::{AtKind, Category, ClassItem, Node, RepeatKind};

/// Writes `nodes` as fancy-regex syntax.
pub(crate) fn to_fancy(nodes: &[Node]) -> String {
    let mut out = String::new();
    emit_seq(nodes, &mut out);
    out
}

fn emit_seq(nodes: &[Node], out: &mut String) {
    for node in nodes {
        emit(node, out);
    }
}

fn push_literal(c: char, out: &mut String) {
    if c.is_alphanumeric() || c == '_' || c == ' ' || (!c.is_ascii() && !c.is_whitespace()) {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

/// Python's `\w` for str patterns: `str.isalnum()` (letters and every kind of number) or `_`.
const PY_WORD: &str = r"\p{L}\p{N}_";
/// `\w` under `re.ASCII`.
const ASCII_WORD: &str = "0-9A-Za-z_";

fn push_category(category: Category, ascii: bool, in_class: bool, out: &mut String) {
    const PY_SPACE: &str = r"\s\x{1C}-\x{1F}";
    const ASCII_SPACE: &str = r" \t\n\r\x{B}\x{C}";
    let word = if ascii { ASCII_WORD } else { PY_WORD };
    let space = if ascii { ASCII_SPACE } else { PY_SPACE };
    // Python's \d is Unicode Nd, like Rust's
    let digit = if ascii { "0-9" } else { r"\d" };
    let (positive, set) = match category {
        Category::Digit => (true, digit),
        Category::NotDigit => (false, digit),
        Category::Space => (true, space),
        Category::NotSpace => (false, space),
        Category::Word => (true, word),
        Category::NotWord => (false, word),
    };
    match (positive, in_class) {
        (true, true) => out.push_str(set),
        (true, false) => {
            out.push('[');
            out.push_str(set);
            out.push(']');
        }
        (false, _) => {
            out.push_str("[^");
            out.push_str(set);
            out.push(']');
        }
    }
}

/// Python's `\b` / `\B`, with Python's idea of a word character.
fn push_boundary(negated: bool, ascii: bool, out: &mut String) {
    let w = if ascii { ASCII_WORD } else { PY_WORD };
    if negated {
        let _ = write!(out, "(?:(?<=[{w}])(?=[{w}])|(?<![{w}])(?![{w}]))");
    } else {
        let _ = write!(out, "(?:(?<=[{w}])(?![{w}])|(?<![{w}])(?=[{w}]))");
    }
}

fn emit(node: &Node, out: &mut String) {
    match node {
        Node::Literal { c, ignorecase } => {
            if *ignorecase && c.to_lowercase().ne(c.to_uppercase()) {
                out.push_str("(?i:");
                push_literal(*c, out);
                out.push(')');
            } else {
                push_literal(*c, out);
            }
        }
        Node::Any { dotall } => out.push_str(if *dotall { "(?s:.)" } else { "(?-s:.)" }),
        Node::Class {
            negated,
            items,
            ignorecase,
            ascii,
        } => {
            if *ignorecase {
                out.push_str("(?i:");
            }
            out.push('[');
            if *negated {
                out.push('^');
            }
            for item in items {
                match item {
                    ClassItem::Char(c) => push_literal(*c, out),
                    ClassItem::Range(lo, hi) => {
                        push_literal(*lo, out);
                        out.push('-');
                        push_literal(*hi, out);
                    }
                    ClassItem::Category(category) => push_category(*category, *ascii, true, out),
                }
            }
            out.push(']');
            if *ignorecase {
                out.push(')');
            }
        }
        Node::Category { category, ascii } => push_category(*category, *ascii, false, out),
        Node::At {
            kind,
            multiline,
            ascii,
        } => match (kind, multiline) {
            (AtKind::Beginning, false) | (AtKind::BeginningString, _) => out.push_str(r"\A"),
            (AtKind::Beginning, true) => out.push_str("(?m:^)"),
            (AtKind::End, false) => out.push_str(r"(?=\n?\z)"),
            (AtKind::End, true) => out.push_str("(?m:$)"),
            (AtKind::EndString, _) => out.push_str(r"\z"),
            (AtKind::Boundary, _) => push_boundary(false, *ascii, out),
            (AtKind::NonBoundary, _) => push_boundary(true, *ascii, out),
        },
        Node::Group { index, body } => {
            out.push_str(if index.is_some() { "(" } else { "(?:" });
            emit_seq(body, out);
            out.push(')');
        }
        Node::Assert {
            behind,
            negated,
            body,
        } => {
            out.push_str(match (behind, negated) {
                (false, false) => "(?=",
                (false, true) => "(?!",
                (true, false) => "(?<=",
                (true, true) => "(?<!",
            });
            emit_seq(body, out);
            out.push(')');
        }
        Node::Atomic(body) => {
            out.push_str("(?>");
            emit_seq(body, out);
            out.push(')');
        }
        Node::Repeat {
            min,
            max,
            kind,
            body,
        } => {
            if width(body).1 == Some(0) {
                // Repeating a zero-width item (`(?=a)*`) is legal in Python but refused by
                // fancy-regex; matching it once or not at all is the same thing.
                emit_zero_width_repeat(*min, *kind, body, out);
                return;
            }
            if *kind == RepeatKind::Possessive {
                out.push_str("(?>");
            }
            // every single node is written as one atom, except a conditional
            let wrap = body.len() != 1 || matches!(body[0], Node::Conditional { .. });
            if wrap {
                out.push_str("(?:");
            }
            emit_seq(body, out);
            if wrap {
                out.push(')');
            }
            match (min, max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (m, None) => {
                    let _ = write!(out, "{{{m},}}");
                }
                (m, Some(n)) if m == n => {
                    let _ = write!(out, "{{{m}}}");
                }
                (m, Some(n)) => {
                    let _ = write!(out, "{{{m},{n}}}");
                }
            }
            match kind {
                RepeatKind::Greedy => {}
                RepeatKind::Lazy => out.push('?'),
                RepeatKind::Possessive => out.push(')'),
            }
        }
        Node::Branch(alternatives) => {
            out.push_str("(?:");
            for (i, alternative) in alternatives.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                emit_seq(alternative, out);
            }
            out.push(')');
        }
        Node::Backref { group, ignorecase } => {
            let _ = write!(out, "(?{}:\\{group})", if *ignorecase { "i" } else { "" });
        }
        Node::Conditional { group, yes, no } => {
            let _ = write!(out, "(?({group})");
            emit_seq(yes, out);
            out.push('|');
            emit_seq(no, out);
            out.push(')');
        }
    }
}

/// `X{min,max}` for a zero-width `X`: `X` when `min > 0`, else "X or nothing" in the
/// repeat's preference order.
fn emit_zero_width_repeat(min: u32, kind: RepeatKind, body: &[Node], out: &mut String) {
    if min > 0 {
        out.push_str("(?:");
        emit_seq(body, out);
        out.push(')');
        return;
    }
    out.push_str(if kind == RepeatKind::Possessive {
        "(?>"
    } else {
        "(?:"
    });
    if kind == RepeatKind::Lazy {
        out.push('|');
    }
    emit_seq(body, out);
    if kind != RepeatKind::Lazy {
        out.push('|');
    }
    out.push(')');
}
