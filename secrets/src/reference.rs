//! Resolving one config value that may refer to a secret.

use std::fmt;

use crate::error::SecretsError;
use crate::key::validate_key;
use crate::store::SecretStore;
use crate::value::SecretValue;

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueSource {
    /// The config value itself.
    Literal,
    /// The environment variable with this name (`env:NAME`).
    Env(String),
    /// The secrets store key (`secret:<key>`).
    Secret(String),
}

impl fmt::Display for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal => f.write_str("literal"),
            Self::Env(name) => write!(f, "env:{name}"),
            Self::Secret(key) => write!(f, "secret:{key}"),
        }
    }
}

/// A config value after [`resolve_reference`]: the value (redacted in `Debug`) and its source.
#[derive(Clone)]
pub struct ResolvedValue {
    source: ValueSource,
    value: SecretValue,
}

impl ResolvedValue {
    /// Where the value came from.
    #[must_use]
    pub fn source(&self) -> &ValueSource {
        &self.source
    }

    /// The value.
    #[must_use]
    pub fn value(&self) -> &SecretValue {
        &self.value
    }

    /// The value as text, if it is UTF-8.
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        self.value.expose_str()
    }

    /// Takes the value.
    #[must_use]
    pub fn into_value(self) -> SecretValue {
        self.value
    }
}

impl fmt::Debug for ResolvedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedValue")
            .field("source", &self.source)
            .field("value", &self.value)
            .finish()
    }
}

/// Resolves one config value: `secret:<key>` is read from `store`, `env:NAME` from the
/// environment, and anything else is taken literally.
///
/// # Errors
/// [`SecretsError::NotFound`] naming the key, [`SecretsError::EnvMissing`] naming the variable,
/// [`SecretsError::InvalidKey`], or the store's own error. Never the value.
pub async fn resolve_reference(
    value: &str,
    store: &dyn SecretStore,
) -> Result<ResolvedValue, SecretsError> {
    if let Some(key) = value.strip_prefix("secret:") {
        validate_key(key)?;
        let found = store
            .get(key)
            .await?
            .ok_or_else(|| SecretsError::NotFound {
                key: key.to_owned(),
            })?;
        Ok(ResolvedValue {
            source: ValueSource::Secret(key.to_owned()),
            value: found,
        })
    } else if let Some(name) = value.strip_prefix("env:") {
        let missing = || SecretsError::EnvMissing {
            name: name.to_owned(),
        };
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(missing());
        }
        let v = std::env::var(name).map_err(|_| missing())?;
        Ok(ResolvedValue {
            source: ValueSource::Env(name.to_owned()),
            value: SecretValue::from(v),
        })
    } else {
        Ok(ResolvedValue {
            source: ValueSource::Literal,
            value: SecretValue::from(value),
        })
    }
}
