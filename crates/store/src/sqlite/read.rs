//! Read queries; they run on pooled read-only connections and, for the
//! writer's own needs, on the writer's connection inside its transaction.
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{
    Conversation, ConversationKind, ConversationSummary, Error, Event, EventBody, EventId, Member,
    MemberEvent, Message, Role, User, UserAuth, UserId,
};

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("unexpected stored value in {what}"))
}

fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        handle: row.get(1)?,
        display_name: row.get(2)?,
        is_admin: row.get(3)?,
        created_at: row.get(4)?,
    })
}

pub(super) fn user_auth(conn: &Connection, handle: &str) -> Result<Option<UserAuth>, Error> {
    Ok(conn
        .prepare_cached(
            "SELECT id, handle, display_name, is_admin, created_at, password_hash \
             FROM users WHERE handle = ?1",
        )?
        .query_row([handle], |r| {
            Ok(UserAuth {
                user: user_from(r)?,
                password_hash: r.get(5)?,
            })
        })
        .optional()?)
}

pub(super) fn user_by_id(conn: &Connection, id: UserId) -> Result<Option<User>, Error> {
    Ok(conn
        .prepare_cached(
            "SELECT id, handle, display_name, is_admin, created_at FROM users WHERE id = ?1",
        )?
        .query_row([id], user_from)
        .optional()?)
}

pub(super) fn session_user(
    conn: &Connection,
    token_hash: &[u8; 32],
) -> Result<Option<UserId>, Error> {
    Ok(conn
        .prepare_cached(
            // A suspended account's tokens are refused even if one was
            // issued in the instant around its suspension.
            "SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND u.suspended_at IS NULL",
        )?
        .query_row([&token_hash[..]], |r| r.get(0))
        .optional()?)
}

pub(super) fn conversation(conn: &Connection, id: i64) -> Result<Option<Conversation>, Error> {
    let row: Option<(String, Option<String>, i64)> = conn
        .prepare_cached("SELECT kind, title, last_seq FROM conversations WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((kind, title, last_seq)) = row else {
        return Ok(None);
    };
    let kind = ConversationKind::parse(&kind).ok_or_else(|| corrupt("conversations.kind"))?;
    let mut stmt = conn.prepare_cached(
        "SELECT m.user_id, u.handle, m.role, u.display_name, u.avatar_sha256 \
         FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = ?1 AND m.left_event IS NULL ORDER BY m.id",
    )?;
    let members = stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .map(|row| {
            let (user_id, handle, role, display_name, avatar) = row?;
            let role = Role::parse(&role).ok_or_else(|| corrupt("memberships.role"))?;
            Ok(Member {
                user_id,
                handle,
                display_name,
                role,
                avatar: avatar.map(crate::people::tag),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Some(Conversation {
        id,
        kind,
        title,
        members,
        last_seq,
    }))
}

pub(super) fn conversations_of(
    conn: &Connection,
    user: UserId,
) -> Result<Vec<ConversationSummary>, Error> {
    let ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT c.id FROM memberships m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.user_id = ?1 AND m.left_event IS NULL ORDER BY c.last_seq DESC, c.id DESC",
        )?
        .query_map([user], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(conversation) = conversation(conn, id)? else {
            continue;
        };
        let last_message = messages(conn, id, None, 1)?.pop();
        out.push(ConversationSummary {
            conversation,
            last_message,
        });
    }
    Ok(out)
}

pub(super) fn all_memberships(
    conn: &Connection,
) -> Result<Vec<(i64, ConversationKind, UserId, Role)>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.conversation_id, c.kind, m.user_id, m.role FROM memberships m \
         JOIN conversations c ON c.id = m.conversation_id WHERE m.left_event IS NULL",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    rows.map(|row| {
        let (c, kind, u, role) = row?;
        let kind = ConversationKind::parse(&kind).ok_or_else(|| corrupt("conversations.kind"))?;
        let role = Role::parse(&role).ok_or_else(|| corrupt("memberships.role"))?;
        Ok((c, kind, u, role))
    })
    .collect()
}

pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.seq, m.sender_id, u.handle, m.body, \
     m.created_at, m.client_txn_id, m.links, m.previews, m.removed_at, m.mentions, m.attachments, \
     m.edited_at, m.recalled_at, (SELECT handle FROM users WHERE id = m.recalled_by), m.reply_to, \
     m.previews_hidden_at";

pub(super) fn message_from(row: &Row<'_>, at: usize) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(at)?,
        conversation_id: row.get(at + 1)?,
        seq: row.get(at + 2)?,
        sender_id: row.get(at + 3)?,
        sender: row.get(at + 4)?,
        body: row.get(at + 5)?,
        created_at: row.get(at + 6)?,
        client_txn_id: row.get(at + 7)?,
        links: row.get(at + 8)?,
        previews: row.get(at + 9)?,
        removed_at: row.get(at + 10)?,
        mentions: row.get(at + 11)?,
        attachments: row.get(at + 12)?,
        edited_at: row.get(at + 13)?,
        recalled_at: row.get(at + 14)?,
        recalled_by: row.get(at + 15)?,
        reply_to: row.get(at + 16)?,
        previews_hidden_at: row.get(at + 17)?,
        reply: None,
        reactions: Vec::new(),
    })
}

