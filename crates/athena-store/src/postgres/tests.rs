//! The store conformance suite (`crate::conformance`) run against PostgreSQL: a database of
//! its own per case, on a server the tests start once (see [`server`]) and share.

use super::testing::fresh_database;
use super::{wait, PgRecall, PgStore};
use crate::conformance::Fixture;

/// One database per case.
struct Pg {
    url: String,
}

impl Pg {
    fn new() -> Self {
        Pg {
            url: fresh_database(),
        }
    }
}

impl Fixture for Pg {
    type Store = PgStore;
    type Recall = PgRecall;

    fn open(&self) -> PgStore {
        PgStore::open(&self.url).unwrap()
    }

    fn recall(&self, store: &PgStore) -> PgRecall {
        PgRecall::beside(store, 2).unwrap()
    }

    fn refuse_marked_batches(&self, store: &mut PgStore) {
        // The cursor is a batch's last write (see `write.rs`).
        wait(store.client.batch_execute(
            "CREATE OR REPLACE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                IF (NEW.cursor::jsonb ->> 'refuse') = 'true' THEN
                    RAISE EXCEPTION 'refused by the conformance suite';
                END IF;
                RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_marked BEFORE INSERT OR UPDATE ON cursors
                FOR EACH ROW EXECUTE FUNCTION refuse_marked();",
        ))
        .unwrap();
    }
}

crate::store_conformance!(Pg::new());

#[test]
fn a_password_is_never_shown() {
    assert_eq!(
        crate::location::shown_url("postgres://ada:s3cret@db.example:5432/athena"),
        "postgres://ada@db.example:5432/athena"
    );
    assert_eq!(
        crate::location::shown_url("host=/tmp port=5 user=ada password=s3cret dbname=a"),
        "host=/tmp port=5 user=ada dbname=a"
    );
}

#[test]
fn a_store_of_a_newer_schema_is_refused() {
    let url = fresh_database();
    drop(PgStore::open(&url).unwrap());
    let store = PgStore::open(&url).unwrap();
    wait(
        store
            .client
            .batch_execute("UPDATE athena_schema SET version = 99"),
    )
    .unwrap();
    let refused = PgStore::open(&url).unwrap_err().to_string();
    assert!(refused.contains("schema version 99 is newer"), "{refused}");
}

fn info(id: &str) -> athena_core::SourceInfo {
    athena_core::SourceInfo {
        id: id.into(),
        source_type: "test".into(),
        name: id.into(),
    }
}

fn one_event(id: &str, next: u64) -> athena_core::Batch {
    let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    athena_core::Batch::new(
        vec![athena_core::Event::new(id, "note", at, id)],
        athena_core::Cursor::from_json(serde_json::json!({"version": 1, "next": next})),
    )
}

fn stored(store: &PgStore, source: &str) -> usize {
    use athena_core::Store;
    let q = athena_core::EventQuery {
        sources: vec![source.into()],
        ..Default::default()
    };
    store.query_events(&q).unwrap().len()
}

