//! Storage for governance: policy versions, scheduled activations, the
//! link-share log's aggregates and the audit log. A second trait beside
//! [`crate::Store`], so that the chat path does not see it.
use async_trait::async_trait;
use serde::Serialize;

use crate::{Error, LinkShare, Timestamp, UserId};

/// A stored policy version (immutable once written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    /// Version id (from 1; 0 is the start-up policy from the settings).
    pub id: i64,
    /// Cedar text.
    pub text: String,
    /// Who proposed it.
    pub author: String,
    /// When.
    pub created_at: Timestamp,
    /// Why.
    pub comment: String,
}

/// A scheduled (or past) activation of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activation {
    /// Activation id.
    pub id: i64,
    /// The version it puts in force.
    pub version_id: i64,
    /// From when.
    pub effective_from: Timestamp,
    /// Who scheduled it.
    pub created_by: String,
    /// When it was scheduled.
    pub created_at: Timestamp,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<Timestamp>,
}

/// Logged links counted by owner, platform, conversation kind and treatment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareCount {
    /// Owner id.
    pub owner: String,
    /// Platform id.
    pub platform: String,
    /// `direct` or `group`.
    pub conversation_kind: String,
    /// `live`, `warn`, `inert` or `blocked`.
    pub treatment: String,
    /// How many.
    pub count: i64,
}

/// One admin action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Entry id.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Who (handle).
    pub actor: String,
    /// What, e.g. `policy.propose`.
    pub action: String,
    /// Details, JSON.
    pub detail: String,
}

/// Governance storage.
#[async_trait]
pub trait Governance: Send + Sync + 'static {
    /// Stores a new version.
    async fn create_version(
        &self,
        author: UserId,
        text: &str,
        comment: &str,
    ) -> Result<PolicyVersion, Error>;
    /// Every version, oldest first.
    async fn versions(&self) -> Result<Vec<PolicyVersion>, Error>;
    /// One version.
    async fn version(&self, id: i64) -> Result<Option<PolicyVersion>, Error>;
    /// Schedules `version` to take effect at `at` ([`Error::NotFound`] for
    /// an unknown version).
    async fn schedule(&self, version: i64, at: Timestamp, by: UserId) -> Result<Activation, Error>;
    /// Cancels an activation that has not taken effect by `now`.
    async fn cancel(&self, activation: i64, now: Timestamp) -> Result<Activation, Error>;
    /// Every activation, by effective time.
    async fn activations(&self) -> Result<Vec<Activation>, Error>;
    /// Logged links in `[from, to)`, counted.
    async fn share_counts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ShareCount>, Error>;
    /// Logged links in `[from, to)`, counted per time bucket of `bucket`
    /// ms (the bucket's start, then the counts).
    async fn share_series(
        &self,
        from: Timestamp,
        to: Timestamp,
        bucket: i64,
    ) -> Result<Vec<(Timestamp, ShareCount)>, Error>;
    /// Logged links in `[from, to)` with id above `after`, at most `limit`,
    /// by id (for replay in pages).
    async fn shares(
        &self,
        from: Timestamp,
        to: Timestamp,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, LinkShare)>, Error>;
    /// Deletes logged links older than `before`; returns how many.
    async fn prune_shares(&self, before: Timestamp) -> Result<u64, Error>;
    /// Appends to the audit log.
    async fn audit(&self, actor: UserId, action: &str, detail: &str) -> Result<(), Error>;
    /// The newest audit entries, newest first.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, Error>;
}
