//! Plugin views: per-user credentials and a plugin's own secrets cannot escape their
//! namespace.

use std::sync::Arc;
use std::time::Duration;

use ferrbot_secrets::{
    CredentialCache, MemoryStore, PluginSecrets, SecretStore, SecretValue, SecretsError,
};

fn v(s: &str) -> SecretValue {
    SecretValue::from(s)
}

fn text(value: Option<SecretValue>) -> Option<String> {
    value.and_then(|v| v.expose_str().map(str::to_owned))
}

#[tokio::test]
async fn per_user_credentials_round_trip_under_the_documented_keys() {
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    let st2 = CredentialCache::new(Arc::clone(&store), "st2").expect("cache");
    assert_eq!(st2.plugin(), "st2");
    st2.set("slack:U024BE7LH", "token", &v("alice-token"), None)
        .await
        .expect("set");
    st2.set("matrix:@bob:example.org", "token", &v("bob-token"), None)
        .await
        .expect("set");
    st2.set(
        "matrix:@bob:example.org",
        "refresh",
        &v("bob-refresh"),
        None,
    )
    .await
    .expect("set");

    assert_eq!(
        text(
            store
                .get("plugins/st2/users/slack:U024BE7LH/token")
                .await
                .expect("raw")
        ),
        Some("alice-token".to_owned())
    );
    assert_eq!(
        text(
            st2.get("matrix:@bob:example.org", "token")
                .await
                .expect("get")
        ),
        Some("bob-token".to_owned())
    );
    assert_eq!(st2.get("slack:UNKNOWN", "token").await.expect("get"), None);
    assert_eq!(
        st2.list_users().await.expect("users"),
        vec!["matrix:@bob:example.org", "slack:U024BE7LH"]
    );
    assert_eq!(
        st2.list_names("matrix:@bob:example.org")
            .await
            .expect("names"),
        vec!["refresh", "token"]
    );

    // A bound view reaches only its user.
    let bob = st2.for_user("matrix:@bob:example.org").expect("view");
    assert_eq!(bob.user(), "matrix:@bob:example.org");
    assert_eq!(
        text(bob.get("token").await.expect("get")),
        Some("bob-token".to_owned())
    );
    assert_eq!(bob.list().await.expect("list"), vec!["refresh", "token"]);

    // Expiry passes through.
    st2.set(
        "slack:U024BE7LH",
        "otp",
        &v("123456"),
        Some(Duration::from_millis(300).into()),
    )
    .await
    .expect("set");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(st2.get("slack:U024BE7LH", "otp").await.expect("get"), None);

    assert_eq!(
        st2.delete_user("matrix:@bob:example.org")
            .await
            .expect("delete"),
        2
    );
    assert_eq!(
        st2.list_users().await.expect("users"),
        vec!["slack:U024BE7LH"]
    );
    st2.delete("slack:U024BE7LH", "token")
        .await
        .expect("delete");
    assert_eq!(st2.list_users().await.expect("users"), Vec::<String>::new());
}

