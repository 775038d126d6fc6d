//! Storage for everyday chat beyond sending: editing and recalling a
//! message, and reactions. A trait beside [`crate::Store`], like
//! [`crate::Administration`], so that each backend keeps it in a file of
//! its own. Permission checks (whose message, which role, which window)
//! are the caller's; the store checks membership and state inside the
//! write, where they cannot change under it.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use crate::{Error, Event, EventBody, LinkShare, Message, Quote, Reaction, Timestamp, UserId};

/// A new text for a message.
#[derive(Debug, Clone)]
pub struct MessageEdit {
    /// The message.
    pub message_id: i64,
    /// Its sender, who must still be a member.
    pub editor: UserId,
    /// The new text (the caller enforces the size cap).
    pub body: String,
    /// The new text's link decisions, as a JSON array.
    pub links: String,
    /// One link-share log row per decided link, as a send writes.
    pub shares: Vec<LinkShare>,
    /// The new text's mentions (see [`crate::Message::mentions`]).
    pub mentions: Option<String>,
    /// Now.
    pub at: Timestamp,
}

/// A reaction added or taken back.
#[derive(Debug, Clone)]
pub struct ReactionChange {
    /// The message.
    pub message_id: i64,
    /// Who reacts; must be a current member of the message's conversation.
    pub user: UserId,
    /// The emoji (the caller checks it is one).
    pub emoji: String,
    /// Add (`true`) or take back.
    pub on: bool,
    /// Now.
    pub at: Timestamp,
}

/// A recall event's stored data (`events.data`).
#[derive(Serialize, Deserialize)]
struct RecallData {
    message_id: i64,
    seq: i64,
    by: String,
}

/// A reaction event's stored data (`events.data`).
#[derive(Serialize, Deserialize)]
struct ReactionData {
    message_id: i64,
    seq: i64,
    emoji: String,
    user: String,
    on: bool,
}

/// A previews-hidden event's stored data (`events.data`).
#[derive(Serialize, Deserialize)]
struct HiddenData {
    message_id: i64,
    seq: i64,
}

/// The stored data of a recall, reaction or previews-hidden event.
pub(crate) fn event_data(body: &EventBody) -> String {
    let json = match body {
        EventBody::Recall {
            message_id,
            seq,
            by,
        } => serde_json::to_string(&RecallData {
            message_id: *message_id,
            seq: *seq,
            by: by.clone(),
        }),
        EventBody::Reaction {
            message_id,
            seq,
            emoji,
            user,
            on,
        } => serde_json::to_string(&ReactionData {
            message_id: *message_id,
            seq: *seq,
            emoji: emoji.clone(),
            user: user.clone(),
            on: *on,
        }),
        EventBody::PreviewsHidden { message_id, seq } => serde_json::to_string(&HiddenData {
            message_id: *message_id,
            seq: *seq,
        }),
        _ => Ok(String::new()),
    };
    json.unwrap_or_default()
}

fn corrupt(e: serde_json::Error) -> Error {
    Error::Corrupt(e.to_string())
}

/// Reads a recall event's stored data back.
pub(crate) fn recall(data: &str) -> Result<EventBody, Error> {
    let d: RecallData = serde_json::from_str(data).map_err(corrupt)?;
    Ok(EventBody::Recall {
        message_id: d.message_id,
        seq: d.seq,
        by: d.by,
    })
}

/// Reads a reaction event's stored data back.
pub(crate) fn reaction(data: &str) -> Result<EventBody, Error> {
    let d: ReactionData = serde_json::from_str(data).map_err(corrupt)?;
    Ok(EventBody::Reaction {
        message_id: d.message_id,
        seq: d.seq,
        emoji: d.emoji,
        user: d.user,
        on: d.on,
    })
}

/// Reads a previews-hidden event's stored data back.
pub(crate) fn previews_hidden(data: &str) -> Result<EventBody, Error> {
    let d: HiddenData = serde_json::from_str(data).map_err(corrupt)?;
    Ok(EventBody::PreviewsHidden {
        message_id: d.message_id,
        seq: d.seq,
    })
}

