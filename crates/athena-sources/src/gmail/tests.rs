//! The `gmail` source driven without the CLI: built from its config through the registry,
//! synced by the engine into a memory store, against the fake Gmail and its token endpoint.

use athena_core::memory::SharedMemoryStore;
use athena_core::{ErrorKind, SourceStatusKind};
use athena_http::testing::{FakeGoogleAuth, TestResponse};

use super::fake::{
    message_id, rate_limit_403, rate_limit_429, time, FakeGmail, CLIENT_ID, CLIENT_SECRET, EMAIL,
    REFRESH_TOKEN,
};
use crate::synced::{stored, sync};

fn config(url: &str) -> toml::Table {
    let mut table = toml::Table::new();
    for (key, value) in [
        ("api_url", format!("{url}/gmail/v1")),
        ("token_uri", format!("{url}/token")),
        ("client_id", CLIENT_ID.into()),
        ("client_secret", CLIENT_SECRET.into()),
        ("refresh_token", REFRESH_TOKEN.into()),
    ] {
        table.insert(key.into(), value.into());
    }
    table.insert("retry_delay_ms".into(), 10.into());
    table
}

fn pair(kind: &str, id: String) -> (String, String) {
    (kind.to_string(), id)
}

/// Ten messages received (two pages of the inbox listing), 3 and 4 replies in 1's thread,
/// three sent (11 a reply to 2), a draft.
fn populate(fake: &FakeGmail) {
    for n in 1..=10 {
        let thread = matches!(n, 3 | 4).then_some(1);
        fake.receive(
            n,
            n,
            &format!("Person {n} <p{n}@example.com>"),
            &format!("subject {n}"),
            thread,
        );
    }
    fake.send(11, 20, "p2@example.com", "Re: subject 2", Some(2));
    fake.send(12, 21, "p5@example.com", "hello", None);
    fake.send(13, 22, "p6@example.com", "again", None);
    fake.draft(14, 23, "unfinished");
}

fn cursor(store: &SharedMemoryStore) -> serde_json::Value {
    store.with(|s| s.cursors["gm"].as_json().clone())
}

#[tokio::test]
async fn a_first_sync_lists_the_labels_then_history_gives_new_messages_labels_and_deletions() {
    let fake = FakeGmail::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();

    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let mut want: Vec<_> = (1..=10)
        .map(|n| pair("email_received", format!("message:{}", message_id(n))))
        .chain((11..=13).map(|n| pair("email_sent", format!("message:{}", message_id(n)))))
        .collect();
    want.sort();
    assert_eq!(stored(&store, 0), want, "no draft");
    store.with(|s| {
        let e = s
            .events
            .iter()
            .find(|e| e.id == format!("message:{}", message_id(3)))
            .unwrap();
        assert_eq!(e.actor.as_deref(), Some("Person 3 <p3@example.com>"));
        assert_eq!(e.title, "subject 3");
        assert_eq!(e.occurred_at, time(3), "internalDate");
        assert_eq!(
            e.context["thread_id"],
            message_id(1),
            "a reply groups with its thread"
        );
        assert_eq!(e.context["labels"], serde_json::json!(["INBOX", "UNREAD"]));
        assert_eq!(e.context["to"], "me@example.com");
        assert_eq!(e.body, "Body of message 3: subject 3.", "the snippet");
        let sent = s
            .events
            .iter()
            .find(|e| e.id == format!("message:{}", message_id(11)))
            .unwrap();
        assert_eq!(sent.context["thread_id"], message_id(2));
    });
    let c = cursor(&store);
    assert_eq!(c["phase"], "history", "{c}");
    assert_eq!(c["history_id"], fake.history_id().to_string(), "{c}");
    assert_eq!(fake.tokens_issued(), 1, "one access token, cached");
    let lists: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/messages"))
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(
        lists.len(),
        3,
        "the inbox in two pages, the sent mail in one: {lists:?}"
    );
    assert!(lists[1].contains("labelIds=INBOX") && lists[1].contains("pageToken="));
    let first_profile = server
        .requests()
        .iter()
        .position(|r| r.path().ends_with("/profile"));
    let first_list = server
        .requests()
        .iter()
        .position(|r| r.path().ends_with("/messages"));
    assert!(
        first_profile < first_list,
        "the historyId is taken before the listing"
    );

    // Later: a new message, a star, a message read (UNREAD removed: no event), one deleted,
    // a draft. Only history is read: no listing.
    server.clear_requests();
    let new = fake.receive(15, 40, "Ann <ann@example.com>", "news", None);
    let starred = message_id(1);
    fake.label(&starred, true, &["STARRED"]);
    fake.label(&message_id(2), false, &["UNREAD"]);
    fake.delete(&message_id(5));
    fake.draft(16, 41, "another draft");
    let n = store.with(|s| s.events.len());
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let got = stored(&store, n);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[0],
        pair(
            "email_deleted",
            format!("message:{}:deleted", message_id(5))
        )
    );
    assert_eq!(got[1].0, "email_labels_changed");
    assert!(got[1].1.ends_with(&format!(":{starred}:added")), "{got:?}");
    assert_eq!(got[2], pair("email_received", format!("message:{new}")));
    assert!(server
        .requests()
        .iter()
        .all(|r| !r.path().ends_with("/messages")));
    assert_eq!(cursor(&store)["history_id"], fake.history_id().to_string());
}

