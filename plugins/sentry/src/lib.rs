//! placeholder: the `!sentry` plugin
