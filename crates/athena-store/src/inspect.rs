//! What a store path holds, found out without writing a byte: nothing yet, an empty database,
//! an athena-ingest store (at which schema version), or something that must not be opened as
//! one (another application's database, a directory, a device).
//!
//! Opening a file read-write makes SQLite change it (journal mode, page size, our tables), and
//! even a read-only connection to a WAL database leaves `-wal` and `-shm` files beside it; so a
//! path is inspected first, and refused before anything is written to it or beside it.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use athena_core::StoreError;
use rusqlite::{Connection, OpenFlags};

/// What a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// No file: a writer creates the store.
    Nothing,
    /// An empty file, or a SQLite database without tables or version: a writer makes it a store.
    Empty,
    /// An athena-ingest store at this schema version.
    Store { version: i64 },
}

/// The tables every schema version has, and the columns of `events` the queries read.
const TABLES: &[&str] = &["events", "cursors", "source_runs", "dead_letters"];
const EVENT_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "source_id",
    "source_type",
    "kind",
    "occurred_at",
    "ingested_at",
    "actor",
    "title",
    "body",
    "url",
    "outcome",
    "context",
    "metadata",
];

/// The path with every symlink resolved, also when the file does not exist yet (its directory
/// is resolved, and a dangling link is followed to where the file will be created): every name
/// of one store must share its lock, or two syncs could write it at once.
pub(crate) fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut path = std::path::absolute(path)?;
    for _ in 0..40 {
        match fs::canonicalize(&path) {
            Ok(p) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match fs::read_link(&path) {
            // A relative target is relative to the link's directory.
            Ok(target) => path = path.parent().unwrap_or(Path::new("/")).join(target),
            Err(_) => {
                let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                    return Ok(path);
                };
                return Ok(fs::canonicalize(dir)?.join(name));
            }
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

fn refuse(shown: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::NotAStore {
        path: shown.to_path_buf(),
        reason: reason.into(),
    }
}

fn io_error(shown: &Path, e: io::Error) -> StoreError {
    StoreError::Backend(format!("store {}: {e}", shown.display()).into())
}

/// Inspects `resolved` (named `shown` in errors) without writing to it or beside it.
pub(crate) fn inspect(shown: &Path, resolved: &Path) -> Result<Found, StoreError> {
    let meta = match fs::metadata(resolved) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(io_error(shown, e)),
    };
    if !meta.is_file() {
        return Err(refuse(shown, format!("it is {}", kind_of(&meta))));
    }
    let header = read_header(resolved, &meta).map_err(|e| io_error(shown, e))?;
    if header.is_empty() {
        return Ok(Found::Empty);
    }
    if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
        return Err(refuse(shown, "it is not a SQLite database"));
    }
    // An application that marks its files (`PRAGMA application_id`) owns this one, even empty.
    let application_id = u32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if application_id != 0 {
        return Err(refuse(
            shown,
            format!(
                "it is another application's SQLite database (application_id {application_id:#x})"
            ),
        ));
    }
    // A WAL database whose WAL is gone is whole in its main file; reading it as immutable is
    // exact and, unlike a read-only connection, creates no `-wal` and `-shm` files.
    let wal_mode = header[18] == 2 && header[19] == 2;
    let conn = connect(resolved, wal_mode && !has_wal(resolved)).map_err(|e| sqlite(shown, e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| sqlite(shown, e))?;
    let tables = names(
        &conn,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         ORDER BY name",
    )
    .map_err(|e| sqlite(shown, e))?;
    if tables.is_empty() && version == 0 {
        return Ok(Found::Empty);
    }
    let columns = names(&conn, "SELECT name FROM pragma_table_info('events')")
        .map_err(|e| sqlite(shown, e))?;
    let events_ours = EVENT_COLUMNS.iter().all(|c| columns.iter().any(|n| n == c));
    let tables_ours = TABLES.iter().all(|t| tables.iter().any(|n| n == t));
    if version >= 1 && events_ours && tables_ours {
        return Ok(Found::Store { version });
    }
    if !columns.is_empty() && !events_ours {
        return Err(refuse(
            shown,
            "it is another application's SQLite database (its `events` table is not athena-ingest's)",
        ));
    }
    let mut listed: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    if tables.len() > listed.len() {
        listed.push("…");
    }
    Err(refuse(
        shown,
        if tables.is_empty() {
            format!(
                "it is another application's SQLite database (user_version {version}, no tables)"
            )
        } else {
            format!(
                "it is another application's SQLite database (tables: {})",
                listed.join(", ")
            )
        },
    ))
}

/// The files whose header [`inspect`] read, held open for the life of the process, one per
/// file (device and inode).
///
/// Closing any descriptor of a file drops every POSIX lock the process holds on it (`fcntl`
/// semantics). A WAL-mode connection holds a shared lock on the database for as long as it is
/// open, so a process that opens a second connection (`serve`'s recall readers beside its
/// writer) and closed the descriptor it read the header with would lose its writer's lock: the
/// next process whose connection closes (`events`, a test) then finds itself the last one,
/// checkpoints, and deletes the `-wal` and `-shm` files under the writer, whose commits no one
/// else sees from then on. SQLite keeps its own descriptors open for the same reason.
static HEADER_FILES: std::sync::Mutex<Vec<(u64, u64, File)>> = std::sync::Mutex::new(Vec::new());

/// The first 100 bytes of `resolved` (fewer if it is shorter), read without closing a
/// descriptor of it (see [`HEADER_FILES`]).
fn read_header(resolved: &Path, meta: &fs::Metadata) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::{FileExt, MetadataExt};
    let mut held = HEADER_FILES.lock().unwrap_or_else(|p| p.into_inner());
    let key = (meta.dev(), meta.ino());
    let at = match held.iter().position(|(d, i, _)| (*d, *i) == key) {
        Some(at) => at,
        None => {
            held.push((key.0, key.1, File::open(resolved)?));
            held.len() - 1
        }
    };
    let file = &held[at].2;
    let mut header = vec![0u8; 100];
    let mut len = 0;
    while len < header.len() {
        match file.read_at(&mut header[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    header.truncate(len);
    Ok(header)
}

/// A read-only connection; `immutable` reads the main file alone, without locks or side files.
pub(crate) fn connect(resolved: &Path, immutable: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if immutable {
        Connection::open_with_flags(format!("{}?immutable=1", file_uri(resolved)), flags)
    } else {
        Connection::open_with_flags(resolved, flags)
    }
}

/// Whether a WAL with content lies beside the database (an empty or missing one holds nothing).
pub(crate) fn has_wal(resolved: &Path) -> bool {
    let mut wal = resolved.as_os_str().to_owned();
    wal.push("-wal");
    fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// `file:` URI of an absolute path, every byte outside the unreserved set percent-encoded.
fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

fn names(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

fn sqlite(shown: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => refuse(shown, "it is not a SQLite database"),
        _ => StoreError::Backend(format!("store {}: {e}", shown.display()).into()),
    }
}

fn kind_of(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_uri_escapes_what_a_uri_would_misread() {
        assert_eq!(
            file_uri(Path::new("/tmp/a b/x?y#z%.db")),
            "file:///tmp/a%20b/x%3Fy%23z%25.db"
        );
    }
}
