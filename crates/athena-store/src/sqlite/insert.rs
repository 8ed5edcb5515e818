//! The events insert, with its values bound in place.
//!
//! rusqlite binds every text and blob as `SQLITE_TRANSIENT`: SQLite allocates and copies each
//! value before the row is written. For thirteen values an event, that was a fifth of a log
//! sync's writer time (docs/performance.md), on the thread a bulk sync waits on. Here the values are
//! bound `SQLITE_STATIC` (SQLite reads them where they are) for the span of one statement run:
//! bound, stepped, reset and unbound within [`EventInsert::insert`], so SQLite never holds a
//! pointer past the borrow it came from.

use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

use rusqlite::{ffi, Connection};

/// The insert: a row per event, none for an event the store has (`ON CONFLICT DO NOTHING`).
const SQL: &CStr = c"INSERT INTO events (id, source_id, source_type, kind, occurred_at,
        ingested_at, actor, title, body, url, outcome, context, metadata)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
     ON CONFLICT (source_id, id) DO NOTHING";

/// A `context` or `metadata` value: JSON text, or a packed blob.
#[derive(Clone, Copy)]
pub(super) enum Doc<'a> {
    Text(&'a str),
    Blob(&'a [u8]),
}

/// One event's row, borrowed.
pub(super) struct EventRow<'a> {
    pub id: &'a str,
    pub source_id: &'a str,
    pub source_type: &'a str,
    pub kind: &'a str,
    pub occurred_at: i64,
    pub ingested_at: i64,
    pub actor: Option<&'a str>,
    pub title: &'a str,
    pub body: &'a str,
    pub url: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub context: Doc<'a>,
    pub metadata: Doc<'a>,
}

/// The prepared insert, for the span of one batch on `conn`.
pub(super) struct EventInsert<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    _conn: PhantomData<&'c Connection>,
}

impl<'c> EventInsert<'c> {
    pub(super) fn new(conn: &'c Connection) -> rusqlite::Result<EventInsert<'c>> {
        // SAFETY: the handle is `conn`'s, which outlives the statement (`'c`); the statement
        // is finalized in `drop`.
        unsafe {
            let db = conn.handle();
            let mut stmt = std::ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v2(db, SQL.as_ptr(), -1, &mut stmt, std::ptr::null_mut());
            match NonNull::new(stmt) {
                Some(stmt) if rc == ffi::SQLITE_OK => Ok(EventInsert {
                    stmt,
                    db,
                    _conn: PhantomData,
                }),
                _ => {
                    if !stmt.is_null() {
                        ffi::sqlite3_finalize(stmt);
                    }
                    Err(error(db, rc))
                }
            }
        }
    }

    /// Inserts `row`: `true` if it was stored, `false` if the store has its `(source_id, id)`.
    pub(super) fn insert(&mut self, row: &EventRow<'_>) -> rusqlite::Result<bool> {
        let stmt = self.stmt.as_ptr();
        // SAFETY: every pointer bound is `row`'s and valid for the whole call; the bindings
        // are cleared before it returns, so SQLite keeps none of them.
        unsafe {
            let bound = bind_text(stmt, 1, Some(row.id))
                .and_then(|_| bind_text(stmt, 2, Some(row.source_id)))
                .and_then(|_| bind_text(stmt, 3, Some(row.source_type)))
                .and_then(|_| bind_text(stmt, 4, Some(row.kind)))
                .and_then(|_| rc(ffi::sqlite3_bind_int64(stmt, 5, row.occurred_at)))
                .and_then(|_| rc(ffi::sqlite3_bind_int64(stmt, 6, row.ingested_at)))
                .and_then(|_| bind_text(stmt, 7, row.actor))
                .and_then(|_| bind_text(stmt, 8, Some(row.title)))
                .and_then(|_| bind_text(stmt, 9, Some(row.body)))
                .and_then(|_| bind_text(stmt, 10, row.url))
                .and_then(|_| bind_text(stmt, 11, row.outcome))
                .and_then(|_| bind_doc(stmt, 12, row.context))
                .and_then(|_| bind_doc(stmt, 13, row.metadata));
            let result = match bound {
                // (A value too big, or out of memory: the code says which.)
                Err(code) => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)),
                Ok(()) => match ffi::sqlite3_step(stmt) {
                    ffi::SQLITE_DONE => Ok(ffi::sqlite3_changes(self.db) == 1),
                    code => Err(error(self.db, code)),
                },
            };
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
            result
        }
    }
}

impl Drop for EventInsert<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is this value's own, finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

fn rc(code: c_int) -> Result<(), c_int> {
    if code == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(code)
    }
}

/// The length SQLite takes, or `SQLITE_TOOBIG`.
fn len(bytes: &[u8]) -> Result<c_int, c_int> {
    c_int::try_from(bytes.len()).map_err(|_| ffi::SQLITE_TOOBIG)
}

/// # Safety
/// `stmt` is a live statement; `text` stays valid until the binding is cleared.
unsafe fn bind_text(
    stmt: *mut ffi::sqlite3_stmt,
    index: c_int,
    text: Option<&str>,
) -> Result<(), c_int> {
    match text {
        None => rc(ffi::sqlite3_bind_null(stmt, index)),
        Some(t) => {
            let n = len(t.as_bytes())?;
            // An empty text's pointer may dangle: SQLite is given a real one.
            let ptr = if n == 0 {
                c"".as_ptr()
            } else {
                t.as_ptr().cast::<c_char>()
            };
            rc(ffi::sqlite3_bind_text(
                stmt,
                index,
                ptr,
                n,
                ffi::SQLITE_STATIC(),
            ))
        }
    }
}

/// # Safety
/// As [`bind_text`].
unsafe fn bind_doc(stmt: *mut ffi::sqlite3_stmt, index: c_int, doc: Doc<'_>) -> Result<(), c_int> {
    match doc {
        Doc::Text(t) => bind_text(stmt, index, Some(t)),
        // An empty blob, not NULL.
        Doc::Blob([]) => rc(ffi::sqlite3_bind_zeroblob(stmt, index, 0)),
        Doc::Blob(b) => {
            let n = len(b)?;
            rc(ffi::sqlite3_bind_blob(
                stmt,
                index,
                b.as_ptr().cast(),
                n,
                ffi::SQLITE_STATIC(),
            ))
        }
    }
}

/// SQLite's error `code` from a statement run, with the connection's message for it.
fn error(db: *mut ffi::sqlite3, code: c_int) -> rusqlite::Error {
    // SAFETY: `db` is a live connection; its message is copied before any other call.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db);
        (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
}
