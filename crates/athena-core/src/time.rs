//! Time arguments as users type them: RFC 3339 or relative (`7d`, `12h`, `30m`, `2w`).

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Parses `7d`, `12h`, `30m`, `45s`, `2w` (that long before `now`), an RFC 3339 time, or a date
/// (`2024-05-01`, midnight UTC).
pub fn parse_time_arg(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    if let Some(date) = date_prefix(s) {
        // It is meant as a date or a time, not a relative span: say what is wrong with it.
        if let Some(why) = impossible_date(date) {
            return Err(format!("invalid time {s:?}: {why}"));
        }
        let why = DateTime::parse_from_rfc3339(s)
            .err()
            .map_or_else(String::new, |e| format!(" ({e})"));
        return Err(format!(
            "invalid time {s:?}: not a date (2024-05-01) nor an RFC 3339 time (2024-05-01T12:00:00Z){why}"
        ));
    }
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(unit_at);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid time {s:?}: use RFC 3339 (2024-05-01T12:00:00Z), a date, or a relative time like 7d, 12h, 30m"))?;
    let span = match unit {
        "s" => Duration::try_seconds(n),
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    }
    .ok_or_else(|| format!("invalid time {s:?}: the unit must be s, m, h, d or w"))?;
    now.checked_sub_signed(span)
        .ok_or_else(|| format!("invalid time {s:?}: too far in the past"))
}

/// Whether `s` counts back from now (`7d`) rather than naming an instant: what
/// [`parse_time_arg`] would read as a span, valid or not.
pub fn is_relative_time_arg(s: &str) -> bool {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s).is_err() && date_prefix(s).is_none()
}

/// Refuses a window that ends before it starts: `since` after `until` asks for nothing, which
/// is a mistake (swapped or mistyped), not an empty answer. Equal is an empty window
/// (`until` is exclusive), and allowed. The message names `until` as the caller calls it.
pub fn check_window(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    until_name: &str,
) -> Result<(), String> {
    match (since, until) {
        (Some(s), Some(u)) if s > u => Err(format!(
            "{} is after {until_name} ({}): nothing can happen in that window (swapped?)",
            s.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            u.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )),
        _ => Ok(()),
    }
}

/// The `YYYY-MM-DD` that `s` starts with, if it does.
fn date_prefix(s: &str) -> Option<&str> {
    let date = s.get(..10)?;
    let shaped = date.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        _ => b.is_ascii_digit(),
    });
    shaped.then_some(date)
}

/// Why a `YYYY-MM-DD` names no day (`2024-02-30`: February 2024 has 29 days), or `None` if it
/// names one.
fn impossible_date(date: &str) -> Option<String> {
    let number = |r: std::ops::Range<usize>| date[r].parse::<u32>().ok();
    let (year, month, day) = (number(0..4)? as i32, number(5..7)?, number(8..10)?);
    let Some(name) = u8::try_from(month)
        .ok()
        .and_then(|m| chrono::Month::try_from(m).ok())
        .map(|m| m.name())
    else {
        return Some(format!(
            "{date} is not a valid date: there is no month {month}"
        ));
    };
    let days = (28..=31)
        .rev()
        .find(|&d| NaiveDate::from_ymd_opt(year, month, d).is_some())?;
    (day == 0 || day > days).then(|| {
        format!("{date} is not a valid date: {name} {year} has {days} days, so no day {day}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn relative_times_are_told_from_instants_and_a_window_must_not_end_before_it_starts() {
        for s in ["7d", " 12h", "30m", "x"] {
            assert!(is_relative_time_arg(s), "{s}");
        }
        for s in ["2024-05-01", "2024-05-01T12:00:00Z", "2024-02-30"] {
            assert!(!is_relative_time_arg(s), "{s}");
        }
        let t = |s: &str| Some(parse_time_arg(s, now()).unwrap());
        assert!(check_window(t("2024-05-01"), t("2024-05-02"), "until").is_ok());
        assert!(check_window(t("2024-05-01"), t("2024-05-01"), "until").is_ok());
        assert!(check_window(t("2024-05-01"), None, "until").is_ok());
        let e = check_window(t("2024-05-02"), t("2024-05-01"), "until").unwrap_err();
        assert_eq!(
            e,
            "2024-05-02T00:00:00Z is after until (2024-05-01T00:00:00Z): nothing can happen in that window (swapped?)"
        );
    }

    #[test]
    fn relative_times_count_back_from_now() {
        assert_eq!(
            parse_time_arg("7d", now()).unwrap().to_rfc3339(),
            "2024-05-03T12:00:00+00:00"
        );
        assert_eq!(
            parse_time_arg("12h", now()).unwrap().to_rfc3339(),
            "2024-05-10T00:00:00+00:00"
        );
        assert_eq!(
            parse_time_arg("30m", now()).unwrap().to_rfc3339(),
            "2024-05-10T11:30:00+00:00"
        );
        assert_eq!(
            parse_time_arg("1w", now()).unwrap().to_rfc3339(),
            "2024-05-03T12:00:00+00:00"
        );
    }

    #[test]
    fn absolute_times_and_dates() {
        assert_eq!(
            parse_time_arg("2024-01-02T03:04:05+01:00", now())
                .unwrap()
                .to_rfc3339(),
            "2024-01-02T02:04:05+00:00"
        );
        assert_eq!(
            parse_time_arg("2024-01-02", now()).unwrap().to_rfc3339(),
            "2024-01-02T00:00:00+00:00"
        );
    }

    #[test]
    fn an_impossible_date_says_which_day_is_missing_not_which_units_exist() {
        let e = parse_time_arg("2024-02-30", now()).unwrap_err();
        assert_eq!(
            e,
            "invalid time \"2024-02-30\": 2024-02-30 is not a valid date: February 2024 has 29 days, so no day 30"
        );
        let e = parse_time_arg("2023-13-01", now()).unwrap_err();
        assert!(e.contains("there is no month 13"), "{e}");
        let e = parse_time_arg("2024-02-30T10:00:00Z", now()).unwrap_err();
        assert!(e.contains("February 2024 has 29 days"), "{e}");
        // A real day with a bad time of day: the time is what is wrong.
        let e = parse_time_arg("2024-02-03T25:00:00Z", now()).unwrap_err();
        assert!(
            e.contains("not a date (2024-05-01) nor an RFC 3339 time"),
            "{e}"
        );
        assert!(!e.contains("unit"), "{e}");
    }

    #[test]
    fn nonsense_is_an_error_that_says_what_is_accepted() {
        let e = parse_time_arg("yesterday", now()).unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
        let e = parse_time_arg("5y", now()).unwrap_err();
        assert!(e.contains("unit"), "{e}");
    }
}