#[tokio::test]
async fn an_expired_history_starts_a_full_listing_that_stores_no_duplicates() {
    let fake = FakeGmail::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 13);

    let new = fake.receive(20, 50, "Bob <bob@example.com>", "late", None);
    fake.expire_history();
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        (report.events_written, report.duplicates),
        (1, 13),
        "only the new message; the rest read again are duplicates"
    );
    assert_eq!(store.with(|s| s.events.len()), 14);
    assert!(stored(&store, 0).contains(&pair("email_received", format!("message:{new}"))));
    let c = cursor(&store);
    assert_eq!(
        (c["phase"].as_str(), c["history_id"].clone()),
        (Some("history"), fake.history_id().to_string().into())
    );
}

#[tokio::test]
async fn a_refused_token_is_fetched_again_once_and_rate_limits_and_5xx_are_survived() {
    let fake = FakeGmail::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    fake.fault("/profile", rate_limit_403());
    fake.fault("/messages", rate_limit_429());
    fake.fault(
        &format!("/messages/{}", message_id(4)),
        TestResponse::text(503, "busy"),
    );
    fake.fault(
        &format!("/messages/{}", message_id(6)),
        TestResponse::text(500, "oops"),
    );
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 13);
    assert_eq!(
        (report.stats.rate_limit_waits, report.stats.retries),
        (2, 2)
    );

    // The access token is revoked: a 401, a new token, the sync goes on.
    fake.revoke_token();
    fake.receive(30, 60, "Cy <cy@example.com>", "after revoke", None);
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 1);
    assert_eq!(fake.tokens_issued(), 2, "asked again once after the 401");

    // Refused twice (the grant works, the API refuses its token): unauthorized, no secret shown.
    let table = config(&server.url());
    let store = SharedMemoryStore::new();
    fake.fault(
        "/profile",
        TestResponse::json(401, &serde_json::json!({"error": {"code": 401}})),
    );
    fake.fault(
        "/profile",
        TestResponse::json(401, &serde_json::json!({"error": {"code": 401}})),
    );
    let report = sync(&store, "gm", "gmail", table).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    assert_eq!(report.error_kind, Some(ErrorKind::Unauthorized));
    let error = report.error.unwrap();
    assert!(
        error.contains("Google rejected the credentials for source gm"),
        "{error}"
    );
    assert!(
        !error.contains(CLIENT_SECRET)
            && !error.contains(REFRESH_TOKEN)
            && !error.contains("ya29."),
        "{error}"
    );

    // A wrong refresh token: the token endpoint refuses it.
    let mut table = config(&server.url());
    table.insert("refresh_token".into(), "1//wrong-refresh".into());
    let report = sync(&SharedMemoryStore::new(), "gm", "gmail", table).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    assert!(!report
        .error
        .unwrap_or_default()
        .contains("1//wrong-refresh"));
}

#[tokio::test]
async fn include_body_stores_the_text_part_cut_to_max_body_bytes() {
    let fake = FakeGmail::new();
    fake.receive(1, 1, "a@example.com", "long", None);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let mut table = config(&server.url());
    table.insert("include_body".into(), true.into());
    table.insert("max_body_bytes".into(), 40.into());
    let report = sync(&store, "gm", "gmail", table).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let body = store.with(|s| s.events[0].body.clone());
    assert_eq!(body, "Body of message 1: long.\r\nSecond line.");
    let req = server
        .requests()
        .into_iter()
        .find(|r| r.path().contains("/messages/"))
        .unwrap();
    assert_eq!(req.query("format").as_deref(), Some("full"));

    let mut table = config(&server.url());
    table.insert("include_body".into(), true.into());
    table.insert("max_body_bytes".into(), 10.into());
    let store = SharedMemoryStore::new();
    sync(&store, "gm", "gmail", table).await;
    assert_eq!(store.with(|s| s.events[0].body.clone()), "Body of me");
}

