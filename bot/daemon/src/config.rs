//! The daemon's configuration file: parsing, validation with file/line/key for every problem,
//! environment overrides (`FERRBOT__SECTION__KEY=value`) and `env:NAME` references.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ferrbot::config::{BotConfig, OutboxConfig, WebConfig};
use ferrbot::registry::{BackendSetup, PluginSetup, Registry};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `[storage]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite://PATH` or `postgres://…`; a SQLite file in the data directory by default.
    pub url: Option<String>,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    pub format: Option<LogFormat>,
    /// A level or filter (`info`, `ferrbot=debug,warn`).
    pub level: Option<String>,
}

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// `[bot]`.
    pub bot: BotConfig,
    /// `[web]`.
    pub web: WebConfig,
    /// `[outbox]`.
    pub outbox: OutboxConfig,
    /// `[storage]`.
    pub storage: StorageConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[backends.<name>]`: each enabled backend instance.
    pub backends: BTreeMap<String, toml::Value>,
    /// `[plugins.<name>]`: each enabled plugin.
    pub plugins: BTreeMap<String, toml::Value>,
    /// `[secrets]`: the secrets store (its credentials are references the store resolves).
    pub secrets: Option<ferrbot_secrets::SecretsConfig>,
}

/// A backend or plugin section, split into its common keys and the rest.
pub struct Section {
    /// `kind` (backends; defaults to the name).
    pub kind: String,
    /// `enabled` (defaults to true).
    pub enabled: bool,
    /// The rest, for the factory.
    pub config: toml::Value,
}

/// Splits `kind` and `enabled` off a section.
pub fn section(name: &str, value: &toml::Value) -> Result<Section, String> {
    let toml::Value::Table(table) = value else {
        return Err("must be a table".to_owned());
    };
    let mut table = table.clone();
    let kind = match table.remove("kind") {
        None => name.to_owned(),
        Some(toml::Value::String(kind)) => kind,
        Some(_) => return Err("`kind` must be a string".to_owned()),
    };
    let enabled = match table.remove("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => b,
        Some(_) => return Err("`enabled` must be true or false".to_owned()),
    };
    Ok(Section {
        kind,
        enabled,
        config: toml::Value::Table(table),
    })
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key or section at fault.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}: {}", self.file, self.key, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.message),
        }
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of the first line whose trimmed text starts with `needle`.
fn line_starting(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(needle))
        .map(|i| i + 1)
}

fn line_containing(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

fn key_at(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?.trim();
    if l.starts_with('[') {
        return Some(l.trim_matches(|c| c == '[' || c == ']').to_owned());
    }
    let (key, _) = l.split_once('=')?;
    Some(key.trim().to_owned())
}

/// The section header (`[bot]`, `[plugins.x]`) above `line`.
fn section_above(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter(|l| l.trim_start().starts_with('['))
        .last()
        .map(|l| l.trim().trim_matches(|c| c == '[' || c == ']').to_owned())
}

fn serde_problem(file: &str, text: &str, err: &toml::de::Error, fallback: &str) -> Problem {
    let line = err.span().map(|s| line_of_offset(text, s.start));
    let key = line
        .and_then(|l| {
            let key = key_at(text, l)?;
            match section_above(text, l) {
                Some(section) if !text.lines().nth(l - 1)?.trim_start().starts_with('[') => {
                    Some(format!("{section}.{key}"))
                }
                _ => Some(key),
            }
        })
        .unwrap_or_else(|| fallback.to_owned());
    Problem {
        file: file.to_owned(),
        line,
        key,
        message: err.message().trim().to_owned(),
    }
}

macro_rules! only {
    ($name:ident, $field:ident, $ty:ty) => {
        #[derive(Deserialize)]
        struct $name {
            #[serde(default)]
            #[allow(dead_code)]
            $field: Option<$ty>,
        }
    };
}

only!(OnlyBot, bot, BotConfig);
only!(OnlyWeb, web, WebConfig);
only!(OnlyOutbox, outbox, OutboxConfig);
only!(OnlyStorage, storage, StorageConfig);
only!(OnlyLog, log, LogConfig);
only!(OnlyBackends, backends, BTreeMap<String, toml::Table>);
only!(OnlyPlugins, plugins, BTreeMap<String, toml::Table>);
only!(OnlySecrets, secrets, ferrbot_secrets::SecretsConfig);

/// Checks one section, reporting each faulty line: after a problem, that line is blanked and
/// the section checked again, so one run lists every problem, not just the first.
fn check_section<T: DeserializeOwned>(
    file: &str,
    text: &str,
    name: &str,
    out: &mut Vec<Problem>,
) -> bool {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut ok = true;
    for _ in 0..50 {
        let variant = lines.join("\n");
        let Err(err) = toml::from_str::<T>(&variant) else {
            break;
        };
        ok = false;
        let problem = serde_problem(file, &variant, &err, name);
        let line = problem.line;
        out.push(problem);
        match line.and_then(|l| lines.get_mut(l - 1)) {
            Some(l) if !l.trim_start().starts_with('[') => l.clear(),
            _ => break,
        }
    }
    ok
}

const TOP_LEVEL: &[&str] = &[
    "bot", "web", "outbox", "storage", "log", "backends", "plugins", "secrets",
];

/// Checks a config file's text; returns every problem found (empty when valid).
pub fn check(
    file: &str,
    text: &str,
    registry: &Registry,
    scratch: &ferrbot::store::Store,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(err) => {
            problems.push(serde_problem(file, text, &err, "(syntax)"));
            return problems;
        }
    };
    for key in table.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            problems.push(Problem {
                file: file.to_owned(),
                line: line_starting(text, &format!("[{key}")).or_else(|| line_starting(text, key)),
                key: key.clone(),
                message: format!("unknown section, expected one of {}", TOP_LEVEL.join(", ")),
            });
        }
    }
    let bot_ok = check_section::<OnlyBot>(file, text, "bot", &mut problems);
    check_section::<OnlyWeb>(file, text, "web", &mut problems);
    check_section::<OnlyOutbox>(file, text, "outbox", &mut problems);
    let storage_ok = check_section::<OnlyStorage>(file, text, "storage", &mut problems);
    check_section::<OnlyLog>(file, text, "log", &mut problems);
    check_section::<OnlyBackends>(file, text, "backends", &mut problems);
    check_section::<OnlyPlugins>(file, text, "plugins", &mut problems);
    check_section::<OnlySecrets>(file, text, "secrets", &mut problems);

    let bot: BotConfig = table
        .get("bot")
        .cloned()
        .filter(|_| bot_ok)
        .and_then(|v| v.try_into().ok())
        .unwrap_or_default();
    if bot_ok && let Err(err) = ferrbot::acl::Acl::new(&bot) {
        problems.push(Problem {
            file: file.to_owned(),
            line: line_starting(text, "[[bot.acl]]").or_else(|| line_starting(text, "admins")),
            key: "bot.acl".to_owned(),
            message: err.to_string(),
        });
    }
    let url = table
        .get("storage")
        .and_then(|s| s.get("url"))
        .and_then(toml::Value::as_str);
    if storage_ok
        && let Some(url) = url
        && !url.starts_with("env:")
        && !url.starts_with("secret:")
        && !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
    {
        problems.push(Problem {
            file: file.to_owned(),
            line: line_containing(text, "url"),
            key: "storage.url".to_owned(),
            message: "expected `sqlite://PATH` or `postgres://…`".to_owned(),
        });
    }
    problems.extend(missing_env_refs(
        file,
        text,
        &toml::Value::Table(table.clone()),
    ));
    let sections = |key: &str| -> Vec<(String, toml::Value)> {
        match table.get(key) {
            Some(toml::Value::Table(t)) => t.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        }
    };
    for (name, value) in sections("backends") {
        let header = format!("[backends.{name}]");
        let at = |message: String| Problem {
            file: file.to_owned(),
            line: line_starting(text, &header),
            key: format!("backends.{name}"),
            message,
        };
        match section(&name, &value) {
            Err(message) => problems.push(at(message)),
            Ok(s) if !s.enabled => {}
            Ok(s) => {
                let setup = BackendSetup {
                    name: name.clone(),
                    config: resolve_env_lossy(&s.config),
                    prefix: bot.prefix.clone(),
                    store: scratch.kv(&format!("backend/{name}")),
                };
                if let Err(err) = registry.build_backend(&s.kind, setup) {
                    problems.push(at(err.message));
                }
            }
        }
    }
    for (name, value) in sections("plugins") {
        let header = format!("[plugins.{name}]");
        let at = |message: String| Problem {
            file: file.to_owned(),
            line: line_starting(text, &header),
            key: format!("plugins.{name}"),
            message,
        };
        match section(&name, &value) {
            Err(message) => problems.push(at(message)),
            Ok(s) if !s.enabled => {}
            Ok(s) => {
                let setup = PluginSetup {
                    config: resolve_env_lossy(&s.config),
                };
                if let Err(err) = registry.build_plugin(&s.kind, setup) {
                    problems.push(at(err.message));
                }
            }
        }
    }
    problems
}

