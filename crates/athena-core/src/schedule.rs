//! When `serve` runs a source: a source's `schedule` (a duration, a 5-field cron expression in
//! UTC, or `live`), its per-type default, jitter and the backoff of a failing source.
//!
//! Everything here is pure: the caller passes the time and the random number, so every result is
//! reproducible. Guarantees:
//! - a cron schedule never fires early: jitter only delays, by less than 10% of the gap to the
//!   fire after, so jittered fires stay in order;
//! - a schedule that parses fires: a cron expression no date matches (`0 0 30 2 *`) is refused;
//! - a failing source waits at least its own interval, twice as long per consecutive failure, and
//!   never longer than [`MAX_BACKOFF`] (unless its interval is longer) before it is tried again.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};

/// The schedule of a source type that declares none
/// ([`SourceType::schedule`](crate::SourceType::schedule)): every 5 minutes.
pub const DEFAULT_SCHEDULE: &str = "5m";

/// The longest a failing source waits between tries, unless its own interval is longer.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);

/// The base of a live source's backoff: a live source that fails is restarted after 2 s, 4 s, …
pub const LIVE_RETRY_BASE: Duration = Duration::from_secs(1);

/// The longest duration a schedule may have; longer ones are meant as cron expressions.
const MAX_INTERVAL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Jitter adds less than this fraction (a tenth) of the interval, or of the gap to the following
/// cron fire.
const JITTER_DIVISOR: u32 = 10;

/// How many years ahead a cron search looks: the Gregorian calendar repeats every 400 years, so
/// an expression with no fire in that span has none at all (`0 0 29 2 */7`, 29 February on a
/// Sunday, can be 40 years away).
const CRON_SEARCH_YEARS: i32 = 400;

/// When a source runs under `serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schedule {
    /// Every so long (`"30s"`, `"5m"`, `"1h30m"`), counted from the previous run.
    Every(Duration),
    /// At the minutes a cron expression matches, in UTC.
    Cron(Cron),
    /// Always running, following its input (`"live"`).
    Live,
}

/// Why a `schedule` value is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// Nothing was given.
    #[error("empty schedule: use a duration (\"5m\", \"1h30m\"), a cron expression (\"*/15 * * * *\") or \"live\"")]
    Empty,
    /// A duration that is not one (`"5x"`, `"0s"`).
    #[error("invalid schedule {input:?}: {reason}")]
    Duration {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A cron expression with a wrong number of fields.
    #[error("invalid cron expression {input:?}: it has {found} fields, but needs 5 (minute hour day-of-month month day-of-week)")]
    CronFieldCount {
        /// What was given.
        input: String,
        /// How many fields it has.
        found: usize,
    },
    /// A cron field that is wrong.
    #[error("invalid cron expression {input:?}: {field} field {value:?}: {reason}")]
    CronField {
        /// What was given.
        input: String,
        /// `minute`, `hour`, `day-of-month`, `month`, `day-of-week`, or `macro` (`@often`).
        field: &'static str,
        /// The field as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A cron expression no date matches (`0 0 30 2 *`).
    #[error(
        "cron expression {input:?} never fires: no date has that day of the month in those months"
    )]
    CronNeverFires {
        /// What was given.
        input: String,
    },
}

impl Schedule {
    /// Parses a `schedule` value: `live`, a duration of `d`, `h`, `m` and `s` parts in that order
    /// (`30s`, `5m`, `1h30m`), a 5-field cron expression (`*/15 * * * *`, `0 9 * * mon-fri`) or a
    /// cron macro (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if text.eq_ignore_ascii_case("live") {
            return Ok(Schedule::Live);
        }
        if text.starts_with('@') || text.contains(char::is_whitespace) {
            return Cron::parse(text).map(Schedule::Cron);
        }
        parse_duration(text).map(Schedule::Every)
    }

    /// [`DEFAULT_SCHEDULE`]: what a source type that declares no schedule gets.
    pub fn fallback() -> Schedule {
        Schedule::Every(Duration::from_secs(5 * 60))
    }

    /// Whether the source runs all the time rather than at times.
    pub fn is_live(&self) -> bool {
        matches!(self, Schedule::Live)
    }

    /// The next run after `now`, without jitter: `now` plus the interval, or the first minute
    /// after `now` the cron expression matches (in UTC). `None` for a live source, which has no
    /// runs to schedule.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(d) => now.checked_add_signed(TimeDelta::from_std(*d).ok()?),
            Schedule::Cron(cron) => cron.next_after(now),
            Schedule::Live => None,
        }
    }

    /// [`Schedule::next_after`] delayed by jitter: `random` (in `[0, 1)`, from the caller's
    /// generator; values outside are clamped) times 10% of the interval, or of the gap from that
    /// cron fire to the one after. Sources on the same schedule so spread out instead of all
    /// calling their APIs in the same second.
    pub fn jittered_next_after(&self, now: DateTime<Utc>, random: f64) -> Option<DateTime<Utc>> {
        let next = self.next_after(now)?;
        let period = match self {
            Schedule::Every(d) => *d,
            Schedule::Cron(cron) => cron.gap_after(next)?,
            Schedule::Live => return None,
        };
        next.checked_add_signed(TimeDelta::from_std(jitter(period, random)).ok()?)
    }

    /// How long the source normally waits between runs, as of `now`: the interval, the gap
    /// between the next two cron fires, or [`LIVE_RETRY_BASE`] for a live source. The base of
    /// [`backoff`].
    pub fn interval(&self, now: DateTime<Utc>) -> Duration {
        match self {
            Schedule::Every(d) => *d,
            Schedule::Cron(cron) => cron
                .next_after(now)
                .and_then(|next| cron.gap_after(next))
                .unwrap_or(MAX_BACKOFF),
            Schedule::Live => LIVE_RETRY_BASE,
        }
    }

    /// When to run next after a run that ended at `now`: on schedule (with jitter) after a
    /// success (`consecutive_failures == 0`; `None` for a live source, which just keeps running),
    /// and after [`backoff`] of the schedule's interval (plus jitter of that delay) after a
    /// failure. The caller counts failures since the last success and resets the count on
    /// success.
    pub fn next_run(
        &self,
        now: DateTime<Utc>,
        consecutive_failures: u32,
        random: f64,
    ) -> Option<DateTime<Utc>> {
        if consecutive_failures == 0 {
            return self.jittered_next_after(now, random);
        }
        let delay = backoff(self.interval(now), consecutive_failures);
        let delay = delay.saturating_add(jitter(delay, random));
        now.checked_add_signed(TimeDelta::from_std(delay).ok()?)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => f.write_str(&format_duration(*d)),
            Schedule::Cron(cron) => f.write_str(&cron.text),
            Schedule::Live => f.write_str("live"),
        }
    }
}

impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How long a source that failed `consecutive_failures` times in a row waits before its next
/// try: `interval` doubled per failure (2×, 4×, 8×, …), at most [`MAX_BACKOFF`] but never less
/// than `interval` itself, so backing off never runs a source more often than its schedule.
/// With no failures it is `interval`.
pub fn backoff(interval: Duration, consecutive_failures: u32) -> Duration {
    // 2^31 × anything is past the cap; stopping there keeps the shift in range.
    let factor = 1u32 << consecutive_failures.min(31);
    let grown = interval.checked_mul(factor).unwrap_or(Duration::MAX);
    grown.min(MAX_BACKOFF).max(interval)
}

/// `random` (clamped to `[0, 1)`) times a tenth of `period`, always less than that tenth.
fn jitter(period: Duration, random: f64) -> Duration {
    let random = if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0)
    };
    let bound = period / JITTER_DIVISOR;
    // Float rounding (or `random == 1.0` after clamping) could reach the bound; it is exclusive.
    let below_bound = bound.saturating_sub(Duration::from_nanos(1));
    bound.mul_f64(random).min(below_bound)
}

/// Parses `1h30m`, `90s`, `2d`: parts of digits and a unit (`d`, `h`, `m`, `s`), each unit at
/// most once and from the largest down.
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let err = |reason: &str| ScheduleError::Duration {
        input: text.to_owned(),
        reason: reason.to_owned(),
    };
    let units: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut rest = text;
    let mut seconds: u64 = 0;
    let mut next_unit = 0; // index into `units`: units must come largest first
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("not a duration, a cron expression (5 fields) or \"live\"; a duration is a number and a unit, like 30s, 5m, 1h or 1h30m"));
        }
        let (number, tail) = rest.split_at(digits);
        let Some(unit) = tail.chars().next() else {
            return Err(err(&format!(
                "{number} has no unit; write {number}s, {number}m, {number}h or {number}d"
            )));
        };
        let Some(index) = units.iter().position(|(u, _)| *u == unit) else {
            return Err(err(&format!(
                "unknown unit {unit:?}: the units are d, h, m and s"
            )));
        };
        if index < next_unit {
            return Err(err(
                "write each unit once, largest first (1h30m, not 30m1h)",
            ));
        }
        next_unit = index + 1;
        let part = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(units[index].1))
            .ok_or_else(|| err("too long"))?;
        seconds = seconds.checked_add(part).ok_or_else(|| err("too long"))?;
        rest = &tail[unit.len_utf8()..];
    }
    let duration = Duration::from_secs(seconds);
    if duration.is_zero() {
        return Err(err("a schedule must be longer than 0s"));
    }
    if duration > MAX_INTERVAL {
        return Err(err("longer than 366 days; use a cron expression"));
    }
    Ok(duration)
}

/// `1h30m`, `5m`, `45s`, `2d`: the shortest text that [`parse_duration`] reads back.
fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// A 5-field cron expression (minute, hour, day of month, month, day of week), matched in UTC.
///
/// Each field is `*`, a value, a range `a-b`, any of those with a step (`*/15`, `1-30/2`, `5/10`
/// meaning `5-max/10`), or a comma list of them. Months take `jan`…`dec`, days of the week
/// `sun`…`sat`; Sunday is 0 or 7. As in Vixie cron, when both day fields are restricted (neither
/// starts with `*`) a day matches if **either** does (`0 0 1 * mon`: the 1st and every Monday);
/// otherwise it must match both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// Both day fields are restricted: the OR rule applies.
    either_day: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
