//! Key paths: validation, namespace prefixes, and escaping user ids into one segment.
//!
//! A key is a slash-separated path such as `plugins/st2/users/slack:U123/token`. Each segment
//! is 1–768 characters from `A-Z a-z 0-9 . - _ : @ ! + = , ~`, and is neither `.` nor `..`;
//! the whole key is at most [`MAX_KEY_LEN`] bytes. No leading, trailing or doubled `/`.

use crate::error::SecretsError;

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// The longest segment, in bytes.
pub const MAX_SEGMENT_LEN: usize = 768;

/// Characters allowed in a segment besides ASCII letters and digits.
const PUNCT: &[u8] = b".-_:@!+=,~";

fn invalid(key: &str, reason: impl Into<String>) -> SecretsError {
    SecretsError::InvalidKey {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn segment_char_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || PUNCT.contains(&b)
}

/// Checks one segment; `whole` is the key it belongs to, for the error.
fn check_segment(whole: &str, seg: &str) -> Result<(), SecretsError> {
    if seg.is_empty() {
        return Err(invalid(
            whole,
            "empty segment (leading, trailing or doubled `/`)",
        ));
    }
    if seg == "." || seg == ".." {
        return Err(invalid(
            whole,
            format!("`{seg}` is not allowed as a segment"),
        ));
    }
    if seg.len() > MAX_SEGMENT_LEN {
        return Err(invalid(
            whole,
            format!("a segment is longer than {MAX_SEGMENT_LEN} bytes"),
        ));
    }
    if let Some(c) = seg
        .chars()
        .find(|c| !c.is_ascii() || !segment_char_ok(*c as u8))
    {
        return Err(invalid(
            whole,
            format!(
                "character {c:?} is not allowed (use A-Z a-z 0-9 and . - _ : @ ! + = , ~, \
                 with `/` between segments)"
            ),
        ));
    }
    Ok(())
}

/// Validates a full key path.
///
/// # Errors
/// [`SecretsError::InvalidKey`] saying what is wrong.
pub fn validate_key(key: &str) -> Result<(), SecretsError> {
    if key.is_empty() {
        return Err(invalid(key, "the key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid(key, format!("longer than {MAX_KEY_LEN} bytes")));
    }
    key.split('/').try_for_each(|seg| check_segment(key, seg))
}

/// Validates a namespace prefix for `list` and returns it normalised: `""` (everything) or
/// `a/b/` (with exactly one trailing slash). `"a/b"` and `"a/b/"` mean the same namespace.
///
/// # Errors
/// [`SecretsError::InvalidKey`] when the prefix without its trailing `/` is not a valid key.
pub fn normalize_prefix(prefix: &str) -> Result<String, SecretsError> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        if prefix.is_empty() {
            return Ok(String::new());
        }
        return Err(invalid(prefix, "a namespace prefix cannot be `/`"));
    }
    validate_key(trimmed)?;
    Ok(format!("{trimmed}/"))
}

/// True when `key` lies under the normalised namespace `prefix` (see [`normalize_prefix`]).
#[must_use]
pub fn in_namespace(key: &str, prefix: &str) -> bool {
    key.starts_with(prefix)
}

/// Validates one segment on its own (a plugin name, a credential name).
///
/// # Errors
/// [`SecretsError::InvalidKey`] when it is empty, `.`/`..`, contains `/` or a character
/// outside the allowed set.
pub fn validate_segment(seg: &str) -> Result<(), SecretsError> {
    if seg.contains('/') {
        return Err(invalid(seg, "must be a single segment (no `/`)"));
    }
    check_segment(seg, seg)
}

/// The longest user id accepted by [`escape_user_id`], in bytes (Matrix allows 255).
pub const MAX_USER_ID_LEN: usize = 255;

/// Turns any user id (`slack:U024BE7LH`, `matrix:@alice:example.org`, even one containing `/`
/// or `..`) into exactly one valid key segment, reversibly.
///
/// Letters, digits and `. - _ : @ ! + = ,` are kept; every other byte (including `/`, `~`,
/// spaces and non-ASCII) becomes `~XX` (upper-case hex of each UTF-8 byte); a segment that
/// would be `.` or `..` has its dots escaped too. So the result can never contain `/` or be a
/// relative path component, and two different ids never map to the same segment.
///
/// # Errors
/// [`SecretsError::InvalidUserId`] for an empty id or one longer than [`MAX_USER_ID_LEN`]
/// bytes (escaping may triple its length).
pub fn escape_user_id(user: &str) -> Result<String, SecretsError> {
    if user.is_empty() {
        return Err(SecretsError::InvalidUserId {
            user: user.to_owned(),
            reason: "the user id is empty".to_owned(),
        });
    }
    if user.len() > MAX_USER_ID_LEN {
        return Err(SecretsError::InvalidUserId {
            user: user.to_owned(),
            reason: format!("longer than {MAX_USER_ID_LEN} bytes"),
        });
    }
    let all_dots = user.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b != b'~' && segment_char_ok(b) && !(all_dots && b == b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("~{b:02X}"));
        }
    }
    Ok(out)
}

/// Reverses [`escape_user_id`]; `None` if `segment` is not something it produced.
#[must_use]
pub fn unescape_user_id(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'~' {
            let hex = bytes.get(i + 1..i + 3)?;
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in [
            "a",
            "plugins/st2/users/slack:U123/token",
            "plugins/x/users/matrix:@alice:example.org/t",
            "a.b/c-d/e_f/g!h/i+j=k,l~m",
        ] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "a/../b", "..", "./a", "a b", "a%2F", "ü", "a\nb", "a?b",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_key(&"a".repeat(MAX_SEGMENT_LEN + 1)).is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(normalize_prefix("").ok().as_deref(), Some(""));
        assert_eq!(normalize_prefix("a/b").ok().as_deref(), Some("a/b/"));
        assert_eq!(normalize_prefix("a/b/").ok().as_deref(), Some("a/b/"));
        assert!(normalize_prefix("/").is_err());
        assert!(normalize_prefix("a//").is_err());
        assert!(in_namespace("a/b/c", "a/b/"));
        assert!(!in_namespace("a/bc/d", "a/b/"));
        assert!(!in_namespace("a/b", "a/b/"));
    }

    #[test]
    fn user_ids_round_trip_into_one_segment() {
        for user in [
            "slack:U024BE7LH",
            "matrix:@alice:example.org",
            "..",
            ".",
            "...",
            "a/../../b",
            "~7E",
            "irc:nick!user@host",
            "x y/z",
            "ünï",
        ] {
            let seg = escape_user_id(user).expect("escapes");
            assert!(validate_segment(&seg).is_ok(), "{user:?} -> {seg:?}");
            assert_eq!(unescape_user_id(&seg).as_deref(), Some(user));
        }
        assert_eq!(escape_user_id("slack:U1").ok().as_deref(), Some("slack:U1"));
        assert_ne!(escape_user_id("a/b").ok(), escape_user_id("a~2Fb").ok());
        assert!(escape_user_id("").is_err());
        // The longest id, all escaped, still fits in one segment.
        let worst = "/".repeat(MAX_USER_ID_LEN);
        let seg = escape_user_id(&worst).expect("escapes");
        assert!(validate_segment(&seg).is_ok());
        assert!(escape_user_id(&format!("{worst}x")).is_err());
    }
}
