//! Integration tests of the core, through `ferrbot::testing` and real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod dispatch;
mod outbox;
mod plugin_api;
mod rename;
mod storage;
mod support;
mod web;
