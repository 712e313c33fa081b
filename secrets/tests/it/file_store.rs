//! The encrypted file store: contract, wrong key, damage, concurrency, crashes, mode.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrbot_secrets::{
    CredentialRef, FileConfig, FileKey, FileStore, SecretStore, SecretValue, SecretsConfig,
    SecretsError, open_store, rotate_file_key,
};

use crate::contract::{self, Limits};
use crate::support::assert_no_secret;

const SECRET: &str = "correct-horse-battery-staple";

fn store(path: &Path, key: &FileKey) -> FileStore {
    FileStore::open(path, key.clone()).expect("open file store")
}

async fn seeded(dir: &Path) -> (PathBuf, FileKey, FileStore) {
    let path = dir.join("secrets.enc");
    let key = FileKey::generate();
    let s = store(&path, &key);
    s.set("plugins/a/token", &SecretValue::from(SECRET), None)
        .await
        .expect("set");
    s.set("other", &SecretValue::from("x"), None)
        .await
        .expect("set");
    (path, key, s)
}

#[tokio::test]
async fn file_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(&dir.path().join("secrets.enc"), &FileKey::generate());
    contract::run(Arc::new(s), "contract", Limits::default()).await;
}

#[tokio::test]
async fn survives_reopen_and_open_store_reads_the_key_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = FileKey::generate();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{}\n", key.to_hex().as_str())).expect("write key");
    let config = SecretsConfig::File(FileConfig {
        path: dir.path().join("sub/dir/secrets.enc"),
        key: CredentialRef::File(key_file.clone()),
    });
    let s = open_store(&config).await.expect("open");
    s.set("k", &SecretValue::from(SECRET), None)
        .await
        .expect("set");
    drop(s);
    let again = open_store(&config).await.expect("reopen");
    assert_eq!(
        again
            .get("k")
            .await
            .expect("get")
            .as_ref()
            .and_then(SecretValue::expose_str),
        Some(SECRET)
    );
    // The directory it created is private.
    let mode = std::fs::metadata(dir.path().join("sub/dir"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "directory mode {mode:o}");
}

#[test]
fn key_formats() {
    let raw = [7u8; 32];
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    for text in [
        hex.clone(),
        hex.to_uppercase(),
        format!("  {hex}\n"),
        b64.to_owned(),
        b64.trim_end_matches('=').to_owned(),
    ] {
        let k = FileKey::parse(text.as_bytes()).expect("parses");
        assert_eq!(k.to_hex().as_str(), hex);
    }
    assert_eq!(
        FileKey::parse(&raw).expect("raw").to_hex().as_str(),
        hex.as_str()
    );
    for bad in [
        "",
        "abc",
        &hex[..62],
        "not base64 at all, and long enough to be checked",
    ] {
        let err = FileKey::parse(bad.as_bytes()).expect_err(bad);
        assert!(err.to_string().contains("32 bytes"), "{err}");
        if !bad.is_empty() {
            assert_no_secret(&err.to_string(), bad);
        }
    }
    assert_eq!(format!("{:?}", FileKey::generate()), "FileKey([redacted])");
}

