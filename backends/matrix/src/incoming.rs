//! Incoming events → what ferrbot needs: messages with mentions and reply fallbacks stripped,
//! thread roots, the event a reply answers, edits, reactions, redactions and pins.
//!
//! Works on the raw event JSON of a sync response, so it is independent of the SDK's event
//! types and can be tested with plain JSON. Messages of type `m.text` and `m.notice` are
//! read; the caller drops the bot's own events before asking.

use serde::Deserialize;
use serde_json::Value;

/// Who the bot is, for recognising mentions.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// The bot's Matrix user id (`@ferrbot:example.org`).
    pub user_id: String,
    /// Display names the bot goes by (global and per room).
    pub names: Vec<String>,
}

impl Identity {
    /// The local part without `@` (`ferrbot`).
    pub fn localpart(&self) -> &str {
        self.user_id
            .trim_start_matches('@')
            .split(':')
            .next()
            .unwrap_or_default()
    }
}

/// The parts of an event ferrbot looks at.
#[derive(Clone, Debug, Deserialize)]
pub struct RawEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who sent it.
    #[serde(default)]
    pub sender: String,
    /// Its id.
    #[serde(default)]
    pub event_id: Option<String>,
    /// When the sender's homeserver received it, in ms since the epoch.
    #[serde(default)]
    pub origin_server_ts: Option<u64>,
    /// The content.
    #[serde(default)]
    pub content: Value,
    /// The state key, for state events.
    #[serde(default)]
    pub state_key: Option<String>,
    /// Unsigned data (`prev_content` of state events).
    #[serde(default)]
    pub unsigned: Value,
    /// The redacted event (room versions before 11).
    #[serde(default)]
    pub redacts: Option<String>,
}

/// A chat message, ready for the dispatcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The event id.
    pub event_id: String,
    /// The thread root, when the message is in a thread.
    pub thread: Option<String>,
    /// The text, with a reply fallback and a leading mention of the bot removed.
    pub text: String,
    /// True when the message started with a mention of the bot.
    pub mentioned: bool,
    /// The event this message replies to (`m.in_reply_to`), unless that is only a thread's
    /// fallback for clients without threads (`is_falling_back`).
    pub reply_to: Option<String>,
}

/// What an event means to ferrbot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A text or notice message.
    Message(Message),
    /// An edit of `message`.
    Edited {
        /// The edited event.
        message: String,
        /// The new text.
        text: String,
    },
    /// A reaction (its own event id, the event reacted to, the key).
    Reaction {
        /// The reaction event's id (redacting it removes the reaction).
        reaction: String,
        /// The event reacted to.
        message: String,
        /// The emoji or text.
        key: String,
    },
    /// A redaction of `redacts`.
    Redaction {
        /// The removed event.
        redacts: String,
    },
    /// The pinned events changed.
    Pins {
        /// Newly pinned.
        added: Vec<String>,
        /// No longer pinned.
        removed: Vec<String>,
    },
    /// An end-to-end encrypted event, which the bot cannot read.
    Encrypted,
    /// Nothing ferrbot cares about.
    Ignored,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Interprets one timeline event.
pub fn parse(event: &RawEvent, me: &Identity) -> Parsed {
    match event.kind.as_str() {
        "m.room.message" => parse_message(event, me),
        "m.reaction" => {
            let relates = &event.content["m.relates_to"];
            match (
                event.event_id.as_deref(),
                str_at(relates, &["rel_type"]),
                str_at(relates, &["event_id"]),
                str_at(relates, &["key"]),
            ) {
                (Some(id), Some("m.annotation"), Some(target), Some(key)) => Parsed::Reaction {
                    reaction: id.to_owned(),
                    message: target.to_owned(),
                    key: key.to_owned(),
                },
                _ => Parsed::Ignored,
            }
        }
        "m.room.redaction" => match event
            .redacts
            .as_deref()
            .or_else(|| str_at(&event.content, &["redacts"]))
        {
            Some(r) => Parsed::Redaction {
                redacts: r.to_owned(),
            },
            None => Parsed::Ignored,
        },
        "m.room.pinned_events" if event.state_key.as_deref() == Some("") => {
            let now = string_list(event.content.get("pinned"));
            let before = string_list(
                event
                    .unsigned
                    .get("prev_content")
                    .and_then(|p| p.get("pinned")),
            );
            let added: Vec<String> = now
                .iter()
                .filter(|e| !before.contains(e))
                .cloned()
                .collect();
            let removed: Vec<String> = before
                .iter()
                .filter(|e| !now.contains(e))
                .cloned()
                .collect();
            if added.is_empty() && removed.is_empty() {
                Parsed::Ignored
            } else {
                Parsed::Pins { added, removed }
            }
        }
        "m.room.encrypted" => Parsed::Encrypted,
        _ => Parsed::Ignored,
    }
}

