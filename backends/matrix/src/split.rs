//! Packing rendered blocks into Matrix-sized messages, and cutting text that is too long.
//!
//! A Matrix event may be at most 65,536 bytes of JSON, and a message carries its text twice
//! (`body` and the HTML `formatted_body`). The renderer turns a message into [`Block`]s (a
//! line of text, a code block, a list, a card), each small enough on its own; [`pack`] then
//! fills messages with whole blocks, in order, so a code block or a list item is never cut in
//! the middle unless it alone is too big (then the renderer already split it into smaller,
//! self-contained blocks).

/// How big one message may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest `body`, in characters.
    pub max_chars: usize,
    /// The most bytes of `body` plus `formatted_body` together.
    pub max_bytes: usize,
}

/// Bytes of the event JSON kept free for everything but the two texts (type, relations,
/// mentions, JSON escaping).
pub const EVENT_OVERHEAD: usize = 8_192;

/// The Matrix limit on one event's JSON, in bytes.
pub const MAX_EVENT_BYTES: usize = 65_536;

impl Limits {
    /// Limits for a body of at most `max_chars` characters in an event of legal size.
    pub fn new(max_chars: usize) -> Self {
        Self {
            max_chars: max_chars.max(64),
            max_bytes: MAX_EVENT_BYTES - EVENT_OVERHEAD,
        }
    }

    /// Whether a block of this plain text and HTML fits in one message.
    pub fn fits(&self, plain: &str, html: &str) -> bool {
        plain.chars().count() <= self.max_chars && plain.len() + html.len() <= self.max_bytes
    }

    /// How many characters of plain text may go into one cut so that, even escaped as HTML
    /// (at most 6 bytes per character, plus the character itself in the body), it fits.
    pub fn cut_chars(&self) -> usize {
        self.max_chars.min(self.max_bytes / 10).max(16)
    }
}

/// A piece of a rendered message that is kept whole when possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The plain-text form (for `body`).
    pub plain: String,
    /// The HTML form (for `formatted_body`).
    pub html: String,
    /// True for a line of inline content; false for a block element (`<pre>`, `<ul>`,
    /// `<blockquote>`), which needs no `<br>` around it.
    pub inline: bool,
    /// Users mentioned in it (Matrix user ids).
    pub mentions: Vec<String>,
}

impl Block {
    /// A line of inline content.
    pub fn line(plain: String, html: String, mentions: Vec<String>) -> Self {
        Self {
            plain,
            html,
            inline: true,
            mentions,
        }
    }

    /// A block element.
    pub fn element(plain: String, html: String, mentions: Vec<String>) -> Self {
        Self {
            plain,
            html,
            inline: false,
            mentions,
        }
    }
}

/// One message: `body`, `formatted_body` and who it mentions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Part {
    /// The plain text.
    pub body: String,
    /// The HTML.
    pub html: String,
    /// Users mentioned (for `m.mentions`), without duplicates, in order of appearance.
    pub mentions: Vec<String>,
}

impl Part {
    fn push(&mut self, block: &Block, previous_inline: Option<bool>) {
        if let Some(prev_inline) = previous_inline {
            self.body.push('\n');
            if prev_inline && block.inline {
                self.html.push_str("<br>");
            }
        }
        self.body.push_str(&block.plain);
        self.html.push_str(&block.html);
        for m in &block.mentions {
            if !self.mentions.contains(m) {
                self.mentions.push(m.clone());
            }
        }
    }
}

/// Fills messages with whole blocks, in order. A block that alone exceeds the limits still
/// gets a message of its own (the renderer keeps blocks within the limits).
pub fn pack(blocks: &[Block], limits: Limits) -> Vec<Part> {
    // Trailing empty lines carry nothing.
    let end = blocks
        .iter()
        .rposition(|b| !(b.inline && b.plain.trim().is_empty()))
        .map_or(0, |i| i + 1);
    let mut parts = Vec::new();
    let mut current = Part::default();
    let mut chars = 0usize;
    let mut previous: Option<bool> = None;
    for block in &blocks[..end] {
        // An empty line at the start of a message is pointless.
        if previous.is_none() && block.inline && block.plain.trim().is_empty() {
            continue;
        }
        let block_chars = block.plain.chars().count();
        let sep_chars = usize::from(previous.is_some());
        let sep_bytes = match previous {
            Some(true) if block.inline => 5,
            Some(_) => 1,
            None => 0,
        };
        let fits = chars + sep_chars + block_chars <= limits.max_chars
            && current.body.len()
                + current.html.len()
                + sep_bytes
                + block.plain.len()
                + block.html.len()
                <= limits.max_bytes;
        if !fits && previous.is_some() {
            parts.push(finish(std::mem::take(&mut current)));
            chars = 0;
            previous = None;
            if block.inline && block.plain.trim().is_empty() {
                continue;
            }
        }
        chars += usize::from(previous.is_some()) + block_chars;
        current.push(block, previous);
        previous = Some(block.inline);
    }
    if previous.is_some() {
        parts.push(finish(current));
    }
    parts
}

/// Drops blank lines at the end of a part.
fn finish(mut part: Part) -> Part {
    loop {
        let body = part.body.trim_end_matches([' ', '\t']);
        if let Some(stripped) = body.strip_suffix('\n') {
            part.body.truncate(stripped.len());
        } else {
            break;
        }
    }
    while let Some(stripped) = part.html.strip_suffix("<br>") {
        part.html.truncate(stripped.len());
    }
    part
}

