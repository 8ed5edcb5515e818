//! The store's schema, one migration per version. `PRAGMA user_version` holds the version.
//!
//! A migration is appended, never edited: a store written by an older release is brought up to
//! date on open, and a store from a newer release is refused instead of being misread.

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: events with full-text search, cursors, runs, dead letters.
    r#"
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    source_type  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,  -- milliseconds since the Unix epoch, UTC
    ingested_at  INTEGER NOT NULL,
    actor        TEXT,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    url          TEXT,
    outcome      TEXT,
    context      TEXT NOT NULL,     -- JSON object
    metadata     TEXT NOT NULL,     -- JSON object
    UNIQUE (source_id, id)
);
CREATE INDEX events_by_time ON events (occurred_at);
CREATE INDEX events_by_source_time ON events (source_id, occurred_at);

CREATE VIRTUAL TABLE events_fts USING fts5 (
    title, body, content = 'events', content_rowid = 'seq'
);
-- New rows are indexed once per batch by the commit itself (see `commit_batch`): an insert
-- trigger would make FTS5 flush its pending index on every row's statement savepoint.
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, title, body)
    VALUES ('delete', old.seq, old.title, old.body);
END;

CREATE TABLE cursors (
    source_id   TEXT PRIMARY KEY,
    source_type TEXT NOT NULL,
    cursor      TEXT NOT NULL,      -- versioned JSON, opaque to the store
    updated_at  INTEGER NOT NULL
);

CREATE TABLE source_runs (
    source_id   TEXT PRIMARY KEY,
    source_type TEXT NOT NULL,
    finished_at INTEGER NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT
);

CREATE TABLE dead_letters (
    seq         INTEGER PRIMARY KEY,
    source_id   TEXT NOT NULL,
    origin      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (source_id, origin)      -- a re-read (after reset or --full) is not kept twice
);
CREATE INDEX dead_letters_by_source ON dead_letters (source_id, seq);
"#,
    // 2: per-item source state (one row per file of a `files` source), changed by the same
    // transaction as the events that describe the change.
    r#"
CREATE TABLE source_state (
    source_id TEXT NOT NULL,
    key       BLOB NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;
"#,
    // 3: the kind of a failed run's error (`unauthorized`, `rate_limited`, `http`, `io`,
    // `cursor`, `config`, `other`), so a caller can tell them apart without reading text.
    r#"
ALTER TABLE source_runs ADD COLUMN error_kind TEXT;
-- Failures recorded before kinds existed: nothing finer is known of them.
UPDATE source_runs SET error_kind = 'other' WHERE status = 'failed';
"#,
    // 4: how many events of each kind each source has stored, kept by the commit that stores
    // them, so the kinds that exist are listed (and a mistyped one named) without reading
    // every event: `kind` has no index.
    r#"
CREATE TABLE event_kinds (
    source_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    events    INTEGER NOT NULL,
    PRIMARY KEY (source_id, kind)
) WITHOUT ROWID;
INSERT INTO event_kinds (source_id, kind, events)
    SELECT source_id, kind, count(*) FROM events GROUP BY source_id, kind;
"#,
    // 5: feeds (`[[feeds]]`). The outbox: one row per stored batch of a store that keeps one,
    // written in the batch's transaction, naming the batch's events (those of its source
    // between `first_seq` and `last_seq`). What each feed has published of each source, and
    // the stream sequence of the last message on each subject it writes.
    r#"
CREATE TABLE outbox (
    -- Never reused: a feed's progress is a number of this column, and trimming can empty it.
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id  TEXT NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    stored_at  INTEGER NOT NULL
);
CREATE INDEX outbox_by_source ON outbox (source_id, seq);
CREATE TABLE feed_progress (
    feed       TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    outbox_seq INTEGER NOT NULL,
    -- The storing sequence of the newest event published (an entry can go out in parts).
    event_seq  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (feed, source_id)
) WITHOUT ROWID;
CREATE TABLE feed_subjects (
    feed       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    PRIMARY KEY (feed, subject)
) WITHOUT ROWID;
"#,
    // 6: links between events (`athena_core::links`): each event's things, with its role
    // (0: about, 1: mentions), written in the transaction that stores the event. Things are
    // looked up by key (related events) and by event (an event's things). The events already
    // stored get theirs from the migration's Rust step (`sqlite::links::backfill`).
    r#"
CREATE TABLE event_links (
    thing TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    role  INTEGER NOT NULL,
    PRIMARY KEY (thing, seq)
) WITHOUT ROWID;
CREATE INDEX event_links_by_event ON event_links (seq);
"#,
    // 7: people (`athena_core::people`): each handle (`email:…`, `github:…`) with the person
    // it belongs to (a configured `person:NAME`, else one of the person's handles) and a name
    // a source showed with it; the joins between handles the events gave as evidence; the
    // handles each event names, with their role (0: actor, 1: named); and the configured
    // people's handles (`[[people]]`, set at each sync's start). Events keep their handles, so
    // a join moves them to the merged person by changing `people_handles` alone.
    r#"
CREATE TABLE people_handles (
    handle TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    name   TEXT
) WITHOUT ROWID;
CREATE INDEX people_handles_by_person ON people_handles (person);
CREATE TABLE people_joins (
    a               TEXT NOT NULL,
    b               TEXT NOT NULL,
    how             TEXT NOT NULL,
    user_controlled INTEGER NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE people_config (
    handle TEXT PRIMARY KEY,
    name   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE event_people (
    handle TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    role   INTEGER NOT NULL,
    PRIMARY KEY (handle, seq)
) WITHOUT ROWID;
CREATE INDEX event_people_by_event ON event_people (seq);
"#,
    // 8: packed events (`sqlite::packed`): each source's zstd dictionaries, trained on its
    // own events; an event's `context` is then a blob (its context and metadata compressed
    // with one of them) and its `metadata` empty. The events stored before stay JSON text,
    // which every release reads, until `athena-ingest compact` packs them.
    r#"
CREATE TABLE event_dicts (
    id         INTEGER PRIMARY KEY,
    source_id  TEXT NOT NULL,
    dict       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX event_dicts_by_source ON event_dicts (source_id, id);
"#,
];

/// The version from which the store keeps people.
pub(crate) const PEOPLE_VERSION: i64 = 7;

/// The version this release writes.
pub(crate) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;
