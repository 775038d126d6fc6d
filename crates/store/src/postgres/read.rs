//! Read queries, and the small helpers every query here goes through. They
//! take any [`GenericClient`], so the writes run them inside their
//! transaction and the reads on a pooled connection. Statements are prepared
//! once per connection (deadpool's statement cache).
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::{
    Conversation, ConversationKind, ConversationSummary, Error, Event, EventBody, EventId, Member,
    MemberEvent, Message, Role, User, UserAuth, UserId,
};

pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(super) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, Error> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

pub(super) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, Error> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, params).await?)
}

pub(super) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, Error> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, params).await?)
}

pub(super) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, Error> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

pub(super) fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("unexpected stored value in {what}"))
}

fn user_from(row: &Row) -> Result<User, Error> {
    Ok(User {
        id: row.try_get(0)?,
        handle: row.try_get(1)?,
        display_name: row.try_get(2)?,
        is_admin: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}

pub(super) async fn user_auth<C: GenericClient>(
    c: &C,
    handle: &str,
) -> Result<Option<UserAuth>, Error> {
    let row = query_opt(
        c,
        "SELECT id, handle, display_name, is_admin, created_at, password_hash \
         FROM users WHERE handle = $1",
        &[&handle],
    )
    .await?;
    row.map(|r| {
        Ok(UserAuth {
            user: user_from(&r)?,
            password_hash: r.try_get(5)?,
        })
    })
    .transpose()
}

pub(super) async fn user_by_id<C: GenericClient>(c: &C, id: UserId) -> Result<Option<User>, Error> {
    let row = query_opt(
        c,
        "SELECT id, handle, display_name, is_admin, created_at FROM users WHERE id = $1",
        &[&id],
    )
    .await?;
    row.as_ref().map(user_from).transpose()
}

pub(super) async fn role_of<C: GenericClient>(
    c: &C,
    conversation_id: i64,
    user: UserId,
) -> Result<Option<Role>, Error> {
    let row = query_opt(
        c,
        "SELECT role FROM memberships \
         WHERE conversation_id = $1 AND user_id = $2 AND left_event IS NULL",
        &[&conversation_id, &user],
    )
    .await?;
    let role: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
    Ok(role.as_deref().and_then(Role::parse))
}

pub(super) async fn conversation<C: GenericClient>(
    c: &C,
    id: i64,
) -> Result<Option<Conversation>, Error> {
    let Some(row) = query_opt(
        c,
        "SELECT kind, title, last_seq FROM conversations WHERE id = $1",
        &[&id],
    )
    .await?
    else {
        return Ok(None);
    };
    let kind: String = row.try_get(0)?;
    let kind = ConversationKind::parse(&kind).ok_or_else(|| corrupt("conversations.kind"))?;
    let rows = query(
        c,
        "SELECT m.user_id, u.handle, m.role, u.display_name, u.avatar_sha256 \
         FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = $1 AND m.left_event IS NULL ORDER BY m.id",
        &[&id],
    )
    .await?;
    let members = rows
        .iter()
        .map(|r| {
            let role: String = r.try_get(2)?;
            Ok(Member {
                user_id: r.try_get(0)?,
                handle: r.try_get(1)?,
                display_name: r.try_get(3)?,
                role: Role::parse(&role).ok_or_else(|| corrupt("memberships.role"))?,
                avatar: r.try_get::<_, Option<String>>(4)?.map(crate::people::tag),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Some(Conversation {
        id,
        kind,
        title: row.try_get(1)?,
        members,
        last_seq: row.try_get(2)?,
    }))
}

pub(super) async fn conversations_of<C: GenericClient>(
    c: &C,
    user: UserId,
) -> Result<Vec<ConversationSummary>, Error> {
    let ids = query(
        c,
        "SELECT c.id FROM memberships m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.user_id = $1 AND m.left_event IS NULL ORDER BY c.last_seq DESC, c.id DESC",
        &[&user],
    )
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for row in ids {
        let id: i64 = row.try_get(0)?;
        let Some(conversation) = conversation(c, id).await? else {
            continue;
        };
        let last_message = messages(c, id, None, 1).await?.pop();
        out.push(ConversationSummary {
            conversation,
            last_message,
        });
    }
    Ok(out)
}

pub(super) async fn all_memberships<C: GenericClient>(
    c: &C,
) -> Result<Vec<(i64, ConversationKind, UserId, Role)>, Error> {
    let rows = query(
        c,
        "SELECT m.conversation_id, c.kind, m.user_id, m.role FROM memberships m \
         JOIN conversations c ON c.id = m.conversation_id WHERE m.left_event IS NULL",
        &[],
    )
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get(1)?;
            let role: String = r.try_get(3)?;
            Ok((
                r.try_get(0)?,
                ConversationKind::parse(&kind).ok_or_else(|| corrupt("conversations.kind"))?,
                r.try_get(2)?,
                Role::parse(&role).ok_or_else(|| corrupt("memberships.role"))?,
            ))
        })
        .collect()
}

pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.seq, m.sender_id, u.handle, m.body, \
     m.created_at, m.client_txn_id, m.links, m.previews, m.removed_at, m.mentions, m.attachments, \
     m.edited_at, m.recalled_at, (SELECT handle FROM users WHERE id = m.recalled_by), m.reply_to, \
     m.previews_hidden_at";

pub(super) fn message_from(row: &Row, at: usize) -> Result<Message, Error> {
    Ok(Message {
        id: row.try_get(at)?,
        conversation_id: row.try_get(at + 1)?,
        seq: row.try_get(at + 2)?,
        sender_id: row.try_get(at + 3)?,
        sender: row.try_get(at + 4)?,
        body: row.try_get(at + 5)?,
        created_at: row.try_get(at + 6)?,
        client_txn_id: row.try_get(at + 7)?,
        links: row.try_get(at + 8)?,
        previews: row.try_get(at + 9)?,
        removed_at: row.try_get(at + 10)?,
        mentions: row.try_get(at + 11)?,
        attachments: row.try_get(at + 12)?,
        edited_at: row.try_get(at + 13)?,
        recalled_at: row.try_get(at + 14)?,
        recalled_by: row.try_get(at + 15)?,
        reply_to: row.try_get(at + 16)?,
        previews_hidden_at: row.try_get(at + 17)?,
        reply: None,
        reactions: Vec::new(),
    })
}

pub(super) async fn message<C: GenericClient>(c: &C, id: i64) -> Result<Option<Message>, Error> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1"
    );
    let row = query_opt(c, &sql, &[&id]).await?;
    let mut found = row.map(|r| message_from(&r, 0)).transpose()?;
    if let Some(m) = &mut found {
        super::chat::decorate(c, m, true).await?;
    }
    Ok(found)
}

pub(super) async fn messages<C: GenericClient>(
    c: &C,
    conversation_id: i64,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<Message>, Error> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
         WHERE m.conversation_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
    );
    let before = before_seq.unwrap_or(i64::MAX);
    let rows = query(c, &sql, &[&conversation_id, &before, &i64::from(limit)]).await?;
    let mut out = rows
        .iter()
        .map(|r| message_from(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    out.reverse();
    super::chat::decorate_all(c, out.iter_mut().collect(), true).await?;
    Ok(out)
}

pub(super) async fn events_for<C: GenericClient>(
    c: &C,
    user: UserId,
    after: EventId,
    limit: u32,
) -> Result<Vec<Event>, Error> {
    let sql = format!(
        "SELECT e.id, e.conversation_id, e.kind, e.message_id, e.data, {MESSAGE_COLUMNS} \
         FROM events e \
         JOIN memberships ms ON ms.conversation_id = e.conversation_id AND ms.user_id = $1 \
              AND e.id >= ms.joined_event AND (ms.left_event IS NULL OR e.id <= ms.left_event) \
         LEFT JOIN messages m ON m.id = e.message_id AND e.kind IN ('message', 'edit') \
         LEFT JOIN users u ON u.id = m.sender_id \
         WHERE e.id > $2 ORDER BY e.id LIMIT $3"
    );
    let rows = query(c, &sql, &[&user, &after, &i64::from(limit)]).await?;
    let mut events = events_from(&rows)?;
    super::chat::decorate_events(c, &mut events).await?;
    Ok(events)
}

pub(super) async fn events_after<C: GenericClient>(
    c: &C,
    after: EventId,
    limit: u32,
) -> Result<Vec<Event>, Error> {
    let sql = format!(
        "SELECT e.id, e.conversation_id, e.kind, e.message_id, e.data, {MESSAGE_COLUMNS} \
         FROM events e \
         LEFT JOIN messages m ON m.id = e.message_id AND e.kind IN ('message', 'edit') \
         LEFT JOIN users u ON u.id = m.sender_id \
         WHERE e.id > $1 ORDER BY e.id LIMIT $2"
    );
    let rows = query(c, &sql, &[&after, &i64::from(limit)]).await?;
    let mut events = events_from(&rows)?;
    super::chat::decorate_events(c, &mut events).await?;
    Ok(events)
}

fn events_from(rows: &[Row]) -> Result<Vec<Event>, Error> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: String = row.try_get(2)?;
        let data: Option<String> = row.try_get(4)?;
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
                    .try_get::<_, Option<i64>>(3)?
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
            id: row.try_get(0)?,
            conversation_id: row.try_get(1)?,
            body,
        });
    }
    Ok(out)
}
