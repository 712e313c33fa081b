//! The login page: plain HTML forms (no script, no external asset), every dynamic value
//! escaped, served with headers that keep it out of caches, frames and referrers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::links::Link;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The Content-Security-Policy of every page: nothing may load, inline style only, forms
/// post back to the bot only.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;\
padding:0 1em;color:#222}fieldset{margin:1em 0;border:1px solid #ccc;border-radius:6px}\
label{display:block;margin:.5em 0 .2em}input[type=text],input[type=password]{width:100%;\
box-sizing:border-box;padding:.4em}button{margin-top:.8em;padding:.4em 1.2em}\
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6em;border-radius:6px}\
.ok{background:#e6f6e6;border:1px solid #9c9;padding:.6em;border-radius:6px}\
.hint{color:#666;font-size:.9em}";

/// A whole HTML page with the security headers, as an axum response.
pub fn respond(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n{body_html}\n</body></html>\n",
        title = escape(title),
    );
    let mut resp = (status, html).into_response();
    // An error page is for the person at the browser: not to be turned into JSON.
    resp.extensions_mut().insert(ferrbot::web::KeepErrorBody);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A page with one message and no form (unknown, used, expired or locked links; success).
pub fn message(status: StatusCode, title: &str, text: &str, class: &str) -> Response {
    respond(
        status,
        title,
        &format!("<p class=\"{}\">{}</p>", escape(class), escape(text)),
    )
}

/// Which form was sent, so the page can keep the user's choice (never their secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Username and password.
    Password,
    /// An auth token.
    Token,
    /// An API key.
    ApiKey,
}

impl Method {
    /// The form value.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::Token => "token",
            Method::ApiKey => "api_key",
        }
    }

    /// Reads the form value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "password" => Some(Method::Password),
            "token" => Some(Method::Token),
            "api_key" => Some(Method::ApiKey),
            _ => None,
        }
    }
}

/// The login page of `link`: an optional error above three forms, one per
/// credential kind, each asking for the shared word. Only `username` is ever filled back in.
pub fn login_form(
    status: StatusCode,
    link: &Link,
    error: Option<&str>,
    username: Option<&str>,
) -> Response {
    let mut body = String::new();
    body.push_str(&format!(
        "<p>Log in to StackStorm for chat user <strong>{}</strong>. Enter the shared word you \
         chose with <code>session start</code>, and one of the credentials below. This link \
         works once, until {}.</p>\n",
        escape(&link.user),
        escape(&link.expires.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()),
    ));
    if let Some(error) = error {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>\n",
            escape(error)
        ));
    }
    let word = "<label for=\"word-{m}\">Shared word</label>\
                <input type=\"password\" id=\"word-{m}\" name=\"word\" required \
                autocomplete=\"off\" maxlength=\"200\">";
    let form = |method: Method, legend: &str, fields: String| {
        let m = method.as_str();
        format!(
            "<form method=\"post\" action=\"\" enctype=\"application/x-www-form-urlencoded\">\
             <fieldset><legend>{legend}</legend><input type=\"hidden\" name=\"method\" value=\"{m}\">\
             {fields}{word}<button type=\"submit\">Log in</button></fieldset></form>\n",
            word = word.replace("{m}", m),
        )
    };
    body.push_str(&form(
        Method::Password,
        "StackStorm username and password",
        format!(
            "<label for=\"username\">Username</label><input type=\"text\" id=\"username\" \
             name=\"username\" required autocomplete=\"username\" maxlength=\"200\" value=\"{}\">\
             <label for=\"password\">Password</label><input type=\"password\" id=\"password\" \
             name=\"password\" required autocomplete=\"current-password\" maxlength=\"1000\">",
            escape(username.unwrap_or(""))
        ),
    ));
    body.push_str(&form(
        Method::Token,
        "A StackStorm auth token",
        "<label for=\"token\">Token</label><input type=\"password\" id=\"token\" name=\"token\" \
         required autocomplete=\"off\" maxlength=\"1000\">"
            .to_owned(),
    ));
    body.push_str(&form(
        Method::ApiKey,
        "A StackStorm API key",
        "<label for=\"api_key\">API key</label><input type=\"password\" id=\"api_key\" \
         name=\"api_key\" required autocomplete=\"off\" maxlength=\"1000\">"
            .to_owned(),
    ));
    body.push_str(
        "<p class=\"hint\">Your password is only used to obtain a StackStorm token and is not \
         kept. Tokens and API keys are kept in the bot's secrets store until they expire or you \
         type <code>session end</code>.</p>",
    );
    respond(status, "StackStorm login", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn method_names_round_trip() {
        for m in [Method::Password, Method::Token, Method::ApiKey] {
            assert_eq!(Method::parse(m.as_str()), Some(m));
        }
        assert_eq!(Method::parse("oauth"), None);
    }
}
