//! The storage contract, run against SQLite (file and memory) and a real PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ferrbot::store::{Dialect, Migration, Store};

async fn contract(store: &Store, ns: &str) {
    let kv = store.kv(ns);
    let other = store.kv(&format!("{ns}-other"));
    assert_eq!(kv.get::<String>("missing").await.unwrap(), None);

    kv.set("a/1", &"one").await.unwrap();
    kv.set("a/2", &serde_json::json!({"n": 2, "tags": ["x", "ü"]}))
        .await
        .unwrap();
    kv.set("b/1", &3_i64).await.unwrap();
    other.set("a/1", &"someone else's").await.unwrap();

    assert_eq!(
        kv.get::<String>("a/1").await.unwrap().as_deref(),
        Some("one")
    );
    let v: serde_json::Value = kv.get("a/2").await.unwrap().unwrap();
    assert_eq!(v["tags"][1], "ü");
    kv.set("a/1", &"uno").await.unwrap();
    assert_eq!(
        kv.get::<String>("a/1").await.unwrap().as_deref(),
        Some("uno")
    );
    assert_eq!(kv.list("a/").await.unwrap(), ["a/1", "a/2"]);
    assert_eq!(kv.list("").await.unwrap(), ["a/1", "a/2", "b/1"]);
    assert_eq!(
        kv.list("a%").await.unwrap(),
        Vec::<String>::new(),
        "no LIKE wildcards"
    );
    assert_eq!(
        other.get::<String>("a/1").await.unwrap().as_deref(),
        Some("someone else's")
    );

    assert!(kv.delete("a/1").await.unwrap());
    assert!(!kv.delete("a/1").await.unwrap());
    assert_eq!(kv.get::<String>("a/1").await.unwrap(), None);

    assert_eq!(kv.incr("counter").await.unwrap(), 1);
    assert_eq!(kv.incr("counter").await.unwrap(), 2);
    assert_eq!(kv.add("counter", 40).await.unwrap(), 42);
    // Concurrent increments lose nothing.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move { kv.incr("race").await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(kv.get::<i64>("race").await.unwrap(), Some(20));

    let wrong_type = kv.get::<i64>("a/2").await.unwrap_err().to_string();
    assert!(
        wrong_type.contains("value at `a/2` is not valid"),
        "{wrong_type}"
    );

    // Plugin-owned tables with migrations, applied once.
    let table = format!("t_{}", ns.replace('-', "_"));
    let create: &'static str = Box::leak(
        format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, title TEXT NOT NULL)")
            .into_boxed_str(),
    );
    let add_col: &'static str =
        Box::leak(format!("ALTER TABLE {table} ADD COLUMN sev TEXT").into_boxed_str());
    let migrations = [
        Migration::new(1, "create", create),
        Migration::new(2, "severity", add_col),
    ];
    store.migrate(ns, &migrations).await.unwrap();
    store.migrate(ns, &migrations).await.unwrap();
    let insert: &'static str = Box::leak(
        format!("INSERT INTO {table} (id, title, sev) VALUES ($1, $2, $3)").into_boxed_str(),
    );
    sqlx::query(insert)
        .bind(1_i64)
        .bind("db down")
        .bind("sev1")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = [Migration::new(3, "broken", "CREATE TABLE oops (;")];
    let err = store.migrate(ns, &broken).await.unwrap_err().to_string();
    assert!(err.contains("migration 3 (`broken`)"), "{err}");
    // A failed migration is not recorded, so it is retried next time.
    let err_again = store.migrate(ns, &broken).await.unwrap_err().to_string();
    assert!(err_again.contains("migration 3"), "{err_again}");
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn sqlite_file_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}/nested/dir/bot.db",
        dir.path().display()
    ))
    .await
    .unwrap();
    assert_eq!(store.dialect(), Dialect::Sqlite);
    contract(&store, "plugin-a").await;
}

