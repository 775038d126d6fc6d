//! [`Governance`] for the PostgreSQL backend.
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::read::{corrupt, execute, query, query_one, query_opt};
use super::{PgStore, now_ms};
use crate::{
    Activation, AuditEntry, ConversationKind, Error, Governance, LinkShare, PolicyVersion, Role,
    ShareCount, Timestamp, UserId,
};

const VERSION_SQL: &str = "SELECT v.id, v.text, u.handle, v.created_at, v.comment \
     FROM policy_versions v JOIN users u ON u.id = v.author_id";

fn version_from(r: &Row) -> Result<PolicyVersion, Error> {
    Ok(PolicyVersion {
        id: r.try_get(0)?,
        text: r.try_get(1)?,
        author: r.try_get(2)?,
        created_at: r.try_get(3)?,
        comment: r.try_get(4)?,
    })
}

const ACTIVATION_SQL: &str = "SELECT a.id, a.version_id, a.effective_from, u.handle, a.created_at, a.cancelled_at \
     FROM policy_activations a JOIN users u ON u.id = a.created_by";

fn activation_from(r: &Row) -> Result<Activation, Error> {
    Ok(Activation {
        id: r.try_get(0)?,
        version_id: r.try_get(1)?,
        effective_from: r.try_get(2)?,
        created_by: r.try_get(3)?,
        created_at: r.try_get(4)?,
        cancelled_at: r.try_get(5)?,
    })
}

async fn activation<C: GenericClient>(c: &C, id: i64) -> Result<Option<Activation>, Error> {
    let sql = format!("{ACTIVATION_SQL} WHERE a.id = $1");
    let row = query_opt(c, &sql, &[&id]).await?;
    row.as_ref().map(activation_from).transpose()
}

fn count_from(r: &Row, at: usize) -> Result<ShareCount, Error> {
    Ok(ShareCount {
        owner: r.try_get(at)?,
        platform: r.try_get(at + 1)?,
        conversation_kind: r.try_get(at + 2)?,
        treatment: r.try_get(at + 3)?,
        count: r.try_get(at + 4)?,
    })
}

fn share_from(r: &Row) -> Result<(i64, LinkShare), Error> {
    let kind: String = r.try_get(3)?;
    let role: String = r.try_get(5)?;
    let lists: String = r.try_get(10)?;
    let policies: String = r.try_get(14)?;
    Ok((
        r.try_get(0)?,
        LinkShare {
            at: r.try_get(1)?,
            message_id: r.try_get(2)?,
            conversation_kind: ConversationKind::parse(&kind)
                .ok_or_else(|| corrupt("link_shares.conversation_kind"))?,
            member_count: r.try_get(4)?,
            sender_role: Role::parse(&role).ok_or_else(|| corrupt("link_shares.sender_role"))?,
            platform: r.try_get(6)?,
            owner: r.try_get(7)?,
            category: r.try_get(8)?,
            domain: r.try_get(9)?,
            lists: serde_json::from_str(&lists).map_err(|e| Error::Corrupt(e.to_string()))?,
            bidi: r.try_get(15)?,
            mixed_script: r.try_get(16)?,
            treatment: r.try_get(11)?,
            preview: r.try_get(12)?,
            policy_version: r.try_get(13)?,
            policies: serde_json::from_str(&policies).map_err(|e| Error::Corrupt(e.to_string()))?,
        },
    ))
}

#[async_trait]
impl Governance for PgStore {
    async fn create_version(
        &self,
        author: UserId,
        text: &str,
        comment: &str,
    ) -> Result<PolicyVersion, Error> {
        let (text, comment) = (text.to_owned(), comment.to_owned());
        self.write(move |tx, _| {
            Box::pin(async move {
                let id: i64 = query_one(
                    tx,
                    "INSERT INTO policy_versions (text, author_id, created_at, comment) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&text, &author, &now_ms(), &comment],
                )
                .await?
                .try_get(0)?;
                let sql = format!("{VERSION_SQL} WHERE v.id = $1");
                version_from(&query_one(tx, &sql, &[&id]).await?)
            })
        })
        .await
    }

    async fn versions(&self) -> Result<Vec<PolicyVersion>, Error> {
        let sql = format!("{VERSION_SQL} ORDER BY v.id");
        let rows = query(&self.client().await?, &sql, &[]).await?;
        rows.iter().map(version_from).collect()
    }

