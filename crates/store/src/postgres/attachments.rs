//! [`Attachments`] for PostgreSQL, binding uploads to their message inside
//! the send's transaction, and [`PgBlobStore`]: blobs as `bytea` chunks
//! (why chunks and not large objects: migration 0009).
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::Row;

use super::PgStore;
use super::read::{execute, query, query_opt};
use crate::attachments::{ATTACHMENT_COLUMNS, blob, refs_json};
use crate::people::blob_in_use_sql;
use crate::{Attachment, Attachments, BlobId, BlobStore, Error, NewAttachment, Timestamp};

/// Bytes per stored chunk.
const CHUNK: usize = 256 * 1024;

fn attachment_from(r: &Row) -> Result<Attachment, Error> {
    Ok(Attachment {
        id: r.try_get(0)?,
        conversation_id: r.try_get(1)?,
        uploader_id: r.try_get(2)?,
        message_id: r.try_get(3)?,
        name: r.try_get(4)?,
        content_type: r.try_get(5)?,
        size: r.try_get(6)?,
        blob: blob(r.try_get(7)?)?,
        thumbnail: r.try_get::<_, Option<String>>(8)?.map(blob).transpose()?,
        width: r.try_get(9)?,
        height: r.try_get(10)?,
        created_at: r.try_get(11)?,
    })
}

async fn by_id<C: GenericClient>(c: &C, id: i64) -> Result<Option<Attachment>, Error> {
    let sql = format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1");
    query_opt(c, &sql, &[&id])
        .await?
        .map(|r| attachment_from(&r))
        .transpose()
}

/// Marks the sender's unsent uploads `ids` as carried by `message_id` and
/// returns the message's attachment list (JSON); [`Error::NotFound`] for
/// any other id, which undoes the send.
pub(super) async fn bind<C: GenericClient>(
    c: &C,
    message_id: i64,
    conversation_id: i64,
    sender_id: i64,
    ids: &[i64],
) -> Result<Option<String>, Error> {
    let mut attached = Vec::with_capacity(ids.len());
    for id in ids {
        let changed = execute(
            c,
            "UPDATE attachments SET message_id = $1 WHERE id = $2 AND conversation_id = $3 \
             AND uploader_id = $4 AND message_id IS NULL",
            &[&message_id, id, &conversation_id, &sender_id],
        )
        .await?;
        if changed != 1 {
            return Err(Error::NotFound("attachment"));
        }
        attached.push(by_id(c, *id).await?.ok_or(Error::NotFound("attachment"))?);
    }
    let json = refs_json(&attached)?;
    if json.is_some() {
        execute(
            c,
            "UPDATE messages SET attachments = $2 WHERE id = $1",
            &[&message_id, &json],
        )
        .await?;
    }
    Ok(json)
}

/// Deletes these records; returns their blobs no remaining record names.
async fn forget<C: GenericClient>(c: &C, doomed: Vec<Attachment>) -> Result<Vec<BlobId>, Error> {
    let mut blobs: Vec<BlobId> = Vec::new();
    for a in doomed {
        execute(c, "DELETE FROM attachments WHERE id = $1", &[&a.id]).await?;
        blobs.push(a.blob);
        blobs.extend(a.thumbnail);
    }
    let mut out: Vec<BlobId> = Vec::new();
    for b in blobs {
        let used = query_opt(c, &blob_in_use_sql('$'), &[&b.as_str()])
            .await?
            .is_some();
        if !used && !out.contains(&b) {
            out.push(b);
        }
    }
    Ok(out)
}

