//! [`Governance`] for the SQLite backend.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, now_ms};
use crate::{
    Activation, AuditEntry, ConversationKind, Error, Governance, LinkShare, PolicyVersion, Role,
    ShareCount, Timestamp, UserId,
};

fn version_from(r: &Row<'_>) -> rusqlite::Result<PolicyVersion> {
    Ok(PolicyVersion {
        id: r.get(0)?,
        text: r.get(1)?,
        author: r.get(2)?,
        created_at: r.get(3)?,
        comment: r.get(4)?,
    })
}

const VERSION_SQL: &str = "SELECT v.id, v.text, u.handle, v.created_at, v.comment \
     FROM policy_versions v JOIN users u ON u.id = v.author_id";

fn activation_from(r: &Row<'_>) -> rusqlite::Result<Activation> {
    Ok(Activation {
        id: r.get(0)?,
        version_id: r.get(1)?,
        effective_from: r.get(2)?,
        created_by: r.get(3)?,
        created_at: r.get(4)?,
        cancelled_at: r.get(5)?,
    })
}

const ACTIVATION_SQL: &str = "SELECT a.id, a.version_id, a.effective_from, u.handle, a.created_at, a.cancelled_at \
     FROM policy_activations a JOIN users u ON u.id = a.created_by";

fn activation(conn: &Connection, id: i64) -> Result<Option<Activation>, Error> {
    Ok(conn
        .prepare_cached(&format!("{ACTIVATION_SQL} WHERE a.id = ?1"))?
        .query_row([id], activation_from)
        .optional()?)
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("unexpected stored value in {what}"))
}

fn share_from(r: &Row<'_>) -> Result<(i64, LinkShare), Error> {
    let kind: String = r.get(3)?;
    let role: String = r.get(5)?;
    let lists: String = r.get(10)?;
    let policies: String = r.get(14)?;
    Ok((
        r.get(0)?,
        LinkShare {
            at: r.get(1)?,
            message_id: r.get(2)?,
            conversation_kind: ConversationKind::parse(&kind)
                .ok_or_else(|| corrupt("link_shares.conversation_kind"))?,
            member_count: r.get(4)?,
            sender_role: Role::parse(&role).ok_or_else(|| corrupt("link_shares.sender_role"))?,
            platform: r.get(6)?,
            owner: r.get(7)?,
            category: r.get(8)?,
            domain: r.get(9)?,
            lists: serde_json::from_str(&lists).map_err(|e| Error::Corrupt(e.to_string()))?,
            bidi: r.get(15)?,
            mixed_script: r.get(16)?,
            treatment: r.get(11)?,
            preview: r.get(12)?,
            policy_version: r.get(13)?,
            policies: serde_json::from_str(&policies).map_err(|e| Error::Corrupt(e.to_string()))?,
        },
    ))
}

