//! Splitting long text into Discord-sized messages without breaking code blocks.
//!
//! Discord refuses message content over 2,000 characters. Text is cut at line ends where
//! possible (else at a space, else anywhere); when a cut falls inside a ```` ``` ```` block,
//! the block is closed at the end of one part and reopened, with its language, at the start of
//! the next, so every part renders on its own.

/// Discord's limit on a message's content, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

const FENCE: &str = "```";

fn len(s: &str) -> usize {
    s.chars().count()
}

/// Splits `text` into parts of at most `max` characters (`max` is raised to 64 if smaller).
/// Text that fits is returned as one part; empty text gives no parts.
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    let max = max.max(64);
    if text.trim().is_empty() {
        return Vec::new();
    }
    if len(text) <= max {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    // The opening line of the code block we are in (e.g. "```rust"), if any.
    let mut open_fence: Option<String> = None;

    for line in text.split_inclusive('\n') {
        let toggles = line.trim_start().starts_with(FENCE);
        // Room a part needs to close an open block: "\n```".
        let reserve = match (open_fence.is_some(), toggles) {
            (true, true) | (false, false) => 0,
            _ => 4,
        };
        if len(&current) + len(line) + reserve > max && !current.trim().is_empty() {
            finish(&mut parts, &mut current, open_fence.as_deref());
        }
        if len(&current) + len(line) + reserve > max {
            // A single line longer than a part: cut it.
            let mut rest = line;
            while len(&current) + len(rest) + reserve > max {
                let room = max.saturating_sub(len(&current) + reserve).max(1);
                let cut = cut_point(rest, room);
                current.push_str(&rest[..cut]);
                rest = &rest[cut..];
                finish(&mut parts, &mut current, open_fence.as_deref());
            }
            current.push_str(rest);
        } else {
            current.push_str(line);
        }
        if toggles {
            open_fence = match open_fence {
                Some(_) => None,
                None => Some(line.trim().to_owned()),
            };
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim_end_matches('\n').to_owned());
    }
    parts
}

/// Ends the current part (closing an open code block) and starts the next one (reopening it).
fn finish(parts: &mut Vec<String>, current: &mut String, open_fence: Option<&str>) {
    let mut part = std::mem::take(current);
    if let Some(_fence) = open_fence {
        if !part.ends_with('\n') {
            part.push('\n');
        }
        part.push_str(FENCE);
    }
    let part = part.trim_end_matches('\n').to_owned();
    if !part.trim().is_empty() {
        parts.push(part);
    }
    if let Some(fence) = open_fence {
        current.push_str(fence);
        current.push('\n');
    }
}

/// A byte index at most `room` characters into `s`, preferring just after a space.
fn cut_point(s: &str, room: usize) -> usize {
    let hard = s.char_indices().nth(room).map_or(s.len(), |(i, _)| i);
    if hard >= s.len() {
        return s.len();
    }
    match s[..hard].rfind(' ') {
        Some(i) if i > hard / 2 => i + 1,
        _ => hard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balanced(part: &str) -> bool {
        part.lines()
            .filter(|l| l.trim_start().starts_with(FENCE))
            .count()
            % 2
            == 0
    }

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_message("hello", 2000), vec!["hello".to_owned()]);
        assert!(split_message("  ", 2000).is_empty());
    }

    #[test]
    fn long_text_splits_at_lines_in_order() {
        let lines: Vec<String> = (0..300).map(|i| format!("line {i:04} of text")).collect();
        let text = lines.join("\n");
        let parts = split_message(&text, 2000);
        assert!(parts.len() >= 3);
        for p in &parts {
            assert!(p.chars().count() <= 2000);
        }
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn code_blocks_are_closed_and_reopened() {
        let mut text = String::from("Output:\n```sh\n");
        for i in 0..400 {
            text.push_str(&format!("echo {i}\n"));
        }
        text.push_str("```\nDone.");
        let parts = split_message(&text, 2000);
        assert!(parts.len() >= 2, "{parts:?}");
        for p in &parts {
            assert!(p.chars().count() <= 2000, "{}", p.len());
            assert!(balanced(p), "unbalanced part: {p}");
        }
        assert!(parts[1].starts_with("```sh\n"), "{}", &parts[1][..20]);
        assert!(parts.last().is_some_and(|p| p.ends_with("Done.")));
    }

    #[test]
    fn very_long_lines_are_cut() {
        let text = "x".repeat(4500);
        let parts = split_message(&text, 2000);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), text);
        let words = "word ".repeat(900);
        let parts = split_message(&words, 2000);
        assert!(parts.iter().all(|p| p.chars().count() <= 2000));
        assert_eq!(parts.concat(), words);
    }

    #[test]
    fn multibyte_text_counts_characters() {
        let text = "é".repeat(2500);
        let parts = split_message(&text, 2000);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].chars().count(), 2000);
    }
}
