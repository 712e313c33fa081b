//! The StackStorm REST client: tokens, alias execution, alias listing and help.
//!
//! Every authenticated request carries exactly one [`Credential`] header (StackStorm answers
//! 401 to both or neither), never a credential in the query string. Errors are StackStorm's
//! `{"faultstring": …}` turned into [`St2Error`]; neither its `Display` nor its `Debug` ever
//! holds a secret (only StackStorm's own message, which names no token, and the URL, which
//! carries none).

use std::time::Duration;

use ferrbot::secrets::SecretValue;
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::credential::Credential;

/// How long one REST call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The page size used when listing aliases.
pub const ALIAS_PAGE: usize = 100;

/// What went wrong talking to StackStorm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum St2Error {
    /// 401: bad, expired or missing credentials.
    #[error("StackStorm refused the credentials: {0}")]
    Unauthorized(String),
    /// 403: the StackStorm user may not do this (RBAC).
    #[error("StackStorm denied the request: {0}")]
    Forbidden(String),
    /// 400: StackStorm rejected the request (no match, disabled alias, bad TTL, …).
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such resource.
    #[error("not found on StackStorm: {0}")]
    NotFound(String),
    /// 5xx or any other unexpected status.
    #[error("StackStorm failed (HTTP {status}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// StackStorm's message, or the start of the body.
        message: String,
    },
    /// StackStorm could not be reached (connection refused, DNS, timeout, TLS).
    #[error("StackStorm is unreachable: {0}")]
    Unreachable(String),
    /// StackStorm answered something this client does not understand.
    #[error("unexpected answer from StackStorm: {0}")]
    Protocol(String),
    /// The request could not be built (a secret that is not valid text, a bad URL).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl St2Error {
    /// True for a 401 (re-authenticating may help).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, St2Error::Unauthorized(_))
    }

    /// True when StackStorm is down or unreachable (503, connection errors).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, St2Error::Unreachable(_))
            || matches!(self, St2Error::Server { status, .. } if *status == 502 || *status == 503 || *status == 504)
    }

    fn from_reqwest(err: &reqwest::Error) -> Self {
        let what = if err.is_timeout() {
            "timed out".to_owned()
        } else if err.is_connect() {
            "connection failed".to_owned()
        } else {
            "request failed".to_owned()
        };
        let url = err
            .url()
            .map(|u| format!(" ({}{})", u.origin().ascii_serialization(), u.path()))
            .unwrap_or_default();
        St2Error::Unreachable(format!("{what}{url}"))
    }
}

/// The three StackStorm services' base URLs, without trailing slashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `…/auth/v1` (or `…:9100/v1`... whatever the config says).
    pub auth: String,
    /// `…/api/v1`.
    pub api: String,
    /// `…/stream/v1`.
    pub stream: String,
}

impl Endpoints {
    /// The nginx layout under one base URL: `/auth/v1`, `/api/v1`, `/stream/v1`.
    pub fn under(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            auth: format!("{base}/auth/v1"),
            api: format!("{base}/api/v1"),
            stream: format!("{base}/stream/v1"),
        }
    }
}

/// Options of a token request (`POST /auth/v1/tokens`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenRequest {
    /// Lifetime in seconds; `None` takes the server default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// Impersonate this StackStorm user (service accounts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Impersonate the user with this chat nickname (service accounts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonate_user: Option<String>,
    /// Where `impersonate_user` comes from (`slack`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname_origin: Option<String>,
}

/// A token StackStorm issued.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token.
    pub token: SecretValue,
    /// The StackStorm user it belongs to.
    pub user: String,
    /// When it stops working.
    pub expiry: jiff::Timestamp,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("user", &self.user)
            .field("expiry", &self.expiry)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenBody {
    user: String,
    token: String,
    expiry: String,
}

/// `POST /api/v1/aliasexecution/match_and_execute`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecuteRequest {
    /// The command as typed (normalised).
    pub command: String,
    /// Who typed it.
    pub user: String,
    /// Where it was typed.
    pub source_channel: String,
    /// Where the result goes.
    pub notification_channel: String,
    /// The notify route (`errbot`).
    pub notification_route: String,
}

/// One execution StackStorm scheduled.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Execution {
    /// The execution id.
    pub id: String,
    /// Its status (`requested`, …).
    #[serde(default)]
    pub status: Option<String>,
    /// The link to it in the StackStorm web UI.
    #[serde(default)]
    pub web_url: Option<String>,
    /// Its parameters.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

/// One result of match_and_execute.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExecutionResult {
    /// The execution.
    pub execution: Execution,
    /// The alias that matched.
    #[serde(default)]
    pub actionalias: Option<Alias>,
    /// The rendered `ack.format`, when the alias has one.
    #[serde(default)]
    pub message: Option<String>,
    /// The rendered `ack.extra`.
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ExecuteBody {
    results: Vec<ExecutionResult>,
}

