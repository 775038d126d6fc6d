use async_trait::async_trait;

use crate::{
    AdminGrant, CachedPreview, Conversation, ConversationKind, ConversationSummary, Error, Event,
    EventId, LinkShare, MemberChange, Message, NewMessage, Role, User, UserAuth, UserId,
};

/// Where a store delivers committed events, in commit order. The server's
/// fan-out is the one consumer.
pub type EventSink = tokio::sync::mpsc::UnboundedSender<Vec<Event>>;

/// Everything the server needs from storage. Implementations must apply the
/// membership rules ([`crate::check_member_change`]) inside their write
/// transactions and emit every committed event to their [`EventSink`], in
/// the order of their ids.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account. [`Error::HandleTaken`] if the handle exists.
    /// With [`AdminGrant::IfFirst`] the account is an administrator exactly
    /// when no other account exists, decided inside the same transaction.
    async fn create_user(
        &self,
        handle: &str,
        display_name: &str,
        password_hash: &str,
        admin: AdminGrant,
    ) -> Result<User, Error>;
    /// Looks an account up by handle, with its password hash.
    async fn user_auth(&self, handle: &str) -> Result<Option<UserAuth>, Error>;
    /// Looks an account up by handle.
    async fn user_by_handle(&self, handle: &str) -> Result<Option<User>, Error>;
    /// Looks an account up by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, Error>;
    /// Makes `handle` an operator administrator or not, and returns the
    /// account. [`Error::NotFound`] for an unknown handle;
    /// [`Error::Conflict`] when it would leave no administrator (checked in
    /// the same transaction as the change).
    async fn set_admin(&self, handle: &str, is_admin: bool) -> Result<User, Error>;

    /// Records a session token's hash.
    async fn create_session(&self, user_id: UserId, token_hash: [u8; 32]) -> Result<(), Error>;
    /// The user behind a live (not revoked) session token hash.
    async fn session_user(&self, token_hash: [u8; 32]) -> Result<Option<UserId>, Error>;
    /// Of the given session token hashes, those that are no longer live
    /// (revoked, or unknown): what a node checks for the streams it holds
    /// open when a sign-out on another node may not have reached it.
    async fn ended_sessions(&self, token_hashes: Vec<[u8; 32]>) -> Result<Vec<[u8; 32]>, Error>;
    /// Revokes a session; revoking twice is harmless.
    async fn revoke_session(&self, token_hash: [u8; 32]) -> Result<(), Error>;

    /// Returns the direct conversation between two users, creating it if
    /// needed; the flag tells whether it was created now.
    async fn open_direct(&self, a: UserId, b: UserId) -> Result<(Conversation, bool), Error>;
    /// Creates a group owned by `owner` with the other `members`.
    async fn create_group(
        &self,
        owner: UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<Conversation, Error>;
    /// A conversation and its current members, whoever asks.
    async fn conversation(&self, id: i64) -> Result<Option<Conversation>, Error>;
    /// `user`'s current role in a conversation (`None`: not a member, or no
    /// such conversation).
    async fn role(&self, conversation_id: i64, user: UserId) -> Result<Option<Role>, Error>;
    /// The conversations `user` is a member of, newest activity first.
    async fn conversations_of(&self, user: UserId) -> Result<Vec<ConversationSummary>, Error>;
    /// Applies a membership change made by `actor`, checked atomically.
    async fn change_members(
        &self,
        conversation_id: i64,
        actor: UserId,
        change: MemberChange,
    ) -> Result<Event, Error>;
    /// Every current membership `(conversation, kind, user, role)`, for the
    /// fan-out's start-up.
    async fn all_memberships(&self) -> Result<Vec<(i64, ConversationKind, UserId, Role)>, Error>;

    /// Appends a message if the sender is a current member. With a
    /// `client_txn_id` already used by this sender in this conversation, the
    /// original message comes back and the flag is `false`.
    async fn append_message(&self, message: NewMessage) -> Result<(Message, bool), Error>;
    /// Logs link decisions of a send that was refused (blocked links).
    async fn log_refused_shares(&self, shares: Vec<LinkShare>) -> Result<(), Error>;
    /// Messages with `seq < before_seq` (all when `None`), the newest
    /// `limit`, returned oldest first.
    async fn messages(
        &self,
        conversation_id: i64,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>, Error>;
    /// Attaches a preview (JSON) to a message's URL and logs a preview event.
    async fn attach_preview(
        &self,
        message_id: i64,
        url: &str,
        preview: &str,
    ) -> Result<Event, Error>;

    /// Events after `after` that `user` was entitled to see (a member of the
    /// conversation at the time), oldest first, at most `limit`.
    async fn events_for(
        &self,
        user: UserId,
        after: EventId,
        limit: u32,
    ) -> Result<Vec<Event>, Error>;
    /// Every event after `after`, whichever conversation, oldest first, at
    /// most `limit`: what a node that missed some re-reads to catch up.
    async fn events_after(&self, after: EventId, limit: u32) -> Result<Vec<Event>, Error>;
    /// The newest event id (0 when the log is empty).
    async fn head(&self) -> Result<EventId, Error>;

    /// A cached preview for a canonical URL, expired or not.
    async fn cached_preview(&self, url: &str) -> Result<Option<CachedPreview>, Error>;
    /// Caches a preview, keeping at most `max_entries` (the soonest to
    /// expire go first).
    async fn cache_preview(
        &self,
        url: &str,
        entry: CachedPreview,
        max_entries: usize,
    ) -> Result<(), Error>;
}
