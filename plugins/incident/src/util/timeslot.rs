//! Notification timeslots such as `mon-fri 08:00-16:00 Europe/Oslo` (Argus notification
//! profiles): days, a local start–end time and an IANA time zone, evaluated DST-correctly.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

/// Why a timeslot was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeslotError {
    /// Not three parts `DAYS START-END ZONE`.
    #[error("timeslot `{0}` must look like `mon-fri 08:00-16:00 Europe/Oslo`")]
    Shape(String),
    /// Unknown day name or range.
    #[error(
        "unknown day `{0}` (use mon tue wed thu fri sat sun, ranges like mon-fri, lists like sat,sun, or daily)"
    )]
    Day(String),
    /// Bad time range.
    #[error("`{0}` is not a time range like 08:00-16:00")]
    Range(String),
    /// Unknown time zone.
    #[error("unknown time zone `{0}` (use an IANA name such as Europe/Oslo or UTC)")]
    Zone(String),
}

/// Days of the week, a local time window and the zone it is read in. A window whose end is
/// not after its start runs over midnight into the next day (`fri 22:00-06:00` covers Friday
/// night until Saturday 06:00).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeslot {
    days: [bool; 7],
    start: Time,
    end: Time,
    tz: TimeZone,
    text: String,
}

const DAYS_FULL: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Monday-zero index of a day name: at least its first three letters (`mon`, `tues`, `friday`).
fn day_index(name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    if name.len() < 3 {
        return None;
    }
    DAYS_FULL
        .iter()
        .position(|full| full.starts_with(name.as_str()))
}

fn weekday_index(w: Weekday) -> usize {
    usize::from(w.to_monday_zero_offset().unsigned_abs())
}

impl Timeslot {
    /// Parse `DAYS START-END ZONE`, e.g. `mon-fri 08:00-16:00 Europe/Oslo`,
    /// `sat,sun 00:00-24:00 UTC`, `daily 22:00-06:00 America/New_York`.
    pub fn parse(text: &str) -> Result<Timeslot, TimeslotError> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [days_text, range_text, zone_text] = parts.as_slice() else {
            return Err(TimeslotError::Shape(text.trim().to_owned()));
        };
        let mut days = [false; 7];
        if matches!(
            days_text.to_ascii_lowercase().as_str(),
            "daily" | "all" | "*"
        ) {
            days = [true; 7];
        } else {
            for item in days_text.split(',').filter(|s| !s.is_empty()) {
                let bad = || TimeslotError::Day(item.to_owned());
                match item.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day_index(a).ok_or_else(bad)?, day_index(b).ok_or_else(bad)?);
                        let mut i = a;
                        loop {
                            days[i] = true;
                            if i == b {
                                break;
                            }
                            i = (i + 1) % 7;
                        }
                    }
                    None => days[day_index(item).ok_or_else(bad)?] = true,
                }
            }
            if !days.iter().any(|d| *d) {
                return Err(TimeslotError::Day((*days_text).to_owned()));
            }
        }
        let bad_range = || TimeslotError::Range((*range_text).to_owned());
        let (a, b) = range_text.split_once('-').ok_or_else(bad_range)?;
        let start: Time = a.parse().map_err(|_| bad_range())?;
        let end: Time = if b == "24:00" {
            Time::MIN
        } else {
            b.parse().map_err(|_| bad_range())?
        };
        let tz =
            TimeZone::get(zone_text).map_err(|_| TimeslotError::Zone((*zone_text).to_owned()))?;
        Ok(Timeslot {
            days,
            start,
            end,
            tz,
            text: parts.join(" "),
        })
    }

    /// Whether `ts` falls inside the slot (start inclusive, end exclusive), read in the
    /// slot's own time zone.
    pub fn contains(&self, ts: Timestamp) -> bool {
        let local = ts.to_zoned(self.tz.clone());
        let day = weekday_index(local.weekday());
        let time = local.time();
        if self.start < self.end {
            self.days[day] && self.start <= time && time < self.end
        } else {
            // Over midnight (or the whole day when start == end).
            let yesterday = (day + 6) % 7;
            (self.days[day] && time >= self.start) || (self.days[yesterday] && time < self.end)
        }
    }
}