#[tokio::test]
async fn wrong_key_is_a_clear_error_and_leaves_the_file_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, key, _s) = seeded(dir.path()).await;
    let before = std::fs::read(&path).expect("read");
    let wrong = FileKey::generate();

    let err = FileStore::open(&path, wrong.clone()).expect_err("wrong key must fail");
    assert!(matches!(err, SecretsError::WrongKey { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("key does not match"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_no_secret(&msg, SECRET);
    assert_no_secret(&msg, wrong.to_hex().as_str());

    // A store opened before the file existed, with another key, cannot read or clobber it.
    let other_path = dir.path().join("late.enc");
    let early = store(&other_path, &wrong);
    let owner = store(&other_path, &key);
    owner
        .set("k", &SecretValue::from(SECRET), None)
        .await
        .expect("set");
    let owned = std::fs::read(&other_path).expect("read");
    for err in [
        early.get("k").await.expect_err("get"),
        early
            .set("k", &SecretValue::from("clobber"), None)
            .await
            .expect_err("set"),
        early.delete("k").await.expect_err("delete"),
        early.list("").await.expect_err("list"),
    ] {
        assert!(matches!(err, SecretsError::WrongKey { .. }), "{err}");
    }
    assert_eq!(std::fs::read(&other_path).expect("read"), owned);
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

fn expect_corrupted(path: &Path, key: &FileKey, what: &str) -> SecretsError {
    let err = FileStore::open(path, key.clone()).expect_err(what);
    let msg = err.to_string();
    assert_no_secret(&msg, SECRET);
    assert!(msg.contains(&path.display().to_string()), "{what}: {msg}");
    err
}

#[tokio::test]
async fn truncated_or_modified_files_are_errors_never_an_empty_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, key, s) = seeded(dir.path()).await;
    let good = std::fs::read(&path).expect("read");

    // Truncations, from one byte short to empty.
    for len in [good.len() - 1, good.len() / 2, 60, 30, 5, 0] {
        std::fs::write(&path, &good[..len]).expect("truncate");
        let err = expect_corrupted(&path, &key, &format!("truncated to {len}"));
        assert!(
            matches!(err, SecretsError::Corrupted { .. }),
            "{len}: {err}"
        );
        assert!(err.to_string().contains("corrupted"), "{err}");
        // The open store reports it too, and refuses to write over it.
        assert!(
            s.get("other").await.is_err(),
            "get after truncation to {len}"
        );
        assert!(s.list("").await.is_err());
        assert!(
            s.set("new", &SecretValue::from("v"), None).await.is_err(),
            "a write must not replace a damaged file"
        );
        assert_eq!(std::fs::read(&path).expect("read").len(), len);
    }

    // One flipped bit anywhere in the ciphertext or the nonce.
    for pos in [good.len() - 1, good.len() - 20, 60, 49 + 3, 40] {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        std::fs::write(&path, &bad).expect("write");
        let err = expect_corrupted(&path, &key, &format!("flip at {pos}"));
        assert!(
            matches!(err, SecretsError::Corrupted { .. }),
            "{pos}: {err}"
        );
        assert!(err.to_string().contains("modified"), "{err}");
    }

    // Bad magic, unknown version.
    let mut bad = good.clone();
    bad[0] = b'X';
    std::fs::write(&path, &bad).expect("write");
    let err = expect_corrupted(&path, &key, "magic");
    assert!(
        err.to_string().contains("not a ferrbot secrets file"),
        "{err}"
    );
    let mut bad = good.clone();
    bad[8] = 99;
    std::fs::write(&path, &bad).expect("write");
    let err = expect_corrupted(&path, &key, "version");
    assert!(
        matches!(err, SecretsError::UnsupportedVersion { found: 99, .. }),
        "{err}"
    );

    // Restored, everything is there again.
    std::fs::write(&path, &good).expect("restore");
    assert_eq!(
        s.get("plugins/a/token").await.expect("get"),
        Some(SecretValue::from(SECRET))
    );
}

#[tokio::test]
async fn files_are_mode_0600() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _key, _s) = seeded(dir.path()).await;
    for p in [path.clone(), dir.path().join("secrets.enc.lock")] {
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", p.display());
    }
}

#[tokio::test]
async fn rotation_re_encrypts_with_the_new_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, old, _s) = seeded(dir.path()).await;
    let new = FileKey::generate();
    let err = rotate_file_key(&path, &FileKey::generate(), &new).expect_err("wrong old key");
    assert!(matches!(err, SecretsError::WrongKey { .. }), "{err}");
    rotate_file_key(&path, &old, &new).expect("rotate");
    assert!(matches!(
        FileStore::open(&path, old.clone()),
        Err(SecretsError::WrongKey { .. })
    ));
    let s = store(&path, &new);
    assert_eq!(
        s.get("plugins/a/token").await.expect("get"),
        Some(SecretValue::from(SECRET))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_lose_no_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secrets.enc");
    let key = FileKey::generate();
    let a = Arc::new(store(&path, &key));
    let b = Arc::new(store(&path, &key));
    let mut tasks = tokio::task::JoinSet::new();
    for (name, s) in [("a", a.clone()), ("b", b.clone())] {
        for t in 0..4 {
            let s = Arc::clone(&s);
            tasks.spawn(async move {
                for i in 0..15 {
                    let k = format!("w/{name}{t}/{i}");
                    s.set(&k, &SecretValue::from(k.as_str()), None)
                        .await
                        .expect("set");
                }
            });
        }
    }
    // Plain OS threads too, on their own runtimes, through a third instance.
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (path, key) = (path.clone(), key.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let s = store(&path, &key);
                rt.block_on(async {
                    for i in 0..15 {
                        let k = format!("w/thread{t}/{i}");
                        s.set(&k, &SecretValue::from(k.as_str()), None)
                            .await
                            .expect("set");
                    }
                });
            })
        })
        .collect();
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    for t in threads {
        t.join().expect("thread");
    }
    let keys = a.list("w").await.expect("list");
    assert_eq!(keys.len(), 2 * 4 * 15 + 2 * 15, "lost updates: {keys:?}");
    for k in &keys {
        assert_eq!(
            b.get(k)
                .await
                .expect("get")
                .as_ref()
                .and_then(SecretValue::expose_str),
            Some(k.as_str())
        );
    }
}

// ---- child processes: re-exec this test binary running only `child_process_helper` ----

const CHILD_ENV: &str = "FERRBOT_SECRETS_TEST_CHILD";

