//! Storage for moderation: link complaints, the penalties upheld complaints
//! cost a domain on the penalty ladder, appeals against them, and the
//! operator's moderators (issue 11). A trait of its own beside
//! [`crate::Governance`], so that the chat path does not see it.
//!
//! The ladder itself is the server's setting; the store is handed its rungs
//! when a complaint is upheld, and counts the domain's strikes and writes the
//! penalty in the same transaction, so two moderators upholding complaints
//! about one domain at once cannot both take the same rung.
use async_trait::async_trait;
use serde::Serialize;

use crate::{Error, Timestamp, UserId};

/// Where a complaint or an appeal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting for a moderator.
    Open,
    /// A complaint upheld: a strike against the domain.
    Upheld,
    /// A complaint dismissed: nothing happens to the domain.
    Dismissed,
    /// An appeal granted: the penalty is lifted and its strike no longer counts.
    Granted,
    /// An appeal refused: the penalty stays.
    Refused,
}

impl CaseState {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Upheld => "upheld",
            Self::Dismissed => "dismissed",
            Self::Granted => "granted",
            Self::Refused => "refused",
        }
    }

    /// The state named by [`CaseState::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Open,
            Self::Upheld,
            Self::Dismissed,
            Self::Granted,
            Self::Refused,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// What a penalty does to a domain while it lasts (the policy decides what
/// that means for its links).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyState {
    /// Until the page is fixed and an appeal granted.
    Restricted,
    /// For a while.
    Suspended,
}

impl PenaltyState {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restricted => "restricted",
            Self::Suspended => "suspended",
        }
    }

    /// The state named by [`PenaltyState::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Restricted, Self::Suspended]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One rung of the penalty ladder: what the n-th strike costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// The penalty.
    pub state: PenaltyState,
    /// How long it lasts; `None`: until an appeal is granted.
    pub duration_ms: Option<i64>,
}

/// A complaint as filed: the link's facts are copied from the message's
/// decision at the time.
#[derive(Debug, Clone)]
pub struct NewComplaint {
    /// Who reports.
    pub reporter: UserId,
    /// The conversation of the message.
    pub conversation_id: i64,
    /// The message.
    pub message_id: i64,
    /// The link's index in the message's links.
    pub link_index: i64,
    /// The link as written.
    pub url: String,
    /// Its registrable domain: what a strike is counted against.
    pub domain: String,
    /// Its platform id (`unknown` when none).
    pub platform: String,
    /// Its platform's owner (`unknown` when none).
    pub owner: String,
    /// One of the reasons of the fixed list (the service checks it).
    pub reason: String,
    /// The reporter's note (may be empty).
    pub note: String,
    /// When.
    pub now: Timestamp,
}

/// A stored complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Complaint {
    /// Complaint id.
    pub id: i64,
    /// Who reported (handle). Never shown to the message's sender.
    pub reporter: String,
    /// Their account, to tell them the outcome.
    pub reporter_id: UserId,
    /// The conversation.
    pub conversation_id: i64,
    /// The message.
    pub message_id: i64,
    /// The link's index in the message.
    pub link_index: i64,
    /// The link as written.
    pub url: String,
    /// Its registrable domain.
    pub domain: String,
    /// Its platform.
    pub platform: String,
    /// Its platform's owner.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// The reporter's note.
    pub note: String,
    /// When filed.
    pub created_at: Timestamp,
    /// `open`, `upheld` or `dismissed`.
    pub state: CaseState,
    /// Which moderator decided (handle).
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// The moderator's note.
    pub decision_note: String,
}

/// A decision on an open complaint or appeal.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The complaint or appeal.
    pub id: i64,
    /// The moderator.
    pub by: UserId,
    /// Their note (may be empty).
    pub note: String,
    /// When.
    pub now: Timestamp,
}

/// A penalty: what one strike cost a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Penalty {
    /// Penalty id.
    pub id: i64,
    /// The registrable domain.
    pub domain: String,
    /// Its platform.
    pub platform: String,
    /// Its platform's owner.
    pub owner: String,
    /// The upheld complaint it came from.
    pub complaint_id: i64,
    /// Which strike within the window it was (1 for the first).
    pub strike: i64,
    /// Restricted or suspended.
    pub state: PenaltyState,
    /// From when.
    pub starts_at: Timestamp,
    /// Until when; `None`: until an appeal is granted.
    pub ends_at: Option<Timestamp>,
    /// When an appeal lifted it.
    pub lifted_at: Option<Timestamp>,
    /// Which moderator lifted it (handle).
    pub lifted_by: Option<String>,
}

impl Penalty {
    /// Whether it applies at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.lifted_at.is_none() && self.starts_at <= now && self.ends_at.is_none_or(|e| e > now)
    }
}

