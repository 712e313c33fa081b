//! The alias cache: every action-alias StackStorm knows (paged `GET /api/v1/actionalias`),
//! refreshed periodically and on `st2.actionalias__*` stream events, for "did you mean",
//! ambiguity explanations and `!st2 status`.

use std::sync::RwLock;

use crate::alias::{AliasFormat, PreparedCommand, normalize_command};
use crate::client::Alias;

#[derive(Default)]
struct State {
    aliases: Vec<Alias>,
    /// Each enabled alias format's compiled representations, compiled once per refresh:
    /// (index into `aliases`, display, formats that compiled).
    compiled: Vec<(usize, String, Vec<AliasFormat>)>,
    refreshed: Option<jiff::Timestamp>,
}

fn compile(aliases: &[Alias]) -> Vec<(usize, String, Vec<AliasFormat>)> {
    let mut out = Vec::new();
    for (i, alias) in aliases.iter().enumerate().filter(|(_, a)| a.is_enabled()) {
        for format in &alias.formats {
            let reps = format
                .representations()
                .iter()
                .filter_map(|rep| AliasFormat::parse(rep).ok())
                .collect();
            out.push((i, format.display().unwrap_or_default().to_owned(), reps));
        }
    }
    out
}

/// The cached aliases.
#[derive(Default)]
pub struct AliasCache {
    state: RwLock<State>,
}

impl std::fmt::Debug for AliasCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliasCache")
            .field("count", &self.count())
            .finish()
    }
}

/// One usable format of a cached alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `pack.name`.
    pub reference: String,
    /// What users read (the display, else the pattern).
    pub display: String,
}

impl AliasCache {
    /// Replaces the cached aliases.
    pub fn set(&self, aliases: Vec<Alias>, now: jiff::Timestamp) {
        let compiled = compile(&aliases);
        if let Ok(mut s) = self.state.write() {
            s.compiled = compiled;
            s.aliases = aliases;
            s.refreshed = Some(now);
        }
    }

    /// How many aliases are cached.
    pub fn count(&self) -> usize {
        self.state.read().map(|s| s.aliases.len()).unwrap_or(0)
    }

    /// When the cache was last filled.
    pub fn refreshed(&self) -> Option<jiff::Timestamp> {
        self.state.read().ok().and_then(|s| s.refreshed)
    }

    /// The enabled aliases' formats whose local parse matches `command` (st2's own matching
    /// decides; this explains an ambiguity).
    pub fn matching(&self, command: &str) -> Vec<Candidate> {
        let command = PreparedCommand::new(&normalize_command(command));
        let Ok(state) = self.state.read() else {
            return Vec::new();
        };
        state
            .compiled
            .iter()
            .filter(|(_, _, reps)| reps.iter().any(|f| f.extract_prepared(&command).is_ok()))
            .filter_map(|(i, display, _)| state.aliases.get(*i).map(|a| candidate(a, display)))
            .collect()
    }

    /// Up to `max` enabled alias displays that look like `command`, best first.
    pub fn suggestions(&self, command: &str, max: usize) -> Vec<Candidate> {
        let command = normalize_command(command).to_lowercase();
        let first = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let Ok(state) = self.state.read() else {
            return Vec::new();
        };
        let mut scored: Vec<(f64, Candidate)> = Vec::new();
        for alias in state.aliases.iter().filter(|a| a.is_enabled()) {
            for format in &alias.formats {
                let Some(display) = format
                    .display()
                    .or_else(|| format.representations().first().copied())
                else {
                    continue;
                };
                let literal = literal_words(display).to_lowercase();
                let head = literal.split_whitespace().next().unwrap_or_default();
                let whole = strsim::jaro_winkler(&command, &literal);
                let word = strsim::jaro_winkler(&first, head);
                let score = whole.max(word * 0.95);
                if score >= 0.75 {
                    scored.push((score, candidate(alias, display)));
                }
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<Candidate> = Vec::new();
        for (_, c) in scored {
            if !out.iter().any(|o| o.display == c.display) {
                out.push(c);
            }
            if out.len() == max {
                break;
            }
        }
        out
    }
}

fn candidate(alias: &Alias, display: &str) -> Candidate {
    Candidate {
        reference: alias
            .reference
            .clone()
            .unwrap_or_else(|| format!("{}.{}", alias.pack, alias.name)),
        display: display.to_owned(),
    }
}

/// The words of a format outside `{{…}}` placeholders.
fn literal_words(format: &str) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => rest = &rest[start + end + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(name: &str, formats: serde_json::Value) -> Alias {
        serde_json::from_value(serde_json::json!({"name": name, "pack": "p", "formats": formats}))
            .unwrap()
    }

    #[test]
    fn literal_words_drop_placeholders() {
        assert_eq!(literal_words("run {{cmd}} on {{hosts=x}}"), "run on");
    }

    #[test]
    fn suggestions_rank_close_aliases() {
        let cache = AliasCache::default();
        cache.set(
            vec![
                alias("a", serde_json::json!(["run {{cmd}} on {{hosts}}"])),
                alias("b", serde_json::json!(["deploy {{app}}"])),
            ],
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(cache.count(), 2);
        let s = cache.suggestions("rnu date on web1", 3);
        assert_eq!(
            s.first().map(|c| c.display.as_str()),
            Some("run {{cmd}} on {{hosts}}")
        );
        assert!(cache.suggestions("zzzzzz", 3).is_empty());
    }
}
