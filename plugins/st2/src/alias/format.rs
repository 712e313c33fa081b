//! Steps 2 and 3 of st2's parser: defaults of `{{name=default}}` placeholders, and the
//! rewrite of `{{…}}` placeholders into Python regex named groups.
//!
//! The rewrite is textual, exactly like st2's two `re.sub` calls, so a placeholder st2
//! mis-reads (`{{a}} = {{b}}` becomes a group named `a}}`) yields the same invalid regex and
//! then the same `re.error` from [`super::pyregex`].

use super::snippets::Snippets;

/// st2's `param_match` replacement after `\1` (the whitespace) and before/after `\2` (the
/// name): an optional quote, a lazy value (up to the same quote after a quote, a `{…}`, or
/// anything), an optional quote. The `\'` is kept as in st2's raw string.
const PARAM_OPEN: &str = r#"["\']?(?P<"#;
const PARAM_CLOSE: &str = r#">(?:(?<=\').+?(?=\')|(?<=").+?(?=")|{.+?}|.+?))["\']?"#;

/// `(name, default)` of every `{{name=default}}` in the format, in order.
pub(crate) fn defaults(snippets: &Snippets, format: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for caps in snippets.optional.captures_iter(format) {
        let caps = caps.map_err(|e| format!("internal error while reading defaults: {e}"))?;
        let name = caps.get(1).map_or("", |m| m.as_str()).to_owned();
        let default: String = (2..=5)
            .filter_map(|i| caps.get(i).map(|m| m.as_str()))
            .collect();
        out.push((name, default));
    }
    Ok(out)
}

/// Python's `re.sub(pattern, template, text)` for st2's two templates.
fn substitute(pattern: &fancy_regex::Regex, text: &str, optional: bool) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() * 2);
    let mut last = 0;
    for caps in pattern.captures_iter(text) {
        let caps = caps.map_err(|e| format!("internal error while rewriting the format: {e}"))?;
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&text[last..whole.start()]);
        if optional {
            out.push_str("(?:");
        }
        out.push_str(caps.get(1).map_or("", |m| m.as_str()));
        out.push_str(PARAM_OPEN);
        out.push_str(caps.get(2).map_or("", |m| m.as_str()));
        out.push_str(PARAM_CLOSE);
        if optional {
            out.push_str(")?");
        }
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// The format with its placeholders rewritten: Python regex source, not yet anchored.
pub(crate) fn to_python_regex(snippets: &Snippets, format: &str) -> Result<String, String> {
    let with_optional = substitute(&snippets.sub_optional, format, true)?;
    substitute(&snippets.sub_required, &with_optional, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alias::snippets::snippets;

    fn defaults_of(format: &str) -> Vec<(String, String)> {
        defaults(snippets().unwrap(), format).unwrap()
    }

    fn rewrite(format: &str) -> String {
        to_python_regex(snippets().unwrap(), format).unwrap()
    }

    #[test]
    fn default_forms() {
        let d = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert_eq!(
            defaults_of("run {{cmd}} {{hosts=localhost}}"),
            vec![d("hosts", "localhost")]
        );
        assert_eq!(defaults_of("ping {{ count = 3 }}"), vec![d("count", "3")]);
        assert_eq!(
            defaults_of(r#"x {{h="web 01"}} {{e=""}}"#),
            vec![d("h", "web 01"), d("e", "")]
        );
        assert_eq!(
            defaults_of("run {{thing={'key': 'value'}}}"),
            vec![d("thing", "{'key': 'value'}")]
        );
        assert_eq!(
            defaults_of("notify {{ room = {{ st2kv.system.room }} }}"),
            vec![d("room", "{{ st2kv.system.room }}")]
        );
        assert!(defaults_of("run {{cmd}}").is_empty());
    }

    #[test]
    fn required_placeholder_rewrite_matches_st2_text() {
        assert_eq!(
            rewrite("get {{app.name}}"),
            r#"get ["\']?(?P<app.name>(?:(?<=\').+?(?=\')|(?<=").+?(?=")|{.+?}|.+?))["\']?"#
        );
    }

    #[test]
    fn optional_placeholder_takes_its_leading_whitespace() {
        assert_eq!(
            rewrite("ping {{count=3}}"),
            r#"ping(?: ["\']?(?P<count>(?:(?<=\').+?(?=\')|(?<=").+?(?=")|{.+?}|.+?))["\']?)?"#
        );
    }

    #[test]
    fn placeholder_next_to_equals_is_misread_like_st2() {
        assert!(rewrite("{{a}} = {{b}}").contains("(?P<a}}>"));
    }

    #[test]
    fn literal_text_and_user_regex_are_kept() {
        assert_eq!(
            rewrite(r"(run|execute)[!.]? \+x"),
            r"(run|execute)[!.]? \+x"
        );
    }
}
