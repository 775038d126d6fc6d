//! The single writer: every write runs on one thread, and writes that arrive
//! together are committed in one transaction (each inside its own savepoint,
//! so one failing write does not undo the others). A caller hears back only
//! after the commit, and committed events reach the sink in id order.
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::indexer::{IndexPace, Indexer};
use super::{now_ms, read};
use crate::{
    AdminGrant, Conversation, ConversationKind, Error, Event, EventBody, EventSink, MemberChange,
    MemberEvent, Message, NewMessage, Role, User, UserId, check_member_change,
};

type Events = Vec<Event>;

trait Job: Send {
    fn run(&mut self, conn: &Connection, events: &mut Events);
    fn finish(self: Box<Self>, committed: bool);
}

struct Call<T, F> {
    work: Option<F>,
    result: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection, &mut Events) -> Result<T, Error> + Send,
{
    fn run(&mut self, conn: &Connection, events: &mut Events) {
        if let Some(work) = self.work.take() {
            self.result = Some(savepoint(conn, events, work));
        }
    }

    fn finish(self: Box<Self>, committed: bool) {
        let result = match self.result {
            Some(r) if committed => r,
            Some(Err(e)) => Err(e),
            _ => Err(Error::WriterGone),
        };
        // The caller may have gone away (client disconnected): nothing to do.
        let _ = self.reply.send(result);
    }
}

fn savepoint<T>(
    conn: &Connection,
    events: &mut Events,
    work: impl FnOnce(&Connection, &mut Events) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.execute_batch("SAVEPOINT job")?;
    let mark = events.len();
    let result = work(conn, events);
    match result {
        Ok(_) => conn.execute_batch("RELEASE job")?,
        Err(_) => {
            events.truncate(mark);
            conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
        }
    }
    result
}

pub(super) struct Writer {
    // A std channel: the writer thread waits on it with a timeout (to index
    // when idle), and sending never blocks, so async callers may use it.
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    pub(super) fn start(
        conn: Connection,
        max_batch: usize,
        pace: IndexPace,
        sink: EventSink,
    ) -> Result<Self, Error> {
        let indexer = Indexer::load(&conn, pace)?;
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("kaifang-writer".into())
            .spawn(move || writer_loop(conn, rx, max_batch.max(1), indexer, sink))?;
        Ok(Self { jobs })
    }

    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Events) -> Result<T, Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Call {
            work: Some(work),
            result: None,
            reply,
        });
        self.jobs.send(job).map_err(|_| Error::WriterGone)?;
        answer.await.map_err(|_| Error::WriterGone)?
    }
}

