//! st2's `search_regex_tokens`: does a parsed format already anchor itself?
//!
//! StackStorm adds `^\s*` in front of a format and `\s*$` after it unless the parsed pattern
//! already has a begin (`^`, `\A`) or end (`$`, `\Z`) anchor. Its search looks at the top
//! level, inside every group (capturing, non-capturing, flag-scoped), and in the **second**
//! alternative of a `|` only; it does not look inside repeats, look-arounds, atomic groups or
//! conditionals. Reproduced literally, surprises included (`x|y {{a}}` keeps the anchors on
//! separate branches).

use super::pyregex::{AtKind, Node};

/// Which anchor st2 looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// `^` or `\A`.
    Begin,
    /// `$` or `\Z`.
    End,
}

/// Whether st2 would find the anchor in `nodes`.
pub(crate) fn has_anchor(nodes: &[Node], anchor: Anchor) -> bool {
    nodes.iter().any(|node| match node {
        Node::Group { body, .. } => has_anchor(body, anchor),
        Node::Branch(alternatives) => alternatives
            .get(1)
            .is_some_and(|second| has_anchor(second, anchor)),
        Node::At { kind, .. } => match anchor {
            Anchor::Begin => matches!(kind, AtKind::Beginning | AtKind::BeginningString),
            Anchor::End => matches!(kind, AtKind::End | AtKind::EndString),
        },
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alias::pyregex::{Flags, parse};

    fn found(source: &str) -> (bool, bool) {
        let nodes = parse(source, Flags::default()).unwrap().nodes;
        (
            has_anchor(&nodes, Anchor::Begin),
            has_anchor(&nodes, Anchor::End),
        )
    }

    #[test]
    fn top_level_anchors() {
        assert_eq!(found("abc"), (false, false));
        assert_eq!(found("^abc$"), (true, true));
        assert_eq!(found(r"\Aabc\Z"), (true, true));
        assert_eq!(found(r"abc\b"), (false, false));
        assert_eq!(found("a^b$c"), (true, true));
    }

    #[test]
    fn anchors_inside_groups_count() {
        assert_eq!(found("(?:^abc)"), (true, false));
        assert_eq!(found("(?P<x>a(b$))"), (false, true));
        assert_eq!(found("(?i:^a)"), (true, false));
    }

    #[test]
    fn only_the_second_alternative_is_searched() {
        assert_eq!(found("^x|y"), (false, false));
        assert_eq!(found("x|^y$"), (true, true));
        assert_eq!(found("x|y|^z"), (false, false));
        assert_eq!(found(r"(?:\b|^)dup(?:\b|$)"), (true, true));
    }

    #[test]
    fn repeats_and_lookarounds_are_not_searched() {
        assert_eq!(found("(^a)?"), (false, false));
        assert_eq!(found("(?=^a)b(?<=$)"), (false, false));
        assert_eq!(found("(?>^a)"), (false, false));
    }
}
