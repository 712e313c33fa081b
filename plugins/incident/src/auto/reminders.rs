//! Reminder planning: which repeating reminder is due at a given instant.
//!
//! Pure and clock-free: the caller passes `now` (from the core's clock, so tests drive it with
//! the ManualClock) and persists [`Schedule`] (the `last_sent_at`, `count`, `snoozed_until`
//! columns of the design's ReminderState). Delivery and the store live elsewhere.

use jiff::{SignedDuration, Timestamp};

use crate::util::timeslot::Timeslot;

/// How often a reminder repeats and how many times at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Time after the start (and between two sends).
    pub every: SignedDuration,
    /// Most sends; `None` repeats until the condition clears.
    pub max: Option<u32>,
}

impl Cadence {
    /// No severity: every 5 min, at most 5 times (Monzo).
    pub const NO_SEVERITY: Cadence = Cadence {
        every: SignedDuration::from_secs(5 * 60),
        max: Some(5),
    };
    /// No lead: every 2 min, at most 5 times (Monzo).
    pub const NO_LEAD: Cadence = Cadence {
        every: SignedDuration::from_secs(2 * 60),
        max: Some(5),
    };
}

/// Persisted progress of one reminder on one incident.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// When it was last sent.
    pub last_sent_at: Option<Timestamp>,
    /// How many times it was sent.
    pub count: u32,
    /// No send before this instant (`snooze`).
    pub snoozed_until: Option<Timestamp>,
}

impl Schedule {
    /// Whether the reminder should be sent at `now`: the cadence has elapsed since `since`
    /// (when the condition started, e.g. the declaration or the last update) or since the last
    /// send, the maximum is not reached, it is not snoozed and `now` is outside `quiet`.
    pub fn is_due(
        &self,
        cadence: Cadence,
        since: Timestamp,
        now: Timestamp,
        quiet: Option<&Timeslot>,
    ) -> bool {
        if cadence.max.is_some_and(|max| self.count >= max) {
            return false;
        }
        if self.snoozed_until.is_some_and(|until| now < until) {
            return false;
        }
        if quiet.is_some_and(|q| q.contains(now)) {
            return false;
        }
        let from = match self.last_sent_at {
            Some(last) if last > since => last,
            _ => since,
        };
        now.duration_since(from) >= cadence.every
    }

    /// Record a send at `now`.
    pub fn sent(&mut self, now: Timestamp) {
        self.last_sent_at = Some(now);
        self.count = self.count.saturating_add(1);
    }

    /// Delay the next send until `now + by` (the count is kept).
    pub fn snooze(&mut self, now: Timestamp, by: SignedDuration) {
        self.snoozed_until = now.checked_add(by).ok();
    }

    /// Start over (the condition cleared and came back, e.g. a status update was posted).
    pub fn reset(&mut self) {
        *self = Schedule::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Walk a clock minute by minute and collect the minutes at which the reminder fires.
    fn fire_minutes(
        cadence: Cadence,
        sched: &mut Schedule,
        start: Timestamp,
        minutes: i64,
    ) -> Vec<i64> {
        let mut fired = Vec::new();
        for m in 0..=minutes {
            let now = start + SignedDuration::from_mins(m);
            if sched.is_due(cadence, start, now, None) {
                sched.sent(now);
                fired.push(m);
            }
        }
        fired
    }

    #[test]
    fn no_lead_five_times_two_minutes_apart_then_silence() {
        let start = at("2025-03-03T10:00:00Z");
        let mut s = Schedule::default();
        assert_eq!(
            fire_minutes(Cadence::NO_LEAD, &mut s, start, 60),
            vec![2, 4, 6, 8, 10]
        );
        assert_eq!(s.count, 5);
    }

    #[test]
    fn snooze_delays() {
        let start = at("2025-03-03T10:00:00Z");
        let mut s = Schedule::default();
        let t2 = start + SignedDuration::from_mins(2);
        assert!(s.is_due(Cadence::NO_LEAD, start, t2, None));
        s.sent(t2);
        s.snooze(t2, SignedDuration::from_mins(30));
        let fired = fire_minutes(Cadence::NO_LEAD, &mut s, start, 40);
        assert_eq!(fired.first(), Some(&32));
    }

    #[test]
    fn quiet_hours_hold_back() {
        let quiet = Timeslot::parse("daily 22:00-07:00 UTC").unwrap();
        let start = at("2025-03-03T21:50:00Z");
        let s = Schedule::default();
        let every = Cadence {
            every: SignedDuration::from_mins(30),
            max: None,
        };
        assert!(!s.is_due(every, start, at("2025-03-03T22:30:00Z"), Some(&quiet)));
        assert!(s.is_due(every, start, at("2025-03-04T07:00:00Z"), Some(&quiet)));
    }

    #[test]
    fn reset_starts_over() {
        let start = at("2025-03-03T10:00:00Z");
        let mut s = Schedule::default();
        fire_minutes(Cadence::NO_SEVERITY, &mut s, start, 60);
        assert!(!s.is_due(
            Cadence::NO_SEVERITY,
            start,
            start + SignedDuration::from_hours(2),
            None
        ));
        s.reset();
        assert!(s.is_due(
            Cadence::NO_SEVERITY,
            start,
            start + SignedDuration::from_hours(2),
            None
        ));
    }
}
