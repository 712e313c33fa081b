//! Integration tests of ferrbot-secrets: one binary.
//!
//! The keyring tests need the kernel keyring and the Vault tests a real OpenBao server
//! (`set -a; eval "$(scripts/e2e/openbao.sh start)"; set +a`); without them they are skipped with a printed
//! reason, unless `FERRBOT_E2E_REQUIRED=1`, which turns a skip into a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod config;
mod contract;
mod file_store;
mod keyring_store;
mod plugin_views;
mod redaction;
mod support;
mod vault_store;
