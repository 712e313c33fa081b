//! The Vault store, against a real OpenBao dev server (`scripts/e2e/openbao.sh start`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrbot_secrets::{
    CredentialRef, SecretStore, SecretValue, SecretsConfig, SecretsError, VaultAuth, VaultConfig,
    VaultStore, open_store,
};
use vaultrs::api::auth::approle::requests::SetAppRoleRequest;
use vaultrs::api::token::requests::CreateTokenRequest;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};

use crate::contract::{self, Limits};
use crate::support::{assert_no_secret, skip, unique};

/// The dev server's address and root token, or `None` after skipping (failing when required).
fn server(test: &str) -> Option<(String, String)> {
    match (
        std::env::var("FERRBOT_TEST_VAULT_ADDR"),
        std::env::var("FERRBOT_TEST_VAULT_TOKEN"),
    ) {
        (Ok(addr), Ok(token)) => Some((addr, token)),
        _ => {
            skip(
                test,
                "FERRBOT_TEST_VAULT_ADDR / FERRBOT_TEST_VAULT_TOKEN are not set; run \
                 `set -a; eval \"$(scripts/e2e/openbao.sh start)\"; set +a` first",
            );
            None
        }
    }
}

fn literal(s: &str) -> CredentialRef {
    CredentialRef::Literal(SecretValue::from(s))
}

fn config(addr: &str, prefix: &str, auth: VaultAuth) -> VaultConfig {
    VaultConfig {
        address: addr.to_owned(),
        mount: "secret".to_owned(),
        prefix: prefix.to_owned(),
        namespace: None,
        ca_certs: Vec::new(),
        timeout: Duration::from_secs(5),
        auth,
    }
}

fn token_auth(token: &str) -> VaultAuth {
    VaultAuth::Token {
        token: literal(token),
    }
}

/// A raw vaultrs client with the root token, to set the server up.
fn root_client(addr: &str, token: &str) -> VaultClient {
    VaultClient::new(
        VaultClientSettingsBuilder::default()
            .address(addr)
            .token(token)
            .build()
            .expect("settings"),
    )
    .expect("client")
}

/// Enables AppRole (once per server), writes the documented policy for `prefix`, and creates a
/// role; returns (role_id, secret_id).
async fn approle(
    root: &VaultClient,
    prefix: &str,
    token_ttl: &str,
    token_max_ttl: &str,
) -> (String, String) {
    if let Err(e) = vaultrs::sys::auth::enable(root, "approle", "approle", None).await {
        // 400 "path is already in use" when an earlier test enabled it.
        assert!(
            format!("{e:?}").contains("already in use"),
            "enable approle: {e:?}"
        );
    }
    let policy = format!(
        r#"
path "secret/data/{prefix}/*"     {{ capabilities = ["create", "read", "update"] }}
path "secret/metadata/{prefix}/*" {{ capabilities = ["list", "read", "delete"] }}
path "secret/metadata/{prefix}"   {{ capabilities = ["list"] }}
"#
    );
    let name = prefix.replace(['/', ':'], "-");
    vaultrs::sys::policy::set(root, &name, &policy)
        .await
        .expect("policy");
    vaultrs::auth::approle::role::set(
        root,
        "approle",
        &name,
        Some(
            &mut SetAppRoleRequest::builder()
                .token_policies(vec![name.clone()])
                .token_ttl(token_ttl)
                .token_max_ttl(token_max_ttl),
        ),
    )
    .await
    .expect("role");
    let role_id = vaultrs::auth::approle::role::read_id(root, "approle", &name)
        .await
        .expect("role id")
        .role_id;
    let secret_id = vaultrs::auth::approle::role::secret::generate(root, "approle", &name, None)
        .await
        .expect("secret id")
        .secret_id;
    (role_id, secret_id)
}

fn approle_auth(role_id: &str, secret_id: &str) -> VaultAuth {
    VaultAuth::AppRole {
        role_id: literal(role_id),
        secret_id: literal(secret_id),
        mount: "approle".to_owned(),
    }
}

#[tokio::test]
async fn token_login_meets_the_contract() {
    let Some((addr, token)) = server("token_login_meets_the_contract") else {
        return;
    };
    let prefix = unique("ferrbot-test");
    let s = open_store(&SecretsConfig::Vault(config(
        &addr,
        &prefix,
        token_auth(&token),
    )))
    .await
    .expect("connect");
    assert_eq!(s.kind(), "vault");
    contract::run(s, "contract", Limits::default()).await;
}

