//! [`Chat`] for the PostgreSQL backend: edits, recalls and reactions, each
//! in a transaction holding the write lock, every event logged through
//! `write::log_event_at`; and the reading side, which fills a message's
//! reply quote and reactions.
use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::read::{self, execute, query, query_opt};
use super::{PgStore, write};
use crate::chat::{
    Chat, MessageEdit, ReactionChange, event_data, event_messages, first_line, give_quotes,
    give_reactions, refusal,
};
use crate::{Error, Event, EventBody, Message, Quote, Timestamp, UserId};

/// Fills the reply quote and, with `reactions`, the reactions.
pub(super) async fn decorate<C: GenericClient>(
    c: &C,
    m: &mut Message,
    reactions: bool,
) -> Result<(), Error> {
    decorate_all(c, vec![m], reactions).await
}

/// Fills the reply quotes and, with `reactions`, the reactions of many
/// messages (a history page, a batch of events) with one query for all the
/// quotes and one for all the reactions: two round trips, not two per
/// message. The keys go in as arrays, so the statement is prepared once.
pub(super) async fn decorate_all<C: GenericClient>(
    c: &C,
    mut messages: Vec<&mut Message>,
    reactions: bool,
) -> Result<(), Error> {
    let (conversations, seqs): (Vec<i64>, Vec<i64>) = messages
        .iter()
        .filter_map(|m| Some((m.conversation_id, m.reply_to?)))
        .unzip();
    if !seqs.is_empty() {
        let rows = query(
            c,
            "SELECT m.conversation_id, m.seq, u.handle, m.body, m.recalled_at IS NOT NULL, \
             m.removed_at IS NOT NULL \
             FROM unnest($1::bigint[], $2::bigint[]) AS q(conversation_id, seq) \
             JOIN messages m ON m.conversation_id = q.conversation_id AND m.seq = q.seq \
             JOIN users u ON u.id = m.sender_id",
            &[&conversations, &seqs],
        )
        .await?;
        let mut quotes = HashMap::new();
        for r in &rows {
            let seq = r.try_get(1)?;
            let quote = Quote {
                seq,
                sender: r.try_get(2)?,
                text: first_line(&r.try_get::<_, String>(3)?),
                recalled: r.try_get(4)?,
                removed: r.try_get(5)?,
            };
            quotes.insert((r.try_get::<_, i64>(0)?, seq), quote);
        }
        give_quotes(&mut messages, &quotes);
    }
    if reactions && !messages.is_empty() {
        let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        // Each message's rows keep the order of the query per message this
        // replaces: by time, then handle.
        let rows = query(
            c,
            "SELECT r.message_id, r.emoji, u.handle FROM reactions r JOIN users u ON u.id = r.user_id \
             WHERE r.message_id = ANY($1) ORDER BY r.created_at, u.handle",
            &[&ids],
        )
        .await?;
        let mut by_message: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        for r in &rows {
            by_message
                .entry(r.try_get(0)?)
                .or_default()
                .push((r.try_get(1)?, r.try_get(2)?));
        }
        give_reactions(&mut messages, by_message);
    }
    Ok(())
}

/// Fills the reply quotes of the messages events carry.
pub(super) async fn decorate_events<C: GenericClient>(
    c: &C,
    events: &mut [Event],
) -> Result<(), Error> {
    let messages = event_messages(events);
    decorate_all(c, messages, false).await
}

