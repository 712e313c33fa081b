//! Parsing the `[secrets]` table (the examples of docs/secrets.md).

use std::time::Duration;

use ferrbot_secrets::{CredentialRef, SecretsConfig, VaultAuth};

#[derive(serde::Deserialize)]
struct Root {
    secrets: SecretsConfig,
}

fn parse(text: &str) -> Result<SecretsConfig, String> {
    toml::from_str::<Root>(text)
        .map(|r| r.secrets)
        .map_err(|e| e.to_string())
}

#[test]
fn every_documented_store_parses() {
    let memory = parse("[secrets]\nstore = \"memory\"\n").expect("memory");
    assert_eq!(memory.kind(), "memory");

    let file = parse(
        r#"
[secrets]
store = "file"
path = "/var/lib/ferrbot/secrets.enc"
key = "env:FERRBOT_SECRETS_KEY"
"#,
    )
    .expect("file");
    let SecretsConfig::File(f) = file else {
        panic!("not file")
    };
    assert_eq!(f.path.to_str(), Some("/var/lib/ferrbot/secrets.enc"));
    assert!(matches!(f.key, CredentialRef::Env(ref n) if n == "FERRBOT_SECRETS_KEY"));

    let file = parse(
        "[secrets]\nstore = \"file\"\npath = \"s.enc\"\nkey = \"file:/etc/ferrbot/secrets.key\"\n",
    )
    .expect("file with key file");
    assert!(matches!(file, SecretsConfig::File(ref f) if matches!(f.key, CredentialRef::File(_))));

    let keyring = parse("[secrets]\nstore = \"keyring\"\n").expect("keyring");
    assert!(matches!(keyring, SecretsConfig::Keyring(ref k) if k.service == "ferrbot"));
    let keyring =
        parse("[secrets]\nstore = \"keyring\"\nservice = \"ferrbot-prod\"\n").expect("keyring");
    assert!(matches!(keyring, SecretsConfig::Keyring(ref k) if k.service == "ferrbot-prod"));

    let vault = parse(
        r#"
[secrets]
store = "vault"
address = "https://vault.example.org:8200"

[secrets.auth]
method = "token"
token = "file:/run/secrets/vault-token"
"#,
    )
    .expect("vault token");
    let SecretsConfig::Vault(v) = vault else {
        panic!("not vault")
    };
    assert_eq!(v.mount, "secret");
    assert_eq!(v.prefix, "ferrbot");
    assert_eq!(v.timeout, Duration::from_secs(10));
    assert!(matches!(v.auth, VaultAuth::Token { .. }));

    let vault = parse(
        r#"
[secrets]
store = "vault"
address = "https://vault.example.org:8200"
mount = "kv"
prefix = "bots/ferrbot"
namespace = "ops"
ca_certs = ["/etc/ssl/vault-ca.pem"]
timeout = "30s"
auth = { method = "approle", role_id = "env:VAULT_ROLE_ID", secret_id = "file:/run/secrets/vault-secret-id" }
"#,
    )
    .expect("vault approle");
    let SecretsConfig::Vault(v) = vault else {
        panic!("not vault")
    };
    assert_eq!(v.timeout, Duration::from_secs(30));
    assert_eq!(v.namespace.as_deref(), Some("ops"));
    assert!(matches!(v.auth, VaultAuth::AppRole { ref mount, .. } if mount == "approle"));
}

#[test]
fn mistakes_are_rejected() {
    for (what, text) in [
        ("unknown store", "[secrets]\nstore = \"s3\"\n"),
        ("missing store", "[secrets]\npath = \"x\"\n"),
        (
            "unknown file key",
            "[secrets]\nstore = \"file\"\npath = \"x\"\nkey = \"env:K\"\npathh = \"y\"\n",
        ),
        ("missing key", "[secrets]\nstore = \"file\"\npath = \"x\"\n"),
        (
            "bare key",
            "[secrets]\nstore = \"file\"\npath = \"x\"\nkey = \"abc\"\n",
        ),
        (
            "memory with extras",
            "[secrets]\nstore = \"memory\"\npath = \"x\"\n",
        ),
        (
            "keyring with extras",
            "[secrets]\nstore = \"keyring\"\nkey = \"env:K\"\n",
        ),
        (
            "vault without auth",
            "[secrets]\nstore = \"vault\"\naddress = \"http://127.0.0.1:8200\"\n",
        ),
        (
            "vault unknown method",
            "[secrets]\nstore = \"vault\"\naddress = \"http://x\"\nauth = { method = \"ldap\" }\n",
        ),
        (
            "vault bad duration",
            "[secrets]\nstore = \"vault\"\naddress = \"http://x\"\ntimeout = \"soon\"\nauth = { method = \"token\", token = \"env:T\" }\n",
        ),
        (
            "token auth with extras",
            "[secrets]\nstore = \"vault\"\naddress = \"http://x\"\nauth = { method = \"token\", token = \"env:T\", role_id = \"env:R\" }\n",
        ),
    ] {
        assert!(parse(text).is_err(), "{what} was accepted");
    }
}

#[test]
fn default_file_config() {
    let c = SecretsConfig::default_file(std::path::Path::new("/data"));
    let SecretsConfig::File(f) = c else {
        panic!("not file")
    };
    assert_eq!(f.path.to_str(), Some("/data/secrets.enc"));
    assert_eq!(f.key.describe(), "env:FERRBOT_SECRETS_KEY");
}