#[tokio::test]
async fn hostile_user_ids_and_names_cannot_escape() {
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    let victim_plugin = CredentialCache::new(Arc::clone(&store), "victim").expect("cache");
    victim_plugin
        .set("slack:UVICTIM", "token", &v("victim-token"), None)
        .await
        .expect("set");
    let st2 = CredentialCache::new(Arc::clone(&store), "st2").expect("cache");
    st2.set("slack:UVICTIM", "token", &v("st2-victim-token"), None)
        .await
        .expect("set");

    let hostile = [
        "..",
        ".",
        "../victim/users/slack:UVICTIM",
        "../../victim/users/slack:UVICTIM",
        "slack:UVICTIM/..",
        "slack:UVICTIM/../slack:UVICTIM",
        "x/../../../../plugins/victim/users/slack:UVICTIM",
        "slack:UVICTIM/token",
        "slack:UVICTIM~2Ftoken",
    ];
    for user in hostile {
        // Reading as the hostile id finds nothing of anyone else's.
        assert_eq!(st2.get(user, "token").await.expect(user), None, "{user}");
        // Writing as it lands in exactly one escaped segment under st2's own users.
        st2.set(user, "token", &v("attacker"), None)
            .await
            .expect(user);
    }
    assert_eq!(
        text(
            victim_plugin
                .get("slack:UVICTIM", "token")
                .await
                .expect("get")
        ),
        Some("victim-token".to_owned())
    );
    assert_eq!(
        text(st2.get("slack:UVICTIM", "token").await.expect("get")),
        Some("st2-victim-token".to_owned())
    );
    for key in store.list("").await.expect("list") {
        let ok = key.starts_with("plugins/st2/users/") || key.starts_with("plugins/victim/users/");
        assert!(ok, "{key}");
        let rest = key.split('/').skip(3).collect::<Vec<_>>();
        assert_eq!(rest.len(), 2, "user and name are one segment each: {key}");
    }
    let mut users = st2.list_users().await.expect("users");
    users.sort();
    let mut want: Vec<String> = hostile.iter().map(|s| (*s).to_owned()).collect();
    want.push("slack:UVICTIM".to_owned());
    want.sort();
    assert_eq!(users, want, "user ids come back unescaped and distinct");

    // Names are single segments; plugin names too.
    for name in ["..", "../token", "a/b", "", "x y"] {
        let err = st2.get("slack:U1", name).await.expect_err(name);
        assert!(
            matches!(err, SecretsError::InvalidKey { .. }),
            "{name}: {err}"
        );
    }
    for plugin in ["", "..", "st2/../victim", "a/b", "x y"] {
        let err = CredentialCache::new(Arc::clone(&store), plugin).expect_err(plugin);
        assert!(
            matches!(err, SecretsError::InvalidKey { .. }),
            "{plugin}: {err}"
        );
        assert!(err.to_string().contains("plugin"), "{err}");
    }
    let err = st2.get("", "token").await.expect_err("empty user");
    assert!(matches!(err, SecretsError::InvalidUserId { .. }), "{err}");
    let err = st2
        .get(&"u".repeat(256), "token")
        .await
        .expect_err("long user");
    assert!(matches!(err, SecretsError::InvalidUserId { .. }), "{err}");
}

#[tokio::test]
async fn plugin_secrets_stay_in_their_namespace() {
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    store
        .set("plugins/victim/api_key", &v("victim-key"), None)
        .await
        .expect("set");
    let st2 = PluginSecrets::new(Arc::clone(&store), "st2").expect("view");
    assert_eq!(st2.plugin(), "st2");
    st2.set("api_key", &v("k1"), None).await.expect("set");
    st2.set("webhook/secret", &v("k2"), None)
        .await
        .expect("set");
    st2.credentials()
        .set("slack:U1", "token", &v("t"), None)
        .await
        .expect("set");
    assert_eq!(
        text(st2.get("api_key").await.expect("get")),
        Some("k1".to_owned())
    );
    assert_eq!(
        text(store.get("plugins/st2/webhook/secret").await.expect("raw")),
        Some("k2".to_owned())
    );
    assert_eq!(
        st2.list().await.expect("list"),
        vec!["api_key", "webhook/secret"],
        "the per-user area is not listed"
    );
    for name in [
        "../victim/api_key",
        "a/../../victim/api_key",
        "/plugins/victim/api_key",
        "users/slack:U1/token",
        "users",
        "",
    ] {
        let err = st2.get(name).await.expect_err(name);
        assert!(
            matches!(err, SecretsError::InvalidKey { .. }),
            "{name}: {err}"
        );
        assert!(st2.set(name, &v("x"), None).await.is_err(), "{name}");
        assert!(st2.delete(name).await.is_err(), "{name}");
    }
    st2.delete("api_key").await.expect("delete");
    assert_eq!(st2.get("api_key").await.expect("get"), None);
    assert_eq!(
        text(store.get("plugins/victim/api_key").await.expect("raw")),
        Some("victim-key".to_owned())
    );
}