    async fn version(&self, id: i64) -> Result<Option<PolicyVersion>, Error> {
        let sql = format!("{VERSION_SQL} WHERE v.id = $1");
        let row = query_opt(&self.client().await?, &sql, &[&id]).await?;
        row.as_ref().map(version_from).transpose()
    }

    async fn schedule(&self, version: i64, at: Timestamp, by: UserId) -> Result<Activation, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                query_opt(
                    tx,
                    "SELECT id FROM policy_versions WHERE id = $1",
                    &[&version],
                )
                .await?
                .ok_or(Error::NotFound("policy version"))?;
                let id: i64 = query_one(
                    tx,
                    "INSERT INTO policy_activations (version_id, effective_from, created_by, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&version, &at, &by, &now_ms()],
                )
                .await?
                .try_get(0)?;
                activation(tx, id).await?.ok_or(Error::NotFound("activation"))
            })
        })
        .await
    }

    async fn cancel(&self, id: i64, now: Timestamp) -> Result<Activation, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                let a = activation(tx, id)
                    .await?
                    .ok_or(Error::NotFound("activation"))?;
                if a.cancelled_at.is_some() {
                    return Err(Error::Conflict("already cancelled"));
                }
                if a.effective_from <= now {
                    return Err(Error::Conflict("already in effect: roll back instead"));
                }
                execute(
                    tx,
                    "UPDATE policy_activations SET cancelled_at = $2 WHERE id = $1",
                    &[&id, &now],
                )
                .await?;
                activation(tx, id)
                    .await?
                    .ok_or(Error::NotFound("activation"))
            })
        })
        .await
    }

    async fn activations(&self) -> Result<Vec<Activation>, Error> {
        let sql = format!("{ACTIVATION_SQL} ORDER BY a.effective_from, a.id");
        let rows = query(&self.client().await?, &sql, &[]).await?;
        rows.iter().map(activation_from).collect()
    }

    async fn share_counts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ShareCount>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT owner, platform, conversation_kind, treatment, COUNT(*) FROM link_shares \
             WHERE at >= $1 AND at < $2 GROUP BY owner, platform, conversation_kind, treatment \
             ORDER BY owner, platform, conversation_kind, treatment",
            &[&from, &to],
        )
        .await?;
        rows.iter().map(|r| count_from(r, 0)).collect()
    }

    async fn share_series(
        &self,
        from: Timestamp,
        to: Timestamp,
        bucket: i64,
    ) -> Result<Vec<(Timestamp, ShareCount)>, Error> {
        let bucket = bucket.max(1);
        let rows = query(
            &self.client().await?,
            "SELECT $1::BIGINT + ((at - $1::BIGINT) / $3::BIGINT) * $3::BIGINT AS b, \
             owner, platform, conversation_kind, treatment, COUNT(*) \
             FROM link_shares WHERE at >= $1 AND at < $2 \
             GROUP BY b, owner, platform, conversation_kind, treatment \
             ORDER BY b, owner, platform, conversation_kind, treatment",
            &[&from, &to, &bucket],
        )
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, count_from(r, 1)?)))
            .collect()
    }

    async fn shares(
        &self,
        from: Timestamp,
        to: Timestamp,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, LinkShare)>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT id, at, message_id, conversation_kind, member_count, sender_role, platform, owner, \
             category, domain, lists, treatment, preview, policy_version, policies, bidi, \
             mixed_script FROM link_shares \
             WHERE id > $3 AND at >= $1 AND at < $2 ORDER BY id LIMIT $4",
            &[&from, &to, &after, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(share_from).collect()
    }

    async fn prune_shares(&self, before: Timestamp) -> Result<u64, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                execute(tx, "DELETE FROM link_shares WHERE at < $1", &[&before]).await
            })
        })
        .await
    }

    async fn audit(&self, actor: UserId, action: &str, detail: &str) -> Result<(), Error> {
        let (action, detail) = (action.to_owned(), detail.to_owned());
        self.write(move |tx, _| {
            Box::pin(async move {
                execute(
                    tx,
                    "INSERT INTO audit_log (at, actor_id, action, detail) VALUES ($1, $2, $3, $4)",
                    &[&now_ms(), &actor, &action, &detail],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT a.id, a.at, u.handle, a.action, a.detail FROM audit_log a \
             JOIN users u ON u.id = a.actor_id ORDER BY a.id DESC LIMIT $1",
            &[&i64::from(limit)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    detail: r.try_get(4)?,
                })
            })
            .collect()
    }
}