#[tokio::test]
async fn approle_login_meets_the_contract_within_the_documented_policy() {
    let test = "approle_login_meets_the_contract_within_the_documented_policy";
    let Some((addr, token)) = server(test) else {
        return;
    };
    let prefix = unique("ferrbot-test");
    let root = root_client(&addr, &token);
    let (role_id, secret_id) = approle(&root, &prefix, "1h", "2h").await;
    let s = VaultStore::connect(&config(&addr, &prefix, approle_auth(&role_id, &secret_id)))
        .await
        .expect("approle login");
    assert_eq!(s.logins(), 1);
    contract::run(Arc::new(s), "contract", Limits::default()).await;

    // The same role cannot read outside its prefix: a clear 403.
    let outside = VaultStore::connect(&config(
        &addr,
        &unique("elsewhere"),
        approle_auth(&role_id, &secret_id),
    ))
    .await
    .expect("login");
    let err = outside.get("k").await.expect_err("outside the policy");
    assert!(
        matches!(err, SecretsError::VaultPermissionDenied { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("403"), "{err}");

    // A wrong secret_id is a clear login error that does not show it.
    let err = VaultStore::connect(&config(
        &addr,
        &prefix,
        approle_auth(&role_id, "00000000-dead-beef-0000-000000000000"),
    ))
    .await
    .expect_err("bad secret id");
    assert!(matches!(err, SecretsError::VaultLogin { .. }), "{err}");
    assert_no_secret(&err.to_string(), "dead-beef");
}

#[tokio::test]
async fn a_bad_or_revoked_token_is_a_clear_403() {
    let Some((addr, token)) = server("a_bad_or_revoked_token_is_a_clear_403") else {
        return;
    };
    let bad = "s.this-is-not-a-valid-token";
    let err = VaultStore::connect(&config(&addr, "ferrbot", token_auth(bad)))
        .await
        .expect_err("bad token");
    assert!(matches!(err, SecretsError::VaultLogin { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("403") && msg.contains("token login failed"),
        "{msg}"
    );
    assert_no_secret(&msg, bad);

    // A token that worked at start and was revoked later: operations fail with 403.
    let root = root_client(&addr, &token);
    let child = vaultrs::token::new(&root, Some(&mut CreateTokenRequest::builder().ttl("1h")))
        .await
        .expect("create token")
        .client_token;
    let prefix = unique("ferrbot-test");
    let s = VaultStore::connect(&config(&addr, &prefix, token_auth(&child)))
        .await
        .expect("connect");
    s.set("k", &SecretValue::from("v"), None)
        .await
        .expect("set");
    vaultrs::token::revoke(&root, &child).await.expect("revoke");
    let err = s.get("k").await.expect_err("revoked");
    assert!(
        matches!(err, SecretsError::VaultPermissionDenied { ref key, .. } if key == "k"),
        "{err}"
    );
    assert_no_secret(&err.to_string(), &child);
}

#[tokio::test]
async fn a_soft_deleted_version_reads_as_absent() {
    let Some((addr, token)) = server("a_soft_deleted_version_reads_as_absent") else {
        return;
    };
    let prefix = unique("ferrbot-test");
    let s = VaultStore::connect(&config(&addr, &prefix, token_auth(&token)))
        .await
        .expect("connect");
    s.set("k", &SecretValue::from("v"), None)
        .await
        .expect("set");
    // Soft delete by hand: the read then gets a 404 *with* a body.
    let root = root_client(&addr, &token);
    vaultrs::kv2::delete_latest(&root, "secret", &format!("{prefix}/k"))
        .await
        .expect("soft delete");
    assert_eq!(s.get("k").await.expect("get"), None);
    // A value written by hand with only `value` is read as text.
    vaultrs::kv2::set(
        &root,
        "secret",
        &format!("{prefix}/by-hand"),
        &serde_json::json!({"value": "typed by an operator"}),
    )
    .await
    .expect("kv put");
    assert_eq!(
        s.get("by-hand")
            .await
            .expect("get")
            .as_ref()
            .and_then(SecretValue::expose_str),
        Some("typed by an operator")
    );
}

#[tokio::test]
async fn token_renewal_extends_the_ttl() {
    let Some((addr, token)) = server("token_renewal_extends_the_ttl") else {
        return;
    };
    let root = root_client(&addr, &token);
    let short = vaultrs::token::new(
        &root,
        Some(
            &mut CreateTokenRequest::builder()
                .ttl("6s")
                .explicit_max_ttl("1h")
                .renewable(true),
        ),
    )
    .await
    .expect("create token")
    .client_token;
    let s = VaultStore::connect(&config(&addr, &unique("ferrbot-test"), token_auth(&short)))
        .await
        .expect("connect");
    let before = s.token_ttl().await.expect("ttl");
    assert!(before <= Duration::from_secs(6), "{before:?}");
    // Without renewal the token would have about 1 s left (and be dead a second later).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = vaultrs::token::lookup(&root, &short)
        .await
        .expect("lookup")
        .ttl;
    assert!(s.renewals() >= 1, "no renewal happened");
    assert!(after >= 3, "ttl after renewal: {after}s");
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.set("still/works", &SecretValue::from("yes"), None)
        .await
        .expect("set after the original TTL");
}

#[tokio::test]
async fn approle_logs_in_again_when_the_token_reaches_its_max_ttl() {
    let test = "approle_logs_in_again_when_the_token_reaches_its_max_ttl";
    let Some((addr, token)) = server(test) else {
        return;
    };
    let prefix = unique("ferrbot-test");
    let root = root_client(&addr, &token);
    let (role_id, secret_id) = approle(&root, &prefix, "3s", "4s").await;
    let s = VaultStore::connect(&config(&addr, &prefix, approle_auth(&role_id, &secret_id)))
        .await
        .expect("login");
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(9) {
        s.set(&format!("k{i}"), &SecretValue::from("v"), None)
            .await
            .unwrap_or_else(|e| panic!("set after {:?}: {e}", start.elapsed()));
        i += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(s.logins() >= 2, "logins: {}", s.logins());
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // Nothing listens on a port we just bound and released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port();
    let secret = "hvs.unreachable-token";
    let err = VaultStore::connect(&config(
        &format!("http://127.0.0.1:{port}"),
        "ferrbot",
        token_auth(secret),
    ))
    .await
    .expect_err("unreachable");
    assert!(
        matches!(err, SecretsError::VaultUnreachable { .. }),
        "{err}"
    );
    assert!(err.is_unavailable());
    let msg = err.to_string();
    assert!(
        msg.contains("unreachable") && msg.contains(&port.to_string()),
        "{msg}"
    );
    assert_no_secret(&msg, secret);

    let err = VaultStore::connect(&config("ftp://x", "ferrbot", token_auth(secret)))
        .await
        .expect_err("bad scheme");
    assert!(matches!(err, SecretsError::Config(_)), "{err}");
}

/// Kills the spawned server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port whose neighbour (the dev server's cluster listener) is free too.
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair");
}

#[tokio::test]
async fn a_sealed_server_is_a_clear_503() {
    let test = "a_sealed_server_is_a_clear_503";
    let Ok(bin) = std::env::var("FERRBOT_TEST_BAO_BIN") else {
        skip(
            test,
            "FERRBOT_TEST_BAO_BIN is not set (scripts/e2e/openbao.sh start sets it)",
        );
        return;
    };
    // Its own server: sealing the shared one would break the other tests.
    let port = free_port_pair();
    let addr = format!("http://127.0.0.1:{port}");
    let root_token = "seal-test-root";
    let _server = Server(
        Command::new(&bin)
            .args([
                "server",
                "-dev",
                "-dev-no-store-token",
                &format!("-dev-root-token-id={root_token}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao"),
    );
    let root = root_client(&addr, root_token);
    let deadline = Instant::now() + Duration::from_secs(20);
    // (`sys::health` does not parse OpenBao's answer: it lacks `performance_standby`.)
    while vaultrs::token::lookup_self(&root).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the sealing test's server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = VaultStore::connect(&config(&addr, "ferrbot", token_auth(root_token)))
        .await
        .expect("connect");
    s.set("k", &SecretValue::from("before-seal"), None)
        .await
        .expect("set");

    vaultrs::sys::seal(&root).await.expect("seal");

    let err = s.get("k").await.expect_err("sealed");
    assert!(matches!(err, SecretsError::VaultSealed { .. }), "{err}");
    assert!(err.is_unavailable());
    let msg = err.to_string();
    assert!(
        msg.contains("sealed") && msg.contains("503") && msg.contains("`k`"),
        "{msg}"
    );
    assert_no_secret(&msg, "before-seal");
    let err = s
        .set("k", &SecretValue::from("during-seal"), None)
        .await
        .expect_err("sealed");
    assert!(matches!(err, SecretsError::VaultSealed { .. }), "{err}");
    assert_no_secret(&err.to_string(), "during-seal");
    // Connecting to a sealed server fails the same way.
    let err = VaultStore::connect(&config(&addr, "ferrbot", token_auth(root_token)))
        .await
        .expect_err("connect while sealed");
    assert!(matches!(err, SecretsError::VaultSealed { .. }), "{err}");
}