/// The first line of a text, at most 100 characters: what a reply quotes.
pub(crate) fn first_line(body: &str) -> String {
    body.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect()
}

/// One entry per emoji in order of its first reaction.
pub(crate) fn group(rows: Vec<(String, String)>) -> Vec<Reaction> {
    let mut out: Vec<Reaction> = Vec::new();
    for (emoji, user) in rows {
        match out.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(user),
            None => out.push(Reaction {
                emoji,
                users: vec![user],
            }),
        }
    }
    out
}

/// Gives each reply among a page's `messages` its quote from `quotes`,
/// read for the whole page and keyed by conversation and seq (a quote not
/// found stays `None`).
pub(crate) fn give_quotes(messages: &mut [&mut Message], quotes: &HashMap<(i64, i64), Quote>) {
    for m in messages.iter_mut() {
        if let Some(seq) = m.reply_to {
            m.reply = quotes.get(&(m.conversation_id, seq)).cloned();
        }
    }
}

/// Gives each of a page's `messages` its reactions from `(emoji, handle)`
/// rows read for the whole page, by message id, in the order shown.
pub(crate) fn give_reactions(
    messages: &mut [&mut Message],
    mut by_message: HashMap<i64, Vec<(String, String)>>,
) {
    for m in messages.iter_mut() {
        m.reactions = by_message.remove(&m.id).map(group).unwrap_or_default();
    }
}

/// The messages events carry (sends and edits), for their reply quotes.
pub(crate) fn event_messages(events: &mut [Event]) -> Vec<&mut Message> {
    events
        .iter_mut()
        .filter_map(|e| match &mut e.body {
            EventBody::Message(m) | EventBody::Edit(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Why a change to a message is refused because of its state.
pub mod refusal {
    /// The message was recalled.
    pub const RECALLED: &str = "the message was recalled";
    /// An operator administrator removed it.
    pub const REMOVED: &str = "the message was removed by an administrator";
    /// Its sender hid its previews.
    pub const PREVIEWS_HIDDEN: &str = "the sender hid the message's previews";
}

/// Edits, recalls and reactions.
#[async_trait]
pub trait Chat: Send + Sync + 'static {
    /// The message at `seq` of a conversation, with its reply quote and
    /// reactions.
    async fn message_at(&self, conversation_id: i64, seq: i64) -> Result<Option<Message>, Error>;
    /// Replaces a message's text and links, sets `edited_at`, drops its
    /// previews (and their logged events, which hold page text), logs the
    /// link shares and an edit event. [`Error::NotFound`] for an unknown
    /// message or an editor no longer a member; [`Error::Conflict`] with a
    /// [`refusal`] text once recalled or removed.
    async fn edit_message(&self, edit: MessageEdit) -> Result<Event, Error>;
    /// Recalls a message: its text, links, previews and reactions leave the
    /// store (as for an operator removal), `recalled_at`/`recalled_by` are
    /// set and a recall event is logged. [`Error::NotFound`] for an unknown
    /// message; [`Error::Conflict`] once recalled or removed.
    async fn recall_message(
        &self,
        message_id: i64,
        by: UserId,
        at: Timestamp,
    ) -> Result<Event, Error>;
    /// Adds or takes back a reaction; `None` when nothing changed (it was
    /// already there, or not there). [`Error::NotFound`] for an unknown
    /// message or a user who is not a member; [`Error::Conflict`] once
    /// recalled or removed.
    async fn react(&self, change: ReactionChange) -> Result<Option<Event>, Error>;
    /// Hides a message's previews for good: drops them (and their logged
    /// events, which hold page text), sets `previews_hidden_at` so that no
    /// fetch still in flight attaches one, and logs a previews-hidden
    /// event. `None` when they were hidden already. [`Error::NotFound`]
    /// for an unknown message or a user who is not a member;
    /// [`Error::Conflict`] once recalled or removed. Whose message it is,
    /// is the caller's check.
    async fn hide_previews(
        &self,
        message_id: i64,
        by: UserId,
        at: Timestamp,
    ) -> Result<Option<Event>, Error>;
}
