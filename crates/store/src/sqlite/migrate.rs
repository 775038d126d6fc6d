//! Schema migrations, applied in order at start-up and tracked in
//! `PRAGMA user_version`.
use rusqlite::Connection;

use crate::Error;

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_previews.sql")),
    (
        3,
        include_str!("../../migrations/sqlite/0003_link_shares.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_governance.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_link_share_flags.sql"),
    ),
];

pub(super) fn apply(conn: &mut Connection) -> Result<(), Error> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .and_then(|_| tx.pragma_update(None, "user_version", version))
            .map_err(|source| super::error::migration(version, source))?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
