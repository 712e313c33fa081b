//! `ferrbot secrets set|get|delete|list`: the configured secrets store from the command line.
//!
//! Values never come from argv (they would land in shell history and `ps`): `set` reads the
//! value from standard input, or prompts without echo on a terminal. `get` masks the value
//! unless `--reveal`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use ferrbot::registry::Registry;
use ferrbot_secrets::{Expiry, SecretValue};

/// `ferrbot secrets …`.
#[derive(clap::Args)]
pub struct SecretsArgs {
    /// The config file whose `[secrets]` store to use. Also `FERRBOT_CONFIG`.
    #[arg(long, short, env = "FERRBOT_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The data directory (for the default encrypted file store).
    #[arg(long, env = "FERRBOT_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Store a secret; the value is read from standard input (or a prompt without echo).
    Set {
        /// The key, e.g. `backends/slack/bot_token`; reference it in config as `secret:<key>`.
        key: String,
        /// Forget the value after this long (`30d`, `12h`).
        #[arg(long, value_parser = parse_duration)]
        expires: Option<std::time::Duration>,
    },
    /// Show a secret, masked unless `--reveal`.
    Get {
        /// The key.
        key: String,
        /// Print the value itself.
        #[arg(long)]
        reveal: bool,
    },
    /// Delete a secret.
    Delete {
        /// The key.
        key: String,
    },
    /// List the keys under a prefix (all keys by default).
    List {
        /// The prefix, e.g. `plugins/st2`.
        #[arg(default_value = "")]
        prefix: String,
    },
    /// Print a new random key for the encrypted file store (64 hex digits).
    GenerateKey,
    /// Re-encrypt the file store with a new key. Stop every bot using the file first.
    RotateKey {
        /// The current key: `env:NAME` or `file:/path`.
        #[arg(long)]
        old: String,
        /// The new key: `env:NAME` or `file:/path`.
        #[arg(long)]
        new: String,
        /// The encrypted file (default: the one `[secrets]` names, or `<data dir>/secrets.enc`).
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    ferrbot::config::duration::parse(text)
}

fn read_value(key: &str) -> anyhow::Result<SecretValue> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Value for {key}: ")).context("reading the value")?
    } else {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .context("reading the value from standard input")?;
        buf
    };
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    anyhow::ensure!(
        !trimmed.is_empty(),
        "the value is empty; nothing was stored"
    );
    Ok(SecretValue::from(trimmed))
}

fn mask(value: &SecretValue) -> String {
    format!(
        "[redacted] ({} bytes; use --reveal to print it)",
        value.len()
    )
}

/// Runs the subcommand.
///
/// # Errors
/// When the config is invalid, the store cannot be opened, or an operation fails.
pub async fn run(args: SecretsArgs, registry: &Registry) -> anyhow::Result<ExitCode> {
    if let Action::GenerateKey = args.action {
        println!("{}", ferrbot_secrets::FileKey::generate().to_hex().as_str());
        return Ok(ExitCode::SUCCESS);
    }
    let config = crate::config::load(args.config.as_deref(), registry)
        .await
        .map_err(|problems| anyhow::anyhow!("{problems}"))?;
    let data_dir = crate::config::data_dir(args.data_dir.as_deref());
    if let Action::RotateKey { old, new, file } = &args.action {
        let path = match (file, &config.secrets) {
            (Some(file), _) => file.clone(),
            (None, Some(ferrbot_secrets::SecretsConfig::File(f))) => f.path.clone(),
            (None, _) => data_dir.join("secrets.enc"),
        };
        let key = |r: &str| -> anyhow::Result<ferrbot_secrets::FileKey> {
            let reference = ferrbot_secrets::CredentialRef::parse(r)?;
            Ok(ferrbot_secrets::FileKey::from_ref(&reference)?)
        };
        let (old_key, new_key) = (key(old)?, key(new)?);
        let shown = path.clone();
        tokio::task::spawn_blocking(move || {
            ferrbot_secrets::rotate_file_key(&path, &old_key, &new_key)
        })
        .await
        .context("rotating the key")??;
        println!("re-encrypted {} with the new key", shown.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = crate::open_secrets(config.secrets.as_ref(), &data_dir).await?;
    if store.kind() == "memory" {
        eprintln!(
            "warning: the secrets store is in memory (no [secrets] section and no FERRBOT_SECRETS_KEY); nothing will be kept"
        );
    }
    match args.action {
        Action::Set { key, expires } => {
            let value = read_value(&key)?;
            store
                .set(&key, &value, expires.map(Expiry::After))
                .await
                .with_context(|| format!("storing `{key}`"))?;
            println!("stored `{key}` in the {} store", store.kind());
        }
        Action::Get { key, reveal } => match store.get(&key).await? {
            Some(value) if reveal => match value.expose_str() {
                Some(text) => println!("{text}"),
                None => anyhow::bail!("`{key}` is not UTF-8 text"),
            },
            Some(value) => println!("{key}: {}", mask(&value)),
            None => {
                eprintln!("no secret `{key}`");
                return Ok(ExitCode::FAILURE);
            }
        },
        Action::Delete { key } => {
            store.delete(&key).await?;
            println!("deleted `{key}`");
        }
        Action::List { prefix } => {
            for key in store.list(&prefix).await? {
                println!("{key}");
            }
        }
        Action::GenerateKey | Action::RotateKey { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}
