//! Kaifang's storage layer.
//!
//! The server talks to storage only through the [`Store`], [`Governance`],
//! [`Administration`], [`ReadState`], [`Search`], [`Attachments`], [`People`], [`Moderation`], [`PreviewRules`] and [`Payments`] traits (and attachment
//! bytes through [`BlobStore`]), and storage errors name no database
//! library, so the API handlers do not depend on the backend. Two backends
//! implement them: the embedded default, [`SqliteStore`], keeps every
//! write on one thread that groups concurrent writes into one transaction;
//! [`PgStore`] runs on PostgreSQL.
//! On both, a send is acknowledged only after its transaction committed, so
//! it survives a crash of the process.
//!
//! Committed events leave the store, in commit order, through the
//! [`EventSink`] given when the store is opened; the server's fan-out reads
//! them from there.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kaifang_store::Error> {
//! use kaifang_store::{AdminGrant, SqliteConfig, SqliteStore, Store};
//! let (sink, _events) = tokio::sync::mpsc::unbounded_channel();
//! let store = SqliteStore::open(SqliteConfig::new("kaifang-data/kaifang.db"), sink)?;
//! let user = store.create_user("alice", "Alice", "$argon2id$…", AdminGrant::IfFirst).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod administration;
mod attachments;
mod blobs;
mod chat;
mod error;
mod governance;
mod membership;
mod model;
mod moderation;
mod payments;
mod people;
mod postgres;
mod preview_rules;
mod read_state;
mod search;
mod sqlite;
mod store;

pub use administration::{Account, Administration, Invite, InvitedSignUp, refusal};
pub use attachments::{Attachment, AttachmentRef, Attachments, NewAttachment};
pub use blobs::{BlobId, BlobStore, FsBlobStore};
pub use chat::{Chat, MessageEdit, ReactionChange, refusal as chat_refusal};
pub use error::{BackendError, Error};
pub use governance::{Activation, AuditEntry, Governance, PolicyVersion, ShareCount};
pub use membership::{MemberChange, check_member_change};
pub use model::{
    AdminGrant, CachedPreview, Conversation, ConversationKind, ConversationSummary, Event,
    EventBody, EventId, LinkShare, Member, MemberEvent, Message, NewMessage, Quote, Reaction, Role,
    Timestamp, User, UserAuth, UserId,
};
pub use moderation::{
    Appeal, CaseState, Complaint, ComplaintCount, Decision, Moderation, NewComplaint, Penalty,
    PenaltyCount, PenaltyState, Rung, refusal as moderation_refusal,
};
pub use payments::{
    Balance, EntryLeg, IDEMPOTENCY_WINDOW_MS, IdempotencyKey, LedgerEntry, LedgerTransaction,
    NewOrder, NewTransaction, Order, OrderTotals, PaymentCount, Payments, TransactionKind,
    asset_limited,
};
pub use people::{AVATAR_TAG_CHARS, People, Profile, ProfileEdit, avatar_tag};
pub use postgres::{PgBlobStore, PgConfig, PgStore};
pub use preview_rules::{
    PreviewRule, PreviewRuleSet, PreviewRules, RuleList, refusal as preview_rule_refusal,
};
pub use read_state::{ReadMarker, ReadState};
pub use search::{INDEXED_QUERY_CHARS, Search, SearchPage, SearchQuery};
pub use sqlite::{SqliteConfig, SqliteStore, maintenance as sqlite_maintenance};
pub use store::{EventSink, Store};
