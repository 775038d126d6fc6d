//! Work on a database file outside the server: an online backup, a
//! restore, and the schema's migrations. The backup reads through SQLite
//! (`VACUUM INTO`, one read transaction), so it is a consistent snapshot
//! that includes what is still in the WAL, while the server keeps writing.
//! Files appear whole or not at all: each is written under a temporary
//! name beside its destination, fsynced, then renamed.
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::migrate;
pub use super::migrate::{Migration, latest};
use crate::Error;

/// Why a maintenance operation failed. Each message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// The database (or the file to restore) does not exist.
    #[error("{0}: no such file")]
    Missing(PathBuf),
    /// The file is not a SQLite database at all.
    #[error("{0} is not a SQLite database")]
    NotSqlite(PathBuf),
    /// The file is a SQLite database, but not one of Kaifang's.
    #[error("{0} is a SQLite database but not Kaifang's (it has no kaifang_migrations table)")]
    NotKaifang(PathBuf),
    /// SQLite's integrity check found damage.
    #[error("{path} is damaged: {detail}")]
    Damaged {
        /// The file checked.
        path: PathBuf,
        /// SQLite's first complaint.
        detail: String,
    },
    /// The destination's folder does not exist.
    #[error("folder {0} does not exist")]
    NoFolder(PathBuf),
    /// The destination exists already; nothing is overwritten.
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    /// Writing the copy failed (a full disk, no permission): nothing is
    /// left behind.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The destination.
        path: PathBuf,
        /// The operating system's or SQLite's reason.
        reason: String,
    },
    /// The database could not be read, or its schema is too new.
    #[error("{path}: {source}")]
    Store {
        /// The database.
        path: PathBuf,
        /// What went wrong.
        source: Error,
    },
}

type Result<T> = std::result::Result<T, MaintenanceError>;

/// A database's schema, as found.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The version it is at (0: no database yet).
    pub version: u32,
    /// What a start of this build would apply.
    pub pending: Vec<Migration>,
}

fn store_err(path: &Path) -> impl Fn(Error) -> MaintenanceError + '_ {
    move |source| MaintenanceError::Store {
        path: path.to_owned(),
        source,
    }
}

/// Opens an existing database without writing to it.
fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(MaintenanceError::Missing(path.to_owned()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| store_err(path)(e.into()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| store_err(path)(e.into()))?;
    Ok(conn)
}

/// Checks that `conn` is a Kaifang database this build can run on.
fn identify(conn: &Connection, path: &Path) -> Result<Schema> {
    // SQLite opens any file lazily: the first read says whether it is one.
    if let Err(e) = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        return Err(match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => MaintenanceError::NotSqlite(path.to_owned()),
            _ => store_err(path)(e.into()),
        });
    }
    let version = migrate::current(conn).map_err(store_err(path))?;
    let recorded = migrate::has_records(conn).map_err(store_err(path))?;
    let legacy = (1..=migrate::LAST_UNRECORDED).contains(&version);
    if !recorded && !legacy {
        return Err(MaintenanceError::NotKaifang(path.to_owned()));
    }
    let pending = migrate::pending(version).map_err(store_err(path))?;
    Ok(Schema { version, pending })
}

/// The schema of the database at `path` and what would run on it; a
/// missing file is a new database with every migration pending.
pub fn check(path: &Path) -> Result<Schema> {
    if !path.exists() {
        return Ok(Schema {
            version: 0,
            pending: migrate::pending(0).map_err(store_err(path))?,
        });
    }
    identify(&open_read_only(path)?, path)
}

/// The schema of an existing Kaifang database at `path`, refusing any
/// other file and a schema newer than this build.
pub fn inspect(path: &Path) -> Result<Schema> {
    identify(&open_read_only(path)?, path)
}

/// Applies pending migrations to the database at `path` (which must exist
/// and not be in use by an older server). Returns what ran.
pub fn migrate(path: &Path) -> Result<Vec<Migration>> {
    identify(&open_read_only(path)?, path)?;
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| store_err(path)(e.into()))?;
    migrate::apply(&mut conn).map_err(store_err(path))
}

