//! A small neutral markup that every backend renders natively.
//!
//! Plugins describe *what* they want to say (bold, code, a link, a mention, a list); the Slack
//! backend turns it into mrkdwn, Discord into its markdown, Matrix into `formatted_body` HTML and
//! the console into plain text. Plugins never build a backend's format themselves, and user text
//! placed in a [`Span::Text`] is always escaped by the renderer, so it cannot inject markup.

use serde::{Deserialize, Serialize};

use crate::id::UserId;

/// One piece of formatted text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Span {
    /// Plain text; renderers escape it.
    Text {
        /// The text.
        text: String,
    },
    /// Bold text.
    Bold {
        /// What is bold.
        inner: Markup,
    },
    /// Italic text.
    Italic {
        /// What is italic.
        inner: Markup,
    },
    /// Inline code.
    Code {
        /// The code.
        code: String,
    },
    /// A block of preformatted code.
    CodeBlock {
        /// The language, for highlighting where the backend supports it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lang: Option<String>,
        /// The code.
        code: String,
    },
    /// A hyperlink.
    Link {
        /// The address.
        url: String,
        /// The text shown; the address itself when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// A mention of a user, rendered as the backend's native mention (ping).
    Mention {
        /// Who is mentioned.
        user: UserId,
    },
    /// A bulleted or numbered list.
    List {
        /// Numbered when true.
        ordered: bool,
        /// The items.
        items: Vec<Markup>,
    },
    /// A line break.
    LineBreak,
}

/// Formatted text: a sequence of [`Span`]s.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Markup {
    spans: Vec<Span>,
}

impl Markup {
    /// Empty text.
    pub fn new() -> Self {
        Self::default()
    }

    /// The spans, for renderers.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// True when there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.spans.iter().all(|s| match s {
            Span::Text { text } => text.is_empty(),
            _ => false,
        })
    }

    /// Appends a span.
    pub fn push(mut self, span: Span) -> Self {
        self.spans.push(span);
        self
    }

    /// Appends plain text.
    pub fn text(self, text: impl Into<String>) -> Self {
        self.push(Span::Text { text: text.into() })
    }

    /// Appends bold text.
    pub fn bold(self, inner: impl Into<Markup>) -> Self {
        self.push(Span::Bold {
            inner: inner.into(),
        })
    }

    /// Appends italic text.
    pub fn italic(self, inner: impl Into<Markup>) -> Self {
        self.push(Span::Italic {
            inner: inner.into(),
        })
    }

    /// Appends inline code.
    pub fn code(self, code: impl Into<String>) -> Self {
        self.push(Span::Code { code: code.into() })
    }

    /// Appends a code block.
    pub fn code_block(self, lang: Option<&str>, code: impl Into<String>) -> Self {
        self.push(Span::CodeBlock {
            lang: lang.map(str::to_owned),
            code: code.into(),
        })
    }

    /// Appends a link with a label.
    pub fn link(self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.push(Span::Link {
            url: url.into(),
            label: Some(label.into()),
        })
    }

    /// Appends a mention of a user.
    pub fn mention(self, user: UserId) -> Self {
        self.push(Span::Mention { user })
    }

    /// Appends a bulleted list.
    pub fn list<I, M>(self, items: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<Markup>,
    {
        self.push(Span::List {
            ordered: false,
            items: items.into_iter().map(Into::into).collect(),
        })
    }

    /// Appends a numbered list.
    pub fn ordered_list<I, M>(self, items: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<Markup>,
    {
        self.push(Span::List {
            ordered: true,
            items: items.into_iter().map(Into::into).collect(),
        })
    }

    /// Appends a line break.
    pub fn line(self) -> Self {
        self.push(Span::LineBreak)
    }

    /// Appends another markup's spans.
    pub fn append(mut self, other: Markup) -> Self {
        self.spans.extend(other.spans);
        self
    }

    /// Renders as plain text: what the console shows and what backends without formatting use.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        render_plain(&self.spans, &mut out, 0);
        out
    }
}

fn render_plain(spans: &[Span], out: &mut String, depth: usize) {
    for span in spans {
        match span {
            Span::Text { text } => out.push_str(text),
            Span::Bold { inner } | Span::Italic { inner } => render_plain(&inner.spans, out, depth),
            Span::Code { code } => {
                out.push('`');
                out.push_str(code);
                out.push('`');
            }
            Span::CodeBlock { code, .. } => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                for line in code.lines() {
                    out.push_str("    ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            Span::Link { url, label } => match label {
                Some(label) if label != url => {
                    out.push_str(label);
                    out.push_str(" <");
                    out.push_str(url);
                    out.push('>');
                }
                _ => out.push_str(url),
            },
            Span::Mention { user } => {
                out.push('@');
                out.push_str(user.local());
            }
            Span::List { ordered, items } => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&"  ".repeat(depth));
                    if *ordered {
                        out.push_str(&format!("{}. ", i + 1));
                    } else {
                        out.push_str("• ");
                    }
                    render_plain(&item.spans, out, depth + 1);
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            Span::LineBreak => out.push('\n'),
        }
    }
}

impl From<&str> for Markup {
    fn from(text: &str) -> Self {
        Markup::new().text(text)
    }
}

impl From<String> for Markup {
    fn from(text: String) -> Self {
        Markup::new().text(text)
    }
}

impl From<Span> for Markup {
    fn from(span: Span) -> Self {
        Markup::new().push(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_rendering_is_readable() {
        let user: UserId = "slack:U1".parse().unwrap();
        let m = Markup::new()
            .bold("Incident 42")
            .text(" is ")
            .code("active")
            .text(", lead ")
            .mention(user)
            .line()
            .link("report", "https://example.org/r/42")
            .list(["one", "two"]);
        assert_eq!(
            m.to_plain(),
            "Incident 42 is `active`, lead @U1\nreport <https://example.org/r/42>\n• one\n• two\n"
        );
    }

    #[test]
    fn code_blocks_start_on_their_own_line() {
        let m = Markup::new().text("out:").code_block(Some("sh"), "a\nb");
        assert_eq!(m.to_plain(), "out:\n    a\n    b\n");
    }
}
