//! Subscription matching: whether a subscriber hears about an incident change now.
//!
//! Pure: the stored subscription (A's model) supplies the filter and timeslots; delivery
//! (DM or room) is the caller's.

use jiff::Timestamp;

use crate::util::tags::{Tag, TagFilter};
use crate::util::timeslot::Timeslot;

/// Whether a subscription with `filter` and `timeslots` matches an incident carrying `tags`
/// at `now`: the tag filter matches (Argus: OR within a key, AND across keys) and `now` lies in
/// one of the timeslots (no timeslot means always).
pub fn matches(filter: &TagFilter, timeslots: &[Timeslot], tags: &[Tag], now: Timestamp) -> bool {
    filter.matches(tags) && (timeslots.is_empty() || timeslots.iter().any(|s| s.contains(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturday_vs_monday_in_oslo() {
        let filter = TagFilter::parse("service=db").unwrap();
        let slots = [Timeslot::parse("mon-fri 08:00-16:00 Europe/Oslo").unwrap()];
        let tags = [Tag::parse("service=db").unwrap()];
        let monday = "2025-03-03T09:00:00Z".parse().unwrap();
        let saturday = "2025-03-08T09:00:00Z".parse().unwrap();
        assert!(matches(&filter, &slots, &tags, monday));
        assert!(!matches(&filter, &slots, &tags, saturday));
        assert!(matches(&filter, &[], &tags, saturday));
        assert!(!matches(
            &filter,
            &slots,
            &[Tag::parse("service=web").unwrap()],
            monday
        ));
    }
}
