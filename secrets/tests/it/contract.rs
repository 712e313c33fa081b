//! The one contract every store must meet, run against each store.

use std::sync::Arc;
use std::time::Duration;

use ferrbot_secrets::{Expiry, MemoryStore, SecretStore, SecretValue, SecretsError};
use jiff::Timestamp;

/// Store-specific limits for the contract.
pub struct Limits {
    /// The size of the "large value" round trip.
    pub large_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            large_value: 64 * 1024,
        }
    }
}

async fn get_str(store: &dyn SecretStore, key: &str) -> Option<String> {
    store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .map(|v| v.expose_str().expect("utf-8").to_owned())
}

async fn set_str(store: &dyn SecretStore, key: &str, value: &str) {
    store
        .set(key, &SecretValue::from(value), None)
        .await
        .unwrap_or_else(|e| panic!("set {key}: {e}"));
}

/// Runs the whole contract under the namespace `ns` (which must be unused), and leaves it
/// empty again.
pub async fn run(store: Arc<dyn SecretStore>, ns: &str, limits: Limits) {
    let s = store.as_ref();
    let k = |rest: &str| format!("{ns}/{rest}");

    // Missing key → None; empty namespace lists nothing.
    assert_eq!(get_str(s, &k("missing")).await, None);
    assert_eq!(s.list(ns).await.expect("list"), Vec::<String>::new());
    // Deleting a missing key is fine.
    s.delete(&k("missing")).await.expect("delete missing");

    // Round trip, overwrite, delete.
    set_str(s, &k("a/one"), "v1").await;
    assert_eq!(get_str(s, &k("a/one")).await.as_deref(), Some("v1"));
    set_str(s, &k("a/one"), "v2").await;
    assert_eq!(get_str(s, &k("a/one")).await.as_deref(), Some("v2"));
    s.delete(&k("a/one")).await.expect("delete");
    assert_eq!(get_str(s, &k("a/one")).await, None);
    s.delete(&k("a/one")).await.expect("delete twice");
    assert!(!s.list(ns).await.expect("list").contains(&k("a/one")));

    // List under a namespace, not its siblings (even those sharing a string prefix).
    for key in ["a/x", "a/y/z", "ab/w", "b/q"] {
        set_str(s, &k(key), key).await;
    }
    let want_a = vec![k("a/x"), k("a/y/z")];
    assert_eq!(s.list(&k("a")).await.expect("list a"), want_a);
    assert_eq!(s.list(&format!("{ns}/a/")).await.expect("list a/"), want_a);
    assert_eq!(s.list(&k("a/y")).await.expect("list a/y"), vec![k("a/y/z")]);
    assert_eq!(
        s.list(ns).await.expect("list ns"),
        vec![k("a/x"), k("a/y/z"), k("ab/w"), k("b/q")]
    );
    assert_eq!(
        s.list(&k("nothing")).await.expect("list empty"),
        Vec::<String>::new()
    );
    let all = s.list("").await.expect("list all");
    assert!(
        all.contains(&k("a/x")) && all.contains(&k("b/q")),
        "{all:?}"
    );
    let listed_a = s.list(&k("a")).await.expect("list");
    assert!(!listed_a.contains(&k("ab/w")));

    // Namespaces are isolated: same leaf name, different owners.
    set_str(s, &k("plugins/p1/token"), "one").await;
    set_str(s, &k("plugins/p2/token"), "two").await;
    assert_eq!(
        get_str(s, &k("plugins/p1/token")).await.as_deref(),
        Some("one")
    );
    assert_eq!(
        get_str(s, &k("plugins/p2/token")).await.as_deref(),
        Some("two")
    );
    s.delete(&k("plugins/p1/token")).await.expect("delete p1");
    assert_eq!(
        get_str(s, &k("plugins/p2/token")).await.as_deref(),
        Some("two")
    );
    assert_eq!(
        s.list(&k("plugins/p1")).await.expect("list p1"),
        Vec::<String>::new()
    );

    // Unicode, binary and empty values.
    let unicode = "pässwörd 🔑 日本語 — ✓";
    set_str(s, &k("unicode"), unicode).await;
    assert_eq!(get_str(s, &k("unicode")).await.as_deref(), Some(unicode));
    let binary = SecretValue::new(vec![0, 255, 1, 254, 0x80, 0xC3, 0x28, 0]);
    s.set(&k("binary"), &binary, None)
        .await
        .expect("set binary");
    assert_eq!(s.get(&k("binary")).await.expect("get binary"), Some(binary));
    s.set(&k("empty"), &SecretValue::default(), None)
        .await
        .expect("set empty");
    assert_eq!(
        s.get(&k("empty")).await.expect("get empty"),
        Some(SecretValue::default())
    );

    // A large value.
    let large: Vec<u8> = (0..limits.large_value)
        .map(|i| b"0123456789abcdefghijklmnopqrstuvwxyz"[i % 36])
        .collect();
    let large = SecretValue::new(large);
    s.set(&k("large"), &large, None).await.expect("set large");
    let got = s
        .get(&k("large"))
        .await
        .expect("get large")
        .expect("present");
    assert_eq!(got.len(), limits.large_value);
    assert_eq!(got, large);

    // Invalid keys are refused with a clear error.
    for bad in ["../escape", "a//b", "/abs", "a/./b", "sp ace", ""] {
        let err = s.get(bad).await.expect_err(bad);
        assert!(
            matches!(err, SecretsError::InvalidKey { .. }),
            "{bad}: {err}"
        );
        let err = s
            .set(bad, &SecretValue::from("x"), None)
            .await
            .expect_err(bad);
        assert!(
            matches!(err, SecretsError::InvalidKey { .. }),
            "{bad}: {err}"
        );
    }
    assert!(s.list("../x").await.is_err());

    // Expiry: already past → absent at once; short → present, then absent and unlisted.
    let past = Timestamp::now() - jiff::SignedDuration::from_secs(1);
    s.set(
        &k("exp/past"),
        &SecretValue::from("p"),
        Some(Expiry::At(past)),
    )
    .await
    .expect("set past");
    s.set(
        &k("exp/short"),
        &SecretValue::from("s"),
        Some(Expiry::After(Duration::from_millis(1200))),
    )
    .await
    .expect("set short");
    s.set(
        &k("exp/long"),
        &SecretValue::from("l"),
        Some(Duration::from_secs(3600).into()),
    )
    .await
    .expect("set long");
    assert_eq!(get_str(s, &k("exp/past")).await, None);
    assert_eq!(get_str(s, &k("exp/short")).await.as_deref(), Some("s"));
    assert_eq!(
        s.list(&k("exp")).await.expect("list exp"),
        vec![k("exp/long"), k("exp/short")]
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(get_str(s, &k("exp/short")).await, None);
    assert_eq!(get_str(s, &k("exp/long")).await.as_deref(), Some("l"));
    assert_eq!(
        s.list(&k("exp")).await.expect("list exp"),
        vec![k("exp/long")]
    );
    // Setting it again (without expiry) revives it for good.
    set_str(s, &k("exp/short"), "again").await;
    assert_eq!(get_str(s, &k("exp/short")).await.as_deref(), Some("again"));

    // Clean up: delete everything, then nothing is listed.
    for key in s.list(ns).await.expect("list") {
        s.delete(&key).await.expect("cleanup");
    }
    assert_eq!(s.list(ns).await.expect("list"), Vec::<String>::new());
}

#[tokio::test]
async fn memory_store_meets_the_contract() {
    run(Arc::new(MemoryStore::new()), "contract", Limits::default()).await;
}