/// Two workers share a store; one pauses past its lease's time and another takes its source:
/// the paused one (a zombie) writes nothing, ever, and learns at its next renewal that the
/// source is no longer its own.
#[test]
fn a_zombie_worker_writes_nothing_once_its_lease_is_taken_over() {
    use athena_core::{Store, StoreError};
    use std::time::Duration;

    use super::Leases;

    let url = fresh_database();
    let ttl = Duration::from_millis(300);
    let store_a = PgStore::open(&url).unwrap();
    let mut a = Leases::open(&url, "worker-a", ttl).unwrap();
    let mut b = Leases::open(&url, "worker-b", ttl).unwrap();
    let sources = vec!["s1".to_string(), "s2".to_string()];
    assert_eq!(a.claim(&sources, 1).unwrap(), ["s1"]);
    // s1 is a's and alive: b gets the other.
    assert_eq!(b.claim(&sources, 2).unwrap(), ["s2"]);
    let mut store_a = store_a.fenced_by(a.held());
    let mut store_b = PgStore::open(&url).unwrap().fenced_by(b.held());
    assert_eq!(
        store_a
            .commit_batch(&info("s1"), &one_event("e1", 1))
            .unwrap()
            .written,
        1
    );
    // A source a does not hold: refused, nothing written.
    let refused = store_a
        .commit_batch(&info("s2"), &one_event("x", 1))
        .unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    assert_eq!(stored(&store_b, "s2"), 0);

    // a pauses past its time; b renews s2 and takes s1 over (epoch 2).
    std::thread::sleep(ttl + Duration::from_millis(150));
    assert_eq!(b.claim(&sources, 2).unwrap(), ["s1", "s2"]);
    let zombie = store_a
        .commit_batch(&info("s1"), &one_event("e2", 2))
        .unwrap_err();
    match &zombie {
        StoreError::Fenced {
            source_id,
            held,
            current,
        } => assert_eq!((source_id.as_str(), *held, *current), ("s1", 1, 2)),
        other => panic!("{other}"),
    }
    assert_eq!(stored(&store_b, "s1"), 1, "the zombie's batch was written");
    assert_eq!(
        store_b.load_cursor("s1").unwrap().unwrap().as_json()["next"],
        1
    );
    // b writes on; a learns it lost s1.
    assert_eq!(
        store_b
            .commit_batch(&info("s1"), &one_event("e3", 3))
            .unwrap()
            .written,
        1
    );
    assert!(a.renew().unwrap().is_empty());

    // Handed back, a source is free at once; claiming bumps its epoch.
    b.release(&["s2".to_string()]).unwrap();
    assert_eq!(a.claim(&sources, 1).unwrap(), ["s2"]);
    let all = a.all().unwrap();
    let s2 = all.iter().find(|l| l.source_id == "s2").unwrap();
    assert_eq!(
        (s2.owner.as_deref(), s2.epoch, s2.expired),
        (Some("worker-a"), 2, false)
    );
}

