//! The JSON the API speaks: views of stored records, events with their
//! cursors, and the cursor encoding itself.
use kaifang_store::{Conversation, Event, EventBody, EventId, Member, Message, Quote, Reaction};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::service::mentions::Mentions;

/// A message as clients see it.
#[derive(Serialize, ToSchema)]
pub struct MessageView<'a> {
    /// Global message id.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Position in the conversation, from 1, without gaps.
    pub seq: i64,
    /// Sender's handle.
    pub sender: &'a str,
    /// The text.
    pub body: &'a str,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The sender's idempotency key, if any.
    pub client_txn_id: Option<&'a str>,
    /// One decision per link found in the body.
    #[schema(value_type = Vec<Object>)]
    pub links: &'a RawValue,
    /// Previews fetched so far, keyed by the link's URL.
    #[schema(value_type = Object)]
    pub previews: &'a RawValue,
    /// An operator administrator removed it: `body`, `links` and
    /// `previews` are empty; show "removed by an administrator".
    pub removed: bool,
    /// Whom it mentions (members only; other `@words` stay plain text).
    pub mentions: MentionsView,
    /// The files it carries: `{id, name, content_type, size, thumbnail,
    /// width, height}` each (download at `/api/v1/attachments/{id}`).
    #[schema(value_type = Vec<Object>)]
    pub attachments: &'a RawValue,
    /// When its sender last edited it (RFC 3339); null if never: show
    /// "edited".
    pub edited_at: Option<String>,
    /// It was recalled: `body`, `links`, `previews` and `reactions` are
    /// empty; show "recalled" (by `recalled_by`).
    pub recalled: bool,
    /// Who recalled it: its sender, or a group admin or owner who removed it.
    pub recalled_by: Option<&'a str>,
    /// The seq of the message it replies to, in the same conversation.
    pub reply_to: Option<i64>,
    /// Its sender hid its previews: `previews` is empty and stays so; show
    /// no card.
    pub previews_hidden: bool,
    /// The message it replies to, as it is now: `{seq, sender, text (first
    /// line), recalled, removed}`.
    #[schema(value_type = Option<Object>)]
    pub reply: Option<&'a Quote>,
    /// Reactions, one `{emoji, users}` per emoji, in order of the first
    /// (in history; events carry changes one by one).
    #[schema(value_type = Vec<Object>)]
    pub reactions: &'a [Reaction],
}

/// The mentions of a message.
#[derive(Serialize, ToSchema, Default)]
pub struct MentionsView {
    /// `@all`: every member is mentioned.
    pub all: bool,
    /// The handles of the members mentioned by name.
    pub handles: Vec<String>,
}

impl MentionsView {
    /// The view of the stored JSON; a damaged value reads as no mention.
    fn of(stored: Option<&str>) -> Self {
        let Some(parsed) = stored.and_then(|s| serde_json::from_str::<Mentions>(s).ok()) else {
            return Self::default();
        };
        Self {
            all: parsed.all,
            handles: parsed.users.into_iter().map(|u| u.handle).collect(),
        }
    }
}

/// RFC 3339 with milliseconds, from Unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn raw<'a>(text: &'a str, fallback: &'static str) -> &'a RawValue {
    // Stored JSON is written by this server; a damaged value degrades to
    // the fallback rather than failing the whole answer.
    serde_json::from_str::<&RawValue>(text)
        .or_else(|_| serde_json::from_str::<&'static RawValue>(fallback))
        .unwrap_or(RawValue::NULL)
}

impl<'a> MessageView<'a> {
    /// The view of a stored message.
    pub fn of(m: &'a Message) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender: &m.sender,
            body: &m.body,
            created_at: rfc3339(m.created_at),
            client_txn_id: m.client_txn_id.as_deref(),
            links: raw(&m.links, "[]"),
            previews: raw(m.previews.as_deref().unwrap_or("{}"), "{}"),
            removed: m.removed_at.is_some(),
            mentions: MentionsView::of(m.mentions.as_deref()),
            attachments: match (&m.attachments, m.removed_at.or(m.recalled_at)) {
                (Some(list), None) => raw(list, "[]"),
                _ => raw("[]", "[]"),
            },
            edited_at: m.edited_at.map(rfc3339),
            recalled: m.recalled_at.is_some(),
            recalled_by: m.recalled_by.as_deref(),
            reply_to: m.reply_to,
            previews_hidden: m.previews_hidden_at.is_some(),
            reply: m.reply.as_ref(),
            reactions: &m.reactions,
        }
    }
}

/// A conversation as clients see it.
#[derive(Serialize, ToSchema)]
pub struct ConversationView<'a> {
    /// Conversation id.
    pub id: i64,
    /// `direct` or `group`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// Group title (null for direct conversations).
    pub title: Option<&'a str>,
    /// Current members with their roles.
    #[schema(value_type = Vec<MemberView>)]
    pub members: &'a [Member],
    /// Sequence number of the newest message.
    pub last_seq: i64,
}

