//! [`ReadState`] for PostgreSQL. Each write is one statement that logs no
//! event, so it runs on a pooled connection outside the write lock (which
//! exists to keep event ids in commit order): marking a conversation read
//! never waits behind a batch of sends.
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgStore;
use super::read::{execute, query, query_opt};
use crate::read_state::MARKER_SELECT;
use crate::{Error, ReadMarker, ReadState, UserId};

fn marker_from(r: &Row) -> Result<ReadMarker, Error> {
    Ok(ReadMarker {
        conversation_id: r.try_get(0)?,
        read_seq: r.try_get(1)?,
        last_seq: r.try_get(2)?,
        unread: r.try_get(3)?,
        muted: r.try_get(4)?,
    })
}

async fn marker<C: GenericClient>(
    c: &C,
    conversation_id: i64,
    user: UserId,
) -> Result<Option<ReadMarker>, Error> {
    let sql = format!(
        "{MARKER_SELECT} WHERE m.conversation_id = $1 AND m.user_id = $2 AND m.left_event IS NULL"
    );
    let row = query_opt(c, &sql, &[&conversation_id, &user]).await?;
    row.as_ref().map(marker_from).transpose()
}

#[async_trait]
impl ReadState for PgStore {
    async fn mark_read(
        &self,
        conversation_id: i64,
        user: UserId,
        seq: i64,
    ) -> Result<(ReadMarker, bool), Error> {
        let c = self.client().await?;
        // One statement: the clamp to the newest message and the "never
        // backwards" rule hold whatever runs concurrently.
        let moved = execute(
            &c,
            "UPDATE memberships m SET read_seq = LEAST($3, c.last_seq) FROM conversations c \
             WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2 \
               AND m.left_event IS NULL AND m.read_seq < LEAST($3, c.last_seq)",
            &[&conversation_id, &user, &seq],
        )
        .await?;
        let state = marker(&c, conversation_id, user)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        Ok((state, moved > 0))
    }

    async fn set_muted(
        &self,
        conversation_id: i64,
        user: UserId,
        muted: bool,
    ) -> Result<ReadMarker, Error> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE memberships SET muted = $3 \
             WHERE conversation_id = $1 AND user_id = $2 AND left_event IS NULL",
            &[&conversation_id, &user, &muted],
        )
        .await?;
        marker(&c, conversation_id, user)
            .await?
            .ok_or(Error::NotFound("conversation"))
    }

    async fn read_marker(
        &self,
        conversation_id: i64,
        user: UserId,
    ) -> Result<Option<ReadMarker>, Error> {
        marker(&self.client().await?, conversation_id, user).await
    }

    async fn read_markers(&self, user: UserId) -> Result<Vec<ReadMarker>, Error> {
        let sql = format!(
            "{MARKER_SELECT} WHERE m.user_id = $1 AND m.left_event IS NULL \
             ORDER BY m.conversation_id"
        );
        let rows = query(&self.client().await?, &sql, &[&user]).await?;
        rows.iter().map(marker_from).collect()
    }

    async fn set_read_receipts(&self, user: UserId, on: bool) -> Result<(), Error> {
        let n = execute(
            &self.client().await?,
            "UPDATE users SET read_receipts = $2 WHERE id = $1",
            &[&user, &on],
        )
        .await?;
        if n == 0 {
            return Err(Error::NotFound("user"));
        }
        Ok(())
    }

    async fn read_receipts(&self, user: UserId) -> Result<bool, Error> {
        let row = query_opt(
            &self.client().await?,
            "SELECT read_receipts FROM users WHERE id = $1",
            &[&user],
        )
        .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => false,
        })
    }
}
