//! A wait notice read back from its tracing event, as a front end's layer reads it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::wait::{WaitNotice, WaitReason};

/// Keeps the notices of the events it sees.
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<WaitNotice>>>);

impl Subscriber for Notices {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if let Some(n) = WaitNotice::from_event(event) {
            self.0.lock().unwrap().push(n);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn each_wait_notice_reads_back_from_its_event_and_other_events_are_none() {
    let notices = Notices::default();
    let sent = [
        WaitNotice::Waiting {
            source_id: "gh".into(),
            api: "api.github.com".into(),
            wait: Duration::from_millis(4200),
            why: WaitReason::Retry { attempt: 2, of: 3 },
        },
        WaitNotice::Waiting {
            source_id: "gh".into(),
            api: "127.0.0.1:9".into(),
            wait: Duration::from_secs(60),
            why: WaitReason::RateLimit,
        },
        WaitNotice::Over {
            source_id: "gh".into(),
        },
    ];
    tracing::subscriber::with_default(notices.clone(), || {
        for n in &sent {
            n.emit("HTTP 503");
        }
        tracing::info!(source = "gh", api = "x", wait_ms = 5u64, "not a notice");
    });
    assert_eq!(*notices.0.lock().unwrap(), sent);
}
