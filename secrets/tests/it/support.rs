//! Shared helpers: skipping end-to-end tests, unique names.

use std::sync::atomic::{AtomicU64, Ordering};

/// True when end-to-end tests must run (`FERRBOT_E2E_REQUIRED=1`, as in CI).
pub fn e2e_required() -> bool {
    std::env::var("FERRBOT_E2E_REQUIRED").is_ok_and(|v| v == "1")
}

/// Skips an end-to-end test with a printed reason, or fails it when e2e tests are required.
pub fn skip(test: &str, reason: &str) {
    assert!(
        !e2e_required(),
        "{test}: FERRBOT_E2E_REQUIRED=1 but the test cannot run: {reason}"
    );
    eprintln!("SKIPPED {test}: {reason}");
}

/// A name unique to this process and call, usable as a key segment.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Asserts that `text` does not contain `secret`.
#[track_caller]
pub fn assert_no_secret(text: &str, secret: &str) {
    assert!(
        !text.contains(secret),
        "the secret leaked into a message: {text}"
    );
}