pub(super) fn message(conn: &Connection, id: i64) -> Result<Option<Message>, Error> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = ?1"
    );
    let mut found = conn
        .prepare_cached(&sql)?
        .query_row([id], |r| message_from(r, 0))
        .optional()?;
    if let Some(m) = &mut found {
        super::chat::decorate(conn, m, true)?;
    }
    Ok(found)
}

pub(super) fn messages(
    conn: &Connection,
    conversation_id: i64,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<Message>, Error> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
         WHERE m.conversation_id = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3"
    );
    let before = before_seq.unwrap_or(i64::MAX);
    let mut out = conn
        .prepare_cached(&sql)?
        .query_map(params![conversation_id, before, limit], |r| {
            message_from(r, 0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    out.reverse();
    super::chat::decorate_all(conn, out.iter_mut().collect(), true)?;
    Ok(out)
}

pub(super) fn events_for(
    conn: &Connection,
    user: UserId,
    after: EventId,
    limit: u32,
) -> Result<Vec<Event>, Error> {
    let sql = format!(
        "SELECT e.id, e.conversation_id, e.kind, e.message_id, e.data, {MESSAGE_COLUMNS} \
         FROM events e \
         JOIN memberships ms ON ms.conversation_id = e.conversation_id AND ms.user_id = ?1 \
              AND e.id >= ms.joined_event AND (ms.left_event IS NULL OR e.id <= ms.left_event) \
         LEFT JOIN messages m ON m.id = e.message_id AND e.kind IN ('message', 'edit') \
         LEFT JOIN users u ON u.id = m.sender_id \
         WHERE e.id > ?2 ORDER BY e.id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut events = events_from(stmt.query(params![user, after, limit])?)?;
    super::chat::decorate_events(conn, &mut events)?;
    Ok(events)
}

pub(super) fn events_after(
    conn: &Connection,
    after: EventId,
    limit: u32,
) -> Result<Vec<Event>, Error> {
    let sql = format!(
        "SELECT e.id, e.conversation_id, e.kind, e.message_id, e.data, {MESSAGE_COLUMNS} \
         FROM events e \
         LEFT JOIN messages m ON m.id = e.message_id AND e.kind IN ('message', 'edit') \
         LEFT JOIN users u ON u.id = m.sender_id \
         WHERE e.id > ?1 ORDER BY e.id LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut events = events_from(stmt.query(params![after, limit])?)?;
    super::chat::decorate_events(conn, &mut events)?;
    Ok(events)
}

fn events_from(mut rows: rusqlite::Rows<'_>) -> Result<Vec<Event>, Error> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let conversation_id: i64 = row.get(1)?;
        let kind: String = row.get(2)?;
        let data: Option<String> = row.get(4)?;
        let body = match kind.as_str() {
            "message" => EventBody::Message(message_from(row, 5)?),
            "member" => {
                let data = data.ok_or_else(|| corrupt("events.data"))?;
                let change: MemberEvent =
                    serde_json::from_str(&data).map_err(|e| Error::Corrupt(e.to_string()))?;
                EventBody::Member(change)
            }
            "preview" => {
                let message_id: i64 = row
                    .get::<_, Option<i64>>(3)?
                    .ok_or_else(|| corrupt("events.message_id"))?;
                let data = data.ok_or_else(|| corrupt("events.data"))?;
                let value: serde_json::Value =
                    serde_json::from_str(&data).map_err(|e| Error::Corrupt(e.to_string()))?;
                let url = value["url"]
                    .as_str()
                    .ok_or_else(|| corrupt("events.data"))?
                    .to_owned();
                EventBody::Preview {
                    message_id,
                    url,
                    preview: value["preview"].to_string(),
                }
            }
            "removal" => {
                let data = data.ok_or_else(|| corrupt("events.data"))?;
                crate::administration::removal(&data)?
            }
            "edit" => EventBody::Edit(message_from(row, 5)?),
            "recall" => crate::chat::recall(&data.ok_or_else(|| corrupt("events.data"))?)?,
            "reaction" => crate::chat::reaction(&data.ok_or_else(|| corrupt("events.data"))?)?,
            "previews_hidden" => {
                crate::chat::previews_hidden(&data.ok_or_else(|| corrupt("events.data"))?)?
            }
            _ => return Err(corrupt("events.kind")),
        };
        out.push(Event {
            id,
            conversation_id,
            body,
        });
    }
    Ok(out)
}