/// A format of an alias: a string, or `{display, representation, match_multiple}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AliasFormatSpec {
    /// Help text and pattern at once.
    Plain(String),
    /// Separate help text and patterns.
    Detailed {
        /// The help text.
        #[serde(default)]
        display: Option<String>,
        /// The patterns.
        #[serde(default)]
        representation: Option<OneOrMany>,
        /// Whether every match runs an execution.
        #[serde(default)]
        match_multiple: Option<bool>,
    },
}

/// One string or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl AliasFormatSpec {
    /// The help text, if any.
    pub fn display(&self) -> Option<&str> {
        match self {
            AliasFormatSpec::Plain(s) => Some(s),
            AliasFormatSpec::Detailed { display, .. } => display.as_deref(),
        }
    }

    /// The match patterns.
    pub fn representations(&self) -> Vec<&str> {
        match self {
            AliasFormatSpec::Plain(s) => vec![s.as_str()],
            AliasFormatSpec::Detailed { representation, .. } => match representation {
                None => Vec::new(),
                Some(OneOrMany::One(s)) => vec![s.as_str()],
                Some(OneOrMany::Many(v)) => v.iter().map(String::as_str).collect(),
            },
        }
    }
}

/// An action-alias, as `GET /api/v1/actionalias` lists it (unknown fields ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Alias {
    /// Its name.
    pub name: String,
    /// Its pack.
    pub pack: String,
    /// `pack.name`.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it can run (absent means enabled).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The action it runs.
    #[serde(default)]
    pub action_ref: Option<String>,
    /// Its formats.
    #[serde(default)]
    pub formats: Vec<AliasFormatSpec>,
    /// How executions are acknowledged in chat.
    #[serde(default)]
    pub ack: Option<AckSpec>,
}

/// An alias's `ack` block.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AckSpec {
    /// Whether to acknowledge at all (absent means yes).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The Jinja template StackStorm renders into `message`.
    #[serde(default)]
    pub format: Option<String>,
    /// Whether to append the execution's web URL (absent means yes).
    #[serde(default)]
    pub append_url: Option<bool>,
    /// Rendering hints (e.g. `{"slack": {"thread_response": true}}`).
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
}

impl Alias {
    /// False only when StackStorm says it is disabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled != Some(false)
    }
}

/// One line of `GET /api/v1/actionalias/help`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HelpString {
    /// The pack.
    pub pack: String,
    /// The alias format shown to users.
    pub display: String,
    /// The alias's description.
    #[serde(default)]
    pub description: String,
}

/// `GET /api/v1/actionalias/help`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HelpPage {
    /// How many lines match in all.
    pub available: usize,
    /// This page's lines.
    pub helpstrings: Vec<HelpString>,
}

/// Query of the help endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelpQuery {
    /// Only this pack.
    pub pack: Option<String>,
    /// A case-insensitive regex over the display text.
    pub filter: Option<String>,
    /// At most this many lines.
    pub limit: Option<usize>,
    /// Skip this many.
    pub offset: Option<usize>,
}

#[derive(Deserialize)]
struct Fault {
    faultstring: String,
}

/// A StackStorm REST client (cheap to clone).
#[derive(Clone)]
pub struct St2Client {
    http: reqwest::Client,
    endpoints: Endpoints,
}

