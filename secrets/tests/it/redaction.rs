//! No secret value in Debug, Display or any error message.

use std::sync::Arc;

use ferrbot_secrets::{
    CredentialRef, FileKey, FileStore, MemoryStore, SecretStore, SecretValue, SecretsConfig,
    SecretsError, ValueSource, resolve_reference,
};

use crate::support::assert_no_secret;

const SECRET: &str = "hunter2-0f3a9c-very-secret";

#[test]
fn secret_values_print_as_redacted() {
    let v = SecretValue::from(SECRET);
    assert_eq!(format!("{v:?}"), "[redacted]");
    assert_eq!(format!("{v}"), "[redacted]");
    assert_eq!(format!("{:?}", Some(v.clone())), "Some([redacted])");
    assert_eq!(v.expose_str(), Some(SECRET));
    assert_eq!(v.expose(), SECRET.as_bytes());

    #[derive(Debug, serde::Deserialize)]
    struct Holder {
        password: SecretValue,
    }
    let h: Holder = serde_json::from_str(&format!(r#"{{"password":"{SECRET}"}}"#)).expect("json");
    assert_no_secret(&format!("{h:?}"), SECRET);
    assert_eq!(h.password.expose_str(), Some(SECRET));

    // Written out only on purpose.
    #[derive(serde::Serialize)]
    struct Out<'a> {
        #[serde(serialize_with = "ferrbot_secrets::serialize_exposed")]
        password: &'a SecretValue,
    }
    let json = serde_json::to_string(&Out { password: &v }).expect("json");
    assert!(json.contains(SECRET));
}

#[test]
fn credential_references_never_show_a_value() {
    let lit = CredentialRef::parse(&format!("literal:{SECRET}")).expect("literal");
    assert_eq!(format!("{lit:?}"), "literal:[redacted]");
    assert_eq!(lit.describe(), "literal:[redacted]");
    assert_eq!(lit.resolve().expect("literal").expose_str(), Some(SECRET));

    // A bare value (a token pasted into the config) is refused without being repeated.
    let err = CredentialRef::parse(SECRET).expect_err("bare value");
    assert!(matches!(err, SecretsError::Config(_)));
    assert_no_secret(&err.to_string(), SECRET);
    let toml_value: toml::Value = toml::from_str(&format!(
        "store = \"file\"\npath = \"/x\"\nkey = \"{SECRET}\"\n"
    ))
    .expect("toml");
    let err = toml_value
        .try_into::<SecretsConfig>()
        .expect_err("bare key in config");
    assert_no_secret(&err.to_string(), SECRET);
    assert!(err.to_string().contains("env:NAME"), "{err}");

    // Missing env var / file: the reference is named, nothing else.
    let err = CredentialRef::parse("env:FERRBOT_TEST_SURELY_UNSET_1")
        .expect("env")
        .resolve()
        .expect_err("unset");
    assert!(
        err.to_string().contains("env:FERRBOT_TEST_SURELY_UNSET_1"),
        "{err}"
    );
    let err = CredentialRef::parse("file:/nonexistent/ferrbot-key")
        .expect("file")
        .resolve()
        .expect_err("missing file");
    assert!(
        err.to_string().contains("file:/nonexistent/ferrbot-key"),
        "{err}"
    );
}

#[test]
fn a_key_file_with_a_bad_key_is_named_but_not_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("key");
    std::fs::write(&path, SECRET).expect("write");
    let err = FileKey::from_ref(&CredentialRef::File(path.clone())).expect_err("not a key");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_no_secret(&msg, SECRET);
}

#[tokio::test]
async fn store_errors_never_contain_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.enc");
    let key = FileKey::generate();
    let s = FileStore::open(&path, key.clone()).expect("open");
    s.set("plugins/p/token", &SecretValue::from(SECRET), None)
        .await
        .expect("set");
    let mut errors: Vec<SecretsError> = Vec::new();
    // Wrong key.
    errors.push(FileStore::open(&path, FileKey::generate()).expect_err("wrong key"));
    // Corrupted.
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    errors.push(s.get("plugins/p/token").await.expect_err("corrupted"));
    errors.push(
        s.set("plugins/p/token", &SecretValue::from(SECRET), None)
            .await
            .expect_err("corrupted"),
    );
    // Invalid keys, on a store that holds the secret.
    let mem = MemoryStore::new();
    mem.set("k", &SecretValue::from(SECRET), None)
        .await
        .expect("set");
    errors.push(
        mem.set("../k", &SecretValue::from(SECRET), None)
            .await
            .expect_err("invalid"),
    );
    for e in &errors {
        assert_no_secret(&e.to_string(), SECRET);
        assert_no_secret(&format!("{e:?}"), SECRET);
        assert_no_secret(&format!("{e:#}"), SECRET);
        assert_no_secret(&format!("{:?}", anyhow_like_chain(e)), SECRET);
    }
}

/// The error and all its sources, as a logger would print them.
fn anyhow_like_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[tokio::test]
async fn references_resolve_and_name_what_is_missing() {
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    store
        .set("plugins/st2/api_key", &SecretValue::from(SECRET), None)
        .await
        .expect("set");

    let r = resolve_reference("secret:plugins/st2/api_key", store.as_ref())
        .await
        .expect("secret ref");
    assert_eq!(r.expose_str(), Some(SECRET));
    assert_eq!(
        r.source(),
        &ValueSource::Secret("plugins/st2/api_key".to_owned())
    );
    assert_no_secret(&format!("{r:?}"), SECRET);

    // PATH is set in any test environment.
    let path = std::env::var("PATH").expect("PATH");
    let r = resolve_reference("env:PATH", store.as_ref())
        .await
        .expect("env ref");
    assert_eq!(r.expose_str(), Some(path.as_str()));
    assert_eq!(r.source().to_string(), "env:PATH");

    let r = resolve_reference("plain text", store.as_ref())
        .await
        .expect("literal");
    assert_eq!(r.expose_str(), Some("plain text"));
    assert_eq!(r.source(), &ValueSource::Literal);
    assert_eq!(r.into_value(), SecretValue::from("plain text"));

    let err = resolve_reference("secret:plugins/st2/missing", store.as_ref())
        .await
        .expect_err("missing");
    assert!(matches!(err, SecretsError::NotFound { .. }));
    assert!(err.to_string().contains("plugins/st2/missing"), "{err}");
    let err = resolve_reference("env:FERRBOT_TEST_SURELY_UNSET_2", store.as_ref())
        .await
        .expect_err("unset");
    assert!(matches!(err, SecretsError::EnvMissing { .. }));
    assert!(
        err.to_string().contains("FERRBOT_TEST_SURELY_UNSET_2"),
        "{err}"
    );
    let err = resolve_reference("secret:../x", store.as_ref())
        .await
        .expect_err("invalid");
    assert!(matches!(err, SecretsError::InvalidKey { .. }));
}
