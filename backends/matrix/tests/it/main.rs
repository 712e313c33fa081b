#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Integration tests of the Matrix backend against a real Synapse (see
//! `scripts/e2e/synapse.sh`); they print `SKIPPED: …` when none is configured, unless
//! `FERRBOT_E2E_REQUIRED=1`.

mod e2e;
mod incident;
mod support;
