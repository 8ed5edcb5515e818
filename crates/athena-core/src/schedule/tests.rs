use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn cron(s: &str) -> Cron {
    match Schedule::parse(s).unwrap() {
        Schedule::Cron(c) => c,
        other => panic!("{s:?} parsed as {other:?}"),
    }
}

/// The next `n` fires after `from`, as RFC 3339 text.
fn fires(expr: &str, from: &str, n: usize) -> Vec<String> {
    let c = cron(expr);
    let mut t = at(from);
    (0..n)
        .map(|_| {
            t = c.next_after(t).unwrap();
            t.to_rfc3339()
        })
        .collect()
}

fn err(s: &str) -> String {
    Schedule::parse(s).unwrap_err().to_string()
}

const MIN: Duration = Duration::from_secs(60);

#[test]
fn durations_parse_in_every_form() {
    let every = |s| Schedule::parse(s).unwrap();
    assert_eq!(every("30s"), Schedule::Every(Duration::from_secs(30)));
    assert_eq!(every("5m"), Schedule::Every(5 * MIN));
    assert_eq!(every("1h"), Schedule::Every(60 * MIN));
    assert_eq!(every("1h30m"), Schedule::Every(90 * MIN));
    assert_eq!(
        every("1d2h3m4s"),
        Schedule::Every(Duration::from_secs(93_784))
    );
    assert_eq!(every(" 90s "), Schedule::Every(Duration::from_secs(90)));
    assert_eq!(every("live"), Schedule::Live);
    assert_eq!(every("Live"), Schedule::Live);
    assert!(every("live").is_live());
    assert!(!every("5m").is_live());
}

#[test]
fn a_schedule_prints_as_it_parses() {
    for (text, shown) in [
        ("1h30m", "1h30m"),
        ("90s", "1m30s"),
        ("120m", "2h"),
        ("live", "live"),
        ("*/15 * * * mon-fri", "*/15 * * * mon-fri"),
        ("@daily", "@daily"),
    ] {
        let s = Schedule::parse(text).unwrap();
        assert_eq!(s.to_string(), shown);
        assert_eq!(Schedule::parse(&s.to_string()).unwrap(), s);
    }
}

#[test]
fn duration_errors_say_what_is_wrong() {
    assert!(err("").contains("empty schedule"), "{}", err(""));
    assert!(err("   ").contains("empty schedule"));
    assert!(err("5x").contains("unknown unit 'x'"), "{}", err("5x"));
    assert!(err("5").contains("5 has no unit"), "{}", err("5"));
    assert!(err("m").contains("not a duration"), "{}", err("m"));
    assert!(err("soon").contains("not a duration"), "{}", err("soon"));
    assert!(err("0s").contains("longer than 0s"), "{}", err("0s"));
    assert!(err("0h0m").contains("longer than 0s"));
    assert!(err("30m1h").contains("largest first"), "{}", err("30m1h"));
    assert!(err("5m5m").contains("largest first"));
    assert!(err("400d").contains("366 days"), "{}", err("400d"));
    assert!(err("99999999999999999999s").contains("too long"));
    assert!(matches!(
        Schedule::parse("5x"),
        Err(ScheduleError::Duration { ref input, .. }) if input == "5x"
    ));
}

