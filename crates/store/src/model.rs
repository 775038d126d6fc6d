//! The records the store keeps. Plain data, independent of any backend.
use serde::{Deserialize, Serialize};

/// A user's numeric id.
pub type UserId = i64;
/// A position in the event log; clients hold it (encoded) as their cursor.
pub type EventId = i64;
/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// An account as others may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Numeric id.
    pub id: UserId,
    /// Unique handle, `[a-z0-9_]{3,32}`.
    pub handle: String,
    /// Free-form display name.
    pub display_name: String,
    /// Operator administrator.
    pub is_admin: bool,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Whether a new account is an operator administrator. `IfFirst` is
/// decided inside the write that creates the account, so two accounts
/// created at the same moment on an empty server cannot both be first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminGrant {
    /// An administrator (e.g. named in the settings).
    Yes,
    /// An administrator only if no account exists yet.
    IfFirst,
    /// Not an administrator.
    No,
}

/// An account together with its password hash, for signing in.
#[derive(Debug, Clone)]
pub struct UserAuth {
    /// The account.
    pub user: User,
    /// PHC-format argon2id hash.
    pub password_hash: String,
}

/// Direct (exactly two members) or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// Two people; one conversation per pair.
    Direct,
    /// A titled group with roles.
    Group,
}

impl ConversationKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(Self::Direct),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// A member's role in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Ordinary member.
    Member,
    /// May add and remove members.
    Admin,
    /// One per group; may also promote, demote and hand over ownership.
    Owner,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }
}

/// A current member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The member's id.
    #[serde(skip)]
    pub user_id: UserId,
    /// The member's handle.
    pub handle: String,
    /// The member's display name, as it is now.
    pub display_name: String,
    /// The member's role.
    pub role: Role,
    /// The tag of the member's avatar ([`crate::avatar_tag`]), if any.
    pub avatar: Option<String>,
}

/// A conversation and its current members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Numeric id.
    pub id: i64,
    /// Direct or group.
    pub kind: ConversationKind,
    /// Group title; `None` for direct conversations.
    pub title: Option<String>,
    /// Current members.
    pub members: Vec<Member>,
    /// Sequence number of the newest message (0 when empty).
    pub last_seq: i64,
}

/// A conversation as listed for one member.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// The newest message, if any.
    pub last_message: Option<Message>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Global id.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Position in the conversation, from 1, without gaps.
    pub seq: i64,
    /// Sender's id.
    pub sender_id: UserId,
    /// Sender's handle.
    pub sender: String,
    /// UTF-8 text.
    pub body: String,
    /// When the server accepted it.
    pub created_at: Timestamp,
    /// The sender's idempotency key, if given.
    pub client_txn_id: Option<String>,
    /// The link decisions, as JSON (an array); opaque to the store.
    pub links: String,
    /// Previews fetched for this message's links, as a JSON object keyed by URL.
    pub previews: Option<String>,
    /// When an operator administrator removed it; its text, links and
    /// previews are then gone (empty) and clients show a placeholder.
    pub removed_at: Option<Timestamp>,
    /// Who it mentions, as JSON (`{"all":bool,"users":[{"id","handle"}]}`),
    /// opaque to the store; `None` when it mentions nobody.
    #[serde(default)]
    pub mentions: Option<String>,
    /// The files it carries, as a JSON array of [`crate::AttachmentRef`]
    /// (`None`: none).
    #[serde(default)]
    pub attachments: Option<String>,
    /// When its sender last edited it.
    #[serde(default)]
    pub edited_at: Option<Timestamp>,
    /// When it was recalled (by its sender, or removed by a group admin);
    /// its text, links, previews and reactions are then gone.
    #[serde(default)]
    pub recalled_at: Option<Timestamp>,
    /// Who recalled it (handle): the sender, or a group admin or owner.
    #[serde(default)]
    pub recalled_by: Option<String>,
    /// The seq of the message it replies to, in the same conversation.
    #[serde(default)]
    pub reply_to: Option<i64>,
    /// When its sender hid its previews; none is shown or attached after.
    #[serde(default)]
    pub previews_hidden_at: Option<Timestamp>,
    /// What it replies to, as it is now (filled when read).
    #[serde(default)]
    pub reply: Option<Quote>,
    /// Reactions, one entry per emoji, oldest first (filled in history;
    /// events carry changes one by one).
    #[serde(default)]
    pub reactions: Vec<Reaction>,
}

/// The message a reply quotes, as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Its seq.
    pub seq: i64,
    /// Its sender's handle.
    pub sender: String,
    /// Its first line (empty once recalled or removed).
    pub text: String,
    /// It was recalled.
    pub recalled: bool,
    /// An operator administrator removed it.
    pub removed: bool,
}

/// One emoji's reactions on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji (one grapheme).
    pub emoji: String,
    /// Who reacted with it (handles), first first.
    pub users: Vec<String>,
}

