//! Storage for operator administration: invite codes, the account list,
//! suspension and one-time password-reset codes. A third trait beside
//! [`crate::Store`] and [`crate::Governance`], so that the chat path does
//! not see it. Codes reach the store only as SHA-256 digests.
use async_trait::async_trait;
use serde::Serialize;

use crate::{AdminGrant, Error, Event, EventBody, Timestamp, User, UserId};

/// An invite code's record (the code itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invite {
    /// Invite id.
    pub id: i64,
    /// Who created it (handle).
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// From when it is refused.
    pub expires_at: Timestamp,
    /// How many accounts it may create.
    pub max_uses: i64,
    /// How many it has created.
    pub uses: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// An account as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The account.
    #[serde(flatten)]
    pub user: User,
    /// When it was suspended; `None` while it may sign in.
    pub suspended_at: Option<Timestamp>,
}

/// What signing up with an invite code needs.
#[derive(Debug, Clone)]
pub struct InvitedSignUp {
    /// The code's SHA-256.
    pub code_hash: [u8; 32],
    /// Now: a code expiring at or before it is refused.
    pub now: Timestamp,
    /// The new account's handle.
    pub handle: String,
    /// Its display name.
    pub display_name: String,
    /// Its password hash (PHC string).
    pub password_hash: String,
    /// Whether it is an operator administrator.
    pub admin: AdminGrant,
}

/// Why an invite code is refused (texts for the person signing up).
pub mod refusal {
    /// No such code, or revoked.
    pub const INVITE_INVALID: &str = "the invite code is not valid";
    /// Past its expiry.
    pub const INVITE_EXPIRED: &str = "the invite code has expired";
    /// All its uses taken.
    pub const INVITE_USED_UP: &str = "the invite code has been used up";
    /// No such reset code.
    pub const RESET_INVALID: &str = "the password reset code is not valid";
    /// Past its expiry.
    pub const RESET_EXPIRED: &str = "the password reset code has expired";
    /// Already redeemed, or retired by a newer code for the account.
    pub const RESET_USED: &str = "the password reset code has already been used";
}

/// A removal event's stored data (`events.data`).
#[derive(Serialize, serde::Deserialize)]
struct RemovalData {
    message_id: i64,
    seq: i64,
}

pub(crate) fn removal_data(message_id: i64, seq: i64) -> String {
    serde_json::to_string(&RemovalData { message_id, seq }).unwrap_or_default()
}

/// Reads a removal event's stored data back.
pub(crate) fn removal(data: &str) -> Result<EventBody, Error> {
    let d: RemovalData = serde_json::from_str(data).map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(EventBody::Removal {
        message_id: d.message_id,
        seq: d.seq,
    })
}

/// Operator administration storage.
#[async_trait]
pub trait Administration: Send + Sync + 'static {
    /// Stores a new invite code's digest.
    async fn create_invite(
        &self,
        by: UserId,
        code_hash: [u8; 32],
        expires_at: Timestamp,
        max_uses: i64,
    ) -> Result<Invite, Error>;
    /// Every invite, newest first.
    async fn invites(&self) -> Result<Vec<Invite>, Error>;
    /// Revokes an invite (revoking twice keeps the first time);
    /// [`Error::NotFound`] for an unknown id.
    async fn revoke_invite(&self, id: i64, now: Timestamp) -> Result<Invite, Error>;
    /// Creates an account with an invite code, counting the use in the same
    /// transaction: [`Error::Forbidden`] with one of the [`refusal`] texts
    /// when the code is unknown, revoked, expired or used up;
    /// [`Error::HandleTaken`] uses nothing.
    async fn sign_up_with_invite(&self, sign_up: InvitedSignUp) -> Result<User, Error>;

    /// Accounts with an id above `after`, by id, at most `limit`.
    async fn accounts(&self, after: UserId, limit: u32) -> Result<Vec<Account>, Error>;
    /// One account.
    async fn account(&self, id: UserId) -> Result<Option<Account>, Error>;
    /// Suspends (`Some(now)`) or restores (`None`) an account. Suspending
    /// revokes its live sessions in the same transaction and returns their
    /// digests (so that the caller can close their streams); suspending
    /// again keeps the first time. [`Error::NotFound`] for an unknown
    /// handle; [`Error::Conflict`] for an administrator.
    async fn set_suspended(
        &self,
        handle: &str,
        at: Option<Timestamp>,
    ) -> Result<(Account, Vec<[u8; 32]>), Error>;

    /// Stores a password-reset code's digest for `handle`, retiring any
    /// earlier unused one. [`Error::NotFound`] for an unknown handle.
    async fn create_password_reset(
        &self,
        handle: &str,
        by: UserId,
        code_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<User, Error>;
    /// Redeems a reset code: sets the password, marks the code used and
    /// revokes every live session of the account, in one transaction;
    /// returns the account and the revoked sessions' digests.
    /// [`Error::Forbidden`] with one of the [`refusal`] texts otherwise.
    async fn redeem_password_reset(
        &self,
        code_hash: [u8; 32],
        now: Timestamp,
        password_hash: &str,
    ) -> Result<(User, Vec<[u8; 32]>), Error>;

    /// Removes a message: its text, links and previews (and the logged
    /// preview events, which hold page text) are gone, `removed_at` is set,
    /// and a removal event is logged and emitted. [`Error::NotFound`] for
    /// an unknown message, [`Error::Conflict`] when already removed.
    async fn remove_message(&self, message_id: i64, now: Timestamp) -> Result<Event, Error>;
}