fn walk_strings<'a>(
    path: &mut Vec<String>,
    value: &'a toml::Value,
    f: &mut dyn FnMut(&[String], &'a str),
) {
    match value {
        toml::Value::String(s) => f(path, s),
        toml::Value::Table(t) => {
            for (k, v) in t {
                path.push(k.clone());
                walk_strings(path, v, f);
                path.pop();
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                walk_strings(path, v, f);
                path.pop();
            }
        }
        _ => {}
    }
}

fn missing_env_refs(file: &str, text: &str, value: &toml::Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk_strings(&mut Vec::new(), value, &mut |path, s| {
        if let Some(name) = s.strip_prefix("env:")
            && std::env::var_os(name).is_none()
        {
            problems.push(Problem {
                file: file.to_owned(),
                line: line_containing(text, s),
                key: path.join("."),
                message: format!("refers to the environment variable `{name}`, which is not set"),
            });
        }
    });
    problems
}

/// Replaces `env:NAME` strings with the variable's value, leaving missing ones as they are
/// (for validation, where missing variables are reported separately).
fn resolve_env_lossy(value: &toml::Value) -> toml::Value {
    let mut value = value.clone();
    let _ = resolve_env(&mut value, &mut Vec::new());
    value
}

/// Replaces every `env:NAME` string with the variable's value.
///
/// # Errors
/// Names the first key whose variable is not set.
pub fn resolve_env(value: &mut toml::Value, path: &mut Vec<String>) -> Result<(), String> {
    match value {
        toml::Value::String(s) => {
            if let Some(name) = s.strip_prefix("env:") {
                match std::env::var(name) {
                    Ok(v) => *s = v,
                    Err(_) => {
                        return Err(format!(
                            "`{}` refers to the environment variable `{name}`, which is not set",
                            path.join(".")
                        ));
                    }
                }
            }
            Ok(())
        }
        toml::Value::Table(t) => {
            let mut first = Ok(());
            for (k, v) in t.iter_mut() {
                path.push(k.clone());
                let r = resolve_env(v, path);
                path.pop();
                if first.is_ok() {
                    first = r;
                }
            }
            first
        }
        toml::Value::Array(items) => {
            let mut first = Ok(());
            for (i, v) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                let r = resolve_env(v, path);
                path.pop();
                if first.is_ok() {
                    first = r;
                }
            }
            first
        }
        _ => Ok(()),
    }
}