/// Workers claiming together each get their share, never the same source: the claim skips
/// the rows another claim has locked.
#[test]
fn workers_claiming_at_once_divide_the_sources_without_overlap() {
    use std::time::Duration;

    use super::Leases;

    let url = fresh_database();
    drop(PgStore::open(&url).unwrap());
    let sources: Vec<String> = (0..12).map(|i| format!("s{i:02}")).collect();
    let held: Vec<Vec<String>> = std::thread::scope(|scope| {
        let claims: Vec<_> = (0..3)
            .map(|w| {
                let (url, sources) = (&url, &sources);
                scope.spawn(move || {
                    let mut l =
                        Leases::open(url, &format!("w{w}"), Duration::from_secs(30)).unwrap();
                    l.claim(sources, 4).unwrap()
                })
            })
            .collect();
        claims.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut all: Vec<&String> = held.iter().flatten().collect();
    assert!(held.iter().all(|h| h.len() == 4), "{held:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 12, "{held:?}");
}

/// A worker claims the sources in the order it is given them (the highest priority first),
/// not in name order; the next worker gets the rest.
#[test]
fn a_worker_claims_sources_in_the_order_given() {
    use std::time::Duration;

    use super::Leases;

    let url = fresh_database();
    drop(PgStore::open(&url).unwrap());
    let order: Vec<String> = ["f", "b", "e", "a", "d", "c"].map(String::from).to_vec();
    let mut first = Leases::open(&url, "w1", Duration::from_secs(30)).unwrap();
    assert_eq!(first.claim(&order, 2).unwrap(), ["b", "f"]);
    let mut second = Leases::open(&url, "w2", Duration::from_secs(30)).unwrap();
    assert_eq!(second.claim(&order, 3).unwrap(), ["a", "d", "e"]);
}

/// The server dropped every connection (as on a restart): the store, its readers and the
/// leases connect again and go on; a group staged when it happened is not taken as stored.
#[test]
fn a_lost_connection_is_made_again_and_a_group_caught_in_it_is_not_stored() {
    use athena_core::recall::{PageQuery, QueryBudget, Recall};
    use athena_core::Store;
    use std::time::Duration;

    use super::Leases;

    let url = fresh_database();
    let mut store = PgStore::open(&url).unwrap();
    let recall = PgRecall::beside(&store, 1).unwrap();
    let mut leases = Leases::open(&url, "w", Duration::from_secs(30)).unwrap();
    store.commit_batch(&info("s"), &one_event("a", 1)).unwrap();
    store.stage_batch(&info("s"), &one_event("b", 2)).unwrap();
    // Every other connection to this database is ended by the server.
    let admin = PgStore::open(&url).unwrap();
    wait(admin.client.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // The group staged when the connection went is lost, and said so.
    assert!(store.commit_staged().is_err());
    assert_eq!(
        store.load_cursor("s").unwrap().unwrap().as_json()["next"],
        1
    );
    store.commit_batch(&info("s"), &one_event("b", 2)).unwrap();
    let page = PageQuery {
        limit: 10,
        ..PageQuery::default()
    };
    assert_eq!(
        recall
            .page(&page, &QueryBudget::unlimited())
            .unwrap()
            .events
            .len(),
        2
    );
    assert_eq!(leases.claim(&["s".to_string()], 1).unwrap(), ["s"]);
}

/// `sslmode=require` encrypts the store's connections and verifies the server's certificate:
/// signed by a CA nobody named, it is refused; with the CA in `$PGSSLROOTCERT` (as libpq
/// reads it), the store, its readers and the leases connect over TLS. Without `sslmode`, the
/// same server is reached unencrypted.
#[test]
fn sslmode_require_encrypts_and_verifies_the_server_certificate() {
    use athena_core::Store;
    use std::time::Duration;

    use super::testing::PrivateServer;
    use super::Leases;

    let server = PrivateServer::start_with_tls();
    let url = server.tcp_url("sslmode=require");
    let encrypted = |client: &tokio_postgres::Client| -> bool {
        wait(client.query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        ))
        .unwrap()
        .get(0)
    };

    // (nextest runs each test in a process of its own: no other test sees these.)
    std::env::set_var("PGSSLROOTCERT", "/nonexistent/root.crt");
    let err = PgStore::open(&url).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/root.crt"), "{err}");
    std::env::set_var("PGSSLROOTCERT", "");
    let err = PgStore::open(&url).unwrap_err().to_string();
    assert!(err.contains("certificate"), "{err}");

    std::env::set_var("PGSSLROOTCERT", server.ca_file());
    let mut store = PgStore::open(&url).unwrap();
    assert!(encrypted(&store.client));
    store.commit_batch(&info("s"), &one_event("a", 1)).unwrap();
    let recall = PgRecall::open(&url, 1).unwrap();
    assert!(encrypted(&recall.connections.get()));
    let mut leases = Leases::open(&url, "w", Duration::from_secs(30)).unwrap();
    assert_eq!(leases.claim(&["s".to_string()], 1).unwrap(), ["s"]);

    let mut plain = PgStore::open(&server.tcp_url("sslmode=disable")).unwrap();
    assert!(!encrypted(&plain.client));
    let cursor = plain.load_cursor("s").unwrap().unwrap();
    assert_eq!(cursor.as_json()["next"], 1);
}

/// The people a test source's events name: their actor, an email.
fn actor_people(e: &athena_core::Event) -> Vec<athena_core::people::Claim> {
    use athena_core::people::{Claim, Handle, PersonRole};
    (e.actor.iter())
        .map(|a| Claim::new(Handle::email(a), PersonRole::Actor))
        .collect()
}

/// A store from before people were kept (migration 5) is linked by the upgrade, which cannot
/// read people; the first worker with the source types reads them, once.
#[test]
fn an_upgraded_stores_people_are_read_once_by_the_first_worker() {
    use athena_core::{Registry, SourceType, Store};
    let url = fresh_database();
    let mut store = PgStore::open(&url).unwrap();
    let mut e = one_event("a", 1);
    e.events[0].actor = Some("ada@example.com".into());
    store.commit_batch(&info("notes"), &e).unwrap();
    // As the release before people left it.
    wait(store.client.batch_execute(
        "DROP TABLE people_handles, people_joins, people_config, event_people;
         UPDATE athena_schema SET version = 4",
    ))
    .unwrap();
    drop(store);
    let mut store = PgStore::open(&url).unwrap();
    assert!(store.people().unwrap().is_empty());
    let build: athena_core::BuildFn = std::sync::Arc::new(|c| Err(c.error(None, "unused")));
    let mut registry = Registry::new();
    registry
        .register(SourceType::new("test", "test", vec![], build).with_people(actor_people))
        .unwrap();
    let linker = athena_core::links::Linker::default().with_people_of(&registry);
    assert_eq!(store.read_unread_people(&linker).unwrap(), 1);
    let people = store.people().unwrap();
    assert_eq!(people.len(), 1, "{people:?}");
    assert_eq!(people[0].handles[0].0, "email:ada@example.com");
    // Read once: another worker, or a restart, finds nothing left to read.
    let mut other = PgStore::open(&url).unwrap();
    assert_eq!(other.read_unread_people(&linker).unwrap(), 0);
    assert_eq!(store.read_unread_people(&linker).unwrap(), 0);
}