#[test]
fn cron_errors_name_the_field_and_the_fault() {
    let cases = [
        ("* * * *", "has 4 fields, but needs 5"),
        ("* * * * * *", "has 6 fields"),
        ("60 * * * *", "minute field \"60\": 60 is out of range 0-59"),
        ("* 24 * * *", "hour field \"24\": 24 is out of range 0-23"),
        (
            "* * 0 * *",
            "day-of-month field \"0\": 0 is out of range 1-31",
        ),
        ("* * 32 * *", "out of range 1-31"),
        ("* * * 13 *", "month field \"13\""),
        (
            "* * * * 8",
            "day-of-week field \"8\": 8 is out of range 0-7",
        ),
        ("*/0 * * * *", "a step must be at least 1"),
        ("*/x * * * *", "step \"x\" is not a number"),
        ("5-1 * * * *", "range \"5-1\" runs backwards"),
        ("1,,2 * * * *", "an empty list item"),
        ("a * * * *", "\"a\" is not a number"),
        (
            "* * * foo *",
            "\"foo\" is neither a number nor a name (jan, feb, mar…)",
        ),
        (
            "* * * * funday",
            "neither a number nor a name (sun, mon, tue…)",
        ),
        ("* * * * mon-", "\"\" is neither"),
        ("@often", "macro field \"@often\": unknown"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ];
    for (input, expected) in cases {
        let e = err(input);
        assert!(e.contains(expected), "{input:?}: {e}");
        assert!(
            e.contains(&format!("{input:?}")),
            "{input:?} not named in {e}"
        );
    }
    assert!(matches!(
        Schedule::parse("* 24 * * *"),
        Err(ScheduleError::CronField { field: "hour", .. })
    ));
}

#[test]
fn cron_fires_on_the_next_matching_minute_strictly_after_now() {
    assert_eq!(
        fires("*/15 * * * *", "2024-05-10T10:07:30Z", 3),
        [
            "2024-05-10T10:15:00+00:00",
            "2024-05-10T10:30:00+00:00",
            "2024-05-10T10:45:00+00:00"
        ]
    );
    // A fire exactly at `now` is the one just done: the next is later.
    assert_eq!(
        fires("*/15 * * * *", "2024-05-10T10:15:00Z", 1),
        ["2024-05-10T10:30:00+00:00"]
    );
    assert_eq!(
        fires("* * * * *", "2024-05-10T10:15:59.999Z", 1),
        ["2024-05-10T10:16:00+00:00"]
    );
}

#[test]
fn cron_crosses_month_and_year_ends() {
    assert_eq!(
        fires("0 0 1 * *", "2024-01-31T23:59:00Z", 2),
        ["2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 1 * *", "2024-12-31T23:59:59Z", 1),
        ["2025-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        fires("59 23 31 12 *", "2024-12-31T23:59:00Z", 1),
        ["2025-12-31T23:59:00+00:00"]
    );
    // Months without a 31st are skipped.
    assert_eq!(
        fires("0 12 31 * *", "2024-03-31T12:00:00Z", 3),
        [
            "2024-05-31T12:00:00+00:00",
            "2024-07-31T12:00:00+00:00",
            "2024-08-31T12:00:00+00:00"
        ]
    );
    // Leap days: four years away, and eight across 2100, which is not a leap year.
    assert_eq!(
        fires("0 0 29 2 *", "2024-02-29T00:00:00Z", 1),
        ["2028-02-29T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 29 2 *", "2096-03-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00+00:00"]
    );
    // Minutes and hours wrap into the next day, month and year.
    assert_eq!(
        fires("30 6,18 * * *", "2024-02-29T18:30:00Z", 1),
        ["2024-03-01T06:30:00+00:00"]
    );
    assert_eq!(
        fires("@yearly", "2023-06-01T00:00:00Z", 2),
        ["2024-01-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"]
    );
}

#[test]
fn cron_steps_ranges_lists_and_names() {
    assert_eq!(
        fires("5/20 * * * *", "2024-05-10T10:00:00Z", 4),
        [
            "2024-05-10T10:05:00+00:00",
            "2024-05-10T10:25:00+00:00",
            "2024-05-10T10:45:00+00:00",
            "2024-05-10T11:05:00+00:00"
        ]
    );
    assert_eq!(
        fires("0 8-18/4 * * *", "2024-05-10T09:00:00Z", 3),
        [
            "2024-05-10T12:00:00+00:00",
            "2024-05-10T16:00:00+00:00",
            "2024-05-11T08:00:00+00:00"
        ]
    );
    assert_eq!(
        fires("30 6 1 JAN,jul *", "2024-02-01T00:00:00Z", 2),
        ["2024-07-01T06:30:00+00:00", "2025-01-01T06:30:00+00:00"]
    );
    assert_eq!(
        fires("0 0 * jan,feb,nov-dec 1", "2024-12-30T12:00:00Z", 2),
        ["2025-01-06T00:00:00+00:00", "2025-01-13T00:00:00+00:00"]
    );
}

#[test]
fn cron_day_of_week() {
    // 2024-05-10 is a Friday.
    assert_eq!(
        fires("0 9 * * mon-fri", "2024-05-10T09:00:00Z", 2),
        ["2024-05-13T09:00:00+00:00", "2024-05-14T09:00:00+00:00"]
    );
    // Sunday is 0, 7 and `sun`.
    for sunday in ["0", "7", "sun", "SUN", "6-7"] {
        let expr = format!("0 0 * * {sunday}");
        let first = fires(&expr, "2024-05-10T12:00:00Z", 1);
        let expected = if sunday == "6-7" {
            "2024-05-11T00:00:00+00:00"
        } else {
            "2024-05-12T00:00:00+00:00"
        };
        assert_eq!(first, [expected], "{expr}");
    }
    assert_eq!(
        cron("0 0 * * 7").days_of_week,
        cron("0 0 * * 0").days_of_week
    );
}

#[test]
fn cron_either_day_matches_when_both_day_fields_are_restricted() {
    // The 13th or any Friday, not only Friday the 13th (2024-09-13).
    assert_eq!(
        fires("0 0 13 * fri", "2024-05-01T00:00:00Z", 4),
        [
            "2024-05-03T00:00:00+00:00",
            "2024-05-10T00:00:00+00:00",
            "2024-05-13T00:00:00+00:00",
            "2024-05-17T00:00:00+00:00"
        ]
    );
    // With one day field starting with `*`, a day must match both: odd days that are Mondays.
    assert_eq!(
        fires("0 0 */2 * mon", "2024-05-01T00:00:00Z", 2),
        ["2024-05-13T00:00:00+00:00", "2024-05-27T00:00:00+00:00"]
    );
    // Only day-of-month restricted: the weekday does not matter.
    assert_eq!(
        fires("0 0 13 * *", "2024-05-01T00:00:00Z", 1),
        ["2024-05-13T00:00:00+00:00"]
    );
    // A rare AND: 29 February on a Sunday, 28 years after 2004.
    assert_eq!(
        fires("0 0 29 2 */7", "2004-03-01T00:00:00Z", 1),
        ["2032-02-29T00:00:00+00:00"]
    );
}

/// The skipping search finds the same minute as trying every minute in turn.
#[test]
fn cron_search_agrees_with_stepping_minute_by_minute() {
    let exprs = [
        "*/7 3-5 * * *",
        "0 0 1,15 * *",
        "59 23 * * sat",
        "0 0 31 * fri",
        "10 0 28-31 2 *",
    ];
    let starts = [
        "2023-12-31T22:30:00Z",
        "2024-02-27T23:59:10Z",
        "2024-01-31T00:00:00Z",
    ];
    for expr in exprs {
        let c = cron(expr);
        let matches = |t: NaiveDateTime| {
            bit(c.minutes, t.minute())
                && bit(c.hours, t.hour())
                && bit(c.months, t.month())
                && c.day_matches(t.date())
        };
        for start in starts {
            let got = c.next_after(at(start)).unwrap().naive_utc();
            let mut t = at(start)
                .naive_utc()
                .with_second(0)
                .unwrap()
                .with_nanosecond(0)
                .unwrap();
            loop {
                t += TimeDelta::minutes(1);
                if matches(t) {
                    break;
                }
                assert!(
                    t < got,
                    "{expr} from {start}: skipped no match before {got}"
                );
            }
            assert_eq!(t, got, "{expr} from {start}");
        }
    }
}

#[test]
fn jitter_of_a_duration_is_under_ten_percent_of_it() {
    let s = Schedule::parse("100s").unwrap();
    let now = at("2024-05-10T10:00:00Z");
    let delay = |r: f64| {
        (s.jittered_next_after(now, r).unwrap() - now)
            .to_std()
            .unwrap()
    };
    assert_eq!(s.next_after(now), Some(at("2024-05-10T10:01:40Z")));
    assert_eq!(delay(0.0), Duration::from_secs(100));
    assert_eq!(delay(0.5), Duration::from_secs(105));
    assert!(delay(0.999_999) < Duration::from_secs(110));
    assert!(delay(0.999_999) > Duration::from_millis(109_990));
    // Out of range and NaN are clamped, never past the bound.
    assert_eq!(delay(-3.0), Duration::from_secs(100));
    assert_eq!(delay(f64::NAN), Duration::from_secs(100));
    assert!(delay(1.0) < Duration::from_secs(110));
    assert!(delay(7.0) < Duration::from_secs(110));
}

#[test]
fn jitter_of_cron_is_under_ten_percent_of_the_gap_to_the_following_fire() {
    let now = at("2024-05-10T10:07:00Z");
    let hourly = Schedule::parse("0 * * * *").unwrap();
    assert_eq!(
        hourly.jittered_next_after(now, 0.0),
        Some(at("2024-05-10T11:00:00Z"))
    );
    assert_eq!(
        hourly.jittered_next_after(now, 0.5),
        Some(at("2024-05-10T11:03:00Z"))
    );
    // Sunday 2024-05-12 → Monday 00:00, and Tuesday after it: a gap of one day.
    let s = Schedule::parse("0 0 * * mon,tue").unwrap();
    let sunday = at("2024-05-12T12:00:00Z");
    let late = s.jittered_next_after(sunday, 0.999_999).unwrap();
    assert!(late >= at("2024-05-13T02:23:59Z"), "{late}");
    assert!(late < at("2024-05-13T02:24:00Z"), "{late}");
    // Never early.
    assert_eq!(
        s.jittered_next_after(sunday, -1.0),
        Some(at("2024-05-13T00:00:00Z"))
    );
}

#[test]
fn live_sources_have_no_runs_to_schedule() {
    let now = at("2024-05-10T10:07:00Z");
    assert_eq!(Schedule::Live.next_after(now), None);
    assert_eq!(Schedule::Live.jittered_next_after(now, 0.5), None);
    assert_eq!(Schedule::Live.next_run(now, 0, 0.5), None);
    assert_eq!(Schedule::Live.interval(now), LIVE_RETRY_BASE);
}

#[test]
fn backoff_doubles_per_failure_up_to_the_cap() {
    let secs = |n| Duration::from_secs(n);
    assert_eq!(backoff(MIN, 0), MIN);
    assert_eq!(backoff(MIN, 1), secs(120));
    assert_eq!(backoff(MIN, 2), secs(240));
    assert_eq!(backoff(MIN, 5), secs(1920));
    assert_eq!(backoff(MIN, 6), MAX_BACKOFF);
    assert_eq!(backoff(MIN, 100), MAX_BACKOFF);
    assert_eq!(backoff(MIN, u32::MAX), MAX_BACKOFF);
    assert_eq!(backoff(LIVE_RETRY_BASE, 3), secs(8));
    // A schedule slower than the cap is not run more often because it fails.
    assert_eq!(backoff(2 * MAX_BACKOFF, 3), 2 * MAX_BACKOFF);
    assert_eq!(backoff(MAX_INTERVAL, u32::MAX), MAX_INTERVAL);
}

#[test]
fn next_run_backs_off_after_failures_and_returns_to_schedule_on_success() {
    let now = at("2024-05-10T10:00:00Z");
    let s = Schedule::parse("5m").unwrap();
    assert_eq!(s.next_run(now, 0, 0.0), Some(at("2024-05-10T10:05:00Z")));
    assert_eq!(s.next_run(now, 1, 0.0), Some(at("2024-05-10T10:10:00Z")));
    assert_eq!(s.next_run(now, 2, 0.0), Some(at("2024-05-10T10:20:00Z")));
    assert_eq!(s.next_run(now, 2, 0.5), Some(at("2024-05-10T10:21:00Z")));
    assert_eq!(s.next_run(now, 9, 0.0), Some(at("2024-05-10T11:00:00Z")));
    // Success resets the count: the schedule again.
    assert_eq!(s.next_run(now, 0, 0.0), Some(at("2024-05-10T10:05:00Z")));
    // Cron backs off from the gap between its fires; a live source restarts after 2 s, 4 s, …
    let quarter = Schedule::parse("*/15 * * * *").unwrap();
    assert_eq!(quarter.interval(now), 15 * MIN);
    assert_eq!(
        quarter.next_run(now, 1, 0.0),
        Some(at("2024-05-10T10:30:00Z"))
    );
    assert_eq!(
        Schedule::Live.next_run(now, 3, 0.0),
        Some(at("2024-05-10T10:00:08Z"))
    );
}

#[test]
fn the_fallback_is_the_documented_default() {
    assert_eq!(
        Schedule::parse(DEFAULT_SCHEDULE).unwrap(),
        Schedule::fallback()
    );
    assert_eq!(Schedule::fallback(), Schedule::Every(5 * MIN));
}

#[test]
fn schedules_deserialize_from_strings_and_errors_say_why() {
    let s: Schedule = serde_json::from_str("\"1h30m\"").unwrap();
    assert_eq!(s, Schedule::Every(90 * MIN));
    let s: Schedule = serde_json::from_str("\"0 9 * * mon-fri\"").unwrap();
    assert_eq!(s.to_string(), "0 9 * * mon-fri");
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"0 9 * * mon-fri\"");
    let e = serde_json::from_str::<Schedule>("\"0 25 * * *\"").unwrap_err();
    assert!(e.to_string().contains("hour field"), "{e}");
}