#[tokio::test]
async fn sqlite_memory_store_meets_the_contract() {
    let store = Store::memory().await.unwrap();
    contract(&store, "plugin-m").await;
}

/// The PostgreSQL URL from the test environment, or `None` (with a printed reason) when
/// running outside CI without one.
pub fn postgres_url() -> Option<String> {
    match std::env::var("FERRBOT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FERRBOT_E2E_REQUIRED").as_deref() != Ok("1"),
                "FERRBOT_TEST_POSTGRES_URL is not set but FERRBOT_E2E_REQUIRED=1: run the tests with scripts/test"
            );
            eprintln!(
                "SKIPPED: FERRBOT_TEST_POSTGRES_URL is not set (scripts/test starts PostgreSQL)"
            );
            None
        }
    }
}

#[tokio::test]
async fn postgres_store_meets_the_contract() {
    let Some(url) = postgres_url() else { return };
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.dialect(), Dialect::Postgres);
    contract(&store, &unique("pg")).await;
}

#[tokio::test]
async fn processes_starting_at_once_on_a_fresh_postgres_all_open_it() {
    let Some(url) = postgres_url() else { return };
    // A fresh schema stands in for a fresh database: nothing exists in it yet.
    let schema = unique("fresh").replace('-', "_");
    let admin = Store::open(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(admin.pool())
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let fresh = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    // Another process is creating the migrations table right now: its transaction has not
    // committed yet, so our CREATE TABLE IF NOT EXISTS waits on it and then meets its row in
    // the catalog. That must not stop us from starting.
    let mut other = admin.pool().begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {schema}.ferrbot_migrations (owner TEXT NOT NULL, version BIGINT NOT NULL, \
         name TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (owner, version))"
    )))
    .execute(&mut *other)
    .await
    .unwrap();
    let migrations = [Migration::new(1, "t", "CREATE TABLE race_t (x BIGINT)")];
    let starting = tokio::spawn({
        let fresh = fresh.clone();
        async move {
            futures_util::future::join_all((0..4).map(|_| async {
                let store = Store::open(&fresh).await?;
                store.migrate("plugin-race", &migrations).await?;
                Ok::<_, ferrbot::store::StoreError>(store)
            }))
            .await
        }
    });
    // Give the stores time to reach the CREATE and wait on the other transaction.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    other.commit().await.unwrap();
    for store in starting.await.unwrap() {
        store.expect("every process opens the store and migrates");
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_all(admin.pool())
    .await
    .unwrap();
    for table in ["ferrbot_migrations", "race_t"] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    let applied: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {schema}.ferrbot_migrations WHERE owner = 'plugin-race'"
    )))
    .fetch_one(admin.pool())
    .await
    .unwrap();
    assert_eq!(applied, 1, "the migration is recorded once");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(admin.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_urls_and_passwords_never_leak() {
    let err = Store::open("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported storage url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let err = Store::open("postgres://bot:hunter2@127.0.0.1:1/nodb")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot open storage"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

const CHILD_ENV: &str = "FERRBOT_KILL9_CHILD_URL";

/// Run as a child process by the test below: writes keys forever, printing each one
/// once it is committed.
fn kill9_child(url: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(url).await.unwrap();
        let kv = store.kv("durability");
        for i in 0.. {
            kv.set(&format!("k{i:06}"), &i).await.unwrap();
            println!("confirmed {i}");
        }
    });
}

#[test]
fn confirmed_writes_survive_kill_9() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        kill9_child(&url);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/durable.db", dir.path().display());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "storage::confirmed_writes_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("confirmed ") {
            let n: u64 = n.parse().unwrap();
            last = Some(n);
            if n == 300 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructors, no flush
    child.wait().unwrap();
    let last = last.expect("the child confirmed writes");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&url).await.unwrap();
        let kv = store.kv("durability");
        for i in 0..=last {
            assert_eq!(
                kv.get::<u64>(&format!("k{i:06}")).await.unwrap(),
                Some(i),
                "confirmed write {i} was lost"
            );
        }
    });
}