fn parse_message(event: &RawEvent, me: &Identity) -> Parsed {
    let content = &event.content;
    let relates = &content["m.relates_to"];
    if str_at(relates, &["rel_type"]) == Some("m.replace") {
        let text = str_at(content, &["m.new_content", "body"])
            .or_else(|| str_at(content, &["body"]).map(|b| b.strip_prefix("* ").unwrap_or(b)));
        return match (str_at(relates, &["event_id"]), text) {
            (Some(target), Some(text)) => Parsed::Edited {
                message: target.to_owned(),
                text: text.to_owned(),
            },
            _ => Parsed::Ignored,
        };
    }
    let msgtype = str_at(content, &["msgtype"]).unwrap_or_default();
    if !matches!(msgtype, "m.text" | "m.notice") {
        return Parsed::Ignored;
    }
    let (Some(event_id), Some(body)) = (event.event_id.as_deref(), str_at(content, &["body"]))
    else {
        return Parsed::Ignored;
    };
    let thread = (str_at(relates, &["rel_type"]) == Some("m.thread"))
        .then(|| str_at(relates, &["event_id"]).map(str::to_owned))
        .flatten();
    let is_reply = relates.get("m.in_reply_to").is_some();
    let falling_back = thread.is_some() && relates["is_falling_back"].as_bool() == Some(true);
    let reply_to = (!falling_back)
        .then(|| str_at(relates, &["m.in_reply_to", "event_id"]).map(str::to_owned))
        .flatten();
    let body = if is_reply {
        strip_reply_fallback(body)
    } else {
        body
    };
    let formatted = (str_at(content, &["format"]) == Some("org.matrix.custom.html"))
        .then(|| str_at(content, &["formatted_body"]))
        .flatten();
    let formatted = formatted.map(strip_mx_reply);
    let (text, mentioned) = strip_mention(body, formatted.as_deref(), me);
    Parsed::Message(Message {
        event_id: event_id.to_owned(),
        thread,
        text,
        mentioned,
        reply_to,
    })
}

/// Removes a legacy reply fallback (`> <@alice:x> quoted` lines and the blank line after).
pub fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> <") {
        return body;
    }
    let mut rest = body;
    while rest.starts_with('>') {
        match rest.find('\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return "",
        }
    }
    rest.strip_prefix('\n').unwrap_or(rest)
}

/// Removes the `<mx-reply>…</mx-reply>` block of a formatted reply.
pub fn strip_mx_reply(html: &str) -> String {
    match (html.find("<mx-reply>"), html.find("</mx-reply>")) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{}", &html[..start], &html[end + "</mx-reply>".len()..])
        }
        _ => html.to_owned(),
    }
}

/// Decodes `%XX` escapes (what clients do to `@` and `:` in matrix.to links).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes the few HTML entities a pill's text may contain.
fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The user a link points at, for `https://matrix.to/#/@u:s` and `matrix:u/u:s` links.
fn link_user(href: &str) -> Option<String> {
    let href = percent_decode(href);
    if let Some(rest) = href
        .strip_prefix("https://matrix.to/#/")
        .or_else(|| href.strip_prefix("http://matrix.to/#/"))
    {
        let id = rest.split(['?', '/']).next().unwrap_or_default();
        return id.starts_with('@').then(|| id.to_owned());
    }
    if let Some(rest) = href.strip_prefix("matrix:u/") {
        let id = rest.split(['?', '/']).next().unwrap_or_default();
        return Some(format!("@{id}"));
    }
    None
}

/// The user and text of a pill at the very start of `html`, if there is one.
fn leading_pill(html: &str) -> Option<(String, String)> {
    let html = html.trim_start();
    let html = html.strip_prefix("<p>").unwrap_or(html);
    let rest = html.strip_prefix("<a ")?;
    let close = rest.find('>')?;
    let attrs = &rest[..close];
    let href_start = attrs.find("href=")? + "href=".len();
    let quote = attrs[href_start..].chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = &attrs[href_start + 1..];
    let href = &value[..value.find(quote)?];
    let inner = &rest[close + 1..];
    let text = &inner[..inner.find("</a>")?];
    Some((link_user(&html_unescape(href))?, html_unescape(text)))
}

/// Byte length of `prefix` at the start of `text`, compared case-insensitively, if present.
fn starts_with_ci(text: &str, prefix: &str) -> Option<usize> {
    if prefix.is_empty() {
        return None;
    }
    let mut t = text.char_indices();
    for pc in prefix.chars() {
        let (_, tc) = t.next()?;
        if !tc.to_lowercase().eq(pc.to_lowercase()) {
            return None;
        }
    }
    Some(t.next().map_or(text.len(), |(i, _)| i))
}