/// Replaces every `secret:<key>` string with the value from the secrets store.
///
/// # Errors
/// Names the key path and the secret key that is missing (never a value).
pub async fn resolve_secrets(
    value: &mut toml::Value,
    store: &dyn ferrbot_secrets::SecretStore,
) -> Result<usize, String> {
    let mut refs = Vec::new();
    walk_strings(&mut Vec::new(), value, &mut |path, s| {
        if s.starts_with("secret:") {
            refs.push((path.to_vec(), s.to_owned()));
        }
    });
    for (path, reference) in &refs {
        let resolved = ferrbot_secrets::resolve_reference(reference, store)
            .await
            .map_err(|e| format!("`{}`: {e}", path.join(".")))?;
        let text = resolved
            .expose_str()
            .ok_or_else(|| format!("`{}`: the secret is not UTF-8 text", path.join(".")))?
            .to_owned();
        if let Some(slot) = value_at(value, path) {
            *slot = toml::Value::String(text);
        }
    }
    Ok(refs.len())
}

fn value_at<'a>(value: &'a mut toml::Value, path: &[String]) -> Option<&'a mut toml::Value> {
    let Some((head, rest)) = path.split_first() else {
        return Some(value);
    };
    let next = match value {
        toml::Value::Table(t) => t.get_mut(head)?,
        toml::Value::Array(items) => items.get_mut(head.parse::<usize>().ok()?)?,
        _ => return None,
    };
    value_at(next, rest)
}

