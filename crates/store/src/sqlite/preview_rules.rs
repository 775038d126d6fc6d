//! [`PreviewRules`] for the SQLite backend: each change, its audit entry and
//! the revision's bump in one savepoint of the writer.
use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::preview_rules::{
    PreviewRule, PreviewRuleSet, PreviewRules, RuleList, audit_detail, refusal,
};
use crate::{Error, Timestamp, UserId};

fn revision(conn: &Connection) -> Result<i64, Error> {
    Ok(conn
        .prepare_cached("SELECT revision FROM preview_rules_revision WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

/// Bumps the revision and writes the audit entry of a change.
fn changed(
    conn: &Connection,
    action: &str,
    list: RuleList,
    pattern: &str,
    by: UserId,
    at: Timestamp,
) -> Result<(), Error> {
    conn.prepare_cached("UPDATE preview_rules_revision SET revision = revision + 1 WHERE id = 1")?
        .execute([])?;
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor_id, action, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![at, by, action, audit_detail(list, pattern)])?;
    Ok(())
}

#[async_trait]
impl PreviewRules for SqliteStore {
    async fn preview_rules(&self) -> Result<PreviewRuleSet, Error> {
        self.read(|c| {
            // The revision first (see the PostgreSQL backend's note).
            let revision = revision(c)?;
            let mut stmt = c.prepare_cached(
                "SELECT r.list, r.pattern, u.handle, r.created_at FROM preview_rules r \
                 JOIN users u ON u.id = r.created_by ORDER BY r.id",
            )?;
            let mut rows = stmt.query([])?;
            let mut rules = Vec::new();
            while let Some(r) = rows.next()? {
                let list: String = r.get(0)?;
                rules.push(PreviewRule {
                    list: RuleList::parse(&list)
                        .ok_or_else(|| Error::Corrupt("preview_rules.list".into()))?,
                    pattern: r.get(1)?,
                    created_by: r.get(2)?,
                    created_at: r.get(3)?,
                });
            }
            Ok(PreviewRuleSet { revision, rules })
        })
        .await
    }

    async fn preview_rules_revision(&self) -> Result<i64, Error> {
        self.read(revision).await
    }

    async fn add_preview_rule(
        &self,
        list: RuleList,
        pattern: &str,
        by: UserId,
        at: Timestamp,
        max_rules: usize,
    ) -> Result<Option<PreviewRule>, Error> {
        let pattern = pattern.to_owned();
        self.writer
            .run(move |conn, _| {
                let count: i64 = conn
                    .prepare_cached("SELECT count(*) FROM preview_rules")?
                    .query_row([], |r| r.get(0))?;
                let added = conn
                    .prepare_cached(
                        "INSERT INTO preview_rules (list, pattern, created_by, created_at) \
                         SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS \
                         (SELECT 1 FROM preview_rules WHERE list = ?1 AND pattern = ?2)",
                    )?
                    .execute(params![list.as_str(), pattern, by, at])?;
                if added == 0 {
                    return Ok(None);
                }
                if usize::try_from(count).unwrap_or(usize::MAX) >= max_rules {
                    // The savepoint is rolled back with the error.
                    return Err(Error::Conflict(refusal::FULL));
                }
                changed(conn, "preview_rules.add", list, &pattern, by, at)?;
                let created_by = conn
                    .prepare_cached("SELECT handle FROM users WHERE id = ?1")?
                    .query_row([by], |r| r.get(0))?;
                Ok(Some(PreviewRule {
                    list,
                    pattern,
                    created_by,
                    created_at: at,
                }))
            })
            .await
    }

    async fn remove_preview_rule(
        &self,
        list: RuleList,
        pattern: &str,
        by: UserId,
        at: Timestamp,
    ) -> Result<bool, Error> {
        let pattern = pattern.to_owned();
        self.writer
            .run(move |conn, _| {
                let removed = conn
                    .prepare_cached("DELETE FROM preview_rules WHERE list = ?1 AND pattern = ?2")?
                    .execute(params![list.as_str(), pattern])?;
                if removed == 0 {
                    return Ok(false);
                }
                changed(conn, "preview_rules.remove", list, &pattern, by, at)?;
                Ok(true)
            })
            .await
    }
}