fn spawn_child(role: &str, path: &Path, key: &FileKey, tag: &str) -> Child {
    Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "--exact",
            "file_store::child_process_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, role)
        .env("FERRBOT_SECRETS_TEST_PATH", path)
        .env("FERRBOT_SECRETS_TEST_KEY", key.to_hex().as_str())
        .env("FERRBOT_SECRETS_TEST_TAG", tag)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn child")
}

/// Does nothing in a normal run; in a child process started by the tests below it writes to
/// the store given in the environment.
#[tokio::test]
async fn child_process_helper() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(std::env::var("FERRBOT_SECRETS_TEST_PATH").expect("path"));
    let key = FileKey::parse(
        std::env::var("FERRBOT_SECRETS_TEST_KEY")
            .expect("key")
            .as_bytes(),
    )
    .expect("key");
    let tag = std::env::var("FERRBOT_SECRETS_TEST_TAG").expect("tag");
    let s = store(&path, &key);
    match role.as_str() {
        // Overwrites one big value forever (until killed): each write is ~512 KiB.
        "big-writer" => {
            for n in 0u64.. {
                let byte = (n % 251) as u8;
                let mut v = vec![byte; 512 << 10];
                v[..8].copy_from_slice(&n.to_be_bytes());
                s.set("big", &SecretValue::new(v), None).await.expect("set");
            }
        }
        // Writes 20 distinct keys.
        "writer" => {
            for i in 0..20 {
                let k = format!("proc/{tag}/{i}");
                s.set(&k, &SecretValue::from(k.as_str()), None)
                    .await
                    .expect("set");
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_writing_concurrently_lose_no_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secrets.enc");
    let key = FileKey::generate();
    let s = store(&path, &key);
    let mut children: Vec<Child> = ["p1", "p2"]
        .iter()
        .map(|tag| spawn_child("writer", &path, &key, tag))
        .collect();
    for i in 0..20 {
        let k = format!("proc/parent/{i}");
        s.set(&k, &SecretValue::from(k.as_str()), None)
            .await
            .expect("set");
    }
    for c in &mut children {
        assert!(c.wait().expect("wait").success(), "a writer child failed");
    }
    assert_eq!(s.list("proc").await.expect("list").len(), 60);
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".secrets.enc.tmp-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_write_keeps_the_previous_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secrets.enc");
    let key = FileKey::generate();
    let s = store(&path, &key);
    s.set("survivor", &SecretValue::from(SECRET), None)
        .await
        .expect("set");

    let mut mid_write_kills = 0;
    let mut last_seen = 0u64;
    for round in 0..6u64 {
        let mut child = spawn_child("big-writer", &path, &key, "big");
        // Wait until the child has completed at least one write of its own in this round.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = s.get("big").await.expect("get while child writes") {
                let mut n = [0u8; 8];
                n.copy_from_slice(&v.expose()[..8]);
                let n = u64::from_be_bytes(n);
                if round == 0 || n != last_seen {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the child made no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Kill it while a temp file exists, i.e. in the middle of writing or syncing it
        // (odd rounds), or at an arbitrary moment (even rounds).
        if round % 2 == 1 {
            let deadline = Instant::now() + Duration::from_secs(30);
            while temp_files(dir.path()).is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
        } else {
            tokio::time::sleep(Duration::from_millis(5 + round * 17)).await;
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        if !temp_files(dir.path()).is_empty() {
            mid_write_kills += 1;
        }

        // A fresh instance reads a complete, consistent file.
        let fresh = store(&path, &key);
        assert_eq!(
            fresh.get("survivor").await.expect("get survivor"),
            Some(SecretValue::from(SECRET))
        );
        let big = fresh
            .get("big")
            .await
            .expect("get big")
            .expect("big present");
        let v = big.expose();
        assert_eq!(v.len(), 512 << 10, "a whole value");
        let mut n = [0u8; 8];
        n.copy_from_slice(&v[..8]);
        let n = u64::from_be_bytes(n);
        let byte = (n % 251) as u8;
        assert!(v[8..].iter().all(|b| *b == byte), "value {n} is torn");
        last_seen = n;
    }
    eprintln!("{mid_write_kills} of 6 kills left a temp file behind (killed mid-write)");
    assert!(
        mid_write_kills >= 1,
        "no kill landed in the middle of a write"
    );

    // Whatever temp files the kills left are removed by the next write.
    std::fs::write(
        dir.path().join(".secrets.enc.tmp-1-deadbeefdeadbeef"),
        b"half a write",
    )
    .expect("stale temp");
    s.set("after", &SecretValue::from("ok"), None)
        .await
        .expect("set after crash");
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    assert_eq!(
        s.get("survivor").await.expect("get"),
        Some(SecretValue::from(SECRET))
    );
}