/// A member as clients see it.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    /// Handle.
    pub handle: String,
    /// Display name, as it is now (clients show it, the handle on hover).
    pub display_name: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
}

impl<'a> ConversationView<'a> {
    /// The view of a conversation.
    pub fn of(c: &'a Conversation) -> Self {
        Self {
            id: c.id,
            kind: c.kind.as_str(),
            title: c.title.as_deref(),
            members: &c.members,
            last_seq: c.last_seq,
        }
    }
}

/// Cursors are opaque to clients; this is their only encoding.
pub mod cursor {
    use super::EventId;

    const PREFIX: &str = "c1.";

    /// Encodes an event id.
    pub fn encode(id: EventId) -> String {
        format!("{PREFIX}{id}")
    }

    /// Decodes a cursor, or says why it is malformed.
    pub fn decode(text: &str) -> Result<EventId, &'static str> {
        text.strip_prefix(PREFIX)
            .and_then(|n| n.parse::<EventId>().ok())
            .filter(|n| *n >= 0)
            .ok_or("malformed cursor: pass back a cursor exactly as the server gave it")
    }
}

#[derive(Serialize)]
struct MessageEvent<'a> {
    cursor: String,
    #[serde(rename = "type")]
    kind: &'static str,
    message: MessageView<'a>,
}

#[derive(Serialize)]
struct MemberEventView<'a> {
    cursor: String,
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: i64,
    handle: &'a str,
    change: &'a str,
    role: Option<&'static str>,
    by: &'a str,
}

#[derive(Serialize)]
struct PreviewEvent<'a> {
    cursor: String,
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: i64,
    message_id: i64,
    url: &'a str,
    preview: &'a RawValue,
}

/// A removal's fields; a previews-hidden event has the same.
#[derive(Serialize)]
struct RemovalEvent {
    cursor: String,
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: i64,
    message_id: i64,
    seq: i64,
}

#[derive(Serialize)]
struct RecallEvent<'a> {
    cursor: String,
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: i64,
    message_id: i64,
    seq: i64,
    by: &'a str,
}

#[derive(Serialize)]
struct ReactionEvent<'a> {
    cursor: String,
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: i64,
    message_id: i64,
    seq: i64,
    emoji: &'a str,
    user: &'a str,
    on: bool,
}

/// Serializes an event once; every recipient gets the same bytes.
pub fn render_event(event: &Event) -> String {
    let cursor = cursor::encode(event.id);
    let json = match &event.body {
        EventBody::Message(m) => serde_json::to_string(&MessageEvent {
            cursor,
            kind: "message",
            message: MessageView::of(m),
        }),
        EventBody::Member(m) => serde_json::to_string(&MemberEventView {
            cursor,
            kind: "member",
            conversation_id: event.conversation_id,
            handle: &m.handle,
            change: &m.change,
            role: m.role.map(|r| r.as_str()),
            by: &m.by,
        }),
        EventBody::Preview {
            message_id,
            url,
            preview,
        } => serde_json::to_string(&PreviewEvent {
            cursor,
            kind: "preview",
            conversation_id: event.conversation_id,
            message_id: *message_id,
            url,
            preview: raw(preview, "{}"),
        }),
        EventBody::PreviewsHidden { message_id, seq } => serde_json::to_string(&RemovalEvent {
            cursor,
            kind: "previews_hidden",
            conversation_id: event.conversation_id,
            message_id: *message_id,
            seq: *seq,
        }),
        EventBody::Removal { message_id, seq } => serde_json::to_string(&RemovalEvent {
            cursor,
            kind: "removal",
            conversation_id: event.conversation_id,
            message_id: *message_id,
            seq: *seq,
        }),
        EventBody::Edit(m) => serde_json::to_string(&MessageEvent {
            cursor,
            kind: "edit",
            message: MessageView::of(m),
        }),
        EventBody::Recall {
            message_id,
            seq,
            by,
        } => serde_json::to_string(&RecallEvent {
            cursor,
            kind: "recall",
            conversation_id: event.conversation_id,
            message_id: *message_id,
            seq: *seq,
            by,
        }),
        EventBody::Reaction {
            message_id,
            seq,
            emoji,
            user,
            on,
        } => serde_json::to_string(&ReactionEvent {
            cursor,
            kind: "reaction",
            conversation_id: event.conversation_id,
            message_id: *message_id,
            seq: *seq,
            emoji,
            user,
            on: *on,
        }),
    };
    json.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(cursor::decode(&cursor::encode(42)), Ok(42));
        for bad in [
            "",
            "42",
            "c1.",
            "c1.-3",
            "c1.x",
            "c2.5",
            "c1.99999999999999999999",
        ] {
            assert!(cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_632_000_000_123), "2021-09-18T21:20:00.123Z");
    }
}
