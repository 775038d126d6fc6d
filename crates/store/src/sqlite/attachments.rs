//! [`Attachments`] for the SQLite backend, and binding uploads to the
//! message that carries them (inside the send's own write).
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::attachments::{ATTACHMENT_COLUMNS, blob, refs_json, unreferenced};
use crate::people::blob_in_use_sql;
use crate::{Attachment, Attachments, BlobId, Error, NewAttachment, Timestamp};

fn attachment_from(r: &Row<'_>) -> rusqlite::Result<(Attachment, String, Option<String>)> {
    let placeholder = BlobId::of(b"");
    Ok((
        Attachment {
            id: r.get(0)?,
            conversation_id: r.get(1)?,
            uploader_id: r.get(2)?,
            message_id: r.get(3)?,
            name: r.get(4)?,
            content_type: r.get(5)?,
            size: r.get(6)?,
            blob: placeholder,
            thumbnail: None,
            width: r.get(9)?,
            height: r.get(10)?,
            created_at: r.get(11)?,
        },
        r.get(7)?,
        r.get(8)?,
    ))
}

/// Fills in the blob names, checked (rusqlite's row mapping cannot fail
/// with our error).
fn complete(row: (Attachment, String, Option<String>)) -> Result<Attachment, Error> {
    let (mut a, sha, thumb) = row;
    a.blob = blob(sha)?;
    a.thumbnail = thumb.map(blob).transpose()?;
    Ok(a)
}

fn by_id(conn: &Connection, id: i64) -> Result<Option<Attachment>, Error> {
    let sql = format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id], attachment_from)
        .optional()?
        .map(complete)
        .transpose()
}

/// Marks the sender's unsent uploads `ids` (into this conversation) as
/// carried by `message_id` and returns the message's attachment list
/// (JSON). [`Error::NotFound`] (`attachment`) for any id that is not such
/// an upload: the whole send is then undone.
pub(super) fn bind(
    conn: &Connection,
    message_id: i64,
    conversation_id: i64,
    sender_id: i64,
    ids: &[i64],
) -> Result<Option<String>, Error> {
    let mut attached = Vec::with_capacity(ids.len());
    for &id in ids {
        let changed = conn
            .prepare_cached(
                "UPDATE attachments SET message_id = ?1 WHERE id = ?2 AND conversation_id = ?3 \
                 AND uploader_id = ?4 AND message_id IS NULL",
            )?
            .execute(params![message_id, id, conversation_id, sender_id])?;
        if changed != 1 {
            return Err(Error::NotFound("attachment"));
        }
        attached.push(by_id(conn, id)?.ok_or(Error::NotFound("attachment"))?);
    }
    let json = refs_json(&attached)?;
    if json.is_some() {
        conn.prepare_cached("UPDATE messages SET attachments = ?2 WHERE id = ?1")?
            .execute(params![message_id, json])?;
    }
    Ok(json)
}

/// Deletes these records; returns their blobs no remaining record names.
fn forget(conn: &Connection, doomed: Vec<Attachment>) -> Result<Vec<BlobId>, Error> {
    let mut blobs = Vec::new();
    for a in doomed {
        conn.prepare_cached("DELETE FROM attachments WHERE id = ?1")?
            .execute([a.id])?;
        blobs.push(a.blob);
        blobs.extend(a.thumbnail);
    }
    unreferenced(blobs, |b| {
        Ok(conn
            .prepare_cached(&blob_in_use_sql('?'))?
            .query_row([b.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    })
}

fn select(
    conn: &Connection,
    filter: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<Attachment>, Error> {
    let sql = format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE {filter}");
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(p, attachment_from)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(complete).collect()
}

#[async_trait]
impl Attachments for SqliteStore {
    async fn create_attachment(&self, new: NewAttachment) -> Result<Attachment, Error> {
        self.writer
            .run(move |conn, _| {
                let member: Option<i64> = conn
                    .prepare_cached(
                        "SELECT 1 FROM memberships WHERE conversation_id = ?1 AND user_id = ?2 \
                         AND left_event IS NULL",
                    )?
                    .query_row([new.conversation_id, new.uploader_id], |r| r.get(0))
                    .optional()?;
                member.ok_or(Error::NotFound("conversation"))?;
                conn.prepare_cached(
                    "INSERT INTO attachments (conversation_id, uploader_id, name, content_type, \
                     size, sha256, thumb_sha256, width, height, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    new.conversation_id,
                    new.uploader_id,
                    new.name,
                    new.content_type,
                    new.size,
                    new.blob.as_str(),
                    new.thumbnail.as_ref().map(|b| b.as_str().to_owned()),
                    new.width,
                    new.height,
                    new.created_at
                ])?;
                by_id(conn, conn.last_insert_rowid())?.ok_or(Error::NotFound("attachment"))
            })
            .await
    }

    async fn attachment(&self, id: i64) -> Result<Option<Attachment>, Error> {
        self.read(move |conn| by_id(conn, id)).await
    }

    async fn release_attachments(&self, message_id: i64) -> Result<Vec<BlobId>, Error> {
        self.writer
            .run(move |conn, _| {
                let doomed = select(conn, "message_id = ?1", [message_id])?;
                conn.prepare_cached("UPDATE messages SET attachments = NULL WHERE id = ?1")?
                    .execute([message_id])?;
                forget(conn, doomed)
            })
            .await
    }

    async fn expire_unsent_attachments(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<BlobId>, Error> {
        self.writer
            .run(move |conn, _| {
                let doomed = select(
                    conn,
                    "message_id IS NULL AND created_at < ?1 ORDER BY created_at LIMIT ?2",
                    params![before, limit],
                )?;
                forget(conn, doomed)
            })
            .await
    }
}