impl fmt::Display for Timeslot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn weekdays_in_oslo() {
        let slot = Timeslot::parse("mon-fri 08:00-16:00 Europe/Oslo").unwrap();
        // Monday 2025-03-03 09:00 Oslo = 08:00 UTC.
        assert!(slot.contains(at("2025-03-03T08:00:00Z")));
        // Monday 07:30 Oslo: before the window.
        assert!(!slot.contains(at("2025-03-03T06:30:00Z")));
        // Saturday 2025-03-08 10:00 Oslo.
        assert!(!slot.contains(at("2025-03-08T09:00:00Z")));
        // Friday 15:59 in, 16:00 out.
        assert!(slot.contains(at("2025-03-07T14:59:00Z")));
        assert!(!slot.contains(at("2025-03-07T15:00:00Z")));
    }

    #[test]
    fn dst_edge() {
        let slot = Timeslot::parse("mon-fri 08:00-16:00 Europe/Oslo").unwrap();
        // Oslo went to UTC+2 on Sunday 2025-03-30. Monday 2025-03-31 07:30 UTC is 09:30 local.
        assert!(slot.contains(at("2025-03-31T07:30:00Z")));
        // 06:30 UTC is 08:30 local after DST (inside), but would be 07:30 without DST.
        assert!(slot.contains(at("2025-03-31T06:30:00Z")));
        // 14:30 UTC is 16:30 local: outside after DST.
        assert!(!slot.contains(at("2025-03-31T14:30:00Z")));
        // The week before (UTC+1) 14:30 UTC is 15:30 local: inside.
        assert!(slot.contains(at("2025-03-24T14:30:00Z")));
    }

    #[test]
    fn lists_overnight_and_whole_days() {
        let weekend = Timeslot::parse("sat,sun 00:00-24:00 UTC").unwrap();
        assert!(weekend.contains(at("2025-03-08T23:59:00Z")));
        assert!(!weekend.contains(at("2025-03-10T00:00:00Z")));
        let night = Timeslot::parse("fri 22:00-06:00 UTC").unwrap();
        assert!(night.contains(at("2025-03-07T23:00:00Z")));
        assert!(night.contains(at("2025-03-08T05:00:00Z")));
        assert!(!night.contains(at("2025-03-08T07:00:00Z")));
        assert!(!night.contains(at("2025-03-06T23:00:00Z")));
        let wrap = Timeslot::parse("sat-mon 10:00-11:00 UTC").unwrap();
        assert!(wrap.contains(at("2025-03-09T10:30:00Z")));
        assert!(!wrap.contains(at("2025-03-11T10:30:00Z")));
        assert_eq!(wrap.to_string(), "sat-mon 10:00-11:00 UTC");
        assert!(Timeslot::parse("Monday-Friday 08:00-16:00 UTC").is_ok());
    }

    #[test]
    fn bad_slots() {
        assert!(matches!(
            Timeslot::parse("mon-fri 08:00-16:00"),
            Err(TimeslotError::Shape(_))
        ));
        assert!(matches!(
            Timeslot::parse("mo 08:00-16:00 UTC"),
            Err(TimeslotError::Day(_))
        ));
        assert!(matches!(
            Timeslot::parse("xyz 08:00-16:00 UTC"),
            Err(TimeslotError::Day(_))
        ));
        assert!(matches!(
            Timeslot::parse("mon 8-16 UTC"),
            Err(TimeslotError::Range(_))
        ));
        assert!(matches!(
            Timeslot::parse("mon 08:00-16:00 Mars/Olympus"),
            Err(TimeslotError::Zone(_))
        ));
    }
}