#[tokio::test]
async fn a_query_narrows_the_first_listing_and_bad_keys_are_config_errors() {
    let fake = FakeGmail::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let mut table = config(&server.url());
    table.insert("query".into(), "from:p7@".into());
    table.insert("labels".into(), toml::Value::Array(vec!["INBOX".into()]));
    let report = sync(&store, "gm", "gmail", table).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(
        stored(&store, 0),
        [pair("email_received", format!("message:{}", message_id(7)))]
    );
    assert_eq!(cursor(&store)["filter"], "INBOX q=from:p7@");

    for (key, value) in [
        ("labels", toml::Value::Array(vec![])),
        ("user", "a/b".into()),
    ] {
        let mut table = config(&server.url());
        table.insert(key.into(), value);
        let c = athena_core::SourceConfig::new("gm", "gmail", table);
        let err = super::GmailSource::from_config(&c).err().unwrap();
        assert!(err.to_string().contains(key), "{err}");
    }
    let mut table = config(&server.url());
    table.remove("refresh_token");
    let c = athena_core::SourceConfig::new("gm", "gmail", table);
    let err = super::GmailSource::from_config(&c).err().unwrap();
    assert!(err.to_string().contains("refresh_token"), "{err}");
}

/// The listing requests (`users/…/messages`) served since the last `clear_requests`.
fn listings(server: &athena_http::testing::TestServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/messages"))
        .count()
}

#[tokio::test]
async fn the_cursor_belongs_to_the_mailbox_another_address_or_user_starts_over() {
    let fake = FakeGmail::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(cursor(&store)["email"], EMAIL);
    assert_eq!(cursor(&store)["filter"], "INBOX,SENT", "`me` is left out");

    // The same mailbox again: history only.
    server.clear_requests();
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(listings(&server), 0);

    // The credentials now read another account: its history ids mean nothing for the old
    // position, so every message is listed.
    fake.set_email("other@example.com");
    server.clear_requests();
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(listings(&server), 3, "a full listing");
    assert_eq!(report.duplicates, 13);
    assert_eq!(cursor(&store)["email"], "other@example.com");

    // Another `user`, even one naming the same mailbox: another filter, a full listing.
    let mut table = config(&server.url());
    table.insert("user".into(), "other@example.com".into());
    server.clear_requests();
    let report = sync(&store, "gm", "gmail", table).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(listings(&server), 3, "a full listing");
    assert_eq!(
        cursor(&store)["filter"],
        "INBOX,SENT user=other@example.com"
    );
}

#[tokio::test]
async fn a_message_received_and_archived_before_the_sync_is_stored() {
    let fake = FakeGmail::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);

    let id = fake.receive(15, 40, "Ann <ann@example.com>", "read and archived", None);
    fake.label(&id, false, &["INBOX"]);
    let n = store.with(|s| s.events.len());
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    let got = stored(&store, n);
    assert!(
        got.contains(&pair("email_received", format!("message:{id}"))),
        "{got:?}"
    );
}

#[tokio::test]
async fn a_change_landing_while_the_history_pages_are_read_is_read_next_time() {
    let fake = FakeGmail::new();
    populate(&fake);
    let server = fake.start();
    let store = SharedMemoryStore::new();
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);

    // Six records: two history pages; a message arrives after the first is served, and the
    // read (a listing as of its first page) does not show it.
    for n in 21..=26 {
        fake.receive(n, n, "Bo <bo@example.com>", "batch", None);
    }
    let first_page = fake.history_id();
    fake.receive_between_history_pages(30, 60, "Cy <cy@example.com>", "between pages");
    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert_eq!(report.events_written, 6);
    assert_eq!(fake.history_id(), first_page + 1, "it arrived meanwhile");
    assert_eq!(
        cursor(&store)["history_id"],
        first_page.to_string(),
        "the first page's historyId"
    );

    let report = sync(&store, "gm", "gmail", config(&server.url())).await;
    assert_eq!(report.status, SourceStatusKind::Ok, "{:?}", report.error);
    assert!(stored(&store, 0).contains(&pair(
        "email_received",
        format!("message:{}", message_id(30))
    )));
    assert_eq!(cursor(&store)["history_id"], fake.history_id().to_string());
}

#[tokio::test]
async fn a_service_account_rejected_is_told_to_check_credentials_file() {
    let fake = FakeGmail::new();
    let server = fake.start();
    let auth = FakeGoogleAuth::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sa.json");
    std::fs::write(&file, auth.service_account_key()).unwrap();
    let mut table = toml::Table::new();
    table.insert(
        "api_url".into(),
        format!("{}/gmail/v1", server.url()).into(),
    );
    table.insert("token_uri".into(), auth.token_uri().to_string().into());
    table.insert("credentials_file".into(), file.display().to_string().into());
    table.insert("retry_delay_ms".into(), 10.into());
    // The fake Gmail knows none of this account's tokens: 401, twice.
    let report = sync(&SharedMemoryStore::new(), "gm", "gmail", table).await;
    assert_eq!(report.status, SourceStatusKind::Failed);
    assert_eq!(report.error_kind, Some(ErrorKind::Unauthorized));
    let error = report.error.unwrap();
    assert!(error.contains("check credentials_file"), "{error}");
    assert!(!error.contains("refresh_token"), "{error}");
}
