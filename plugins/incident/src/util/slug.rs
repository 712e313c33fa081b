//! Incident room names from a template such as `inc-{id}-{slug}`.

/// The default room-name template.
pub const DEFAULT_TEMPLATE: &str = "inc-{id}-{slug}";

/// Lowercase ASCII slug of `title`: letters and digits kept, every other run of characters
/// becomes one dash, no leading/trailing dash, at most `max_len` characters (cut at a dash
/// when one is near).
pub fn slug(title: &str, max_len: usize) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    if out.len() > max_len {
        out.truncate(max_len);
        while out.ends_with('-') {
            out.pop();
        }
    }
    out
}

/// Room name for incident `id` with `title` from `template` (`{id}` and `{slug}` are
/// replaced; `{slug}` is a slug of at most 20 characters). The result is lowercase ASCII
/// with dashes, at most `max_len` characters, never ending in a dash. An empty template
/// means [`DEFAULT_TEMPLATE`].
pub fn room_name(template: &str, id: u64, title: &str, max_len: usize) -> String {
    let template = if template.trim().is_empty() {
        DEFAULT_TEMPLATE
    } else {
        template
    };
    let filled = template
        .replace("{id}", &id.to_string())
        .replace("{slug}", &slug(title, 20));
    // Normalise whatever the template itself contained.
    let mut name = slug(&filled, usize::MAX);
    if name.len() > max_len {
        name.truncate(max_len);
        while name.ends_with('-') {
            name.pop();
        }
    }
    name
}

/// `name` when `taken` says it is free, else `name-2`, `name-3`, … (kept within `max_len` by
/// shortening the base); `None` after 99 tries.
pub fn unclashed(name: &str, max_len: usize, taken: impl Fn(&str) -> bool) -> Option<String> {
    if !taken(name) {
        return Some(name.to_owned());
    }
    (2..=99u32).find_map(|n| {
        let suffix = format!("-{n}");
        let mut base = name.to_owned();
        // Cut at a character boundary (a custom name need not be ASCII).
        let mut cut = max_len.saturating_sub(suffix.len()).min(base.len());
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
        let candidate = format!("{}{suffix}", base.trim_end_matches('-'));
        (!taken(&candidate)).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_template() {
        assert_eq!(
            room_name("", 42, "Database is DOWN!! (eu-west)", 80),
            "inc-42-database-is-down-eu"
        );
        assert_eq!(
            room_name(DEFAULT_TEMPLATE, 7, "Ærøskøbing ☃ outage", 80),
            "inc-7-r-sk-bing-outage"
        );
    }

    #[test]
    fn custom_template_and_limit() {
        assert_eq!(room_name("Incident_{id}", 3, "x", 80), "incident-3");
        let n = room_name("inc-{id}-{slug}", 12345, "a very long title indeed", 12);
        assert!(n.len() <= 12, "{n}");
        assert!(!n.ends_with('-'));
        assert!(n.starts_with("inc-12345"));
    }

    #[test]
    fn empty_title() {
        assert_eq!(room_name("", 1, "!!!", 80), "inc-1");
    }

    #[test]
    fn clash_suffix() {
        let taken = ["inc-1-db", "inc-1-db-2"];
        let free = |n: &str| taken.contains(&n);
        assert_eq!(unclashed("inc-1-x", 80, free).as_deref(), Some("inc-1-x"));
        assert_eq!(
            unclashed("inc-1-db", 80, free).as_deref(),
            Some("inc-1-db-3")
        );
        assert_eq!(unclashed("inc-1-db", 9, free).as_deref(), Some("inc-1-d-2"));
        assert_eq!(unclashed("x", 80, |_| true), None);
        // Not ASCII: cut at a character boundary instead of panicking.
        let taken_once = |n: &str| n == "ææææ";
        assert_eq!(unclashed("ææææ", 5, taken_once).as_deref(), Some("æ-2"));
    }
}
