//! Attachments: uploads into a conversation, downloads by its members, and
//! deleting bytes no record needs any more (after an administrator removed
//! the message, or when an upload was never sent).
use std::sync::Arc;
use std::time::Duration;

use kaifang_store::{Attachment, Attachments, BlobId, BlobStore, NewAttachment, People, Store};

use crate::config::AttachmentSettings;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::media::{self, ImageBounds, ImageProblem, Kind};

/// Runs image work (decoding, re-encoding) off the async threads, and
/// says what was wrong with the image as the API says it: 413 for one too
/// large, 400 for one that cannot be read.
pub(super) async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, ImageProblem> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(Error::internal)?
        .map_err(|p| match p {
            ImageProblem::TooLarge(why) => Error::too_large(why),
            ImageProblem::Unreadable(why) => Error::invalid(why),
        })
}

/// The attachment service.
pub struct AttachmentService {
    chat: Arc<dyn Store>,
    records: Arc<dyn Attachments>,
    /// Whose avatar names which blob (service/avatars.rs).
    pub(super) people: Arc<dyn People>,
    pub(super) blobs: Arc<dyn BlobStore>,
    pub(super) settings: AttachmentSettings,
    /// Held from "store the blob" to "record it" and from "no record
    /// names it" to "delete it", so that a deletion cannot remove a blob an
    /// upload of the same bytes has just decided it need not write again.
    /// (Per process: with several nodes see docs/operating.md.)
    pub(super) blob_lock: tokio::sync::Mutex<()>,
}

/// A download: the record and its bytes.
pub struct Download {
    /// The record (name, type).
    pub attachment: Attachment,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The served content type.
    pub content_type: String,
}

impl AttachmentService {
    /// Builds the service.
    pub fn new(
        chat: Arc<dyn Store>,
        records: Arc<dyn Attachments>,
        people: Arc<dyn People>,
        blobs: Arc<dyn BlobStore>,
        settings: AttachmentSettings,
    ) -> Self {
        Self {
            chat,
            records,
            people,
            blobs,
            settings,
            blob_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Largest upload, bytes.
    pub fn max_bytes(&self) -> usize {
        self.settings.max_bytes
    }

    pub(super) fn image_bounds(&self) -> ImageBounds {
        ImageBounds {
            max_pixels: self.settings.max_image_pixels,
            max_side: self.settings.max_image_side,
            thumbnail_side: self.settings.thumbnail_side,
        }
    }

    async fn member(&self, caller: &Caller, conversation_id: i64) -> Result<()> {
        match self.chat.role(conversation_id, caller.user_id).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found("conversation")),
        }
    }

    /// Checks and stores an upload into a conversation the caller is a
    /// member of. Images are re-encoded (metadata gone) and get a thumbnail.
    pub async fn upload(
        &self,
        caller: &Caller,
        conversation_id: i64,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<Attachment> {
        if let Some(why) = media::name_problem(&name, self.settings.max_name_bytes) {
            return Err(Error::invalid(why));
        }
        if bytes.len() > self.settings.max_bytes {
            return Err(Error::too_large(format!(
                "an attachment has at most {} bytes",
                self.settings.max_bytes
            )));
        }
        // Before any decoding: outsiders cost nothing but this look-up.
        self.member(caller, conversation_id).await?;
        let kind = Kind::sniff(&bytes);
        let bounds = self.image_bounds();
        let (stored, thumbnail, size) = if kind.content_type().starts_with("image/") {
            let processed = off_thread(move || media::process(&bytes, kind, bounds)).await?;
            let size = (processed.width, processed.height);
            (processed.bytes, Some(processed.thumbnail), Some(size))
        } else {
            (bytes, None, None)
        };
        let length = stored.len() as i64;
        let _held = self.blob_lock.lock().await;
        let blob = self.blobs.put(stored).await?;
        let thumbnail = match thumbnail {
            Some(t) => Some(self.blobs.put(t).await?),
            None => None,
        };
        let record = NewAttachment {
            conversation_id,
            uploader_id: caller.user_id,
            name,
            content_type: kind.content_type().to_owned(),
            size: length,
            blob,
            thumbnail,
            width: size.map(|s| i64::from(s.0)),
            height: size.map(|s| i64::from(s.1)),
            created_at: crate::now_ms(),
        };
        // Should this fail (the uploader left the conversation a moment
        // ago), the blobs may stay with no record naming them: rare, and
        // costing only their space.
        Ok(self.records.create_attachment(record).await?)
    }

    /// An attachment's bytes (or its thumbnail's), for a member of the
    /// conversation it was uploaded into; 404 for anyone else.
    pub async fn download(&self, caller: &Caller, id: i64, thumbnail: bool) -> Result<Download> {
        let a = self
            .records
            .attachment(id)
            .await?
            .ok_or_else(|| Error::not_found("attachment"))?;
        self.member(caller, a.conversation_id)
            .await
            .map_err(|_| Error::not_found("attachment"))?;
        let (blob, content_type) = match (thumbnail, &a.thumbnail) {
            (false, _) => (&a.blob, a.content_type.clone()),
            (true, Some(t)) => (t, media::thumbnail_type(&a.content_type).to_owned()),
            (true, None) => return Err(Error::not_found("thumbnail")),
        };
        let bytes = self
            .blobs
            .get(blob)
            .await?
            .ok_or_else(|| Error::not_found("attachment"))?;
        Ok(Download {
            attachment: a,
            bytes,
            content_type,
        })
    }

    /// Forgets the attachments of a removed message and deletes the bytes
    /// no other record names.
    pub async fn message_removed(&self, message_id: i64) -> Result<()> {
        let _held = self.blob_lock.lock().await;
        let released = self.records.release_attachments(message_id).await?;
        self.delete(released).await
    }

    /// Forgets uploads older than `attachments.orphan_ttl_ms` that no
    /// message carries; returns how many blobs were deleted.
    pub async fn sweep(&self) -> Result<usize> {
        let ttl = i64::try_from(self.settings.orphan_ttl_ms).unwrap_or(i64::MAX);
        let before = crate::now_ms().saturating_sub(ttl);
        let _held = self.blob_lock.lock().await;
        let released = self
            .records
            .expire_unsent_attachments(before, self.settings.sweep_batch.max(1))
            .await?;
        let n = released.len();
        self.delete(released).await?;
        Ok(n)
    }

    pub(super) async fn delete(&self, blobs: Vec<BlobId>) -> Result<()> {
        for b in blobs {
            self.blobs.delete(&b).await?;
        }
        Ok(())
    }

    /// Sweeps every `attachments.sweep_interval_ms`, for ever.
    pub async fn run(self: Arc<Self>) {
        let every = Duration::from_millis(self.settings.sweep_interval_ms.max(1));
        loop {
            tokio::time::sleep(every).await;
            match self.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(blobs = n, "deleted the bytes of expired uploads"),
                Err(error) => tracing::warn!(%error, "sweeping expired uploads failed"),
            }
        }
    }
}