/// The message's conversation and seq, if it can still be changed.
async fn changeable<C: GenericClient>(c: &C, message_id: i64) -> Result<(i64, i64), Error> {
    let row = query_opt(
        c,
        "SELECT conversation_id, seq, recalled_at IS NOT NULL, removed_at IS NOT NULL \
         FROM messages WHERE id = $1",
        &[&message_id],
    )
    .await?
    .ok_or(Error::NotFound("message"))?;
    if row.try_get::<_, bool>(2)? {
        return Err(Error::Conflict(refusal::RECALLED));
    }
    if row.try_get::<_, bool>(3)? {
        return Err(Error::Conflict(refusal::REMOVED));
    }
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The handle of a current member, or [`Error::NotFound`].
async fn member_handle<C: GenericClient>(
    c: &C,
    conversation_id: i64,
    user: UserId,
) -> Result<String, Error> {
    let row = query_opt(
        c,
        "SELECT u.handle FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = $1 AND m.user_id = $2 AND m.left_event IS NULL",
        &[&conversation_id, &user],
    )
    .await?
    .ok_or(Error::NotFound("conversation"))?;
    Ok(row.try_get(0)?)
}

async fn edit<C: GenericClient>(
    c: &C,
    events: &mut Vec<Event>,
    e: MessageEdit,
) -> Result<Event, Error> {
    let (conversation_id, _) = changeable(c, e.message_id).await?;
    member_handle(c, conversation_id, e.editor).await?;
    execute(
        c,
        "UPDATE messages SET body = $2, links = $3, previews = NULL, edited_at = $4, mentions = $5 \
         WHERE id = $1",
        &[&e.message_id, &e.body, &e.links, &e.at, &e.mentions],
    )
    .await?;
    for share in &e.shares {
        write::log_share(c, share, Some(e.message_id)).await?;
    }
    // The edit event carries no text: readers join the message as it is.
    let id =
        write::log_event_at(c, conversation_id, "edit", Some(e.message_id), None, e.at).await?;
    // The old links' previews held their pages' text; new ones follow.
    execute(
        c,
        "DELETE FROM events WHERE kind = 'preview' AND message_id = $1",
        &[&e.message_id],
    )
    .await?;
    let message = read::message(c, e.message_id)
        .await?
        .ok_or(Error::NotFound("message"))?;
    let event = Event {
        id,
        conversation_id,
        body: EventBody::Edit(message),
    };
    events.push(event.clone());
    Ok(event)
}

async fn recall<C: GenericClient>(
    c: &C,
    events: &mut Vec<Event>,
    message_id: i64,
    by: UserId,
    at: Timestamp,
) -> Result<Event, Error> {
    let (conversation_id, seq) = changeable(c, message_id).await?;
    let by_handle = member_handle(c, conversation_id, by).await?;
    execute(
        c,
        "UPDATE messages SET body = '', links = '[]', previews = NULL, mentions = NULL, recalled_at = $2, \
         recalled_by = $3 WHERE id = $1",
        &[&message_id, &at, &by],
    )
    .await?;
    execute(
        c,
        "DELETE FROM reactions WHERE message_id = $1",
        &[&message_id],
    )
    .await?;
    let body = EventBody::Recall {
        message_id,
        seq,
        by: by_handle,
    };
    let logged = Logged {
        conversation_id,
        message_id,
        kind: "recall",
        at,
    };
    log_dropping_previews(c, events, logged, body).await
}

/// Where and when an event about one message is logged.
struct Logged {
    conversation_id: i64,
    message_id: i64,
    kind: &'static str,
    at: Timestamp,
}

/// Logs `body` as the message's event, then deletes the message's logged
/// preview events (they hold the linked pages' text). Logged first, as for
/// a removal: the newest id is never one deleted and handed out again.
async fn log_dropping_previews<C: GenericClient>(
    c: &C,
    events: &mut Vec<Event>,
    l: Logged,
    body: EventBody,
) -> Result<Event, Error> {
    let data = event_data(&body);
    let id = write::log_event_at(
        c,
        l.conversation_id,
        l.kind,
        Some(l.message_id),
        Some(&data),
        l.at,
    )
    .await?;
    execute(
        c,
        "DELETE FROM events WHERE kind = 'preview' AND message_id = $1",
        &[&l.message_id],
    )
    .await?;
    let event = Event {
        id,
        conversation_id: l.conversation_id,
        body,
    };
    events.push(event.clone());
    Ok(event)
}

async fn hide_previews<C: GenericClient>(
    c: &C,
    events: &mut Vec<Event>,
    message_id: i64,
    by: UserId,
    at: Timestamp,
) -> Result<Option<Event>, Error> {
    let (conversation_id, seq) = changeable(c, message_id).await?;
    member_handle(c, conversation_id, by).await?;
    let hidden = execute(
        c,
        "UPDATE messages SET previews = NULL, previews_hidden_at = $2 \
         WHERE id = $1 AND previews_hidden_at IS NULL",
        &[&message_id, &at],
    )
    .await?;
    if hidden == 0 {
        return Ok(None);
    }
    let body = EventBody::PreviewsHidden { message_id, seq };
    let logged = Logged {
        conversation_id,
        message_id,
        kind: "previews_hidden",
        at,
    };
    log_dropping_previews(c, events, logged, body)
        .await
        .map(Some)
}

async fn react<C: GenericClient>(
    c: &C,
    events: &mut Vec<Event>,
    r: ReactionChange,
) -> Result<Option<Event>, Error> {
    let (conversation_id, seq) = changeable(c, r.message_id).await?;
    let user = member_handle(c, conversation_id, r.user).await?;
    let changed = if r.on {
        execute(
            c,
            "INSERT INTO reactions (message_id, user_id, emoji, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&r.message_id, &r.user, &r.emoji, &r.at],
        )
        .await?
    } else {
        execute(
            c,
            "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
            &[&r.message_id, &r.user, &r.emoji],
        )
        .await?
    };
    if changed == 0 {
        return Ok(None);
    }
    let body = EventBody::Reaction {
        message_id: r.message_id,
        seq,
        emoji: r.emoji,
        user,
        on: r.on,
    };
    let data = event_data(&body);
    let id = write::log_event_at(
        c,
        conversation_id,
        "reaction",
        Some(r.message_id),
        Some(&data),
        r.at,
    )
    .await?;
    let event = Event {
        id,
        conversation_id,
        body,
    };
    events.push(event.clone());
    Ok(Some(event))
}

#[async_trait]
impl Chat for PgStore {
    async fn message_at(&self, conversation_id: i64, seq: i64) -> Result<Option<Message>, Error> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT id FROM messages WHERE conversation_id = $1 AND seq = $2",
            &[&conversation_id, &seq],
        )
        .await?;
        match row {
            Some(r) => read::message(&c, r.try_get(0)?).await,
            None => Ok(None),
        }
    }

    async fn edit_message(&self, e: MessageEdit) -> Result<Event, Error> {
        self.write(move |tx, events| Box::pin(async move { edit(tx, events, e).await }))
            .await
    }

    async fn recall_message(
        &self,
        message_id: i64,
        by: UserId,
        at: Timestamp,
    ) -> Result<Event, Error> {
        self.write(move |tx, events| {
            Box::pin(async move { recall(tx, events, message_id, by, at).await })
        })
        .await
    }

    async fn react(&self, change: ReactionChange) -> Result<Option<Event>, Error> {
        self.write(move |tx, events| Box::pin(async move { react(tx, events, change).await }))
            .await
    }

    async fn hide_previews(
        &self,
        message_id: i64,
        by: UserId,
        at: Timestamp,
    ) -> Result<Option<Event>, Error> {
        self.write(move |tx, events| {
            Box::pin(async move { hide_previews(tx, events, message_id, by, at).await })
        })
        .await
    }
}