/// An appeal against a penalty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appeal {
    /// Appeal id.
    pub id: i64,
    /// The penalty appealed against.
    pub penalty_id: i64,
    /// Its domain.
    pub domain: String,
    /// Who appealed (handle).
    pub appellant: String,
    /// Their case.
    pub note: String,
    /// When.
    pub created_at: Timestamp,
    /// `open`, `granted` or `refused`.
    pub state: CaseState,
    /// Which moderator decided (handle).
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// The moderator's note.
    pub decision_note: String,
}

/// Complaints filed in a range, counted by owner, platform, reason and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplaintCount {
    /// Owner id.
    pub owner: String,
    /// Platform id.
    pub platform: String,
    /// The reason.
    pub reason: String,
    /// `open`, `upheld` or `dismissed`.
    pub state: CaseState,
    /// How many.
    pub count: i64,
}

/// Penalties that began in a range, counted by owner, platform, the
/// upheld complaint's reason and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PenaltyCount {
    /// Owner id.
    pub owner: String,
    /// Platform id.
    pub platform: String,
    /// The reason of the complaint that cost the strike.
    pub reason: String,
    /// Restricted or suspended.
    pub state: PenaltyState,
    /// How many.
    pub count: i64,
    /// Of those, how many a granted appeal lifted.
    pub lifted: i64,
}

/// What can go wrong with a moderation step, in the words people see.
pub mod refusal {
    /// Deciding a complaint or appeal that is not open.
    pub const CLOSED: &str = "it has already been decided";
    /// Appealing a penalty that is not in force.
    pub const NOT_IN_FORCE: &str = "the penalty is no longer in force";
    /// A second appeal while one is open.
    pub const APPEAL_OPEN: &str = "an appeal against this penalty is already open";
}

/// Moderation storage.
#[async_trait]
pub trait Moderation: Send + Sync + 'static {
    /// Grants or withdraws the moderator role; [`Error::NotFound`] for an
    /// unknown handle. Returns the account's id.
    async fn set_moderator(&self, handle: &str, moderator: bool) -> Result<UserId, Error>;
    /// Handles of every moderator, sorted.
    async fn moderators(&self) -> Result<Vec<String>, Error>;
    /// Whether the account is a moderator.
    async fn is_moderator(&self, user: UserId) -> Result<bool, Error>;

    /// Files a complaint; the same reporter, message and link index again
    /// returns the first complaint and `false`.
    async fn file_complaint(&self, complaint: NewComplaint) -> Result<(Complaint, bool), Error>;
    /// One complaint.
    async fn complaint(&self, id: i64) -> Result<Option<Complaint>, Error>;
    /// Complaints in a state (every state for `None`) with an id above
    /// `after`, oldest first, at most `limit`: the queue.
    async fn complaints(
        &self,
        state: Option<CaseState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Complaint>, Error>;
    /// A reporter's complaints, newest first, at most `limit`.
    async fn complaints_by(&self, reporter: UserId, limit: u32) -> Result<Vec<Complaint>, Error>;
    /// Upholds an open complaint: counts the domain's strikes since
    /// `window_start` that no granted appeal lifted, and writes the penalty
    /// of the ladder's rung for this strike (the last rung past its end),
    /// in one transaction. [`Error::Conflict`] ([`refusal::CLOSED`]) when
    /// the complaint is not open or the ladder is empty.
    async fn uphold(
        &self,
        decision: Decision,
        window_start: Timestamp,
        ladder: &[Rung],
    ) -> Result<(Complaint, Penalty), Error>;
    /// Dismisses an open complaint ([`Error::Conflict`] when not open).
    async fn dismiss(&self, decision: Decision) -> Result<Complaint, Error>;

    /// One penalty.
    async fn penalty(&self, id: i64) -> Result<Option<Penalty>, Error>;
    /// Penalties, newest first, at most `limit`.
    async fn penalties(&self, limit: u32) -> Result<Vec<Penalty>, Error>;
    /// Penalties not lifted whose end is after `now` (or that have none):
    /// what is in force now and later, with which the server builds the
    /// penalty book and finds the next expiry.
    async fn live_penalties(&self, now: Timestamp) -> Result<Vec<Penalty>, Error>;

    /// Files an appeal against a penalty in force: [`Error::Conflict`] when
    /// it is not in force or an appeal is already open. Who may appeal is
    /// the service's to check.
    async fn file_appeal(
        &self,
        penalty: i64,
        by: UserId,
        note: &str,
        now: Timestamp,
    ) -> Result<Appeal, Error>;
    /// Appeals in a state (every state for `None`), oldest first, at most `limit`.
    async fn appeals(&self, state: Option<CaseState>, limit: u32) -> Result<Vec<Appeal>, Error>;
    /// Grants (lifting the penalty) or refuses an open appeal;
    /// [`Error::Conflict`] when not open.
    async fn decide_appeal(&self, decision: Decision, grant: bool) -> Result<Appeal, Error>;

    /// Complaints filed in `[from, to)`, counted.
    async fn complaint_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ComplaintCount>, Error>;
    /// Penalties that began in `[from, to)`, counted.
    async fn penalty_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PenaltyCount>, Error>;
}
