//! [`Chat`] for the SQLite backend: edits, recalls and reactions, each in
//! the writer's savepoint; and the reading side, which fills a message's
//! reply quote and reactions.
use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, read, writer};
use crate::chat::{
    Chat, MessageEdit, ReactionChange, event_data, event_messages, first_line, give_quotes,
    give_reactions, refusal,
};
use crate::{Error, Event, EventBody, Message, Quote, Timestamp, UserId};

/// Fills the reply quote and, with `reactions`, the reactions.
pub(super) fn decorate(conn: &Connection, m: &mut Message, reactions: bool) -> Result<(), Error> {
    decorate_all(conn, vec![m], reactions)
}

/// Fills the reply quotes and, with `reactions`, the reactions of many
/// messages (a history page, a batch of events) with one query for all the
/// quotes and one for all the reactions, not two per message. The keys go
/// in as one JSON array read by `json_each`, so the statement text is the
/// same whatever the number of messages and stays in the statement cache.
pub(super) fn decorate_all(
    conn: &Connection,
    mut messages: Vec<&mut Message>,
    reactions: bool,
) -> Result<(), Error> {
    let quoted: Vec<(i64, i64)> = messages
        .iter()
        .filter_map(|m| Some((m.conversation_id, m.reply_to?)))
        .collect();
    if !quoted.is_empty() {
        let keys = serde_json::json!(quoted).to_string();
        let mut quotes = HashMap::new();
        let mut stmt = conn.prepare_cached(
            "SELECT m.conversation_id, m.seq, u.handle, m.body, m.recalled_at IS NOT NULL, \
             m.removed_at IS NOT NULL \
             FROM json_each(?1) q \
             JOIN messages m ON m.conversation_id = q.value ->> 0 AND m.seq = q.value ->> 1 \
             JOIN users u ON u.id = m.sender_id",
        )?;
        let mut rows = stmt.query([keys])?;
        while let Some(r) = rows.next()? {
            let seq = r.get(1)?;
            let quote = Quote {
                seq,
                sender: r.get(2)?,
                text: first_line(&r.get::<_, String>(3)?),
                recalled: r.get(4)?,
                removed: r.get(5)?,
            };
            quotes.insert((r.get::<_, i64>(0)?, seq), quote);
        }
        give_quotes(&mut messages, &quotes);
    }
    if reactions && !messages.is_empty() {
        let ids = serde_json::json!(messages.iter().map(|m| m.id).collect::<Vec<_>>()).to_string();
        // Each message's rows keep the order of the query per message this
        // replaces: by time, then handle.
        let mut by_message: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        let mut stmt = conn.prepare_cached(
            "SELECT r.message_id, r.emoji, u.handle FROM reactions r JOIN users u ON u.id = r.user_id \
             WHERE r.message_id IN (SELECT value FROM json_each(?1)) \
             ORDER BY r.created_at, u.handle",
        )?;
        let mut rows = stmt.query([ids])?;
        while let Some(r) = rows.next()? {
            by_message
                .entry(r.get(0)?)
                .or_default()
                .push((r.get(1)?, r.get(2)?));
        }
        give_reactions(&mut messages, by_message);
    }
    Ok(())
}

/// Fills the reply quotes of the messages events carry.
pub(super) fn decorate_events(conn: &Connection, events: &mut [Event]) -> Result<(), Error> {
    let messages = event_messages(events);
    decorate_all(conn, messages, false)
}

