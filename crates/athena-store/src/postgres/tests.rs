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
