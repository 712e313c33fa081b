//! Durations and points in time as people type and read them in chat.

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// Longest accepted duration: one year.
pub const MAX_DURATION_SECS: i64 = 366 * 86_400;

/// Why a duration or time was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    /// Empty text.
    #[error("empty duration or time")]
    Empty,
    /// Not a duration such as `90s`, `30m`, `2h`, `1d`, `1h30m`.
    #[error("`{0}` is not a duration (examples: 90s, 30m, 2h, 1d, 1h30m)")]
    BadDuration(String),
    /// Larger than [`MAX_DURATION_SECS`].
    #[error("duration `{0}` is too long (at most 366 days)")]
    TooLong(String),
    /// Not a time such as `14:05`, `2025-03-04 14:05`, RFC 3339 or `-10m`.
    #[error("`{0}` is not a time (examples: 14:05, 2025-03-04 14:05, 2025-03-04T14:05:00Z, -10m)")]
    BadTime(String),
    /// A local time that does not exist or cannot be placed in the time zone.
    #[error("`{0}` cannot be placed in time zone {1}")]
    OutOfZone(String, String),
}

/// Parse a duration: one or more `<number><unit>` parts, units `s`/`sec`, `m`/`min`,
/// `h`/`hr`, `d`, `w`; spaces allowed between parts (`1h30m`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<SignedDuration, TimeError> {
    let src = text.trim();
    if src.is_empty() {
        return Err(TimeError::Empty);
    }
    let bad = || TimeError::BadDuration(src.to_owned());
    let mut total: i64 = 0;
    let mut rest = src;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| TimeError::TooLong(src.to_owned()))?;
        rest = rest[digits..].trim_start();
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = match rest[..letters].to_ascii_lowercase().as_str() {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return Err(bad()),
        };
        rest = rest[letters..].trim_start();
        total = number
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| TimeError::TooLong(src.to_owned()))?;
    }
    if total > MAX_DURATION_SECS {
        return Err(TimeError::TooLong(src.to_owned()));
    }
    Ok(SignedDuration::from_secs(total))
}

