//! The writes, each run by `PgStore::write` inside a transaction that
//! holds the write lock (see `mod.rs`), in a savepoint of its own when it
//! shares the transaction with other writes (`writer.rs`): an error undoes
//! the whole write and only it. Events they log are pushed to `events` and
//! leave for the sink only after the commit.
use deadpool_postgres::GenericClient;

use super::now_ms;
use super::read::{self, execute, query_one, query_opt};
use crate::{
    AdminGrant, Conversation, ConversationKind, Error, Event, EventBody, LinkShare, MemberChange,
    MemberEvent, Role, User, UserId, check_member_change,
};

pub(super) type Events = Vec<Event>;

async fn log_event<C: GenericClient>(
    c: &C,
    conversation_id: i64,
    kind: &str,
    message_id: Option<i64>,
    data: Option<&str>,
) -> Result<i64, Error> {
    log_event_at(c, conversation_id, kind, message_id, data, now_ms()).await
}

/// Logs an event created at `created_at` (ms) and returns its id.
pub(super) async fn log_event_at<C: GenericClient>(
    c: &C,
    conversation_id: i64,
    kind: &str,
    message_id: Option<i64>,
    data: Option<&str>,
    created_at: i64,
) -> Result<i64, Error> {
    // The id is the newest plus one, not the column's identity sequence:
    // the write lock is held, so this is race-free, and a rolled-back write
    // leaves no hole. Ids without holes let a node of a cluster tell a
    // missed event (a gap) from one that never existed (docs/scale-out.md).
    let row = query_one(
        c,
        "INSERT INTO events (id, conversation_id, kind, message_id, data, created_at) \
         SELECT COALESCE(MAX(id), 0) + 1, $1::BIGINT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::BIGINT \
         FROM events RETURNING id",
        &[&conversation_id, &kind, &message_id, &data, &created_at],
    )
    .await?;
    Ok(row.try_get(0)?)
}

async fn member_event<C: GenericClient>(
    c: &C,
    events: &mut Events,
    conversation_id: i64,
    change: MemberEvent,
) -> Result<Event, Error> {
    let data = serde_json::to_string(&change).map_err(|e| Error::Corrupt(e.to_string()))?;
    let id = log_event(c, conversation_id, "member", None, Some(&data)).await?;
    let event = Event {
        id,
        conversation_id,
        body: EventBody::Member(change),
    };
    events.push(event.clone());
    Ok(event)
}

