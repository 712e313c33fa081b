//! End-to-end tests of the `!st2` plugin: a running bot (`ferrbot::testing::TestBot`) and the
//! fake StackStorm (`tests/fake_st2`), both over real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../fake_st2/mod.rs"]
mod fake_st2;

mod credentials;
mod errors;
mod help;
mod logs;
mod rbac;
mod run;
mod stream;
mod support;
mod webhook;