/// The prefix of environment variables that override config keys.
pub const ENV_PREFIX: &str = "FERRBOT__";

/// Applies `FERRBOT__SECTION__KEY=value` overrides: `__` separates levels, names are
/// lower-cased, and the value is read as TOML when it parses (`true`, `42`, `["a"]`) and as a
/// string otherwise.
pub fn apply_env_overrides(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<String> {
    let mut applied = Vec::new();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest
            .split("__")
            .map(str::to_lowercase)
            .filter(|p| !p.is_empty())
            .collect();
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.clone()));
        if insert_path(table, parents, last, value) {
            applied.push(path.join("."));
        }
    }
    applied
}

fn insert_path(
    table: &mut toml::Table,
    parents: &[String],
    last: &str,
    value: toml::Value,
) -> bool {
    match parents.split_first() {
        None => {
            table.insert(last.to_owned(), value);
            true
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => insert_path(t, rest, last, value),
                _ => false,
            }
        }
    }
}

/// Where ferrbot keeps its data when no storage URL is configured.
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_owned();
    }
    if let Some(dir) = std::env::var_os("FERRBOT_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("ferrbot");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".local/share/ferrbot");
    }
    PathBuf::from("ferrbot-data")
}

/// Loads the config for `run`: validated file (or defaults), environment overrides, `env:`
/// references.
///
/// # Errors
/// Every problem, one per line, with file, line and key.
pub async fn load(path: Option<&Path>, registry: &Registry) -> Result<FileConfig, String> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            let scratch = ferrbot::store::Store::memory()
                .await
                .map_err(|e| format!("cannot open a scratch store for validation: {e}"))?;
            let problems = check(&path.display().to_string(), &text, registry, &scratch);
            if !problems.is_empty() {
                return Err(problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"));
            }
            toml::from_str::<toml::Table>(&text).map_err(|e| e.to_string())?
        }
        None => toml::Table::new(),
    };
    let applied = apply_env_overrides(&mut table, std::env::vars());
    for key in &applied {
        tracing::debug!(key, "config key overridden from the environment");
    }
    let secrets = table.remove("secrets");
    let mut value = toml::Value::Table(table);
    resolve_env(&mut value, &mut Vec::new())?;
    if let (toml::Value::Table(t), Some(secrets)) = (&mut value, secrets) {
        // The secrets store resolves its own credential references (`env:`, `file:`).
        t.insert("secrets".to_owned(), secrets);
    }
    value.try_into().map_err(|e: toml::de::Error| {
        format!(
            "configuration (after environment overrides): {}",
            e.message()
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn env_overrides_set_nested_keys_with_toml_values() {
        let mut table: toml::Table = toml::from_str("[bot]\nprefix = \"!\"").unwrap();
        let applied = apply_env_overrides(
            &mut table,
            [
                ("FERRBOT__BOT__PREFIX".to_owned(), "?".to_owned()),
                (
                    "FERRBOT__BOT__ADMINS".to_owned(),
                    r#"["console:root"]"#.to_owned(),
                ),
                ("FERRBOT__WEB__ENABLED".to_owned(), "false".to_owned()),
                (
                    "FERRBOT__PLUGINS__SENTRY__ROUTES_TOKEN".to_owned(),
                    "abc def".to_owned(),
                ),
                ("OTHER".to_owned(), "x".to_owned()),
            ],
        );
        assert_eq!(applied.len(), 4);
        assert_eq!(table["bot"]["prefix"].as_str(), Some("?"));
        assert_eq!(table["bot"]["admins"][0].as_str(), Some("console:root"));
        assert_eq!(table["web"]["enabled"].as_bool(), Some(false));
        assert_eq!(
            table["plugins"]["sentry"]["routes_token"].as_str(),
            Some("abc def")
        );
    }

    #[test]
    fn env_references_name_the_key_that_wanted_them() {
        let mut value: toml::Value =
            toml::from_str("[backends.slack]\ntoken = \"env:FERRBOT_TEST_SURELY_UNSET_VAR\"")
                .unwrap();
        let err = resolve_env(&mut value, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err,
            "`backends.slack.token` refers to the environment variable `FERRBOT_TEST_SURELY_UNSET_VAR`, which is not set"
        );
    }
}
