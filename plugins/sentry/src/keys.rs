//! Keys of the plugin's key-value store. `/` separates levels, so parts that come from outside
//! (room and user ids, request ids) are escaped.
//!
//! | prefix | value |
//! | --- | --- |
//! | `routes/<id>` | a route created from chat ([`crate::rooms::StoredRoute`]) |
//! | `room/<room>` | the id of the room's chat-created route |
//! | `revoked/<name>` | a config route revoked from chat |
//! | `mentions/<room>/<project>` | the project's subscribers in the room |
//! | `storm/<room>/<group>` | storm state of an issue in a room |
//! | `threads/<room>/<issue>` | the card an issue's follow-ups are threaded under |
//! | `seen/<hour>/<route>/<request-id>` | a delivery already handled |
//! | `last/<route>` | the last delivery of a route |
//! | `rejects/<route>/<10 minutes>` | refused requests |

/// Escapes `/` and `%` in a key part.
pub fn part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes [`part`].
pub fn unpart(text: &str) -> String {
    text.replace("%2F", "/").replace("%25", "%")
}

/// The hour bucket of `at` (Unix hours).
pub fn hour(at: jiff::Timestamp) -> i64 {
    at.as_second().div_euclid(3600)
}

/// The ten-minute bucket of `at`.
pub fn ten_minutes(at: jiff::Timestamp) -> i64 {
    at.as_second().div_euclid(600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_never_contain_a_slash() {
        for s in ["slack:C1", "matrix:!a/b:example.org", "100%/x", ""] {
            let p = part(s);
            assert!(!p.contains('/'));
            assert_eq!(unpart(&p), s);
        }
    }
}
