//! Integration tests of the Slack backend against a fake Slack on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod e2e;
mod events_api;
mod fake;
mod incident;