/// What a client asks to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Target conversation.
    pub conversation_id: i64,
    /// Sender; must be a current member.
    pub sender_id: UserId,
    /// UTF-8 text (the caller enforces the size cap).
    pub body: String,
    /// Optional idempotency key.
    pub client_txn_id: Option<String>,
    /// Link decisions as a JSON array.
    pub links: String,
    /// One log row per decided link, written in the same transaction.
    pub shares: Vec<LinkShare>,
    /// Mentions as JSON (see [`Message::mentions`]), or `None`.
    pub mentions: Option<String>,
    /// Ids of the sender's unsent uploads into this conversation that the
    /// message carries, in order; bound in the same transaction (any other
    /// id fails the send with [`crate::Error::NotFound`]).
    pub attachments: Vec<i64>,
    /// The seq of a message of the same conversation it replies to.
    pub reply_to: Option<i64>,
}

impl NewMessage {
    /// A text with nothing else: no idempotency key, links, shares,
    /// mentions, files or reply. Set the rest with struct update syntax.
    pub fn text(conversation_id: i64, sender_id: UserId, body: impl Into<String>) -> Self {
        Self {
            conversation_id,
            sender_id,
            body: body.into(),
            client_txn_id: None,
            links: "[]".into(),
            shares: Vec::new(),
            mentions: None,
            attachments: Vec::new(),
            reply_to: None,
        }
    }
}

/// One decided link, as the link-share log keeps it (no text, no path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkShare {
    /// When it was decided.
    pub at: Timestamp,
    /// The message it was in (`None` when the send was refused).
    pub message_id: Option<i64>,
    /// `direct` or `group`.
    pub conversation_kind: ConversationKind,
    /// Members at the time.
    pub member_count: i64,
    /// The sender's role.
    pub sender_role: Role,
    /// Platform id from the registry.
    pub platform: String,
    /// Owner id from the registry.
    pub owner: String,
    /// Category.
    pub category: String,
    /// Registrable domain.
    pub domain: String,
    /// Threat lists the domain is on.
    pub lists: Vec<String>,
    /// Bidi control characters were in or near the link.
    pub bidi: bool,
    /// The host mixes scripts (possible homograph).
    pub mixed_script: bool,
    /// `live`, `warn`, `inert` or `blocked`.
    pub treatment: String,
    /// Whether a preview was permitted.
    pub preview: bool,
    /// The policy version in force.
    pub policy_version: i64,
    /// The policy ids that decided.
    pub policies: Vec<String>,
}

/// A change of membership, as recorded in the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEvent {
    /// The conversation's kind (it never changes; carried so that consumers
    /// of the event stream can track conversations they have not seen).
    pub kind: ConversationKind,
    /// Whose membership changed.
    pub user_id: UserId,
    /// Their handle.
    pub handle: String,
    /// `joined`, `left`, `removed` or `role`.
    pub change: String,
    /// Their role after the change (`None` once gone).
    pub role: Option<Role>,
    /// Who made the change.
    pub by: String,
}

/// The payload of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventBody {
    /// A new message.
    Message(Message),
    /// A membership change.
    Member(MemberEvent),
    /// A link preview attached to a message; `preview` is JSON.
    Preview {
        /// The message it belongs to.
        message_id: i64,
        /// The URL as it appears in the message's links.
        url: String,
        /// The preview object, as JSON.
        preview: String,
    },
    /// An operator administrator removed a message: clients replace it
    /// with a placeholder.
    Removal {
        /// The message removed.
        message_id: i64,
        /// Its position in the conversation.
        seq: i64,
    },
    /// A message was edited: the message as it is now.
    Edit(Message),
    /// A message was recalled by its sender or removed by a group admin:
    /// clients replace it with a "recalled" placeholder.
    Recall {
        /// The message recalled.
        message_id: i64,
        /// Its position in the conversation.
        seq: i64,
        /// Who recalled it (handle).
        by: String,
    },
    /// The sender hid a message's previews: clients drop its cards.
    PreviewsHidden {
        /// The message.
        message_id: i64,
        /// Its position in the conversation.
        seq: i64,
    },
    /// A reaction was added (`on`) or taken back.
    Reaction {
        /// The message.
        message_id: i64,
        /// Its position in the conversation.
        seq: i64,
        /// The emoji.
        emoji: String,
        /// Who reacted (handle).
        user: String,
        /// Added (`true`) or removed.
        on: bool,
    },
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log (the cursor).
    pub id: EventId,
    /// The conversation it happened in.
    pub conversation_id: i64,
    /// What happened.
    pub body: EventBody,
}

/// A cached link preview (or a remembered failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPreview {
    /// When it was fetched.
    pub fetched_at: Timestamp,
    /// When it stops being used.
    pub expires_at: Timestamp,
    /// The preview as JSON; `None` records a failed fetch.
    pub data: Option<String>,
}
