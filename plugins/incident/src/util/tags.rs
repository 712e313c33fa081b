//! Incident tags (`key=value`) and Argus-style tag filters.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Longest accepted tag key or value, in characters.
pub const MAX_TAG_PART: usize = 64;

/// Why a tag was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagError {
    /// No `=` in the text.
    #[error("tag `{0}` is not of the form key=value")]
    MissingEquals(String),
    /// The key is empty or has characters other than `a-z`, `0-9`, `_`.
    #[error("tag key `{0}` must match ^[a-z0-9_]+$")]
    BadKey(String),
    /// The value is empty.
    #[error("tag `{0}` has an empty value")]
    EmptyValue(String),
    /// Key or value longer than [`MAX_TAG_PART`].
    #[error("tag `{0}` is too long (key and value at most {MAX_TAG_PART} characters each)")]
    TooLong(String),
}

/// One `key=value` tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// Lowercase key, `^[a-z0-9_]+$`.
    pub key: String,
    /// Non-empty value (trimmed).
    pub value: String,
}

impl Tag {
    /// Parse `key=value`: key `^[a-z0-9_]+$`, value non-empty after trimming.
    pub fn parse(text: &str) -> Result<Tag, TagError> {
        let text = text.trim();
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| TagError::MissingEquals(text.to_owned()))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(TagError::BadKey(key.to_owned()));
        }
        if value.is_empty() {
            return Err(TagError::EmptyValue(text.to_owned()));
        }
        if key.chars().count() > MAX_TAG_PART || value.chars().count() > MAX_TAG_PART {
            return Err(TagError::TooLong(text.to_owned()));
        }
        Ok(Tag {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

impl FromStr for Tag {
    type Err = TagError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tag::parse(s)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// A tag filter with Argus semantics: the values given for one key are alternatives (OR),
/// different keys must all match (AND). The empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    by_key: BTreeMap<String, Vec<String>>,
}

impl TagFilter {
    /// A filter from the given tags.
    pub fn new(tags: impl IntoIterator<Item = Tag>) -> Self {
        let mut filter = TagFilter::default();
        for tag in tags {
            filter.add(tag);
        }
        filter
    }

    /// Parse whitespace- or comma-separated `key=value` items.
    pub fn parse(text: &str) -> Result<Self, TagError> {
        let tags = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(Tag::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(tags))
    }

    /// Add one alternative.
    pub fn add(&mut self, tag: Tag) {
        let values = self.by_key.entry(tag.key).or_default();
        if !values.contains(&tag.value) {
            values.push(tag.value);
        }
    }

    /// True when no tag is required.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The filter's tags, sorted by key.
    pub fn tags(&self) -> Vec<Tag> {
        self.by_key
            .iter()
            .flat_map(|(k, vs)| {
                vs.iter().map(move |v| Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
            })
            .collect()
    }

    /// Whether an incident with `tags` passes: for every key in the filter, one of its values
    /// is among the incident's tags.
    pub fn matches(&self, tags: &[Tag]) -> bool {
        self.by_key.iter().all(|(key, values)| {
            tags.iter()
                .any(|t| &t.key == key && values.iter().any(|v| v == &t.value))
        })
    }
}

impl fmt::Display for TagFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.tags().iter().map(Tag::to_string).collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Tag {
        Tag::parse(s).unwrap()
    }

    #[test]
    fn parse_and_display() {
        let tag = t(" service = api gateway ");
        assert_eq!(tag.key, "service");
        assert_eq!(tag.value, "api gateway");
        assert_eq!(tag.to_string(), "service=api gateway");
    }

    #[test]
    fn bad_tags_refused() {
        assert!(matches!(
            Tag::parse("novalue"),
            Err(TagError::MissingEquals(_))
        ));
        assert!(matches!(Tag::parse("Service=x"), Err(TagError::BadKey(_))));
        assert!(matches!(Tag::parse("=x"), Err(TagError::BadKey(_))));
        assert!(matches!(Tag::parse("a-b=x"), Err(TagError::BadKey(_))));
        assert!(matches!(Tag::parse("k="), Err(TagError::EmptyValue(_))));
        let long = format!("k={}", "v".repeat(MAX_TAG_PART + 1));
        assert!(matches!(Tag::parse(&long), Err(TagError::TooLong(_))));
        assert!(
            TagError::BadKey("X".into())
                .to_string()
                .contains("^[a-z0-9_]+$")
        );
    }

    #[test]
    fn argus_semantics() {
        let f = TagFilter::parse("service=api,service=db team=core").unwrap();
        assert!(f.matches(&[t("service=api"), t("team=core")]));
        assert!(f.matches(&[t("service=db"), t("team=core"), t("x=y")]));
        assert!(!f.matches(&[t("service=api")]), "AND across keys");
        assert!(!f.matches(&[t("service=web"), t("team=core")]));
        assert!(TagFilter::default().matches(&[]));
        assert!(!f.matches(&[]));
        assert_eq!(f.to_string(), "service=api service=db team=core");
    }
}
