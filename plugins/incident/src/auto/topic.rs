//! The incident room's topic line: `#{id} {title} · sev {s} · {lead}`.

/// Topic for incident `id`; unset severity and lead are shown as `sev ?` and `no lead`.
pub fn room_topic(id: u64, title: &str, severity: Option<u8>, lead: Option<&str>) -> String {
    let sev = severity.map_or_else(|| "?".to_owned(), |s| s.to_string());
    format!("#{id} {title} · sev {sev} · {}", lead.unwrap_or("no lead"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic() {
        assert_eq!(
            room_topic(42, "DB down", Some(1), Some("@ana")),
            "#42 DB down · sev 1 · @ana"
        );
        assert_eq!(
            room_topic(7, "Slow", None, None),
            "#7 Slow · sev ? · no lead"
        );
    }
}
