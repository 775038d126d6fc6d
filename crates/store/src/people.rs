//! People: profiles (display name, whether one can be found) and the user
//! directory. A trait of its own beside [`crate::Store`]. A profile is
//! state, not history: changing it logs no event; clients see the new name
//! in the next member list they read.
use async_trait::async_trait;

use crate::{BlobId, Error, UserId};

/// One user as the directory and profile edits show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The user's id.
    pub user_id: UserId,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Whether partial matches find the user (exact handles always do).
    pub discoverable: bool,
    /// The avatar's blob, if the user set one.
    pub avatar: Option<BlobId>,
}

/// The first characters of an avatar's blob name: what clients are shown
/// (in member lists and profiles) to tell one avatar from the next, and to
/// put in the avatar's address so a new one is never served from a cache.
pub const AVATAR_TAG_CHARS: usize = 16;

/// `avatar`'s tag ([`AVATAR_TAG_CHARS`] hex digits).
pub fn avatar_tag(avatar: &BlobId) -> String {
    tag(avatar.as_str().to_owned())
}

/// The tag of a stored blob name.
pub(crate) fn tag(stored: String) -> String {
    stored.chars().take(AVATAR_TAG_CHARS).collect()
}

/// What a profile edit changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileEdit {
    /// A new display name, already checked by the caller.
    pub display_name: Option<String>,
    /// A new discoverable flag.
    pub discoverable: Option<bool>,
}

/// Profiles and the directory.
#[async_trait]
pub trait People: Send + Sync + 'static {
    /// `user`'s profile (`None`: no such user).
    async fn profile(&self, user: UserId) -> Result<Option<Profile>, Error>;
    /// Applies `edit` and returns the profile after; [`Error::NotFound`]
    /// for an unknown user.
    async fn edit_profile(&self, user: UserId, edit: ProfileEdit) -> Result<Profile, Error>;
    /// Users matching `query` (not empty, already trimmed), at most
    /// `limit`, suspended accounts never: the user whose handle is exactly
    /// `query` (even if not discoverable), then discoverable users whose
    /// handle starts with it, then discoverable users whose display name
    /// contains it; ASCII letters match either case; by handle within each
    /// group.
    async fn find_users(&self, query: &str, limit: u32) -> Result<Vec<Profile>, Error>;
    /// Sets (or, with `None`, clears) `user`'s avatar, whose blob is already
    /// stored. Returns the profile after, and the previous avatar's blob if
    /// no user and no attachment names it any more, for the caller to
    /// delete. [`Error::NotFound`] for an unknown user.
    async fn set_avatar(
        &self,
        user: UserId,
        avatar: Option<BlobId>,
    ) -> Result<(Profile, Option<BlobId>), Error>;
    /// The avatar of the user with this handle (`None`: no such user, or
    /// no avatar).
    async fn avatar_of(&self, handle: &str) -> Result<Option<BlobId>, Error>;
}

/// Whether anything names blob `?1`/`$1`: an attachment (its bytes or its
/// thumbnail) or a user's avatar. Written with `{p}` for the placeholder
/// sign.
pub(crate) fn blob_in_use_sql(p: char) -> String {
    format!(
        "SELECT 1 FROM attachments WHERE sha256 = {p}1 OR thumb_sha256 = {p}1 \
         UNION ALL SELECT 1 FROM users WHERE avatar_sha256 = {p}1 LIMIT 1"
    )
}

/// The directory's query, the same on both backends: `?1`/`$1` is the
/// query lowercased (ASCII), `?2`/`$2` the limit. `rank` orders exact,
/// prefix, then name matches. Written with `{p}` for the placeholder sign.
pub(crate) fn find_sql(p: char) -> String {
    format!(
        "SELECT id, handle, display_name, discoverable, avatar_sha256, \
           CASE WHEN handle = {p}1 THEN 0 \
                WHEN substr(handle, 1, length({p}1)) = {p}1 THEN 1 ELSE 2 END AS rank \
         FROM users \
         WHERE suspended_at IS NULL AND (handle = {p}1 OR (discoverable AND \
           (substr(handle, 1, length({p}1)) = {p}1 OR {instr} > 0))) \
         ORDER BY rank, handle LIMIT {p}2",
        instr = if p == '$' {
            // translate, not lower: SQLite's lower() folds only ASCII, and
            // both backends must find the same people.
            "strpos(translate(display_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
             'abcdefghijklmnopqrstuvwxyz'), $1)"
        } else {
            "instr(lower(display_name), ?1)"
        }
    )
}
