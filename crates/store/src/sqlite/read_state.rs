//! [`ReadState`] for the SQLite backend: writes on the writer's thread,
//! reads on the pooled read connections.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::read_state::MARKER_SELECT;
use crate::{Error, ReadMarker, ReadState, UserId};

fn marker_from(r: &Row<'_>) -> rusqlite::Result<ReadMarker> {
    Ok(ReadMarker {
        conversation_id: r.get(0)?,
        read_seq: r.get(1)?,
        last_seq: r.get(2)?,
        unread: r.get(3)?,
        muted: r.get(4)?,
    })
}

fn marker(
    conn: &Connection,
    conversation_id: i64,
    user: UserId,
) -> Result<Option<ReadMarker>, Error> {
    let sql = format!(
        "{MARKER_SELECT} WHERE m.conversation_id = ?1 AND m.user_id = ?2 AND m.left_event IS NULL"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![conversation_id, user], marker_from)
        .optional()?)
}

#[async_trait]
impl ReadState for SqliteStore {
    async fn mark_read(
        &self,
        conversation_id: i64,
        user: UserId,
        seq: i64,
    ) -> Result<(ReadMarker, bool), Error> {
        self.writer
            .run(move |conn, _| {
                // One statement: the clamp to the newest message and the
                // "never backwards" rule hold whatever runs concurrently.
                let moved = conn
                    .prepare_cached(
                        "UPDATE memberships SET read_seq = \
                           MIN(?3, (SELECT last_seq FROM conversations WHERE id = ?1)) \
                         WHERE conversation_id = ?1 AND user_id = ?2 AND left_event IS NULL \
                           AND read_seq < MIN(?3, (SELECT last_seq FROM conversations WHERE id = ?1))",
                    )?
                    .execute(params![conversation_id, user, seq])?;
                let state =
                    marker(conn, conversation_id, user)?.ok_or(Error::NotFound("conversation"))?;
                Ok((state, moved > 0))
            })
            .await
    }

    async fn set_muted(
        &self,
        conversation_id: i64,
        user: UserId,
        muted: bool,
    ) -> Result<ReadMarker, Error> {
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "UPDATE memberships SET muted = ?3 \
                     WHERE conversation_id = ?1 AND user_id = ?2 AND left_event IS NULL",
                )?
                .execute(params![conversation_id, user, muted])?;
                marker(conn, conversation_id, user)?.ok_or(Error::NotFound("conversation"))
            })
            .await
    }

    async fn read_marker(
        &self,
        conversation_id: i64,
        user: UserId,
    ) -> Result<Option<ReadMarker>, Error> {
        self.read(move |c| marker(c, conversation_id, user)).await
    }

    async fn read_markers(&self, user: UserId) -> Result<Vec<ReadMarker>, Error> {
        self.read(move |c| {
            let sql = format!(
                "{MARKER_SELECT} WHERE m.user_id = ?1 AND m.left_event IS NULL \
                 ORDER BY m.conversation_id"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([user], marker_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn set_read_receipts(&self, user: UserId, on: bool) -> Result<(), Error> {
        self.writer
            .run(move |conn, _| {
                let n = conn
                    .prepare_cached("UPDATE users SET read_receipts = ?2 WHERE id = ?1")?
                    .execute(params![user, on])?;
                if n == 0 {
                    return Err(Error::NotFound("user"));
                }
                Ok(())
            })
            .await
    }

    async fn read_receipts(&self, user: UserId) -> Result<bool, Error> {
        self.read(move |c| {
            let on: Option<bool> = c
                .prepare_cached("SELECT read_receipts FROM users WHERE id = ?1")?
                .query_row([user], |r| r.get(0))
                .optional()?;
            Ok(on.unwrap_or(false))
        })
        .await
    }
}
