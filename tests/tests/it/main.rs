//! Cross-crate tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod tidy;
