//! Checking a submitted login form: parse it, check the credential against StackStorm, and
//! turn the answer into what is cached for the user.

use std::time::Duration;

use ferrbot::secrets::SecretValue;

use super::BotCredentialFn;
use super::page::Method;
use crate::client::{St2Client, St2Error, TokenRequest};
use crate::credential::{Credential, CredentialSource, UserCredential};

/// A parsed login form. Its secrets are [`SecretValue`]s: wiped on drop, redacted in `Debug`.
#[derive(Debug)]
pub(crate) struct Submission {
    /// Which form was sent.
    pub method: Method,
    /// The shared word.
    pub word: SecretValue,
    /// The StackStorm username (password form only).
    pub username: Option<String>,
    /// The password, token or API key.
    pub secret: SecretValue,
}

/// Reads an `application/x-www-form-urlencoded` body. The error is a message for the user.
pub(crate) fn parse_form(body: &[u8]) -> Result<Submission, String> {
    let mut method = None;
    let mut word = None;
    let mut username = None;
    let mut password = None;
    let mut token = None;
    let mut api_key = None;
    for (key, value) in url::form_urlencoded::parse(body) {
        let slot = match &*key {
            "method" => {
                method.get_or_insert(value.into_owned());
                continue;
            }
            "username" => {
                username.get_or_insert(value.trim().to_owned());
                continue;
            }
            "word" => &mut word,
            "password" => &mut password,
            "token" => &mut token,
            "api_key" => &mut api_key,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(SecretValue::from(value.into_owned()));
        }
    }
    let method = match method.as_deref() {
        Some(m) => Method::parse(m).ok_or_else(|| "Choose one of the three forms.".to_owned())?,
        None if username.is_some() => Method::Password,
        None if token.is_some() => Method::Token,
        None if api_key.is_some() => Method::ApiKey,
        None => return Err("Choose one of the three forms.".to_owned()),
    };
    let word = word
        .filter(|w| !super::links::normalise_word(&String::from_utf8_lossy(w.expose())).is_empty())
        .ok_or_else(|| "Enter the shared word you chose in chat.".to_owned())?;
    let nonempty = |v: Option<SecretValue>| {
        v.filter(|s| !String::from_utf8_lossy(s.expose()).trim().is_empty())
    };
    let (username, secret) = match method {
        Method::Password => {
            let username = username.filter(|u| !u.is_empty());
            match (username, nonempty(password)) {
                (Some(u), Some(p)) => (Some(u), p),
                _ => return Err("Enter your StackStorm username and password.".to_owned()),
            }
        }
        Method::Token => (
            None,
            trimmed(nonempty(token).ok_or_else(|| "Enter your StackStorm auth token.".to_owned())?),
        ),
        Method::ApiKey => (
            None,
            trimmed(nonempty(api_key).ok_or_else(|| "Enter your StackStorm API key.".to_owned())?),
        ),
    };
    Ok(Submission {
        method,
        word,
        username,
        secret,
    })
}

/// Tokens and keys pasted with surrounding blanks still work.
fn trimmed(value: SecretValue) -> SecretValue {
    let text = String::from_utf8_lossy(value.expose());
    SecretValue::from(text.trim())
}

/// Why StackStorm did not accept a credential.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The credential is wrong (counts as a failed attempt). The text is for the user.
    Refused(String),
    /// StackStorm could not be asked; try again (no attempt counted).
    Unavailable(String),
}

/// What to cache, and how long the secrets store keeps it.
pub(crate) struct Accepted {
    /// The credential for the user.
    pub credential: UserCredential,
    /// How long the secrets store keeps it.
    pub keep: ferrbot::secrets::Expiry,
}

/// The tools a check needs.
pub(crate) struct Checker<'a> {
    /// The StackStorm client.
    pub client: &'a St2Client,
    /// The bot's credential, for validating tokens.
    pub bot_credential: Option<&'a BotCredentialFn>,
    /// How long pasted tokens and API keys are kept.
    pub credential_ttl: Duration,
    /// Now, by the bot's clock.
    pub now: jiff::Timestamp,
}

fn refusal(err: St2Error) -> Refusal {
    match err {
        St2Error::Unauthorized(msg) => {
            Refusal::Refused(format!("StackStorm refused these credentials: {msg}"))
        }
        St2Error::BadRequest(msg) => {
            Refusal::Refused(format!("StackStorm refused the login: {msg}"))
        }
        St2Error::Invalid(_) => Refusal::Refused(
            "These credentials contain characters StackStorm never issues.".to_owned(),
        ),
        other => Refusal::Unavailable(format!("StackStorm could not be asked ({other})")),
    }
}

