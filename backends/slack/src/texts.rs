//! The texts of recently seen messages, by `channel/ts`.
//!
//! Slack's `reaction_added` event names the message but not its text (and `pin_added` may
//! come without `item.message`), so reports about a message would otherwise reach plugins
//! without what it said — an incident timeline would show a bare message id. The backend
//! sees the messages of the channels it is in as they are posted, edited and deleted, so it
//! keeps the last [`CAPACITY`] of them here (each at most [`MAX_TEXT`] characters; longer ones
//! are not kept; direct messages are never kept) and fills the text in from memory, without
//! a Web API call.

use std::collections::{HashMap, VecDeque};

/// How many messages are remembered.
pub const CAPACITY: usize = 1_024;

/// The longest text remembered, in characters (Slack's advised message length).
pub const MAX_TEXT: usize = 4_000;

/// Recently seen message texts, oldest forgotten first. Its `Debug` shows only how many
/// (people type all sorts of things).
#[derive(Default)]
pub struct Texts {
    order: VecDeque<String>,
    texts: HashMap<String, String>,
}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texts")
            .field("len", &self.texts.len())
            .finish_non_exhaustive()
    }
}

/// The key of the message `ts` in `channel`.
pub fn key(channel: &str, ts: &str) -> String {
    format!("{channel}/{ts}")
}

impl Texts {
    /// Remembers (or, after an edit, replaces) the text of message `key`.
    pub fn remember(&mut self, key: String, text: String) {
        if text.chars().count() > MAX_TEXT {
            self.forget(&key);
            return;
        }
        if let Some(old) = self.texts.get_mut(&key) {
            *old = text;
            return;
        }
        if self.order.len() >= CAPACITY
            && let Some(oldest) = self.order.pop_front()
        {
            self.texts.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.texts.insert(key, text);
    }

    /// The remembered text of message `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.texts.get(key).cloned()
    }

    /// Forgets message `key` (deleted).
    pub fn forget(&mut self, key: &str) {
        if self.texts.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }

    /// How many texts are remembered.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_remembered_replaced_and_forgotten() {
        let mut t = Texts::default();
        t.remember(key("C1", "1.1"), "fixd".into());
        t.remember(key("C1", "1.1"), "fixed".into());
        assert_eq!(t.get("C1/1.1").as_deref(), Some("fixed"));
        assert_eq!(t.len(), 1);
        t.forget("C1/1.1");
        assert_eq!(t.get("C1/1.1"), None);
        assert!(t.is_empty());
        // Forgotten and seen again: remembered once.
        t.remember(key("C1", "1.1"), "again".into());
        assert_eq!(t.len(), 1);
        assert!(!format!("{t:?}").contains("again"), "{t:?}");
    }

    #[test]
    fn the_oldest_go_first_and_long_texts_are_not_kept() {
        let mut t = Texts::default();
        for i in 0..=CAPACITY {
            t.remember(key("C1", &i.to_string()), format!("m{i}"));
        }
        assert_eq!(t.len(), CAPACITY);
        assert_eq!(t.get("C1/0"), None);
        assert_eq!(t.get("C1/1").as_deref(), Some("m1"));
        assert_eq!(
            t.get(&format!("C1/{CAPACITY}")),
            Some(format!("m{CAPACITY}"))
        );

        t.remember(key("C2", "1"), "short".into());
        // An edit that makes it too long drops the old text rather than keep a stale one.
        t.remember(key("C2", "1"), "x".repeat(MAX_TEXT + 1));
        assert_eq!(t.get("C2/1"), None);
        t.remember(key("C2", "2"), "y".repeat(MAX_TEXT));
        assert_eq!(t.get("C2/2").map(|s| s.len()), Some(MAX_TEXT));
    }
}
