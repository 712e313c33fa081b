//! `ferrbot-tests`: tests that span crates — the architecture's dependency rules, end-to-end
//! tests, and (as backends and plugins land) faithful fakes of closed services (Slack,
//! Discord, StackStorm, Sentry) speaking real HTTP/WebSocket on loopback.