impl Checker<'_> {
    fn kept_until(&self) -> jiff::Timestamp {
        let ttl = jiff::SignedDuration::try_from(self.credential_ttl)
            .unwrap_or(jiff::SignedDuration::ZERO);
        self.now.checked_add(ttl).unwrap_or(self.now)
    }

    /// Checks the credential of `form` against StackStorm.
    pub async fn check(&self, form: &Submission) -> Result<Accepted, Refusal> {
        match form.method {
            Method::Password => {
                let username = form.username.as_deref().unwrap_or_default();
                let issued = self
                    .client
                    .create_token(username, &form.secret, &TokenRequest::default())
                    .await
                    .map_err(refusal)?;
                let credential = Credential::Token(issued.token.clone());
                Ok(Accepted {
                    credential: UserCredential::new(
                        &credential,
                        Some(issued.user),
                        Some(issued.expiry),
                        CredentialSource::Clientside,
                        self.now,
                    ),
                    keep: ferrbot::secrets::Expiry::At(issued.expiry),
                })
            }
            Method::Token => {
                let credential = Credential::Token(form.secret.clone());
                match self.bot_credential {
                    Some(bot) => {
                        let auth = bot(self.now).await.map_err(|e| {
                            Refusal::Unavailable(format!(
                                "the bot has no StackStorm credential ({e})"
                            ))
                        })?;
                        let valid = self
                            .client
                            .validate_token(&auth, &form.secret)
                            .await
                            .map_err(|e| match e {
                                // The bot's own credential was refused: not the user's fault.
                                St2Error::Unauthorized(msg) => Refusal::Unavailable(format!(
                                    "the bot's own StackStorm credential was refused ({msg}); tell the bot admins"
                                )),
                                other => refusal(other),
                            })?;
                        if !valid {
                            return Err(Refusal::Refused(
                                "StackStorm says this token is not valid (unknown or expired)."
                                    .to_owned(),
                            ));
                        }
                    }
                    None => self.usable(&credential).await?,
                }
                Ok(self.kept(&credential))
            }
            Method::ApiKey => {
                let credential = Credential::ApiKey(form.secret.clone());
                self.usable(&credential).await?;
                Ok(self.kept(&credential))
            }
        }
    }

    /// Uses the credential once; a 403 (RBAC) still proves it authenticates.
    async fn usable(&self, credential: &Credential) -> Result<(), Refusal> {
        match self.client.check_credential(credential).await {
            Ok(()) | Err(St2Error::Forbidden(_)) => Ok(()),
            Err(e) => Err(refusal(e)),
        }
    }

    fn kept(&self, credential: &Credential) -> Accepted {
        Accepted {
            credential: UserCredential::new(
                credential,
                None,
                Some(self.kept_until()),
                CredentialSource::Clientside,
                self.now,
            ),
            keep: ferrbot::secrets::Expiry::After(self.credential_ttl),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let f = parse_form(b"method=password&username=+alice+&password=p%40ss&word=pine").unwrap();
        assert_eq!(f.method, Method::Password);
        assert_eq!(f.username.as_deref(), Some("alice"));
        assert_eq!(f.secret.expose(), b"p@ss");
        assert_eq!(f.word.expose(), b"pine");
        let f = parse_form(b"method=token&token=+abc+&word=w").unwrap();
        assert_eq!((f.method, f.secret.expose()), (Method::Token, &b"abc"[..]));
        let f = parse_form(b"api_key=k&word=w").unwrap();
        assert_eq!((f.method, f.secret.expose()), (Method::ApiKey, &b"k"[..]));
    }

    #[test]
    fn incomplete_forms_get_a_clear_message() {
        assert!(
            parse_form(b"method=token&token=abc")
                .unwrap_err()
                .contains("shared word")
        );
        assert!(
            parse_form(b"method=token&token=&word=w")
                .unwrap_err()
                .contains("token")
        );
        assert!(
            parse_form(b"method=password&username=a&word=w")
                .unwrap_err()
                .contains("password")
        );
        assert!(
            parse_form(b"method=oauth&word=w")
                .unwrap_err()
                .contains("Choose")
        );
        assert!(parse_form(b"").is_err());
    }

    #[test]
    fn debug_of_a_submission_hides_secrets() {
        let f =
            parse_form(b"method=password&username=alice&password=hunter2&word=pineapple").unwrap();
        let dbg = format!("{f:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("pineapple"));
    }
}
