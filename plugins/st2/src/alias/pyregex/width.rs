//! Widths of sub-patterns, for Python's fixed-width look-behind rule.

use super::{Node, PyReError};

/// Python rejects look-behinds whose width is not fixed. It does so when compiling, after
/// parsing (so after any parse error of the final, anchored pattern).
pub(crate) fn check_lookbehinds(nodes: &[Node]) -> Result<(), PyReError> {
    for node in nodes {
        match node {
            Node::Assert {
                behind: true, body, ..
            } => {
                let (min, max) = width(body);
                if Some(min) != max {
                    return Err(PyReError {
                        msg: "look-behind requires fixed-width pattern".to_owned(),
                        pos: None,
                    });
                }
                check_lookbehinds(body)?;
            }
            Node::Group { body, .. }
            | Node::Assert { body, .. }
            | Node::Atomic(body)
            | Node::Repeat { body, .. } => check_lookbehinds(body)?,
            Node::Branch(alternatives) => {
                for alternative in alternatives {
                    check_lookbehinds(alternative)?;
                }
            }
            Node::Conditional { yes, no, .. } => {
                check_lookbehinds(yes)?;
                check_lookbehinds(no)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Minimum and maximum width in characters (`None`: unbounded or unknown).
pub(super) fn width(nodes: &[Node]) -> (u64, Option<u64>) {
    let mut min = 0u64;
    let mut max = Some(0u64);
    for node in nodes {
        let (lo, hi) = match node {
            Node::Literal { .. }
            | Node::Any { .. }
            | Node::Class { .. }
            | Node::Category { .. } => (1, Some(1)),
            Node::At { .. } | Node::Assert { .. } => (0, Some(0)),
            Node::Group { body, .. } | Node::Atomic(body) => width(body),
            Node::Repeat {
                min: rmin,
                max: rmax,
                body,
                ..
            } => {
                let (lo, hi) = width(body);
                let hi = match (hi, rmax) {
                    (Some(0), _) => Some(0),
                    (Some(h), Some(r)) => h.checked_mul(u64::from(*r)),
                    _ => None,
                };
                (lo.saturating_mul(u64::from(*rmin)), hi)
            }
            Node::Branch(alternatives) => {
                let widths: Vec<_> = alternatives.iter().map(|a| width(a)).collect();
                let lo = widths.iter().map(|w| w.0).min().unwrap_or(0);
                let hi = widths
                    .iter()
                    .try_fold(0u64, |acc, w| w.1.map(|h| acc.max(h)));
                (lo, hi)
            }
            Node::Backref { .. } => (0, None),
            Node::Conditional { yes, no, .. } => {
                let (ylo, yhi) = width(yes);
                let (nlo, nhi) = width(no);
                (ylo.min(nlo), yhi.zip(nhi).map(|(a, b)| a.max(b)))
            }
        };
        min = min.saturating_add(lo);
        max = max.zip(hi).and_then(|(a, b)| a.checked_add(b));
    }
    (min, max)
}
