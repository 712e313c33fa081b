//! Integration tests of the Discord backend against a fake Discord on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod e2e;
mod fake;
mod incident;