// 7 is Sunday too; it is folded onto 0 after parsing.
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Cron {
    /// Parses a 5-field expression or a macro (`@hourly`, `@daily`/`@midnight`, `@weekly`,
    /// `@monthly`, `@yearly`/`@annually`).
    pub fn parse(text: &str) -> Result<Cron, ScheduleError> {
        let text = text.trim();
        let expanded = match text.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            _ if text.starts_with('@') => {
                return Err(ScheduleError::CronField {
                    input: text.to_owned(),
                    field: "macro",
                    value: text.to_owned(),
                    reason:
                        "unknown; the macros are @hourly, @daily, @weekly, @monthly and @yearly"
                            .to_owned(),
                })
            }
            _ => text,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(ScheduleError::CronFieldCount {
                input: text.to_owned(),
                found: fields.len(),
            });
        };
        let parse = |field: &Field, value: &str| {
            parse_field(field, value).map_err(|reason| ScheduleError::CronField {
                input: text.to_owned(),
                field: field.name,
                value: value.to_owned(),
                reason,
            })
        };
        let mut days_of_week = parse(&DAY_OF_WEEK, dow)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week & !(1 << 7)) | 1;
        }
        let cron = Cron {
            text: text.to_owned(),
            minutes: parse(&MINUTE, minute)?,
            hours: parse(&HOUR, hour)?,
            days_of_month: parse(&DAY_OF_MONTH, dom)?,
            months: parse(&MONTH, month)?,
            days_of_week,
            either_day: !dom.starts_with('*') && !dow.starts_with('*'),
        };
        // Any expression that can fire does so within the search window from any start.
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        if epoch.and_then(|t| cron.next_after(t)).is_none() {
            return Err(ScheduleError::CronNeverFires {
                input: text.to_owned(),
            });
        }
        Ok(cron)
    }

    /// The first whole minute strictly after `now` that the expression matches, in UTC; `None`
    /// only near the end of chrono's calendar (year 262143).
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = now
            .naive_utc()
            .with_second(0)?
            .with_nanosecond(0)?
            .checked_add_signed(TimeDelta::minutes(1))?;
        let last_year = start.year().checked_add(CRON_SEARCH_YEARS)?;
        let mut t = start;
        // Each step skips a whole month, day, hour or minute that cannot match: a few thousand
        // steps for a fire a year away, some ten thousand for one decades away.
        while t.year() <= last_year {
            if !bit(self.months, t.month()) {
                t = first_of_next_month(t)?;
            } else if !self.day_matches(t.date()) {
                t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
            } else if !bit(self.hours, t.hour()) {
                t = t.with_minute(0)?.checked_add_signed(TimeDelta::hours(1))?;
            } else if !bit(self.minutes, t.minute()) {
                t = t.checked_add_signed(TimeDelta::minutes(1))?;
            } else {
                return Some(t.and_utc());
            }
        }
        None
    }

    /// The gap from fire `at` to the fire after it.
    fn gap_after(&self, at: DateTime<Utc>) -> Option<Duration> {
        (self.next_after(at)? - at).to_std().ok()
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = bit(self.days_of_month, date.day());
        let dow = bit(self.days_of_week, date.weekday().num_days_from_sunday());
        if self.either_day {
            dom || dow
        } else {
            dom && dow
        }
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn bit(set: u64, n: u32) -> bool {
    set & (1 << n) != 0
}

fn first_of_next_month(t: NaiveDateTime) -> Option<NaiveDateTime> {
    let (year, month) = if t.month() == 12 {
        (t.year().checked_add(1)?, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)?.and_hms_opt(0, 0, 0)
}

/// The set of values a field selects, as bits; the error says what is wrong.
fn parse_field(field: &Field, text: &str) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err("an empty list item".to_owned());
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("step {step:?} is not a number"))?;
                if step == 0 {
                    return Err("a step must be at least 1".to_owned());
                }
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(field, a)?, value(field, b)?);
            if a > b {
                return Err(format!("range {range:?} runs backwards"));
            }
            (a, b)
        } else {
            let a = value(field, range)?;
            // `5/10` is `5-max/10`, as in Vixie cron.
            (a, if step.is_some() { field.max } else { a })
        };
        let step = step.unwrap_or(1) as usize;
        for n in (low..=high).step_by(step) {
            set |= 1 << n;
        }
    }
    Ok(set)
}

/// One value of a field: a number in range, or a name (`jan`, `mon`).
fn value(field: &Field, text: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|n| *n == lower) {
        // Month names start at 1, day names at 0 (Sunday).
        return Ok(i as u32 + field.min);
    }
    let n: u32 = text.parse().map_err(|_| {
        if field.names.is_empty() {
            format!("{text:?} is not a number")
        } else {
            format!(
                "{text:?} is neither a number nor a name ({}…)",
                field.names[..3].join(", ")
            )
        }
    })?;
    if n < field.min || n > field.max {
        return Err(format!("{n} is out of range {}-{}", field.min, field.max));
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
