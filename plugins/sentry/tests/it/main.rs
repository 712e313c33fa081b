//! Integration tests of the `!sentry` plugin: a running bot (`ferrbot::testing::TestBot`),
//! real HTTP on loopback, the published Sentry payloads in `tests/data/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod chat;
mod compat;
mod fixtures;
mod refusals;
mod restart;
mod secrets;
mod storm;
mod support;
