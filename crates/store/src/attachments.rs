//! Attachment records: who uploaded what into which conversation, and
//! which message carries it. The bytes are in a [`crate::BlobStore`]; this
//! trait also says when a blob is no longer needed by any record, so the
//! caller can delete it. A fourth trait beside [`crate::Store`], so the
//! chat path does not grow.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{BlobId, Error, Timestamp, UserId};

/// An upload to record.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// The conversation it was uploaded into; the uploader must be a
    /// current member ([`Error::NotFound`] otherwise).
    pub conversation_id: i64,
    /// Who uploaded it.
    pub uploader_id: UserId,
    /// The file name (one path component; the caller checks it).
    pub name: String,
    /// The type sniffed from the bytes.
    pub content_type: String,
    /// Bytes stored.
    pub size: i64,
    /// The stored bytes' blob.
    pub blob: BlobId,
    /// The thumbnail's blob (images only).
    pub thumbnail: Option<BlobId>,
    /// Image width in pixels.
    pub width: Option<i64>,
    /// Image height in pixels.
    pub height: Option<i64>,
    /// When.
    pub created_at: Timestamp,
}

/// A recorded attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its id.
    pub id: i64,
    /// The conversation it was uploaded into: its members may download it.
    pub conversation_id: i64,
    /// Who uploaded it.
    pub uploader_id: UserId,
    /// The message carrying it, once sent.
    pub message_id: Option<i64>,
    /// File name.
    pub name: String,
    /// Sniffed type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// The bytes' blob.
    pub blob: BlobId,
    /// The thumbnail's blob.
    pub thumbnail: Option<BlobId>,
    /// Image width.
    pub width: Option<i64>,
    /// Image height.
    pub height: Option<i64>,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// What a message says about one of its attachments (an element of
/// [`crate::Message::attachments`], which is a JSON array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The attachment's id (download at `/api/v1/attachments/{id}`).
    pub id: i64,
    /// File name.
    pub name: String,
    /// Sniffed type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Whether a thumbnail exists (`/api/v1/attachments/{id}/thumbnail`).
    pub thumbnail: bool,
    /// Image width.
    pub width: Option<i64>,
    /// Image height.
    pub height: Option<i64>,
}

impl AttachmentRef {
    pub(crate) fn of(a: &Attachment) -> Self {
        Self {
            id: a.id,
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            thumbnail: a.thumbnail.is_some(),
            width: a.width,
            height: a.height,
        }
    }
}

pub(crate) fn refs_json(attached: &[Attachment]) -> Result<Option<String>, Error> {
    if attached.is_empty() {
        return Ok(None);
    }
    let refs: Vec<AttachmentRef> = attached.iter().map(AttachmentRef::of).collect();
    serde_json::to_string(&refs)
        .map(Some)
        .map_err(|e| Error::Corrupt(e.to_string()))
}

pub(crate) fn blob(text: String) -> Result<BlobId, Error> {
    BlobId::parse(&text).ok_or_else(|| Error::Corrupt(format!("blob name {text:?}")))
}

/// The columns [`Attachment`] is read from, in order.
pub(crate) const ATTACHMENT_COLUMNS: &str = "id, conversation_id, uploader_id, message_id, name, \
     content_type, size, sha256, thumb_sha256, width, height, created_at";

/// Of the blobs of records just deleted, those that no other record names
/// (each once), as `still_used` tells.
pub(crate) fn unreferenced(
    candidates: Vec<BlobId>,
    mut still_used: impl FnMut(&BlobId) -> Result<bool, Error>,
) -> Result<Vec<BlobId>, Error> {
    let mut out = Vec::new();
    for b in candidates {
        if !out.contains(&b) && !still_used(&b)? {
            out.push(b);
        }
    }
    Ok(out)
}

/// Attachment storage.
#[async_trait]
pub trait Attachments: Send + Sync + 'static {
    /// Records an upload whose blobs are already stored. [`Error::NotFound`]
    /// (`conversation`) unless the uploader is a current member.
    async fn create_attachment(&self, new: NewAttachment) -> Result<Attachment, Error>;
    /// One attachment, whoever asks (the caller checks membership).
    async fn attachment(&self, id: i64) -> Result<Option<Attachment>, Error>;
    /// Forgets the attachments of a message (an administrator removed it)
    /// and clears the message's list; returns the blobs no record names
    /// any more, for the caller to delete.
    async fn release_attachments(&self, message_id: i64) -> Result<Vec<BlobId>, Error>;
    /// Forgets at most `limit` uploads never sent with a message and made
    /// before `before`; returns the blobs no record names any more.
    async fn expire_unsent_attachments(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<BlobId>, Error>;
}
