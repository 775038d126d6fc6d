//! Avatars: a profile picture goes the attachments' way (size cap while it
//! streams in, type sniffed from the bytes, re-encoded so no metadata
//! survives, content-addressed in the same blob store), then is cut to a
//! square. The blob is named by the user's row instead of an attachment
//! record, and deleted when nothing names it any more.
use kaifang_store::{BlobId, Profile};

use super::attachments::{AttachmentService, off_thread};
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::media::{self, Kind};

/// An avatar's bytes, with their type.
pub struct AvatarImage {
    /// The bytes (PNG, or JPEG for a photo).
    pub bytes: Vec<u8>,
    /// Their content type, sniffed from them.
    pub content_type: &'static str,
}

impl AttachmentService {
    /// Largest avatar upload, bytes.
    pub fn max_avatar_bytes(&self) -> usize {
        self.settings.max_avatar_bytes
    }

    /// Makes `bytes` (a PNG, JPEG, GIF or WebP image) the caller's avatar.
    /// 400 for anything else or an unreadable image, 413 past the caps.
    pub async fn set_avatar(&self, caller: &Caller, bytes: Vec<u8>) -> Result<Profile> {
        if bytes.len() > self.settings.max_avatar_bytes {
            return Err(Error::too_large(format!(
                "an avatar has at most {} bytes",
                self.settings.max_avatar_bytes
            )));
        }
        let kind = Kind::sniff(&bytes);
        if !media::is_raster_image(kind.content_type()) {
            return Err(Error::invalid(
                "an avatar must be a PNG, JPEG, GIF or WebP image",
            ));
        }
        let (bounds, side) = (self.image_bounds(), self.settings.avatar_side);
        let square = off_thread(move || media::avatar(&bytes, kind, bounds, side)).await?;
        let _held = self.blob_lock.lock().await;
        let blob = self.blobs.put(square).await?;
        self.swap(caller, Some(blob)).await
    }

    /// Removes the caller's avatar (nothing to remove is not an error).
    pub async fn clear_avatar(&self, caller: &Caller) -> Result<Profile> {
        let _held = self.blob_lock.lock().await;
        self.swap(caller, None).await
    }

    /// Names the new avatar and deletes the old one's bytes if nothing
    /// else names them. The caller holds the blob lock.
    async fn swap(&self, caller: &Caller, avatar: Option<BlobId>) -> Result<Profile> {
        let (profile, released) = self.people.set_avatar(caller.user_id, avatar).await?;
        self.delete(released.into_iter().collect()).await?;
        Ok(profile)
    }

    /// The avatar of the user with this handle, for any signed-in user;
    /// 404 when there is no such user or they have no avatar.
    pub async fn avatar(&self, handle: &str) -> Result<AvatarImage> {
        let blob = self
            .people
            .avatar_of(handle)
            .await?
            .ok_or_else(|| Error::not_found("avatar"))?;
        let bytes = self
            .blobs
            .get(&blob)
            .await?
            .ok_or_else(|| Error::not_found("avatar"))?;
        let content_type = Kind::sniff(&bytes).content_type();
        Ok(AvatarImage {
            bytes,
            content_type,
        })
    }
}
