//! The bars' word on a wait: shown on a terminal when longer than a second, never elsewhere.

use std::time::Duration;

use athena_core::{SourceInfo, SyncObserver};
use athena_http::wait::{WaitNotice, WaitReason};
use indicatif::ProgressDrawTarget;

use super::{wait_layer, wait_message, Bars};

fn info() -> SourceInfo {
    SourceInfo {
        id: "gh".into(),
        source_type: "github".into(),
        name: "github o/r".into(),
    }
}

fn waiting(secs: u64, why: WaitReason) -> WaitNotice {
    WaitNotice::Waiting {
        source_id: "gh".into(),
        api: "api.github.com".into(),
        wait: Duration::from_secs(secs),
        why,
    }
}

#[test]
fn a_wait_longer_than_a_second_says_what_it_waits_for() {
    let retry = WaitReason::Retry { attempt: 2, of: 3 };
    assert_eq!(
        wait_message("api.github.com", Duration::from_millis(3200), retry).as_deref(),
        Some("retrying api.github.com in 4 s (2/3)")
    );
    assert_eq!(
        wait_message("slack.com", Duration::from_secs(60), WaitReason::RateLimit).as_deref(),
        Some("rate limited by slack.com; waiting 60 s")
    );
    assert_eq!(wait_message("x", Duration::from_millis(1000), retry), None);
    assert_eq!(wait_message("x", Duration::from_millis(400), retry), None);
}

#[test]
fn on_a_terminal_the_bar_shows_the_wait_then_what_it_showed_before() {
    let bars = Bars::drawn_to(Some(ProgressDrawTarget::hidden()));
    bars.source_started(&info());
    let before = bars.message("gh").unwrap();
    assert_eq!(before, "reading github o/r");

    bars.notice(&waiting(4, WaitReason::Retry { attempt: 2, of: 3 }));
    assert_eq!(
        bars.message("gh").as_deref(),
        Some("retrying api.github.com in 4 s (2/3)")
    );
    bars.notice(&WaitNotice::Over {
        source_id: "gh".into(),
    });
    assert_eq!(bars.message("gh"), Some(before.clone()));

    // A short wait leaves the bar alone.
    bars.notice(&waiting(1, WaitReason::Retry { attempt: 1, of: 3 }));
    assert_eq!(bars.message("gh"), Some(before));
}

#[test]
fn without_a_terminal_nothing_shows_a_wait() {
    let bars = Bars::drawn_to(None);
    bars.source_started(&info());
    bars.notice(&waiting(30, WaitReason::RateLimit));
    assert_eq!(bars.message("gh"), None, "no bar, no message");
    assert!(wait_layer::<tracing_subscriber::Registry>(false).is_none());
    assert!(wait_layer::<tracing_subscriber::Registry>(true).is_some());
}

#[test]
fn a_wait_said_through_tracing_reaches_the_bar_of_its_source() {
    use tracing_subscriber::layer::SubscriberExt;

    let bars = Bars::drawn_to(Some(ProgressDrawTarget::hidden()));
    bars.source_started(&info());
    bars.show_waits();
    let subscriber = tracing_subscriber::registry().with(wait_layer(true));
    tracing::subscriber::with_default(subscriber, || {
        waiting(8, WaitReason::Retry { attempt: 3, of: 5 }).emit("HTTP 503");
        assert_eq!(
            bars.message("gh").as_deref(),
            Some("retrying api.github.com in 8 s (3/5)")
        );
        WaitNotice::Over {
            source_id: "gh".into(),
        }
        .emit("");
    });
    assert_eq!(bars.message("gh").as_deref(), Some("reading github o/r"));
}
