//! placeholder: the Slack backend