/// Writes a consistent copy of the database at `db` to `dest`, which must
/// not exist, while the server may keep writing. Returns the copy's schema.
pub fn backup(db: &Path, dest: &Path) -> Result<Schema> {
    let conn = open_read_only(db)?;
    identify(&conn, db)?;
    write_copy(&conn, dest)?;
    identify(&open_read_only(dest)?, dest)
}

/// What [`restore`] did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The restored database's schema (pending migrations run at the next start).
    pub schema: Schema,
    /// Where the database it replaced was moved, if there was one.
    pub replaced: Option<PathBuf>,
}

/// Puts the backup `from` in place as the database `db`. The caller makes
/// sure no server uses `db`. `from` must be a sound Kaifang database no
/// newer than this build; the database it replaces is kept beside it,
/// renamed, with its WAL.
pub fn restore(from: &Path, db: &Path) -> Result<Restored> {
    let conn = open_read_only(from)?;
    let schema = identify(&conn, from)?;
    let detail: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| store_err(from)(e.into()))?;
    if detail != "ok" {
        return Err(MaintenanceError::Damaged {
            path: from.to_owned(),
            detail,
        });
    }
    let folder = folder_of(db);
    std::fs::create_dir_all(&folder).map_err(|e| write_err(db, &e))?;
    let staged = temporary(db);
    let _ = std::fs::remove_file(&staged);
    write_copy(&conn, &staged)?;
    let replaced = if db.exists() {
        let aside = suffixed(db, &format!(".before-restore-{}", super::now_ms()));
        // The WAL goes with its database: left behind, SQLite would replay
        // it onto the restored file.
        let wal = suffixed(db, "-wal");
        let moves = std::fs::rename(db, &aside).and_then(|()| match wal.exists() {
            true => std::fs::rename(&wal, suffixed(&aside, "-wal")),
            false => Ok(()),
        });
        if let Err(e) = moves {
            let _ = std::fs::remove_file(&staged);
            return Err(write_err(db, &e));
        }
        let _ = std::fs::remove_file(suffixed(db, "-shm"));
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&staged, db)
        .and_then(|()| sync_folder(&folder))
        .map_err(|e| write_err(db, &e))?;
    Ok(Restored { schema, replaced })
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A hidden name beside `dest`, unique to this process.
fn temporary(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    folder_of(dest).join(format!(".{name}.partial-{}", std::process::id()))
}

fn write_err(path: &Path, e: &dyn std::fmt::Display) -> MaintenanceError {
    MaintenanceError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

fn sync_folder(folder: &Path) -> std::io::Result<()> {
    std::fs::File::open(folder)?.sync_all()
}

/// `VACUUM INTO` a temporary file beside `dest`, fsync it, rename it.
fn write_copy(conn: &Connection, dest: &Path) -> Result<()> {
    let folder = folder_of(dest);
    if !folder.is_dir() {
        return Err(MaintenanceError::NoFolder(folder));
    }
    if dest.exists() {
        return Err(MaintenanceError::Exists(dest.to_owned()));
    }
    let staged = temporary(dest);
    let Some(staged_text) = staged.to_str() else {
        return Err(write_err(dest, &"the path is not valid UTF-8"));
    };
    let _ = std::fs::remove_file(&staged);
    let written = conn
        .execute("VACUUM INTO ?1", [staged_text])
        .map_err(|e| write_err(dest, &sqlite_reason(&e)))
        // SQLite does not fsync what VACUUM INTO writes.
        .and_then(|_| {
            std::fs::File::open(&staged)
                .and_then(|f| f.sync_all())
                .map_err(|e| write_err(dest, &e))
        })
        .and_then(|()| {
            std::fs::rename(&staged, dest)
                .and_then(|()| sync_folder(&folder))
                .map_err(|e| write_err(dest, &e))
        });
    if written.is_err() {
        for leftover in [staged.clone(), suffixed(&staged, "-journal")] {
            let _ = std::fs::remove_file(leftover);
        }
    }
    written
}

/// SQLite's words for a failure, without the library's wrapping.
fn sqlite_reason(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        other => other.to_string(),
    }
}
