//! Per-member chat state: the read marker, the mute flag, and each user's
//! read-receipt choice. A trait of its own beside [`crate::Store`], so that
//! the send path does not see it. None of it goes into the event log: it is
//! state, not history, and the server tells devices about changes with
//! ephemeral events (the conversation list is the durable answer).
use async_trait::async_trait;

use crate::{Error, UserId};

/// One member's state in one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMarker {
    /// The conversation.
    pub conversation_id: i64,
    /// The newest message seq the member has read (0: none).
    pub read_seq: i64,
    /// The conversation's newest seq.
    pub last_seq: i64,
    /// Messages after the marker that others sent and that were not removed.
    pub unread: i64,
    /// Whether the member muted the conversation.
    pub muted: bool,
}

/// Read markers, mutes and read-receipt settings.
#[async_trait]
pub trait ReadState: Send + Sync + 'static {
    /// Moves `user`'s marker to `seq` (clamped to the newest message) if
    /// that is further on; never backwards. Returns the state after, and
    /// whether the marker moved. [`Error::NotFound`] when `user` is not a
    /// current member (or there is no such conversation).
    async fn mark_read(
        &self,
        conversation_id: i64,
        user: UserId,
        seq: i64,
    ) -> Result<(ReadMarker, bool), Error>;
    /// Mutes or unmutes the conversation for `user`; [`Error::NotFound`]
    /// when not a current member.
    async fn set_muted(
        &self,
        conversation_id: i64,
        user: UserId,
        muted: bool,
    ) -> Result<ReadMarker, Error>;
    /// `user`'s state in one conversation (`None`: not a current member).
    async fn read_marker(
        &self,
        conversation_id: i64,
        user: UserId,
    ) -> Result<Option<ReadMarker>, Error>;
    /// `user`'s state in every conversation they are a member of.
    async fn read_markers(&self, user: UserId) -> Result<Vec<ReadMarker>, Error>;
    /// Turns `user`'s read receipts on or off; [`Error::NotFound`] for an
    /// unknown user.
    async fn set_read_receipts(&self, user: UserId, on: bool) -> Result<(), Error>;
    /// Whether `user` sends (and so sees) read receipts; `false` for an
    /// unknown user.
    async fn read_receipts(&self, user: UserId) -> Result<bool, Error>;
}

/// The query both backends run for markers (with their own placeholders):
/// the unread count skips the member's own messages and removed ones.
pub(crate) const MARKER_SELECT: &str = "SELECT m.conversation_id, m.read_seq, c.last_seq, \
     (SELECT COUNT(*) FROM messages x WHERE x.conversation_id = m.conversation_id \
        AND x.seq > m.read_seq AND x.sender_id <> m.user_id AND x.removed_at IS NULL), \
     m.muted \
     FROM memberships m JOIN conversations c ON c.id = m.conversation_id";