/// The next job; while none comes, the search index catches up.
fn next_job(
    conn: &Connection,
    rx: &mpsc::Receiver<Box<dyn Job>>,
    indexer: &mut Indexer,
) -> Option<Box<dyn Job>> {
    loop {
        let Some(idle) = indexer.wait() else {
            return rx.recv().ok();
        };
        match rx.recv_timeout(idle) {
            Ok(job) => return Some(job),
            Err(mpsc::RecvTimeoutError::Timeout) => indexer.step(conn),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// A batch that takes this long, commit (and any checkpoint) included, is
/// logged as a warning. Not a limit: nothing is stopped.
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_secs(1);

fn writer_loop(
    conn: Connection,
    rx: mpsc::Receiver<Box<dyn Job>>,
    max_batch: usize,
    mut indexer: Indexer,
    sink: EventSink,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    while let Some(first) = next_job(&conn, &rx, &mut indexer) {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut events = Vec::new();
        let started = std::time::Instant::now();
        let committed = match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {
                for job in batch.iter_mut() {
                    job.run(&conn, &mut events);
                }
                // Read inside the transaction: on its own, the query would
                // take a snapshot of its own after every batch (6 % of the
                // writer's time under load, by `perf`). Should the commit
                // fail, the next step reads the backlog again anyway.
                if let Err(e) = indexer.note_writes(&conn) {
                    tracing::error!(error = %e, "could not read the search backlog");
                }
                match conn.execute_batch("COMMIT") {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "commit failed; the batch is rolled back");
                        let _ = conn.execute_batch("ROLLBACK");
                        false
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not begin a write transaction");
                false
            }
        };
        let took = started.elapsed();
        if took >= SLOW_BATCH {
            // Every write waits behind this one: an operator (or a test
            // whose live event came late) should see why.
            tracing::warn!(
                ms = took.as_millis() as u64,
                writes = batch.len(),
                "a write batch took long to commit: the disk is slow or busy"
            );
        }
        if committed && !events.is_empty() {
            // The fan-out may be gone during shutdown; the data is safe anyway.
            let _ = sink.send(events);
        }
        for job in batch.drain(..) {
            job.finish(committed);
        }
        // After the callers have their answers: a full chunk is indexed
        // now, busy or not, so that the unindexed tail search scans stays
        // short; a shorter one waits for a pause.
        if committed && indexer.full() {
            indexer.step(&conn);
        }
    }
}

pub(super) fn log_event(
    conn: &Connection,
    conversation_id: i64,
    kind: &str,
    message_id: Option<i64>,
    data: Option<&str>,
) -> Result<i64, Error> {
    conn.prepare_cached(
        "INSERT INTO events (conversation_id, kind, message_id, data, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![conversation_id, kind, message_id, data, now_ms()])?;
    Ok(conn.last_insert_rowid())
}

fn member_event(
    conn: &Connection,
    events: &mut Events,
    conversation_id: i64,
    change: MemberEvent,
) -> Result<Event, Error> {
    let data = serde_json::to_string(&change).map_err(|e| Error::Corrupt(e.to_string()))?;
    let id = log_event(conn, conversation_id, "member", None, Some(&data))?;
    let event = Event {
        id,
        conversation_id,
        body: EventBody::Member(change),
    };
    events.push(event.clone());
    Ok(event)
}

pub(super) fn create_user(
    conn: &Connection,
    handle: &str,
    display_name: &str,
    password_hash: &str,
    admin: AdminGrant,
) -> Result<User, Error> {
    let created_at = now_ms();
    // Decided here, inside the write transaction: concurrent sign-ups on an
    // empty server are serialised by the writer, so exactly one is first.
    let is_admin = match admin {
        AdminGrant::Yes => true,
        AdminGrant::No => false,
        AdminGrant::IfFirst => conn
            .prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM users)")?
            .query_row([], |r| r.get(0))?,
    };
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (handle, display_name, password_hash, is_admin, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            handle,
            display_name,
            password_hash,
            is_admin,
            created_at
        ]);
    match inserted {
        Ok(_) => Ok(User {
            id: conn.last_insert_rowid(),
            handle: handle.to_owned(),
            display_name: display_name.to_owned(),
            is_admin,
            created_at,
        }),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(Error::HandleTaken)
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) fn set_admin(conn: &Connection, handle: &str, is_admin: bool) -> Result<User, Error> {
    let changed = conn
        .prepare_cached("UPDATE users SET is_admin = ?2 WHERE handle = ?1")?
        .execute(params![handle, is_admin])?;
    if changed == 0 {
        return Err(Error::NotFound("user"));
    }
    // Checked after the change, in the same savepoint: an error rolls it back.
    let admins: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM users WHERE is_admin")?
        .query_row([], |r| r.get(0))?;
    if admins == 0 {
        return Err(Error::Conflict("the last administrator cannot be removed"));
    }
    read::user_auth(conn, handle)?
        .map(|a| a.user)
        .ok_or(Error::NotFound("user"))
}

fn handle_of(conn: &Connection, user: UserId) -> Result<String, Error> {
    conn.prepare_cached("SELECT handle FROM users WHERE id = ?1")?
        .query_row([user], |r| r.get(0))
        .optional()?
        .ok_or(Error::NotFound("user"))
}

/// Starts a conversation with its first members: one `joined` event each,
/// and every first member entitled to all of them.
fn start_conversation(
    conn: &Connection,
    events: &mut Events,
    kind: ConversationKind,
    title: Option<&str>,
    direct_key: Option<&str>,
    members: &[(UserId, Role)],
    by: &str,
) -> Result<i64, Error> {
    conn.prepare_cached(
        "INSERT INTO conversations (kind, title, direct_key, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![kind.as_str(), title, direct_key, now_ms()])?;
    let id = conn.last_insert_rowid();
    let mut first_event = None;
    for &(user_id, role) in members {
        let change = MemberEvent {
            kind,
            user_id,
            handle: handle_of(conn, user_id)?,
            change: "joined".into(),
            role: Some(role),
            by: by.to_owned(),
        };
        let event = member_event(conn, events, id, change)?;
        first_event.get_or_insert(event.id);
    }
    let joined = first_event.unwrap_or_default();
    for &(user_id, role) in members {
        conn.prepare_cached(
            "INSERT INTO memberships (conversation_id, user_id, role, joined_event) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, user_id, role.as_str(), joined])?;
    }
    Ok(id)
}

pub(super) fn open_direct(
    conn: &Connection,
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
    let existing: Option<i64> = conn
        .prepare_cached("SELECT id FROM conversations WHERE direct_key = ?1")?
        .query_row([&key], |r| r.get(0))
        .optional()?;
    let (id, created) = match existing {
        Some(id) => (id, false),
        None => {
            let by = handle_of(conn, a)?;
            let members = [(a, Role::Member), (b, Role::Member)];
            let id = start_conversation(
                conn,
                events,
                ConversationKind::Direct,
                None,
                Some(&key),
                &members,
                &by,
            )?;
            (id, true)
        }
    };
    let conversation = read::conversation(conn, id)?.ok_or(Error::NotFound("conversation"))?;
    Ok((conversation, created))
}

pub(super) fn create_group(
    conn: &Connection,
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
    let by = handle_of(conn, owner)?;
    let id = start_conversation(
        conn,
        events,
        ConversationKind::Group,
        Some(title),
        None,
        &all,
        &by,
    )?;
    read::conversation(conn, id)?.ok_or(Error::NotFound("conversation"))
}

pub(super) fn role_of(
    conn: &Connection,
    conversation_id: i64,
    user: UserId,
) -> Result<Option<Role>, Error> {
    let role: Option<String> = conn
        .prepare_cached(
            "SELECT role FROM memberships \
             WHERE conversation_id = ?1 AND user_id = ?2 AND left_event IS NULL",
        )?
        .query_row([conversation_id, user], |r| r.get(0))
        .optional()?;
    Ok(role.as_deref().and_then(Role::parse))
}

fn set_role(
    conn: &Connection,
    conversation_id: i64,
    user: UserId,
    role: Role,
) -> Result<(), Error> {
    conn.prepare_cached(
        "UPDATE memberships SET role = ?3 \
         WHERE conversation_id = ?1 AND user_id = ?2 AND left_event IS NULL",
    )?
    .execute(params![conversation_id, user, role.as_str()])?;
    Ok(())
}

fn end_membership(
    conn: &Connection,
    conversation_id: i64,
    user: UserId,
    event: i64,
) -> Result<(), Error> {
    conn.prepare_cached(
        "UPDATE memberships SET left_event = ?3 \
         WHERE conversation_id = ?1 AND user_id = ?2 AND left_event IS NULL",
    )?
    .execute(params![conversation_id, user, event])?;
    Ok(())
}

pub(super) fn change_members(
    conn: &Connection,
    events: &mut Events,
    conversation_id: i64,
    actor: UserId,
    change: MemberChange,
) -> Result<Event, Error> {
    let kind: Option<String> = conn
        .prepare_cached("SELECT kind FROM conversations WHERE id = ?1")?
        .query_row([conversation_id], |r| r.get(0))
        .optional()?;
    let kind = kind
        .as_deref()
        .and_then(ConversationKind::parse)
        .ok_or(Error::NotFound("conversation"))?;
    let actor_role = role_of(conn, conversation_id, actor)?;
    let target = match change {
        MemberChange::Add(t)
        | MemberChange::Remove(t)
        | MemberChange::SetRole(t, _)
        | MemberChange::TransferOwnership(t) => t,
        MemberChange::Leave => actor,
    };
    let target_role = role_of(conn, conversation_id, target)?;
    check_member_change(kind, actor_role, target_role, change)?;
    let by = handle_of(conn, actor)?;
    let handle = handle_of(conn, target)?;
    let mut record = |change: &str, role: Option<Role>, user_id: UserId, handle: String| {
        member_event(
            conn,
            events,
            conversation_id,
            MemberEvent {
                kind,
                user_id,
                handle,
                change: change.into(),
                role,
                by: by.clone(),
            },
        )
    };
    match change {
        MemberChange::Add(_) => {
            let event = record("joined", Some(Role::Member), target, handle)?;
            conn.prepare_cached(
                "INSERT INTO memberships (conversation_id, user_id, role, joined_event) \
                 VALUES (?1, ?2, 'member', ?3)",
            )?
            .execute(params![conversation_id, target, event.id])?;
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
                let heir: Option<i64> = conn
                    .prepare_cached(
                        "SELECT user_id FROM memberships \
                         WHERE conversation_id = ?1 AND left_event IS NULL AND user_id != ?2 \
                         ORDER BY role = 'admin' DESC, id ASC LIMIT 1",
                    )?
                    .query_row([conversation_id, target], |r| r.get(0))
                    .optional()?;
                if let Some(heir) = heir {
                    set_role(conn, conversation_id, heir, Role::Owner)?;
                    let heir_handle = handle_of(conn, heir)?;
                    record("role", Some(Role::Owner), heir, heir_handle)?;
                }
            }
            let event = record(word, None, target, handle)?;
            end_membership(conn, conversation_id, target, event.id)?;
            Ok(event)
        }
        MemberChange::SetRole(_, role) => {
            set_role(conn, conversation_id, target, role)?;
            record("role", Some(role), target, handle)
        }
        MemberChange::TransferOwnership(_) => {
            set_role(conn, conversation_id, actor, Role::Admin)?;
            set_role(conn, conversation_id, target, Role::Owner)?;
            record("role", Some(Role::Admin), actor, by.clone())?;
            record("role", Some(Role::Owner), target, handle)
        }
    }
}

pub(super) fn append_message(
    conn: &Connection,
    events: &mut Events,
    new: NewMessage,
) -> Result<(Message, bool), Error> {
    // Membership and the sender's handle in one look-up.
    let sender: Option<String> = conn
        .prepare_cached(
            "SELECT u.handle FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.conversation_id = ?1 AND m.user_id = ?2 AND m.left_event IS NULL",
        )?
        .query_row([new.conversation_id, new.sender_id], |r| r.get(0))
        .optional()?;
    let sender = sender.ok_or(Error::NotFound("conversation"))?;
    if let Some(txn) = &new.client_txn_id {
        let original: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM messages \
                 WHERE conversation_id = ?1 AND sender_id = ?2 AND client_txn_id = ?3",
            )?
            .query_row(params![new.conversation_id, new.sender_id, txn], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = original {
            let message = read::message(conn, id)?.ok_or(Error::NotFound("message"))?;
            return Ok((message, false));
        }
    }
    let seq: i64 = conn
        .prepare_cached(
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
        )?
        .query_row([new.conversation_id], |r| r.get(0))?;
    let created_at = now_ms();
    conn.prepare_cached(
        "INSERT INTO messages (conversation_id, seq, sender_id, body, client_txn_id, links, created_at, \
         mentions, reply_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        new.conversation_id,
        seq,
        new.sender_id,
        new.body,
        new.client_txn_id,
        new.links,
        created_at,
        new.mentions,
        new.reply_to
    ])?;
    let id = conn.last_insert_rowid();
    let attachments = super::attachments::bind(
        conn,
        id,
        new.conversation_id,
        new.sender_id,
        &new.attachments,
    )?;
    for share in &new.shares {
        log_share(conn, share, Some(id))?;
    }
    let event_id = log_event(conn, new.conversation_id, "message", Some(id), None)?;
    let mut message = Message {
        id,
        conversation_id: new.conversation_id,
        seq,
        sender_id: new.sender_id,
        sender,
        body: new.body,
        created_at,
        client_txn_id: new.client_txn_id,
        links: new.links,
        previews: None,
        removed_at: None,
        mentions: new.mentions,
        attachments,
        edited_at: None,
        recalled_at: None,
        recalled_by: None,
        reply_to: new.reply_to,
        previews_hidden_at: None,
        reply: None,
        reactions: Vec::new(),
    };
    super::chat::decorate(conn, &mut message, false)?;
    events.push(Event {
        id: event_id,
        conversation_id: message.conversation_id,
        body: EventBody::Message(message.clone()),
    });
    Ok((message, true))
}

pub(super) fn attach_preview(
    conn: &Connection,
    events: &mut Events,
    message_id: i64,
    url: &str,
    preview: &str,
) -> Result<Event, Error> {
    let row: Option<(i64, Option<String>, bool, bool)> = conn
        .prepare_cached(
            "SELECT conversation_id, previews, recalled_at IS NOT NULL OR removed_at IS NOT NULL, \
             previews_hidden_at IS NOT NULL FROM messages WHERE id = ?1",
        )?
        .query_row([message_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let (conversation_id, previews, gone, hidden) = row.ok_or(Error::NotFound("message"))?;
    // A preview fetched while its message was being recalled must not
    // bring page text back.
    if gone {
        return Err(Error::Conflict("the message was recalled or removed"));
    }
    // Nor one fetched while its sender hid the previews.
    if hidden {
        return Err(Error::Conflict(crate::chat::refusal::PREVIEWS_HIDDEN));
    }
    let mut map: serde_json::Map<String, serde_json::Value> = match previews {
        Some(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt(e.to_string()))?,
        None => serde_json::Map::new(),
    };
    let value: serde_json::Value =
        serde_json::from_str(preview).map_err(|e| Error::Corrupt(e.to_string()))?;
    map.insert(url.to_owned(), value.clone());
    let text = serde_json::Value::Object(map).to_string();
    conn.prepare_cached("UPDATE messages SET previews = ?2 WHERE id = ?1")?
        .execute(params![message_id, text])?;
    let data = serde_json::json!({ "url": url, "preview": value }).to_string();
    let id = log_event(
        conn,
        conversation_id,
        "preview",
        Some(message_id),
        Some(&data),
    )?;
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
pub(super) fn log_share(
    conn: &Connection,
    s: &crate::LinkShare,
    message_id: Option<i64>,
) -> Result<(), Error> {
    let json =
        |v: &Vec<String>| serde_json::to_string(v).map_err(|e| Error::Corrupt(e.to_string()));
    conn.prepare_cached(
        "INSERT INTO link_shares (at, message_id, conversation_kind, member_count, sender_role, \
         platform, owner, category, domain, lists, treatment, preview, policy_version, policies, \
         bidi, mixed_script) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        s.at,
        message_id,
        s.conversation_kind.as_str(),
        s.member_count,
        s.sender_role.as_str(),
        s.platform,
        s.owner,
        s.category,
        s.domain,
        json(&s.lists)?,
        s.treatment,
        s.preview,
        s.policy_version,
        json(&s.policies)?,
        s.bidi,
        s.mixed_script
    ])?;
    Ok(())
}
