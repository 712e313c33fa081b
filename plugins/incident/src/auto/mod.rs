//! Automatic behaviour of the incident plugin. So far only its pure, clock-free decisions:
//! placement and headline mode by backend capability ([`placement`]), the reminder planner
//! ([`reminders`]) and subscription matching ([`subscriptions`]). Announcing, room creation,
//! capture, delivery, ack expiry and B's commands are not built yet.

pub mod placement;
pub mod reminders;
pub mod subscriptions;
pub mod topic;