/// The message's conversation and seq, if it can still be changed.
fn changeable(conn: &Connection, message_id: i64) -> Result<(i64, i64), Error> {
    let row: Option<(i64, i64, bool, bool)> = conn
        .prepare_cached(
            "SELECT conversation_id, seq, recalled_at IS NOT NULL, removed_at IS NOT NULL \
             FROM messages WHERE id = ?1",
        )?
        .query_row([message_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    match row {
        None => Err(Error::NotFound("message")),
        Some((_, _, true, _)) => Err(Error::Conflict(refusal::RECALLED)),
        Some((_, _, _, true)) => Err(Error::Conflict(refusal::REMOVED)),
        Some((c, seq, false, false)) => Ok((c, seq)),
    }
}

/// The handle of a current member, or [`Error::NotFound`].
fn member_handle(conn: &Connection, conversation_id: i64, user: UserId) -> Result<String, Error> {
    conn.prepare_cached(
        "SELECT u.handle FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = ?1 AND m.user_id = ?2 AND m.left_event IS NULL",
    )?
    .query_row([conversation_id, user], |r| r.get(0))
    .optional()?
    .ok_or(Error::NotFound("conversation"))
}

fn edit(conn: &Connection, events: &mut Vec<Event>, e: MessageEdit) -> Result<Event, Error> {
    let (conversation_id, _) = changeable(conn, e.message_id)?;
    member_handle(conn, conversation_id, e.editor)?;
    conn.prepare_cached(
        "UPDATE messages SET body = ?2, links = ?3, previews = NULL, edited_at = ?4, mentions = ?5 \
         WHERE id = ?1",
    )?
    .execute(params![e.message_id, e.body, e.links, e.at, e.mentions])?;
    for share in &e.shares {
        writer::log_share(conn, share, Some(e.message_id))?;
    }
    // The edit event carries no text: readers join the message as it is.
    let id = writer::log_event(conn, conversation_id, "edit", Some(e.message_id), None)?;
    // The old links' previews held their pages' text; new ones follow.
    conn.prepare_cached("DELETE FROM events WHERE kind = 'preview' AND message_id = ?1")?
        .execute([e.message_id])?;
    let message = read::message(conn, e.message_id)?.ok_or(Error::NotFound("message"))?;
    let event = Event {
        id,
        conversation_id,
        body: EventBody::Edit(message),
    };
    events.push(event.clone());
    Ok(event)
}

fn recall(
    conn: &Connection,
    events: &mut Vec<Event>,
    message_id: i64,
    by: UserId,
    at: Timestamp,
) -> Result<Event, Error> {
    let (conversation_id, seq) = changeable(conn, message_id)?;
    let by_handle = member_handle(conn, conversation_id, by)?;
    conn.prepare_cached(
        "UPDATE messages SET body = '', links = '[]', previews = NULL, mentions = NULL, recalled_at = ?2, \
         recalled_by = ?3 WHERE id = ?1",
    )?
    .execute(params![message_id, at, by])?;
    conn.prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
        .execute([message_id])?;
    let body = EventBody::Recall {
        message_id,
        seq,
        by: by_handle,
    };
    log_dropping_previews(conn, events, conversation_id, message_id, "recall", body)
}

/// Logs `body` as the message's `kind` event, then deletes the message's
/// logged preview events (they hold the linked pages' text). Logged first,
/// as for a removal: the newest id is never one deleted and handed out again.
fn log_dropping_previews(
    conn: &Connection,
    events: &mut Vec<Event>,
    conversation_id: i64,
    message_id: i64,
    kind: &str,
    body: EventBody,
) -> Result<Event, Error> {
    let data = event_data(&body);
    let id = writer::log_event(conn, conversation_id, kind, Some(message_id), Some(&data))?;
    conn.prepare_cached("DELETE FROM events WHERE kind = 'preview' AND message_id = ?1")?
        .execute([message_id])?;
    let event = Event {
        id,
        conversation_id,
        body,
    };
    events.push(event.clone());
    Ok(event)
}

fn hide_previews(
    conn: &Connection,
    events: &mut Vec<Event>,
    message_id: i64,
    by: UserId,
    at: Timestamp,
) -> Result<Option<Event>, Error> {
    let (conversation_id, seq) = changeable(conn, message_id)?;
    member_handle(conn, conversation_id, by)?;
    let hidden = conn
        .prepare_cached(
            "UPDATE messages SET previews = NULL, previews_hidden_at = ?2 \
             WHERE id = ?1 AND previews_hidden_at IS NULL",
        )?
        .execute(params![message_id, at])?;
    if hidden == 0 {
        return Ok(None);
    }
    let body = EventBody::PreviewsHidden { message_id, seq };
    log_dropping_previews(
        conn,
        events,
        conversation_id,
        message_id,
        "previews_hidden",
        body,
    )
    .map(Some)
}

fn react(
    conn: &Connection,
    events: &mut Vec<Event>,
    c: ReactionChange,
) -> Result<Option<Event>, Error> {
    let (conversation_id, seq) = changeable(conn, c.message_id)?;
    let user = member_handle(conn, conversation_id, c.user)?;
    let changed = if c.on {
        conn.prepare_cached(
            "INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![c.message_id, c.user, c.emoji, c.at])?
    } else {
        conn.prepare_cached(
            "DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3",
        )?
        .execute(params![c.message_id, c.user, c.emoji])?
    };
    if changed == 0 {
        return Ok(None);
    }
    let body = EventBody::Reaction {
        message_id: c.message_id,
        seq,
        emoji: c.emoji,
        user,
        on: c.on,
    };
    let id = writer::log_event(
        conn,
        conversation_id,
        "reaction",
        Some(c.message_id),
        Some(&event_data(&body)),
    )?;
    let event = Event {
        id,
        conversation_id,
        body,
    };
    events.push(event.clone());
    Ok(Some(event))
}

#[async_trait]
impl Chat for SqliteStore {
    async fn message_at(&self, conversation_id: i64, seq: i64) -> Result<Option<Message>, Error> {
        self.read(move |c| {
            let id: Option<i64> = c
                .prepare_cached("SELECT id FROM messages WHERE conversation_id = ?1 AND seq = ?2")?
                .query_row([conversation_id, seq], |r| r.get(0))
                .optional()?;
            match id {
                Some(id) => read::message(c, id),
                None => Ok(None),
            }
        })
        .await
    }

    async fn edit_message(&self, e: MessageEdit) -> Result<Event, Error> {
        self.writer
            .run(move |conn, events| edit(conn, events, e))
            .await
    }

    async fn recall_message(
        &self,
        message_id: i64,
        by: UserId,
        at: Timestamp,
    ) -> Result<Event, Error> {
        self.writer
            .run(move |conn, events| recall(conn, events, message_id, by, at))
            .await
    }

    async fn react(&self, change: ReactionChange) -> Result<Option<Event>, Error> {
        self.writer
            .run(move |conn, events| react(conn, events, change))
            .await
    }

    async fn hide_previews(
        &self,
        message_id: i64,
        by: UserId,
        at: Timestamp,
    ) -> Result<Option<Event>, Error> {
        self.writer
            .run(move |conn, events| hide_previews(conn, events, message_id, by, at))
            .await
    }
}