/// The rest of `text` after a mention ending at byte `at`, if the mention ends at a word
/// boundary (`strict`: only `:` or `,` count, for bare display names).
fn after_mention(text: &str, at: usize, strict: bool) -> Option<String> {
    let rest = &text[at..];
    let mut chars = rest.chars();
    let ok = match chars.next() {
        None | Some(',') => true,
        // `@ferrbot:other.org` is someone else: a colon counts only before a space or the end.
        Some(':') => chars.next().is_none_or(char::is_whitespace),
        Some(c) if c.is_whitespace() => !strict,
        _ => false,
    };
    ok.then(|| rest.trim_start_matches([':', ',']).trim_start().to_owned())
}

/// Removes a leading mention of the bot — a pill, the user id, `@localpart`, `@Display Name`
/// or `Display Name:` — and says whether there was one.
pub fn strip_mention(body: &str, formatted: Option<&str>, me: &Identity) -> (String, bool) {
    let text = body.trim_start();
    // A pill to the bot: its text is what the body starts with.
    if let Some((user, pill_text)) = formatted.and_then(leading_pill)
        && user == me.user_id
    {
        for candidate in [pill_text.as_str(), pill_text.trim_start_matches('@')] {
            if let Some(at) = starts_with_ci(text, candidate)
                && let Some(rest) = after_mention(text, at, false)
            {
                return (rest, true);
            }
        }
    }
    let at_local = format!("@{}", me.localpart());
    let mut forms: Vec<(String, bool)> = vec![(me.user_id.clone(), false), (at_local, false)];
    for name in &me.names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        forms.push((format!("@{name}"), false));
        forms.push((name.to_owned(), true));
    }
    // Longest first, so `@ferrbot:example.org` wins over `@ferrbot`.
    forms.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
    for (form, strict) in forms {
        if let Some(at) = starts_with_ci(text, &form)
            && let Some(rest) = after_mention(text, at, strict)
        {
            return (rest, true);
        }
    }
    (body.to_owned(), false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn me() -> Identity {
        Identity {
            user_id: "@ferrbot:example.org".into(),
            names: vec!["Ferr Bot".into()],
        }
    }

    fn event(v: Value) -> RawEvent {
        serde_json::from_value(v).unwrap()
    }

    fn text_event(content: Value) -> RawEvent {
        event(json!({
            "type": "m.room.message", "sender": "@alice:example.org", "event_id": "$e1",
            "origin_server_ts": 1, "content": content
        }))
    }

    #[test]
    fn mention_cases() {
        // (body, formatted, text, mentioned)
        let cases: &[(&str, Option<&str>, &str, bool)] = &[
            ("!help", None, "!help", false),
            ("@ferrbot:example.org help", None, "help", true),
            ("@FERRBOT:example.org: help", None, "help", true),
            ("@ferrbot help", None, "help", true),
            ("@ferrbot, help me", None, "help me", true),
            ("@ferrbotx help", None, "@ferrbotx help", false),
            (
                "@ferrbot:other.org help",
                None,
                "@ferrbot:other.org help",
                false,
            ),
            ("@ferrbot: help", None, "help", true),
            ("Ferr Bot: status", None, "status", true),
            ("ferr bot, status", None, "status", true),
            ("Ferr Bot is broken", None, "Ferr Bot is broken", false),
            ("@Ferr Bot whoami", None, "whoami", true),
            (
                "Ferr Bot whoami",
                Some("<a href=\"https://matrix.to/#/@ferrbot:example.org\">Ferr Bot</a> whoami"),
                "whoami",
                true,
            ),
            (
                "Botty: whoami",
                Some("<a href=\"https://matrix.to/#/%40ferrbot%3Aexample.org\">Botty</a>: whoami"),
                "whoami",
                true,
            ),
            (
                "Alice: hi",
                Some("<a href=\"https://matrix.to/#/@alice:example.org\">Alice</a>: hi"),
                "Alice: hi",
                false,
            ),
            (
                "ping @ferrbot:example.org later",
                None,
                "ping @ferrbot:example.org later",
                false,
            ),
            ("@ferrbot:example.org", None, "", true),
        ];
        for (body, formatted, text, mentioned) in cases {
            assert_eq!(
                strip_mention(body, *formatted, &me()),
                ((*text).to_owned(), *mentioned),
                "{body:?}"
            );
        }
    }

    #[test]
    fn reply_fallbacks_are_removed() {
        let cases: &[(&str, &str)] = &[
            ("> <@alice:x> old command\n> more\n\n!whoami", "!whoami"),
            ("> <@alice:x> only quote", ""),
            ("> not a fallback\n\n!help", "> not a fallback\n\n!help"),
            ("!help", "!help"),
        ];
        for (body, want) in cases {
            assert_eq!(strip_reply_fallback(body), *want, "{body:?}");
        }
        assert_eq!(
            strip_mx_reply("<mx-reply><blockquote>x</blockquote></mx-reply>!help"),
            "!help"
        );
    }

    #[test]
    fn messages_threads_replies_and_notices() {
        let p = parse(
            &text_event(json!({"msgtype": "m.text", "body": "!help"})),
            &me(),
        );
        assert_eq!(
            p,
            Parsed::Message(Message {
                event_id: "$e1".into(),
                thread: None,
                text: "!help".into(),
                mentioned: false,
                reply_to: None,
            })
        );
        let p = parse(
            &text_event(json!({
                "msgtype": "m.notice", "body": "!whoami",
                "m.relates_to": {"rel_type": "m.thread", "event_id": "$root",
                                  "is_falling_back": true, "m.in_reply_to": {"event_id": "$root"}}
            })),
            &me(),
        );
        let Parsed::Message(m) = p else {
            panic!("{p:?}")
        };
        assert_eq!(m.thread.as_deref(), Some("$root"));
        assert_eq!(m.text, "!whoami");
        assert_eq!(m.reply_to, None, "a thread's fallback is no reply");
        let p = parse(
            &text_event(json!({
                "msgtype": "m.text",
                "body": "> <@bob:example.org> earlier\n\n@ferrbot help",
                "format": "org.matrix.custom.html",
                "formatted_body": "<mx-reply><blockquote>earlier</blockquote></mx-reply>@ferrbot help",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}}
            })),
            &me(),
        );
        let Parsed::Message(m) = p else {
            panic!("{p:?}")
        };
        assert_eq!(
            (m.text.as_str(), m.mentioned, m.thread),
            ("help", true, None)
        );
        assert_eq!(m.reply_to.as_deref(), Some("$earlier"));
        // A reply inside a thread answers the message it names, not the thread's root.
        let p = parse(
            &text_event(json!({
                "msgtype": "m.text", "body": "!inc pin",
                "m.relates_to": {"rel_type": "m.thread", "event_id": "$root",
                                  "is_falling_back": false,
                                  "m.in_reply_to": {"event_id": "$inthread"}}
            })),
            &me(),
        );
        let Parsed::Message(m) = p else {
            panic!("{p:?}")
        };
        assert_eq!(
            (m.thread.as_deref(), m.reply_to.as_deref(), m.text.as_str()),
            (Some("$root"), Some("$inthread"), "!inc pin")
        );
        for ignored in [
            json!({"msgtype": "m.image", "body": "cat.png"}),
            json!({"msgtype": "m.emote", "body": "waves"}),
            json!({"body": "no msgtype"}),
        ] {
            assert_eq!(parse(&text_event(ignored), &me()), Parsed::Ignored);
        }
    }

    #[test]
    fn edits_reactions_redactions_pins() {
        let edit = text_event(json!({
            "msgtype": "m.text", "body": "* fixed",
            "m.new_content": {"msgtype": "m.text", "body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}
        }));
        assert_eq!(
            parse(&edit, &me()),
            Parsed::Edited {
                message: "$orig".into(),
                text: "fixed".into()
            }
        );
        let reaction = event(json!({
            "type": "m.reaction", "sender": "@alice:example.org", "event_id": "$r",
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m", "key": "👍"}}
        }));
        assert_eq!(
            parse(&reaction, &me()),
            Parsed::Reaction {
                reaction: "$r".into(),
                message: "$m".into(),
                key: "👍".into()
            }
        );
        for redaction in [
            json!({"type": "m.room.redaction", "sender": "@a:x", "event_id": "$x", "redacts": "$r", "content": {}}),
            json!({"type": "m.room.redaction", "sender": "@a:x", "event_id": "$x", "content": {"redacts": "$r"}}),
        ] {
            assert_eq!(
                parse(&event(redaction), &me()),
                Parsed::Redaction {
                    redacts: "$r".into()
                }
            );
        }
        let pins = event(json!({
            "type": "m.room.pinned_events", "sender": "@a:x", "event_id": "$p", "state_key": "",
            "content": {"pinned": ["$1", "$3"]},
            "unsigned": {"prev_content": {"pinned": ["$1", "$2"]}}
        }));
        assert_eq!(
            parse(&pins, &me()),
            Parsed::Pins {
                added: vec!["$3".into()],
                removed: vec!["$2".into()]
            }
        );
        let encrypted = event(json!({"type": "m.room.encrypted", "sender": "@a:x", "content": {}}));
        assert_eq!(parse(&encrypted, &me()), Parsed::Encrypted);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%40a%3Ab"), "@a:b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(
            link_user("matrix:u/ferrbot:example.org?action=chat"),
            Some("@ferrbot:example.org".into())
        );
        assert_eq!(link_user("https://matrix.to/#/!room:x"), None);
    }
}
