//! Schema migrations, applied in order at start-up. Each is numbered and
//! named, and recorded in `kaifang_migrations` (with when it ran) as well
//! as in `PRAGMA user_version`; a database newer than this build is refused
//! rather than run on by code that does not know its schema.
use rusqlite::{Connection, OptionalExtension};

use crate::Error;

/// One schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its number: migrations run in this order, each once.
    pub version: u32,
    /// What it is called (its file name without number and extension).
    pub name: &'static str,
    sql: &'static str,
}

const fn m(version: u32, name: &'static str, sql: &'static str) -> Migration {
    Migration { version, name, sql }
}

pub(super) const MIGRATIONS: &[Migration] = &[
    m(
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    m(
        2,
        "previews",
        include_str!("../../migrations/sqlite/0002_previews.sql"),
    ),
    m(
        3,
        "link_shares",
        include_str!("../../migrations/sqlite/0003_link_shares.sql"),
    ),
    m(
        4,
        "governance",
        include_str!("../../migrations/sqlite/0004_governance.sql"),
    ),
    m(
        5,
        "link_share_flags",
        include_str!("../../migrations/sqlite/0005_link_share_flags.sql"),
    ),
    m(
        6,
        "administration",
        include_str!("../../migrations/sqlite/0006_administration.sql"),
    ),
    m(
        7,
        "read_state",
        include_str!("../../migrations/sqlite/0007_read_state.sql"),
    ),
    m(
        8,
        "search",
        include_str!("../../migrations/sqlite/0008_search.sql"),
    ),
    m(
        9,
        "attachments",
        include_str!("../../migrations/sqlite/0009_attachments.sql"),
    ),
    m(
        10,
        "edits",
        include_str!("../../migrations/sqlite/0010_edits.sql"),
    ),
    m(
        11,
        "profiles",
        include_str!("../../migrations/sqlite/0011_profiles.sql"),
    ),
    m(
        12,
        "avatars",
        include_str!("../../migrations/sqlite/0012_avatars.sql"),
    ),
    m(
        13,
        "preview_rules",
        include_str!("../../migrations/sqlite/0013_preview_rules.sql"),
    ),
    m(
        14,
        "moderation",
        include_str!("../../migrations/sqlite/0014_moderation.sql"),
    ),
    m(
        15,
        "payments",
        include_str!("../../migrations/sqlite/0015_payments.sql"),
    ),
    m(
        16,
        "ledger_by_wallet",
        include_str!("../../migrations/sqlite/0016_ledger_by_wallet.sql"),
    ),
    m(
        17,
        "search_off_the_send_path",
        include_str!("../../migrations/sqlite/0017_search_off_the_send_path.sql"),
    ),
];

/// Versions up to this one were recorded only in `user_version`: a
/// database at one of them without the table is Kaifang's, from before the
/// records were kept; every later version writes the table.
pub(super) const LAST_UNRECORDED: u32 = 5;

/// The newest schema this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

const RECORDS: &str = "CREATE TABLE IF NOT EXISTS kaifang_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER -- ms since the epoch; NULL: applied before records were kept
)";

/// Whether the records table exists.
pub(super) fn has_records(conn: &Connection) -> Result<bool, Error> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kaifang_migrations'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The schema version a database is at: the higher of `user_version` and
/// the newest record, so that either one bumped by a newer build counts.
pub(super) fn current(conn: &Connection) -> Result<u32, Error> {
    let user_version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let recorded: u32 = if has_records(conn)? {
        conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM kaifang_migrations",
            [],
            |r| r.get(0),
        )?
    } else {
        0
    };
    Ok(user_version.max(recorded))
}

/// The migrations a database at `version` still needs, refusing one newer
/// than this build.
pub(super) fn pending(version: u32) -> Result<Vec<Migration>, Error> {
    if version > latest() {
        return Err(Error::SchemaTooNew {
            found: version,
            supported: latest(),
        });
    }
    Ok(MIGRATIONS
        .iter()
        .filter(|m| m.version > version)
        .copied()
        .collect())
}

/// Applies what is pending, each migration and its record in one
/// transaction. Returns what ran.
pub(super) fn apply(conn: &mut Connection) -> Result<Vec<Migration>, Error> {
    let version = current(conn)?;
    let todo = pending(version)?;
    conn.execute_batch(RECORDS)?;
    // Databases from before the records: name what they already have.
    for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
        conn.execute(
            "INSERT OR IGNORE INTO kaifang_migrations (version, name) VALUES (?1, ?2)",
            rusqlite::params![m.version, m.name],
        )?;
    }
    if version > 0 && !todo.is_empty() {
        tracing::warn!(
            from = version,
            to = latest(),
            "upgrading the database schema; a backup made before this start is the way back"
        );
    }
    for m in &todo {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .and_then(|_| tx.pragma_update(None, "user_version", m.version))
            .and_then(|_| {
                tx.execute(
                    "INSERT INTO kaifang_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    rusqlite::params![m.version, m.name, super::now_ms()],
                )
            })
            .map_err(|source| super::error::migration(m.version, source))?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied database migration"
        );
    }
    Ok(todo)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Numbers only grow (they are handed out per feature in advance, so
    /// a build may lack some in between).
    #[test]
    fn migrations_are_numbered_in_order() {
        assert_eq!(MIGRATIONS.first().map(|m| m.version), Some(1));
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "{}", pair[1].name);
        }
    }

    /// A database from before the records gets them, and a newer one is refused.
    #[test]
    fn old_databases_are_recorded_and_newer_ones_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        for m in &MIGRATIONS[..3] {
            conn.execute_batch(m.sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        let ran: Vec<u32> = apply(&mut conn)
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        let after: Vec<u32> = MIGRATIONS
            .iter()
            .map(|m| m.version)
            .filter(|v| *v > 3)
            .collect();
        assert_eq!(ran, after);
        let recorded: Vec<(u32, bool)> = conn
            .prepare(
                "SELECT version, applied_at IS NOT NULL FROM kaifang_migrations ORDER BY version",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<(u32, bool)> = MIGRATIONS
            .iter()
            .map(|m| (m.version, m.version > 3))
            .collect();
        assert_eq!(recorded, expected);
        assert!(apply(&mut conn).unwrap().is_empty());

        conn.execute(
            "INSERT INTO kaifang_migrations (version, name) VALUES (?1, 'future')",
            [latest() + 1],
        )
        .unwrap();
        match apply(&mut conn) {
            Err(Error::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (latest() + 1, latest()))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