pub(super) async fn create_user<C: GenericClient>(
    c: &C,
    handle: &str,
    display_name: &str,
    password_hash: &str,
    admin: AdminGrant,
) -> Result<User, Error> {
    let created_at = now_ms();
    // Decided inside the write transaction, which holds the write lock:
    // concurrent sign-ups on an empty server are serialised, so exactly one
    // is first.
    let is_admin: bool = match admin {
        AdminGrant::Yes => true,
        AdminGrant::No => false,
        AdminGrant::IfFirst => query_one(c, "SELECT NOT EXISTS (SELECT 1 FROM users)", &[])
            .await?
            .try_get(0)?,
    };
    let stmt = c
        .prepare_cached(
            "INSERT INTO users (handle, display_name, password_hash, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .await?;
    let inserted = c
        .query_one(
            &stmt,
            &[
                &handle,
                &display_name,
                &password_hash,
                &is_admin,
                &created_at,
            ],
        )
        .await;
    match inserted {
        Ok(row) => Ok(User {
            id: row.try_get(0)?,
            handle: handle.to_owned(),
            display_name: display_name.to_owned(),
            is_admin,
            created_at,
        }),
        Err(e) if super::error::is_unique_violation(&e) => Err(Error::HandleTaken),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn set_admin<C: GenericClient>(
    c: &C,
    handle: &str,
    is_admin: bool,
) -> Result<User, Error> {
    let changed = execute(
        c,
        "UPDATE users SET is_admin = $2 WHERE handle = $1",
        &[&handle, &is_admin],
    )
    .await?;
    if changed == 0 {
        return Err(Error::NotFound("user"));
    }
    // Checked after the change, in the same transaction: an error rolls it back.
    let admins: i64 = query_one(c, "SELECT COUNT(*) FROM users WHERE is_admin", &[])
        .await?
        .try_get(0)?;
    if admins == 0 {
        return Err(Error::Conflict("the last administrator cannot be removed"));
    }
    read::user_auth(c, handle)
        .await?
        .map(|a| a.user)
        .ok_or(Error::NotFound("user"))
}

async fn handle_of<C: GenericClient>(c: &C, user: UserId) -> Result<String, Error> {
    let row = query_opt(c, "SELECT handle FROM users WHERE id = $1", &[&user]).await?;
    Ok(row.ok_or(Error::NotFound("user"))?.try_get(0)?)
}

/// Starts a conversation with its first members: one `joined` event each,
/// and every first member entitled to all of them.
async fn start_conversation<C: GenericClient>(
    c: &C,
    events: &mut Events,
    kind: ConversationKind,
    title: Option<&str>,
    direct_key: Option<&str>,
    members: &[(UserId, Role)],
    by: &str,
) -> Result<i64, Error> {
    let id: i64 = query_one(
        c,
        "INSERT INTO conversations (kind, title, direct_key, created_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
        &[&kind.as_str(), &title, &direct_key, &now_ms()],
    )
    .await?
    .try_get(0)?;
    let mut first_event = None;
    for &(user_id, role) in members {
        let change = MemberEvent {
            kind,
            user_id,
            handle: handle_of(c, user_id).await?,
            change: "joined".into(),
            role: Some(role),
            by: by.to_owned(),
        };
        let event = member_event(c, events, id, change).await?;
        first_event.get_or_insert(event.id);
    }
    let joined = first_event.unwrap_or_default();
    for &(user_id, role) in members {
        execute(
            c,
            "INSERT INTO memberships (conversation_id, user_id, role, joined_event) \
             VALUES ($1, $2, $3, $4)",
            &[&id, &user_id, &role.as_str(), &joined],
        )
        .await?;
    }
    Ok(id)
}

pub(super) async fn open_direct<C: GenericClient>(
    c: &C,
    events: &mut Events,
    a: UserId,
    b: UserId,
) -> Result<(Conversation, bool), Error> {
    if a == b {
        return Err(Error::Conflict(
            "a direct conversation needs two different people",
        ));
    }
    let key = format!("{}:{}", a.min(b), a.max(b));
    let existing = query_opt(
        c,
        "SELECT id FROM conversations WHERE direct_key = $1",
        &[&key],
    )
    .await?;
    let (id, created) = match existing {
        Some(row) => (row.try_get(0)?, false),
        None => {
            let by = handle_of(c, a).await?;
            let members = [(a, Role::Member), (b, Role::Member)];
            let kind = ConversationKind::Direct;
            let id = start_conversation(c, events, kind, None, Some(&key), &members, &by).await?;
            (id, true)
        }
    };
    let conversation = read::conversation(c, id)
        .await?
        .ok_or(Error::NotFound("conversation"))?;
    Ok((conversation, created))
}

pub(super) async fn create_group<C: GenericClient>(
    c: &C,
    events: &mut Events,
    owner: UserId,
    title: &str,
    members: &[UserId],
) -> Result<Conversation, Error> {
    let mut all = vec![(owner, Role::Owner)];
    for &m in members {
        if !all.iter().any(|&(u, _)| u == m) {
            all.push((m, Role::Member));
        }
    }
    let by = handle_of(c, owner).await?;
    let kind = ConversationKind::Group;
    let id = start_conversation(c, events, kind, Some(title), None, &all, &by).await?;
    read::conversation(c, id)
        .await?
        .ok_or(Error::NotFound("conversation"))
}

async fn set_role<C: GenericClient>(
    c: &C,
    conversation_id: i64,
    user: UserId,
    role: Role,
) -> Result<(), Error> {
    execute(
        c,
        "UPDATE memberships SET role = $3 \
         WHERE conversation_id = $1 AND user_id = $2 AND left_event IS NULL",
        &[&conversation_id, &user, &role.as_str()],
    )
    .await?;
    Ok(())
}

/// One member event of a change made by `by` in a conversation of `kind`.
struct Recorder<'a> {
    conversation_id: i64,
    kind: ConversationKind,
    by: &'a str,
}

impl Recorder<'_> {
    async fn record<C: GenericClient>(
        &self,
        c: &C,
        events: &mut Events,
        change: &str,
        role: Option<Role>,
        user_id: UserId,
        handle: String,
    ) -> Result<Event, Error> {
        let change = MemberEvent {
            kind: self.kind,
            user_id,
            handle,
            change: change.into(),
            role,
            by: self.by.to_owned(),
        };
        member_event(c, events, self.conversation_id, change).await
    }
}

pub(super) async fn change_members<C: GenericClient>(
    c: &C,
    events: &mut Events,
    conversation_id: i64,
    actor: UserId,
    change: MemberChange,
) -> Result<Event, Error> {
    let kind = query_opt(
        c,
        "SELECT kind FROM conversations WHERE id = $1",
        &[&conversation_id],
    )
    .await?
    .map(|r| r.try_get::<_, String>(0))
    .transpose()?;
    let kind = kind
        .as_deref()
        .and_then(ConversationKind::parse)
        .ok_or(Error::NotFound("conversation"))?;
    let actor_role = read::role_of(c, conversation_id, actor).await?;
    let target = match change {
        MemberChange::Add(t)
        | MemberChange::Remove(t)
        | MemberChange::SetRole(t, _)
        | MemberChange::TransferOwnership(t) => t,
        MemberChange::Leave => actor,
    };
    let target_role = read::role_of(c, conversation_id, target).await?;
    check_member_change(kind, actor_role, target_role, change)?;
    let by = handle_of(c, actor).await?;
    let handle = handle_of(c, target).await?;
    let rec = Recorder {
        conversation_id,
        kind,
        by: &by,
    };
    match change {
        MemberChange::Add(_) => {
            let event = rec
                .record(c, events, "joined", Some(Role::Member), target, handle)
                .await?;
            execute(
                c,
                "INSERT INTO memberships (conversation_id, user_id, role, joined_event) \
                 VALUES ($1, $2, 'member', $3)",
                &[&conversation_id, &target, &event.id],
            )
            .await?;
            Ok(event)
        }
        MemberChange::Remove(_) | MemberChange::Leave => {
            let word = if change == MemberChange::Leave {
                "left"
            } else {
                "removed"
            };
            // An owner who leaves hands the group to its longest-standing
            // admin, else its longest-standing member, so a group is never
            // left without an owner.
            if target_role == Some(Role::Owner) {
                let heir = query_opt(
                    c,
                    "SELECT user_id FROM memberships \
                     WHERE conversation_id = $1 AND left_event IS NULL AND user_id != $2 \
                     ORDER BY role = 'admin' DESC, id ASC LIMIT 1",
                    &[&conversation_id, &target],
                )
                .await?;
                if let Some(heir) = heir {
                    let heir: i64 = heir.try_get(0)?;
                    set_role(c, conversation_id, heir, Role::Owner).await?;
                    let heir_handle = handle_of(c, heir).await?;
                    rec.record(c, events, "role", Some(Role::Owner), heir, heir_handle)
                        .await?;
                }
            }
            let event = rec.record(c, events, word, None, target, handle).await?;
            execute(
                c,
                "UPDATE memberships SET left_event = $3 \
                 WHERE conversation_id = $1 AND user_id = $2 AND left_event IS NULL",
                &[&conversation_id, &target, &event.id],
            )
            .await?;
            Ok(event)
        }
        MemberChange::SetRole(_, role) => {
            set_role(c, conversation_id, target, role).await?;
            rec.record(c, events, "role", Some(role), target, handle)
                .await
        }
        MemberChange::TransferOwnership(_) => {
            set_role(c, conversation_id, actor, Role::Admin).await?;
            set_role(c, conversation_id, target, Role::Owner).await?;
            rec.record(c, events, "role", Some(Role::Admin), actor, by.clone())
                .await?;
            rec.record(c, events, "role", Some(Role::Owner), target, handle)
                .await
        }
    }
}

pub(super) async fn attach_preview<C: GenericClient>(
    c: &C,
    events: &mut Events,
    message_id: i64,
    url: &str,
    preview: &str,
) -> Result<Event, Error> {
    let row = query_opt(
        c,
        "SELECT conversation_id, previews, recalled_at IS NOT NULL OR removed_at IS NOT NULL, \
         previews_hidden_at IS NOT NULL FROM messages WHERE id = $1",
        &[&message_id],
    )
    .await?
    .ok_or(Error::NotFound("message"))?;
    // A preview fetched while its message was being recalled must not
    // bring page text back.
    if row.try_get::<_, bool>(2)? {
        return Err(Error::Conflict("the message was recalled or removed"));
    }
    // Nor one fetched while its sender hid the previews.
    if row.try_get::<_, bool>(3)? {
        return Err(Error::Conflict(crate::chat::refusal::PREVIEWS_HIDDEN));
    }
    let conversation_id: i64 = row.try_get(0)?;
    let previews: Option<String> = row.try_get(1)?;
    let mut map: serde_json::Map<String, serde_json::Value> = match previews {
        Some(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt(e.to_string()))?,
        None => serde_json::Map::new(),
    };
    let value: serde_json::Value =
        serde_json::from_str(preview).map_err(|e| Error::Corrupt(e.to_string()))?;
    map.insert(url.to_owned(), value.clone());
    let text = serde_json::Value::Object(map).to_string();
    execute(
        c,
        "UPDATE messages SET previews = $2 WHERE id = $1",
        &[&message_id, &text],
    )
    .await?;
    let data = serde_json::json!({ "url": url, "preview": value }).to_string();
    let id = log_event(c, conversation_id, "preview", Some(message_id), Some(&data)).await?;
    let event = Event {
        id,
        conversation_id,
        body: EventBody::Preview {
            message_id,
            url: url.to_owned(),
            preview: preview.to_owned(),
        },
    };
    events.push(event.clone());
    Ok(event)
}

/// Appends one row to the link-share log.
pub(super) async fn log_share<C: GenericClient>(
    c: &C,
    s: &LinkShare,
    message_id: Option<i64>,
) -> Result<(), Error> {
    let json =
        |v: &Vec<String>| serde_json::to_string(v).map_err(|e| Error::Corrupt(e.to_string()));
    let (lists, policies) = (json(&s.lists)?, json(&s.policies)?);
    execute(
        c,
        "INSERT INTO link_shares (at, message_id, conversation_kind, member_count, sender_role, \
         platform, owner, category, domain, lists, treatment, preview, policy_version, policies, \
         bidi, mixed_script) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        &[
            &s.at,
            &message_id,
            &s.conversation_kind.as_str(),
            &s.member_count,
            &s.sender_role.as_str(),
            &s.platform,
            &s.owner,
            &s.category,
            &s.domain,
            &lists,
            &s.treatment,
            &s.preview,
            &s.policy_version,
            &policies,
            &s.bidi,
            &s.mixed_script,
        ],
    )
    .await?;
    Ok(())
}