/// Parse a point in time relative to `now`, local times read in `tz`:
/// `14:05` (today in `tz`), `2025-03-04 14:05` or `2025-03-04T14:05` (in `tz`),
/// RFC 3339 / ISO 8601 with an offset (`2025-03-04T14:05:00Z`), or `-10m` (that long ago).
pub fn parse_when(s: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, TimeError> {
    let src = s.trim();
    if src.is_empty() {
        return Err(TimeError::Empty);
    }
    let bad = || TimeError::BadTime(src.to_owned());
    if let Some(ago) = src.strip_prefix('-') {
        let d = parse_duration(ago).map_err(|_| bad())?;
        return now.checked_sub(d).map_err(|_| bad());
    }
    if let Ok(ts) = src.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(z) = src.parse::<Zoned>() {
        return Ok(z.timestamp());
    }
    let place = |dt: DateTime| {
        tz.to_ambiguous_zoned(dt)
            .compatible()
            .map(|z| z.timestamp())
            .map_err(|_| {
                TimeError::OutOfZone(
                    src.to_owned(),
                    tz.iana_name().unwrap_or("the configured zone").to_owned(),
                )
            })
    };
    if let Ok(dt) = src.parse::<DateTime>() {
        return place(dt);
    }
    if let Ok(t) = src.parse::<Time>() {
        let today = now.to_zoned(tz.clone()).date();
        return place(today.to_datetime(t));
    }
    Err(bad())
}

/// `2025-03-04 14:05 UTC`, followed by the time in `tz` when given and not UTC:
/// `2025-03-04 14:05 UTC (15:05 Europe/Oslo)` — the date is repeated when it differs.
pub fn format_ts(ts: Timestamp, tz: Option<&TimeZone>) -> String {
    let utc = ts.to_zoned(TimeZone::UTC);
    let mut out = utc.strftime("%Y-%m-%d %H:%M UTC").to_string();
    if let Some(tz) = tz {
        let local = ts.to_zoned(tz.clone());
        if local.offset() != utc.offset() || tz.iana_name().is_some_and(|n| n != "UTC") {
            let name = tz
                .iana_name()
                .map(str::to_owned)
                .unwrap_or_else(|| local.strftime("%:z").to_string());
            if name != "UTC" && name != "Etc/UTC" {
                let clock = if local.date() == utc.date() {
                    local.strftime("%H:%M").to_string()
                } else {
                    local.strftime("%Y-%m-%d %H:%M").to_string()
                };
                out.push_str(&format!(" ({clock} {name})"));
            }
        }
    }
    out
}

/// Human duration with the largest unit and the next one when not zero:
/// `45 s`, `1 h 12 min`, `2 d 3 h`, `0 s`; negative durations get a leading `-`.
pub fn format_duration(d: SignedDuration) -> String {
    let secs = d.as_secs();
    let sign = if secs < 0 { "-" } else { "" };
    let mut left = secs.unsigned_abs();
    let units: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let mut parts = [0u64; 4];
    for (i, (size, _)) in units.iter().enumerate() {
        parts[i] = left / size;
        left %= size;
    }
    let Some(first) = parts.iter().position(|&p| p > 0) else {
        return "0 s".to_owned();
    };
    let mut out = format!("{sign}{} {}", parts[first], units[first].1);
    if let Some(&next) = parts.get(first + 1)
        && next > 0
    {
        out.push_str(&format!(" {next} {}", units[first + 1].1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("90s").unwrap(),
            SignedDuration::from_secs(90)
        );
        assert_eq!(
            parse_duration("30m").unwrap(),
            SignedDuration::from_mins(30)
        );
        assert_eq!(parse_duration("2h").unwrap(), SignedDuration::from_hours(2));
        assert_eq!(
            parse_duration("1d").unwrap(),
            SignedDuration::from_hours(24)
        );
        assert_eq!(
            parse_duration("1h30m").unwrap(),
            SignedDuration::from_mins(90)
        );
        assert_eq!(
            parse_duration(" 1h 30min ").unwrap(),
            SignedDuration::from_mins(90)
        );
    }

    #[test]
    fn bad_durations() {
        assert_eq!(parse_duration(""), Err(TimeError::Empty));
        assert!(matches!(
            parse_duration("soon"),
            Err(TimeError::BadDuration(_))
        ));
        assert!(matches!(
            parse_duration("10"),
            Err(TimeError::BadDuration(_))
        ));
        assert!(matches!(
            parse_duration("10x"),
            Err(TimeError::BadDuration(_))
        ));
        assert!(matches!(
            parse_duration("-5m"),
            Err(TimeError::BadDuration(_))
        ));
        assert!(matches!(parse_duration("400d"), Err(TimeError::TooLong(_))));
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(TimeError::TooLong(_))
        ));
    }

    #[test]
    fn when() {
        let now = ts("2025-03-04T12:00:00Z");
        let oslo = TimeZone::get("Europe/Oslo").unwrap();
        // Oslo is UTC+1 in March before DST.
        assert_eq!(
            parse_when("14:05", now, &oslo).unwrap(),
            ts("2025-03-04T13:05:00Z")
        );
        assert_eq!(
            parse_when("14:05", now, &TimeZone::UTC).unwrap(),
            ts("2025-03-04T14:05:00Z")
        );
        assert_eq!(
            parse_when("2025-03-04 14:05", now, &oslo).unwrap(),
            ts("2025-03-04T13:05:00Z")
        );
        assert_eq!(
            parse_when("2025-03-04T14:05:00Z", now, &oslo).unwrap(),
            ts("2025-03-04T14:05:00Z")
        );
        assert_eq!(
            parse_when("2025-03-04T14:05:00+02:00", now, &oslo).unwrap(),
            ts("2025-03-04T12:05:00Z")
        );
        assert_eq!(
            parse_when("-10m", now, &oslo).unwrap(),
            ts("2025-03-04T11:50:00Z")
        );
        assert!(matches!(
            parse_when("yesterday", now, &oslo),
            Err(TimeError::BadTime(_))
        ));
        assert!(matches!(
            parse_when("25:00", now, &oslo),
            Err(TimeError::BadTime(_))
        ));
        assert_eq!(parse_when(" ", now, &oslo), Err(TimeError::Empty));
    }

    #[test]
    fn formats() {
        let t = ts("2025-03-04T14:05:30Z");
        assert_eq!(format_ts(t, None), "2025-03-04 14:05 UTC");
        assert_eq!(format_ts(t, Some(&TimeZone::UTC)), "2025-03-04 14:05 UTC");
        let oslo = TimeZone::get("Europe/Oslo").unwrap();
        assert_eq!(
            format_ts(t, Some(&oslo)),
            "2025-03-04 14:05 UTC (15:05 Europe/Oslo)"
        );
        let late = ts("2025-03-04T23:30:00Z");
        assert_eq!(
            format_ts(late, Some(&oslo)),
            "2025-03-04 23:30 UTC (2025-03-05 00:30 Europe/Oslo)"
        );
    }

    #[test]
    fn durations_formatted() {
        assert_eq!(format_duration(SignedDuration::from_secs(45)), "45 s");
        assert_eq!(
            format_duration(SignedDuration::from_secs(72 * 60)),
            "1 h 12 min"
        );
        assert_eq!(
            format_duration(SignedDuration::from_secs(2 * 86_400 + 3 * 3_600)),
            "2 d 3 h"
        );
        assert_eq!(format_duration(SignedDuration::from_secs(3_605)), "1 h");
        assert_eq!(format_duration(SignedDuration::ZERO), "0 s");
        assert_eq!(
            format_duration(SignedDuration::from_secs(-90)),
            "-1 min 30 s"
        );
    }
}
