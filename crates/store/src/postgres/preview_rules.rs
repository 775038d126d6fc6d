//! [`PreviewRules`] for the PostgreSQL backend: each change, its audit
//! entry and the revision's bump in one write transaction (which holds the
//! write lock, so the limit's count cannot change under it).
use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::PgStore;
use super::read::{corrupt, execute, query, query_one};
use crate::preview_rules::{
    PreviewRule, PreviewRuleSet, PreviewRules, RuleList, audit_detail, refusal,
};
use crate::{Error, Timestamp, UserId};

async fn revision<C: GenericClient>(c: &C) -> Result<i64, Error> {
    let row = query_one(
        c,
        "SELECT revision FROM preview_rules_revision WHERE id = 1",
        &[],
    )
    .await?;
    Ok(row.try_get(0)?)
}

/// Bumps the revision and writes the audit entry of a change.
async fn changed<C: GenericClient>(
    c: &C,
    action: &str,
    list: RuleList,
    pattern: &str,
    by: UserId,
    at: Timestamp,
) -> Result<(), Error> {
    execute(
        c,
        "UPDATE preview_rules_revision SET revision = revision + 1 WHERE id = 1",
        &[],
    )
    .await?;
    execute(
        c,
        "INSERT INTO audit_log (at, actor_id, action, detail) VALUES ($1, $2, $3, $4)",
        &[&at, &by, &action, &audit_detail(list, pattern)],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl PreviewRules for PgStore {
    async fn preview_rules(&self) -> Result<PreviewRuleSet, Error> {
        let c = self.client().await?;
        // The revision first: a change between the two reads leaves rules
        // newer than their revision, which the next poll reads again;
        // never older rules under a newer revision.
        let revision = revision(&c).await?;
        let rows = query(
            &c,
            "SELECT r.list, r.pattern, u.handle, r.created_at FROM preview_rules r \
             JOIN users u ON u.id = r.created_by ORDER BY r.id",
            &[],
        )
        .await?;
        let rules = rows
            .iter()
            .map(|r| {
                let list: String = r.try_get(0)?;
                Ok(PreviewRule {
                    list: RuleList::parse(&list).ok_or_else(|| corrupt("preview_rules.list"))?,
                    pattern: r.try_get(1)?,
                    created_by: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(PreviewRuleSet { revision, rules })
    }

    async fn preview_rules_revision(&self) -> Result<i64, Error> {
        revision(&self.client().await?).await
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
        self.write(move |tx, _| {
            Box::pin(async move {
                let there = query(
                    tx,
                    "SELECT 1 FROM preview_rules WHERE list = $1 AND pattern = $2",
                    &[&list.as_str(), &pattern],
                )
                .await?;
                if !there.is_empty() {
                    return Ok(None);
                }
                let count: i64 = query_one(tx, "SELECT count(*) FROM preview_rules", &[])
                    .await?
                    .try_get(0)?;
                if usize::try_from(count).unwrap_or(usize::MAX) >= max_rules {
                    return Err(Error::Conflict(refusal::FULL));
                }
                execute(
                    tx,
                    "INSERT INTO preview_rules (list, pattern, created_by, created_at) \
                     VALUES ($1, $2, $3, $4)",
                    &[&list.as_str(), &pattern, &by, &at],
                )
                .await?;
                changed(tx, "preview_rules.add", list, &pattern, by, at).await?;
                let created_by: String =
                    query_one(tx, "SELECT handle FROM users WHERE id = $1", &[&by])
                        .await?
                        .try_get(0)?;
                Ok(Some(PreviewRule {
                    list,
                    pattern,
                    created_by,
                    created_at: at,
                }))
            })
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
        self.write(move |tx, _| {
            Box::pin(async move {
                let removed = execute(
                    tx,
                    "DELETE FROM preview_rules WHERE list = $1 AND pattern = $2",
                    &[&list.as_str(), &pattern],
                )
                .await?;
                if removed == 0 {
                    return Ok(false);
                }
                changed(tx, "preview_rules.remove", list, &pattern, by, at).await?;
                Ok(true)
            })
        })
        .await
    }
}