#[async_trait]
impl Governance for SqliteStore {
    async fn create_version(
        &self,
        author: UserId,
        text: &str,
        comment: &str,
    ) -> Result<PolicyVersion, Error> {
        let (text, comment) = (text.to_owned(), comment.to_owned());
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached("INSERT INTO policy_versions (text, author_id, created_at, comment) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![text, author, now_ms(), comment])?;
                let id = conn.last_insert_rowid();
                conn.prepare_cached(&format!("{VERSION_SQL} WHERE v.id = ?1"))?
                    .query_row([id], version_from)
                    .map_err(Error::from)
            })
            .await
    }

    async fn versions(&self) -> Result<Vec<PolicyVersion>, Error> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!("{VERSION_SQL} ORDER BY v.id"))?
                .query_map([], version_from)?
                .collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn version(&self, id: i64) -> Result<Option<PolicyVersion>, Error> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("{VERSION_SQL} WHERE v.id = ?1"))?
                .query_row([id], version_from)
                .optional()?)
        })
        .await
    }

    async fn schedule(&self, version: i64, at: Timestamp, by: UserId) -> Result<Activation, Error> {
        self.writer
            .run(move |conn, _| {
                let exists: Option<i64> = conn
                    .prepare_cached("SELECT id FROM policy_versions WHERE id = ?1")?
                    .query_row([version], |r| r.get(0))
                    .optional()?;
                exists.ok_or(Error::NotFound("policy version"))?;
                conn.prepare_cached(
                    "INSERT INTO policy_activations (version_id, effective_from, created_by, created_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![version, at, by, now_ms()])?;
                activation(conn, conn.last_insert_rowid())?.ok_or(Error::NotFound("activation"))
            })
            .await
    }

    async fn cancel(&self, id: i64, now: Timestamp) -> Result<Activation, Error> {
        self.writer
            .run(move |conn, _| {
                let a = activation(conn, id)?.ok_or(Error::NotFound("activation"))?;
                if a.cancelled_at.is_some() {
                    return Err(Error::Conflict("already cancelled"));
                }
                if a.effective_from <= now {
                    return Err(Error::Conflict("already in effect: roll back instead"));
                }
                conn.prepare_cached(
                    "UPDATE policy_activations SET cancelled_at = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now])?;
                activation(conn, id)?.ok_or(Error::NotFound("activation"))
            })
            .await
    }

    async fn activations(&self) -> Result<Vec<Activation>, Error> {
        self.read(|c| {
            Ok(
                c.prepare_cached(&format!("{ACTIVATION_SQL} ORDER BY a.effective_from, a.id"))?
                    .query_map([], activation_from)?
                    .collect::<Result<_, _>>()?,
            )
        })
        .await
    }

    async fn share_counts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ShareCount>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT owner, platform, conversation_kind, treatment, COUNT(*) FROM link_shares \
                 WHERE at >= ?1 AND at < ?2 GROUP BY owner, platform, conversation_kind, treatment \
                 ORDER BY owner, platform, conversation_kind, treatment",
            )?;
            let rows = stmt.query_map([from, to], |r| {
                Ok(ShareCount {
                    owner: r.get(0)?,
                    platform: r.get(1)?,
                    conversation_kind: r.get(2)?,
                    treatment: r.get(3)?,
                    count: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn share_series(
        &self,
        from: Timestamp,
        to: Timestamp,
        bucket: i64,
    ) -> Result<Vec<(Timestamp, ShareCount)>, Error> {
        let bucket = bucket.max(1);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT ?1 + ((at - ?1) / ?3) * ?3 AS b, owner, platform, conversation_kind, treatment, COUNT(*) \
                 FROM link_shares WHERE at >= ?1 AND at < ?2 \
                 GROUP BY b, owner, platform, conversation_kind, treatment ORDER BY b",
            )?;
            let rows = stmt.query_map([from, to, bucket], |r| {
                Ok((
                    r.get(0)?,
                    ShareCount {
                        owner: r.get(1)?,
                        platform: r.get(2)?,
                        conversation_kind: r.get(3)?,
                        treatment: r.get(4)?,
                        count: r.get(5)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn shares(
        &self,
        from: Timestamp,
        to: Timestamp,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, LinkShare)>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, message_id, conversation_kind, member_count, sender_role, platform, owner, \
                 category, domain, lists, treatment, preview, policy_version, policies, bidi, \
                 mixed_script FROM link_shares \
                 WHERE id > ?3 AND +at >= ?1 AND +at < ?2 ORDER BY id LIMIT ?4",
            )?;
            let mut rows = stmt.query(params![from, to, after, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(share_from(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn prune_shares(&self, before: Timestamp) -> Result<u64, Error> {
        self.writer
            .run(move |conn, _| {
                Ok(conn
                    .prepare_cached("DELETE FROM link_shares WHERE at < ?1")?
                    .execute([before])? as u64)
            })
            .await
    }

    async fn audit(&self, actor: UserId, action: &str, detail: &str) -> Result<(), Error> {
        let (action, detail) = (action.to_owned(), detail.to_owned());
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "INSERT INTO audit_log (at, actor_id, action, detail) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![now_ms(), actor, action, detail])?;
                Ok(())
            })
            .await
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.id, a.at, u.handle, a.action, a.detail FROM audit_log a JOIN users u ON u.id = a.actor_id \
                 ORDER BY a.id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok(AuditEntry { id: r.get(0)?, at: r.get(1)?, actor: r.get(2)?, action: r.get(3)?, detail: r.get(4)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