#[async_trait]
impl Attachments for PgStore {
    async fn create_attachment(&self, new: NewAttachment) -> Result<Attachment, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                query_opt(
                    tx,
                    "SELECT 1 FROM memberships WHERE conversation_id = $1 AND user_id = $2 \
                     AND left_event IS NULL",
                    &[&new.conversation_id, &new.uploader_id],
                )
                .await?
                .ok_or(Error::NotFound("conversation"))?;
                let thumb = new.thumbnail.as_ref().map(|b| b.as_str().to_owned());
                let row = super::read::query_one(
                    tx,
                    "INSERT INTO attachments (conversation_id, uploader_id, name, content_type, \
                     size, sha256, thumb_sha256, width, height, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    &[
                        &new.conversation_id,
                        &new.uploader_id,
                        &new.name,
                        &new.content_type,
                        &new.size,
                        &new.blob.as_str(),
                        &thumb,
                        &new.width,
                        &new.height,
                        &new.created_at,
                    ],
                )
                .await?;
                by_id(tx, row.try_get(0)?)
                    .await?
                    .ok_or(Error::NotFound("attachment"))
            })
        })
        .await
    }

    async fn attachment(&self, id: i64) -> Result<Option<Attachment>, Error> {
        by_id(&self.client().await?, id).await
    }

    async fn release_attachments(&self, message_id: i64) -> Result<Vec<BlobId>, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                let sql =
                    format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id = $1");
                let doomed = query(tx, &sql, &[&message_id])
                    .await?
                    .iter()
                    .map(attachment_from)
                    .collect::<Result<Vec<_>, _>>()?;
                execute(
                    tx,
                    "UPDATE messages SET attachments = NULL WHERE id = $1",
                    &[&message_id],
                )
                .await?;
                forget(tx, doomed).await
            })
        })
        .await
    }

    async fn expire_unsent_attachments(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<BlobId>, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {ATTACHMENT_COLUMNS} FROM attachments \
                     WHERE message_id IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2"
                );
                let doomed = query(tx, &sql, &[&before, &i64::from(limit)])
                    .await?
                    .iter()
                    .map(attachment_from)
                    .collect::<Result<Vec<_>, _>>()?;
                forget(tx, doomed).await
            })
        })
        .await
    }
}

/// Blobs in PostgreSQL, shared by every node using the database: a row in
/// `blobs` and the bytes in 256 KiB `bytea` rows of `blob_chunks`, written
/// in one transaction, so a blob is whole or absent.
pub struct PgBlobStore {
    pool: Pool,
}

impl PgStore {
    /// The blob store in this store's database (sharing its pool).
    pub fn blob_store(&self) -> PgBlobStore {
        PgBlobStore {
            pool: self.pool.clone(),
        }
    }
}

#[async_trait]
impl BlobStore for PgBlobStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobId, Error> {
        let id = BlobId::of(&bytes);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let chunks = bytes.len().div_ceil(CHUNK) as i32;
        // A concurrent put of the same bytes waits on this row, then finds
        // it there and writes nothing.
        let inserted = execute(
            &tx,
            "INSERT INTO blobs (sha256, size, chunks) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&id.as_str(), &(bytes.len() as i64), &chunks],
        )
        .await?;
        if inserted == 1 {
            for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
                execute(
                    &tx,
                    "INSERT INTO blob_chunks (sha256, n, data) VALUES ($1, $2, $3)",
                    &[&id.as_str(), &(n as i32), &chunk],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn get(&self, id: &BlobId) -> Result<Option<Vec<u8>>, Error> {
        let client = self.pool.get().await?;
        let Some(head) = query_opt(
            &client,
            "SELECT size FROM blobs WHERE sha256 = $1",
            &[&id.as_str()],
        )
        .await?
        else {
            return Ok(None);
        };
        let size: i64 = head.try_get(0)?;
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let rows = query(
            &client,
            "SELECT data FROM blob_chunks WHERE sha256 = $1 ORDER BY n",
            &[&id.as_str()],
        )
        .await?;
        for row in rows {
            out.extend_from_slice(row.try_get::<_, &[u8]>(0)?);
        }
        if out.len() as i64 != size {
            return Err(Error::Corrupt(format!("blob {id} has missing chunks")));
        }
        Ok(Some(out))
    }

    async fn contains(&self, id: &BlobId) -> Result<bool, Error> {
        let client = self.pool.get().await?;
        Ok(query_opt(
            &client,
            "SELECT 1 FROM blobs WHERE sha256 = $1",
            &[&id.as_str()],
        )
        .await?
        .is_some())
    }

    async fn delete(&self, id: &BlobId) -> Result<(), Error> {
        let client = self.pool.get().await?;
        execute(
            &client,
            "DELETE FROM blobs WHERE sha256 = $1",
            &[&id.as_str()],
        )
        .await?;
        Ok(())
    }
}
