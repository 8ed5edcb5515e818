//! The message of a sync read in parts says only what happened.

use super::parts::PartsFailed;

#[test]
fn nothing_stored_is_said_and_no_other_part_is_claimed_read() {
    let p = PartsFailed {
        noun: "stream",
        total: 6,
        failed: vec!["commits: GET http://x/commits: cannot connect".into()],
        not_tried: vec!["issues".into(), "releases".into()],
        events: 0,
    };
    assert_eq!(
        p.message(),
        "1 of 6 streams failed: commits: GET http://x/commits: cannot connect; the API could not be reached, so 2 other streams were not tried (issues, releases); nothing was stored"
    );
    assert!(!p.message().contains("others were stored"));
}

#[test]
fn what_was_stored_is_counted() {
    let p = PartsFailed {
        noun: "channel",
        total: 3,
        failed: vec!["#a: not_in_channel".into(), "#b: channel_not_found".into()],
        not_tried: Vec::new(),
        events: 1,
    };
    assert_eq!(
        p.message(),
        "2 of 3 channels failed: #a: not_in_channel; #b: channel_not_found; 1 event was stored"
    );
}
