//! Step 1 of st2's parser: trailing `key=value` extras.
//!
//! st2's `re.match(ending, command)` finds the maximal run of pairs at the end of the command
//! (here: the leftmost match of `(?:pairs\s*)+\z`, the same text without captures); each
//! pair gives `key → value` (quotes dropped, `""`/`''` give an empty string, `{…}` up to the
//! first `}`). Then **every** occurrence of that run's text is removed from the command, like
//! Python's `str.replace`.

use super::snippets::Snippets;

/// The trailing extras, in order, and the command without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extras {
    /// `(key, value)` in the order they were typed (a later duplicate wins when applied).
    pub pairs: Vec<(String, String)>,
    /// The command with the run removed (not yet padded).
    pub rest: String,
}

/// Splits the trailing `key=value` run off `command`.
pub(crate) fn split_extras(snippets: &Snippets, command: &str) -> Result<Extras, String> {
    if !command.contains('=') {
        // every pair needs an `=`: skip the regex (the common case in chat)
        return Ok(Extras {
            pairs: Vec::new(),
            rest: command.to_owned(),
        });
    }
    let run = snippets
        .run
        .find(command)
        .map_err(|e| format!("internal error while reading key=value extras: {e}"))?
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    if run.is_empty() {
        return Ok(Extras {
            pairs: Vec::new(),
            rest: command.to_owned(),
        });
    }
    let mut pairs = Vec::new();
    for caps in snippets.pairs.captures_iter(&run) {
        let caps =
            caps.map_err(|e| format!("internal error while reading key=value extras: {e}"))?;
        let key = caps.get(1).map_or("", |m| m.as_str()).to_owned();
        let value: String = (3..=6)
            .filter_map(|i| caps.get(i).map(|m| m.as_str()))
            .collect();
        pairs.push((key, value));
    }
    Ok(Extras {
        pairs,
        rest: command.replace(&run, ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alias::snippets::snippets;

    fn split(command: &str) -> (Vec<(String, String)>, String) {
        let extras = split_extras(snippets().unwrap(), command).unwrap();
        (extras.pairs, extras.rest)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_extras_leaves_command_alone() {
        assert_eq!(split("run date"), (vec![], "run date".to_owned()));
        assert_eq!(split(""), (vec![], String::new()));
    }

    #[test]
    fn value_kinds() {
        let (found, rest) = split(r#"list a=1 b="two words" c='x y' d={"k": "v"} e="" f=''"#);
        assert_eq!(
            found,
            pairs(&[
                ("a", "1"),
                ("b", "two words"),
                ("c", "x y"),
                ("d", r#"{"k": "v"}"#),
                ("e", ""),
                ("f", "")
            ])
        );
        assert_eq!(rest, "list");
    }

    #[test]
    fn only_the_trailing_run_counts() {
        assert_eq!(
            split("run ls x=1 and more"),
            (vec![], "run ls x=1 and more".to_owned())
        );
        assert_eq!(
            split("a=1 b=2"),
            (pairs(&[("a", "1"), ("b", "2")]), String::new())
        );
    }

    #[test]
    fn st2_surprises() {
        // the last word with `=` is an extra, even inside a URL
        assert_eq!(
            split("browse http://h/?q=1"),
            (pairs(&[("http://h/?q", "1")]), "browse".to_owned())
        );
        // text after a closing quote is dropped
        assert_eq!(split(r#"say hi x="1"2"#).0, pairs(&[("x", "1")]));
        // nested JSON loses its last brace
        assert_eq!(
            split(r#"say hi j={"a": {"b": 2}}"#).0,
            pairs(&[("j", r#"{"a": {"b": 2}"#)])
        );
        // the run is removed everywhere in the command
        assert_eq!(
            split("say p k=v q k=v"),
            (pairs(&[("k", "v")]), "say p q".to_owned())
        );
    }
}
