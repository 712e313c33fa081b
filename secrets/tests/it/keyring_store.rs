//! The kernel keyring store, against the real kernel keyring.

use std::process::Command;
use std::sync::Arc;

use ferrbot_secrets::keyring::KEYRING_MAX_VALUE;
use ferrbot_secrets::{KeyringStore, SecretStore, SecretValue, SecretsError};

use crate::contract::{self, Limits};
use crate::support::{assert_no_secret, skip, unique};

/// Opens a store under a service unique to this test, or skips (fails when required).
async fn open(test: &str) -> Option<KeyringStore> {
    match KeyringStore::open(&unique("ferrbot-test")).await {
        Ok(s) => Some(s),
        Err(e @ SecretsError::KeyringUnavailable { .. }) => {
            skip(test, &e.to_string());
            None
        }
        Err(e) => panic!("{test}: opening the keyring store failed: {e}"),
    }
}

#[tokio::test]
async fn keyring_store_meets_the_contract() {
    let Some(s) = open("keyring_store_meets_the_contract").await else {
        return;
    };
    contract::run(
        Arc::new(s),
        "contract",
        Limits {
            large_value: KEYRING_MAX_VALUE,
        },
    )
    .await;
}

#[tokio::test]
async fn values_over_the_kernel_limit_are_refused_clearly() {
    let Some(s) = open("values_over_the_kernel_limit_are_refused_clearly").await else {
        return;
    };
    let value = SecretValue::new(vec![b'z'; KEYRING_MAX_VALUE + 1]);
    let err = s
        .set("too/large", &value, None)
        .await
        .expect_err("too large");
    assert!(
        matches!(err, SecretsError::TooLarge { max, .. } if max == KEYRING_MAX_VALUE),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("too/large") && msg.contains("keyring"),
        "{msg}"
    );
    assert_no_secret(&msg, "zzzzzzzz");
    assert_eq!(s.get("too/large").await.expect("get"), None);
}

/// Does nothing in a normal run; in a child process it reads what the parent wrote.
#[tokio::test]
async fn keyring_child_helper() {
    let Ok(service) = std::env::var("FERRBOT_KEYRING_TEST_SERVICE") else {
        return;
    };
    let s = KeyringStore::open(&service).await.expect("open in child");
    let v = s.get("shared/token").await.expect("get in child");
    assert_eq!(
        v.as_ref().and_then(SecretValue::expose_str),
        Some("from-the-parent")
    );
    assert_eq!(
        s.list("shared").await.expect("list in child"),
        vec!["shared/token".to_owned()]
    );
    s.set("shared/reply", &SecretValue::from("from-the-child"), None)
        .await
        .expect("set in child");
}

#[tokio::test]
async fn another_process_reads_and_lists_the_same_entries() {
    let test = "another_process_reads_and_lists_the_same_entries";
    let Some(s) = open(test).await else {
        return;
    };
    s.set("shared/token", &SecretValue::from("from-the-parent"), None)
        .await
        .expect("set");
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "keyring_store::keyring_child_helper",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("FERRBOT_KEYRING_TEST_SERVICE", s.service())
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "the child process could not read the entry:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.get("shared/reply")
            .await
            .expect("get")
            .as_ref()
            .and_then(SecretValue::expose_str),
        Some("from-the-child")
    );
    for k in s.list("").await.expect("list") {
        s.delete(&k).await.expect("cleanup");
    }
    assert_eq!(s.list("").await.expect("list"), Vec::<String>::new());
}

#[tokio::test]
async fn a_bad_service_name_is_a_config_error() {
    for bad in ["", "a@b", "a\nb"] {
        let err = KeyringStore::open(bad).await.expect_err(bad);
        assert!(matches!(err, SecretsError::Config(_)), "{err}");
    }
}