/// Cuts `text` into pieces of at most `max` characters, preferring line ends, then spaces.
/// The pieces concatenate back to `text` (a line end at a cut is kept at the end of the
/// earlier piece).
pub fn cut_text(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        let hard = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..hard];
        let cut = match window.rfind('\n') {
            Some(i) if i + 1 > hard / 2 => i + 1,
            _ => match window.rfind(' ') {
                Some(i) if i + 1 > hard / 2 => i + 1,
                _ => hard,
            },
        };
        pieces.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn line(s: &str) -> Block {
        Block::line(s.to_owned(), s.to_owned(), Vec::new())
    }

    fn element(s: &str) -> Block {
        Block::element(s.to_owned(), format!("<pre>{s}</pre>"), Vec::new())
    }

    #[test]
    fn packing_cases() {
        struct Case {
            name: &'static str,
            blocks: Vec<Block>,
            max_chars: usize,
            bodies: Vec<&'static str>,
            htmls: Vec<&'static str>,
        }
        let small = Limits {
            max_chars: 64,
            max_bytes: 10_000,
        };
        let cases = vec![
            Case {
                name: "lines join with <br>",
                blocks: vec![line("a"), line("b")],
                max_chars: 64,
                bodies: vec!["a\nb"],
                htmls: vec!["a<br>b"],
            },
            Case {
                name: "elements need no <br>",
                blocks: vec![line("a"), element("code"), line("b")],
                max_chars: 64,
                bodies: vec!["a\ncode\nb"],
                htmls: vec!["a<pre>code</pre>b"],
            },
            Case {
                name: "blank lines survive inside, not at the ends",
                blocks: vec![line(""), line("a"), line(""), line("b"), line(" ")],
                max_chars: 64,
                bodies: vec!["a\n\nb"],
                htmls: vec!["a<br><br>b"],
            },
            Case {
                name: "overflow starts a new part at a block boundary",
                blocks: vec![line(&"x".repeat(40)), line(&"y".repeat(30)), line("z")],
                max_chars: 64,
                bodies: vec![
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\nz",
                ],
                htmls: vec![
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy<br>z",
                ],
            },
            Case {
                name: "a blank line at a cut is dropped",
                blocks: vec![line(&"x".repeat(60)), line(""), line("after")],
                max_chars: 61,
                bodies: vec![
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "after",
                ],
                htmls: vec![
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "after",
                ],
            },
            Case {
                name: "nothing gives no parts",
                blocks: vec![line(""), line("  ")],
                max_chars: 64,
                bodies: vec![],
                htmls: vec![],
            },
        ];
        for case in cases {
            let limits = Limits {
                max_chars: case.max_chars,
                ..small
            };
            let parts = pack(&case.blocks, limits);
            let bodies: Vec<&str> = parts.iter().map(|p| p.body.as_str()).collect();
            let htmls: Vec<&str> = parts.iter().map(|p| p.html.as_str()).collect();
            assert_eq!(bodies, case.bodies, "{}", case.name);
            assert_eq!(htmls, case.htmls, "{}", case.name);
        }
    }

    #[test]
    fn byte_limit_counts_both_texts() {
        let limits = Limits {
            max_chars: 1000,
            max_bytes: 100,
        };
        let blocks: Vec<Block> = (0..10).map(|i| line(&format!("{i:020}"))).collect();
        let parts = pack(&blocks, limits);
        assert!(parts.len() >= 4, "{}", parts.len());
        for p in &parts {
            assert!(p.body.len() + p.html.len() <= 100, "{p:?}");
        }
        let joined: Vec<String> = parts.iter().map(|p| p.body.clone()).collect();
        assert_eq!(
            joined.join("\n"),
            (0..10)
                .map(|i| format!("{i:020}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn mentions_are_collected_per_part_without_duplicates() {
        let b = |s: &str, m: &[&str]| {
            Block::line(
                s.to_owned(),
                s.to_owned(),
                m.iter().map(|s| (*s).to_owned()).collect(),
            )
        };
        let parts = pack(
            &[b("a", &["@x:s", "@y:s"]), b("b", &["@x:s"])],
            Limits::new(1000),
        );
        assert_eq!(
            parts[0].mentions,
            vec!["@x:s".to_owned(), "@y:s".to_owned()]
        );
    }

    #[test]
    fn cutting_cases() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("short", 10, &["short"]),
            ("", 10, &[""]),
            ("aaaa bbbb cccc", 10, &["aaaa bbbb ", "cccc"]),
            ("line one\nline two", 12, &["line one\n", "line two"]),
            ("xxxxxxxxxxxxxxx", 6, &["xxxxxx", "xxxxxx", "xxx"]),
            ("ééééé", 2, &["éé", "éé", "é"]),
            ("a bbbbbbbbbbbbb", 6, &["a bbbb", "bbbbbb", "bbb"]),
        ];
        for (text, max, want) in cases {
            let got = cut_text(text, *max);
            assert_eq!(got, *want, "{text:?} max {max}");
            assert_eq!(got.concat(), *text);
            assert!(got.iter().all(|p| p.chars().count() <= *max));
        }
    }

    #[test]
    fn default_limits_leave_room_for_the_event() {
        let l = Limits::new(16_000);
        assert_eq!(l.max_chars, 16_000);
        assert!(l.max_bytes + EVENT_OVERHEAD <= MAX_EVENT_BYTES);
        assert!(l.cut_chars() * 10 <= l.max_bytes);
    }
}
