//! Automatic behaviour of the incident plugin: pure decisions — placement and headline mode
//! by backend capability ([`placement`]), the reminder planner ([`reminders`]), subscription
//! matching ([`subscriptions`]), the room topic ([`topic`]) — and the steps that act on them:
//! the headline post ([`headline`]), incident rooms and threads ([`rooms`]) and timeline
//! capture of chat messages ([`capture`]), message counts and observers who become
//! participants ([`activity`]) and the reminder job ([`reminder_jobs`]).

pub mod activity;
pub mod capture;
pub mod headline;
pub mod placement;
pub mod reminder_jobs;
pub mod reminders;
pub mod rooms;
pub mod subscriptions;
pub mod topic;