impl std::fmt::Debug for St2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("St2Client")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// The TLS settings: rustls with the `ring` provider chosen explicitly (both providers are
/// compiled into the workspace, so rustls cannot choose by itself). The trusted roots are the
/// certificates of `ca_file` (PEM) when it is given — only those, like err-stackstorm's
/// `ca_cert` — else the system's.
///
/// # Errors
/// When the roots or the CA file cannot be loaded.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, St2Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| St2Error::Invalid(format!("cannot set up TLS: {e}")))?;
    let Some(path) = ca_file else {
        return hyper_rustls::ConfigBuilderExt::with_native_roots(builder)
            .map(|b| b.with_no_client_auth())
            .map_err(|e| {
                St2Error::Invalid(format!(
                    "cannot load the system's TLS root certificates ({e}); set ca_file"
                ))
            });
    };
    let bad =
        |e: &dyn std::fmt::Display| St2Error::Invalid(format!("ca_file {}: {e}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"holds no PEM certificate"));
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

impl St2Client {
    /// A client for `endpoints`; `tls` is used for `https://` URLs.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(endpoints: Endpoints, tls: Option<rustls::ClientConfig>) -> Result<Self, St2Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("ferrbot-st2/", env!("CARGO_PKG_VERSION")));
        // reqwest is built without a rustls provider of its own: it always gets ours (with no
        // roots when every endpoint is plain http://, so nothing https can be reached).
        let tls = match tls {
            Some(tls) => tls,
            None => rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| St2Error::Invalid(format!("cannot set up TLS: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        };
        builder = builder.use_preconfigured_tls(tls);
        let http = builder
            .build()
            .map_err(|e| St2Error::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, endpoints })
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    fn authed(
        &self,
        req: reqwest::RequestBuilder,
        auth: &Credential,
    ) -> Result<reqwest::RequestBuilder, St2Error> {
        let mut value = HeaderValue::from_str(&auth.header_value()).map_err(|_| {
            St2Error::Invalid(format!(
                "the {} is not a valid header value",
                auth.header_name()
            ))
        })?;
        value.set_sensitive(true);
        Ok(req.header(auth.header_name(), value))
    }

    async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, St2Error> {
        let resp = req.send().await.map_err(|e| St2Error::from_reqwest(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let message = match serde_json::from_str::<Fault>(&body) {
            Ok(f) => f.faultstring,
            Err(_) => body.chars().take(200).collect::<String>().trim().to_owned(),
        };
        Err(match status.as_u16() {
            400 | 409 | 422 => St2Error::BadRequest(message),
            401 => St2Error::Unauthorized(message),
            403 => St2Error::Forbidden(message),
            404 => St2Error::NotFound(message),
            s => St2Error::Server { status: s, message },
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, St2Error> {
        resp.json::<T>()
            .await
            .map_err(|e| St2Error::Protocol(format!("bad JSON: {e}")))
    }

    /// `POST /auth/v1/tokens` with HTTP Basic auth: a token for `username` (or, for a service
    /// account, for the user named in `request`).
    ///
    /// # Errors
    /// 401 bad credentials, 400 TTL too long or impersonation refused, unreachable, …
    pub async fn create_token(
        &self,
        username: &str,
        password: &SecretValue,
        request: &TokenRequest,
    ) -> Result<IssuedToken, St2Error> {
        let password = password
            .expose_str()
            .ok_or_else(|| St2Error::Invalid("the password is not valid UTF-8".into()))?;
        let req = self
            .http
            .post(format!("{}/tokens", self.endpoints.auth))
            .basic_auth(username, Some(password))
            .json(request);
        let body: TokenBody = Self::json(Self::send(req).await?).await?;
        let expiry = parse_expiry(&body.expiry)?;
        Ok(IssuedToken {
            token: SecretValue::from(body.token),
            user: body.user,
            expiry,
        })
    }

    /// `POST /auth/v1/tokens/validate`: whether `token` is valid, asked with `auth`.
    ///
    /// # Errors
    /// When `auth` itself is refused (401) or StackStorm cannot be asked.
    pub async fn validate_token(
        &self,
        auth: &Credential,
        token: &SecretValue,
    ) -> Result<bool, St2Error> {
        let token = token
            .expose_str()
            .ok_or_else(|| St2Error::Invalid("the token is not valid UTF-8".into()))?;
        #[derive(Deserialize)]
        struct Valid {
            valid: bool,
        }
        let req = self.authed(
            self.http
                .post(format!("{}/tokens/validate", self.endpoints.auth))
                .json(&serde_json::json!({ "token": token })),
            auth,
        )?;
        let body: Valid = Self::json(Self::send(req).await?).await?;
        Ok(body.valid)
    }

    /// Checks that `auth` works: `GET /api/v1/actionalias?limit=1`.
    ///
    /// # Errors
    /// 401 when the credential is refused, or any other failure.
    pub async fn check_credential(&self, auth: &Credential) -> Result<(), St2Error> {
        let req = self.authed(
            self.http
                .get(format!("{}/actionalias", self.endpoints.api))
                .query(&[("limit", "1")]),
            auth,
        )?;
        Self::send(req).await.map(drop)
    }

    /// `POST /api/v1/aliasexecution/match_and_execute`.
    ///
    /// # Errors
    /// StackStorm's faultstring: no match, ambiguous, disabled, immutable parameter (400),
    /// RBAC denial (403), 401, unreachable, …
    pub async fn match_and_execute(
        &self,
        auth: &Credential,
        request: &ExecuteRequest,
    ) -> Result<Vec<ExecutionResult>, St2Error> {
        let req = self.authed(
            self.http
                .post(format!(
                    "{}/aliasexecution/match_and_execute",
                    self.endpoints.api
                ))
                .json(request),
            auth,
        )?;
        let body: ExecuteBody = Self::json(Self::send(req).await?).await?;
        Ok(body.results)
    }

    /// Every action-alias, paged by `X-Total-Count`.
    ///
    /// # Errors
    /// Any failure of any page.
    pub async fn list_aliases(&self, auth: &Credential) -> Result<Vec<Alias>, St2Error> {
        let mut all: Vec<Alias> = Vec::new();
        loop {
            let offset = all.len().to_string();
            let limit = ALIAS_PAGE.to_string();
            let req = self.authed(
                self.http
                    .get(format!("{}/actionalias", self.endpoints.api))
                    .query(&[("limit", limit.as_str()), ("offset", offset.as_str())]),
                auth,
            )?;
            let resp = Self::send(req).await?;
            let total = resp
                .headers()
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<usize>().ok());
            let page: Vec<Alias> = Self::json(resp).await?;
            let got = page.len();
            all.extend(page);
            let done = match total {
                Some(total) => all.len() >= total || got == 0,
                None => got < ALIAS_PAGE,
            };
            if done {
                return Ok(all);
            }
        }
    }

    /// `GET /api/v1/actionalias/help`.
    ///
    /// # Errors
    /// Any failure (a bad `filter` regex is a 400).
    pub async fn help(&self, auth: &Credential, query: &HelpQuery) -> Result<HelpPage, St2Error> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(p) = &query.pack {
            params.push(("pack", p.clone()));
        }
        if let Some(f) = &query.filter {
            params.push(("filter", f.clone()));
        }
        if let Some(l) = query.limit {
            params.push(("limit", l.to_string()));
        }
        if let Some(o) = query.offset {
            params.push(("offset", o.to_string()));
        }
        let req = self.authed(
            self.http
                .get(format!("{}/actionalias/help", self.endpoints.api))
                .query(&params),
            auth,
        )?;
        Self::json(Self::send(req).await?).await
    }
}

/// Parses StackStorm's expiry (`2016-05-28T12:39:28.650231Z`; a missing zone is UTC).
///
/// # Errors
/// When it is not a timestamp.
pub fn parse_expiry(expiry: &str) -> Result<jiff::Timestamp, St2Error> {
    if let Ok(t) = expiry.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    expiry
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| St2Error::Protocol(format!("bad token expiry {expiry:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_formats() {
        let t = parse_expiry("2016-05-28T12:39:28.650231Z").unwrap();
        assert_eq!(t.as_second(), 1_464_439_168);
        let t = parse_expiry("2016-05-28T12:39:28.650231").unwrap();
        assert_eq!(t.as_second(), 1_464_439_168);
        assert!(parse_expiry("tomorrow").is_err());
    }

    #[test]
    fn issued_token_debug_is_redacted() {
        let t = IssuedToken {
            token: SecretValue::from("tok-secret-123"),
            user: "errbot".into(),
            expiry: jiff::Timestamp::UNIX_EPOCH,
        };
        assert!(!format!("{t:?}").contains("secret-123"));
    }

    #[test]
    fn ca_file_problems_are_clear() {
        let e = tls_config(Some(std::path::Path::new("/nonexistent/st2-ca.pem"))).unwrap_err();
        assert!(
            e.to_string().contains("ca_file /nonexistent/st2-ca.pem"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("st2-ca-test-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate\n").unwrap();
        let e = tls_config(Some(&dir)).unwrap_err();
        let _ = std::fs::remove_file(&dir);
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
    }

    #[tokio::test]
    async fn errors_never_carry_the_password() {
        // Nothing listens on port 9 of loopback: the call fails to connect.
        let client = St2Client::new(Endpoints::under("http://127.0.0.1:9"), None).unwrap();
        let e = client
            .create_token(
                "errbot",
                &SecretValue::from("pw-do-not-show"),
                &TokenRequest::default(),
            )
            .await
            .unwrap_err();
        assert!(e.is_unavailable(), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("pw-do-not-show"));
        let e = client
            .check_credential(&Credential::ApiKey(SecretValue::from("key-do-not-show")))
            .await
            .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("key-do-not-show"));
    }

    #[test]
    fn formats_parse_in_every_shape() {
        let alias: Alias = serde_json::from_value(serde_json::json!({
            "name": "n", "pack": "p",
            "formats": ["a {{x}}", {"display": "d", "representation": ["r1", "r2"]},
                        {"display": "only"}, {"representation": "one"}]
        }))
        .unwrap();
        assert!(alias.is_enabled());
        let reps: Vec<Vec<&str>> = alias.formats.iter().map(|f| f.representations()).collect();
        assert_eq!(
            reps,
            vec![vec!["a {{x}}"], vec!["r1", "r2"], vec![], vec!["one"]]
        );
        assert_eq!(alias.formats[1].display(), Some("d"));
    }
}
