//! The PostgreSQL store's schema, one migration per version, in `athena_schema.version`:
//! applied by the first process to open the store, under an advisory lock, so that workers
//! starting together migrate once. A store of a newer release is refused.
//!
//! The tables mirror SQLite's (`crate::schema`). Times are milliseconds since the Unix epoch
//! (BIGINT), as there; context and metadata keep the JSON text they were written as. The
//! full-text index is a generated `tsvector` column (title words weighted `A`, body words `B`)
//! with a GIN index, over the text split into runs of letters and digits as SQLite's
//! `unicode61` tokenizer splits it (`athena_fts_words`), and no stemming (`simple`), so a
//! search finds the same events on either store.

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: events with full-text search, cursors, runs, dead letters, state, kind counts.
    r#"
CREATE FUNCTION athena_fts_words(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT regexp_replace(t COLLATE "C.utf8", '[^[:alnum:]]+', ' ', 'g') $$;

CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    source_type  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    ingested_at  BIGINT NOT NULL,
    actor        TEXT,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    url          TEXT,
    outcome      TEXT,
    context      TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    tsv          tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', athena_fts_words(title)), 'A') ||
        setweight(to_tsvector('simple', athena_fts_words(body)), 'B')) STORED,
    UNIQUE (source_id, id)
);
CREATE INDEX events_by_time ON events (occurred_at, seq);
CREATE INDEX events_by_source_time ON events (source_id, occurred_at);
CREATE INDEX events_fts ON events USING gin (tsv);

CREATE TABLE cursors (
    source_id   TEXT PRIMARY KEY,
    source_type TEXT NOT NULL,
    cursor      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE source_runs (
    source_id   TEXT PRIMARY KEY,
    source_type TEXT NOT NULL,
    finished_at BIGINT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT,
    error_kind  TEXT
);

CREATE TABLE dead_letters (
    seq         BIGSERIAL PRIMARY KEY,
    source_id   TEXT NOT NULL,
    origin      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (source_id, origin)
);
CREATE INDEX dead_letters_by_source ON dead_letters (source_id, seq);

CREATE TABLE source_state (
    source_id TEXT NOT NULL,
    key       BYTEA NOT NULL,
    value     BYTEA NOT NULL,
    PRIMARY KEY (source_id, key)
);

CREATE TABLE event_kinds (
    source_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    events    BIGINT NOT NULL,
    PRIMARY KEY (source_id, kind)
);
"#,
    // 2: leases, for workers sharing the store (see `leases`): who runs which source, the
    // fencing epoch, and until when (the server's clock, in milliseconds).
    r#"
CREATE TABLE leases (
    source_id  TEXT PRIMARY KEY,
    owner      TEXT,
    epoch      BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT
);
-- The workers alive (seen within a lease's time), for each to take its share.
CREATE TABLE workers (
    worker  TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
"#,
    // 3: feeds, as the SQLite store's schema 5: the outbox (an entry per stored batch of a
    // store that keeps one), what each feed published of each source, and each subject's
    // last stream sequence.
    r#"
CREATE TABLE outbox (
    seq        BIGSERIAL PRIMARY KEY,
    source_id  TEXT NOT NULL,
    first_seq  BIGINT NOT NULL,
    last_seq   BIGINT NOT NULL,
    events     BIGINT NOT NULL,
    stored_at  BIGINT NOT NULL
);
CREATE INDEX outbox_by_source ON outbox (source_id, seq);
CREATE TABLE feed_progress (
    feed       TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    outbox_seq BIGINT NOT NULL,
    event_seq  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (feed, source_id)
);
CREATE TABLE feed_subjects (
    feed       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    stream_seq BIGINT NOT NULL,
    PRIMARY KEY (feed, subject)
);
"#,
    // 4: links between events (see SQLite's schema 6): each event's things with its role
    // (0: about, 1: mentions). The events already stored get theirs from the migration's
    // Rust step (`links::relink`). Keys compare byte by byte (`C`), so a commit's longer SHAs
    // are a range of the primary key.
    r#"
CREATE TABLE event_links (
    thing TEXT COLLATE "C" NOT NULL,
    seq   BIGINT NOT NULL,
    role  SMALLINT NOT NULL,
    PRIMARY KEY (thing, seq)
);
CREATE INDEX event_links_by_event ON event_links (seq);
"#,
    // 5: people (see SQLite's schema 7): handles with their person and a name shown,
    // the joins the events gave, the configured people's handles, each event's handles.
    // The events already stored get theirs from the migration's Rust step (`links::relink`).
    r#"
CREATE TABLE people_handles (
    handle TEXT COLLATE "C" PRIMARY KEY,
    person TEXT COLLATE "C" NOT NULL,
    name   TEXT
);
CREATE INDEX people_handles_by_person ON people_handles (person);
CREATE TABLE people_joins (
    a               TEXT COLLATE "C" NOT NULL,
    b               TEXT COLLATE "C" NOT NULL,
    how             TEXT NOT NULL,
    user_controlled BOOLEAN NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE TABLE people_config (
    handle TEXT COLLATE "C" PRIMARY KEY,
    name   TEXT NOT NULL
);
CREATE TABLE event_people (
    handle TEXT COLLATE "C" NOT NULL,
    seq    BIGINT NOT NULL,
    role   SMALLINT NOT NULL,
    PRIMARY KEY (handle, seq)
);
CREATE INDEX event_people_by_event ON event_people (seq);
"#,
];

/// The version from which the store keeps links between events and people.
pub(super) const PEOPLE_VERSION: i32 = 5;

/// The version this release writes.
pub(super) const CURRENT_VERSION: i32 = MIGRATIONS.len() as i32;
