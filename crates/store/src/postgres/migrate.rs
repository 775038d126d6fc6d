//! Schema migrations, applied in order on connect and recorded in
//! `kaifang_migrations`. All of them run in one transaction that first takes
//! an advisory lock, so two servers starting at once on an empty database
//! do not both apply them: the second waits, then finds them recorded.
use deadpool_postgres::Client;

use crate::Error;

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_previews.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_link_shares.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_governance.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_link_share_flags.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_administration.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_read_state.sql"),
    ),
    (8, include_str!("../../migrations/postgres/0008_search.sql")),
    (
        9,
        include_str!("../../migrations/postgres/0009_attachments.sql"),
    ),
    (10, include_str!("../../migrations/postgres/0010_edits.sql")),
    (
        11,
        include_str!("../../migrations/postgres/0011_profiles.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_avatars.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_preview_rules.sql"),
    ),
    (
        14,
        include_str!("../../migrations/postgres/0014_moderation.sql"),
    ),
    (
        15,
        include_str!("../../migrations/postgres/0015_payments.sql"),
    ),
    (
        16,
        include_str!("../../migrations/postgres/0016_ledger_by_wallet.sql"),
    ),
    (
        17,
        include_str!("../../migrations/postgres/0017_append_message.sql"),
    ),
];

/// The advisory-lock key that guards migrations (any constant distinct from
/// the write lock's key in `mod.rs`).
const MIGRATION_LOCK: i64 = 0x6b61_6966_616e_6701;

pub(super) async fn apply(client: &mut Client) -> Result<(), Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS kaifang_migrations (\
             version BIGINT PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM kaifang_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| i64::from(*v) > current) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| super::error::migration(version, e))?;
        tx.execute(
            "INSERT INTO kaifang_migrations (version) VALUES ($1)",
            &[&i64::from(version)],
        )
        .await
        .map_err(|e| super::error::migration(version, e))?;
        applied.push(version);
    }
    tx.commit().await?;
    for version in applied {
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
