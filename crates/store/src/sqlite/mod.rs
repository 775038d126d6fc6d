//! The embedded backend: one SQLite file in WAL mode, one writer thread that
//! commits concurrent writes together, and a small pool of readers.
mod administration;
mod attachments;
mod chat;
mod error;
mod governance;
mod indexer;
pub mod maintenance;
mod migrate;
mod moderation;
mod payments;
mod people;
mod preview_rules;
mod read;
mod read_state;
mod search;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{
    AdminGrant, CachedPreview, Conversation, ConversationKind, ConversationSummary, Error, Event,
    EventId, EventSink, LinkShare, MemberChange, Message, NewMessage, Role, Store, User, UserAuth,
    UserId,
};
use writer::Writer;

/// Settings of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file; its folder is created if missing.
    pub path: PathBuf,
    /// Read connections kept open (default 4).
    pub readers: usize,
    /// Most writes committed in one transaction (default 512).
    pub max_batch: usize,
    /// `true` (default `false`): fsync the WAL at every commit, so that a
    /// power cut loses nothing. With `false` a commit is in the operating
    /// system's hands once acknowledged: it survives a crash of the server
    /// (`kill -9`), not of the machine.
    pub sync_full: bool,
    /// How long a connection waits for a lock held by another process (ms).
    pub busy_timeout_ms: u64,
    /// Most messages added to the search index in one transaction; a
    /// backlog this long is indexed at once, between two batches of
    /// writes (default 256).
    pub search_index_chunk: usize,
    /// A shorter backlog is indexed once no write has come for this long
    /// (ms, default 50). Until then search finds those messages by a scan.
    pub search_index_idle_ms: u64,
}

impl SqliteConfig {
    /// Defaults for a database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            readers: 4,
            max_batch: 512,
            sync_full: false,
            busy_timeout_ms: 5_000,
            search_index_chunk: 256,
            search_index_idle_ms: 50,
        }
    }
}

/// The embedded SQLite store.
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<ReadPool>,
}

struct ReadPool {
    idle: Mutex<Vec<Connection>>,
    config: SqliteConfig,
}

fn open_connection(config: &SqliteConfig, read_only: bool) -> Result<Connection, Error> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(&config.path, flags)?;
    conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms))?;
    let sync = if config.sync_full { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
    ))?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database, applies pending migrations
    /// and starts the writer thread. Committed events go to `sink`.
    pub fn open(config: SqliteConfig, sink: EventSink) -> Result<Self, Error> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = open_connection(&config, false)?;
        migrate::apply(&mut conn)?;
        let pace = indexer::IndexPace {
            chunk: config.search_index_chunk,
            idle: std::time::Duration::from_millis(config.search_index_idle_ms),
        };
        let writer = Writer::start(conn, config.max_batch, pace, sink)?;
        let readers = Arc::new(ReadPool {
            idle: Mutex::new(Vec::new()),
            config,
        });
        Ok(Self { writer, readers })
    }

    /// Folds the whole WAL into the database file and truncates the WAL to
    /// zero bytes (`PRAGMA wal_checkpoint(TRUNCATE)`), so that the `.db`
    /// file alone holds every commit. The server calls it once it has
    /// stopped serving. It waits (up to the busy timeout) for a write in
    /// progress, and fails if a reader elsewhere (a running backup) still
    /// needs the WAL: the WAL is then left whole, and nothing is lost.
    pub async fn checkpoint(&self) -> Result<(), Error> {
        let config = self.readers.config.clone();
        tokio::task::spawn_blocking(move || {
            let conn = open_connection(&config, false)?;
            // (busy, frames in the WAL, frames folded into the database)
            let (busy, log, folded): (i64, i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
            if busy != 0 {
                return Err(Error::Backend(
                    format!(
                        "checkpoint incomplete: {folded} of {log} WAL frames folded \
                         (another connection was still reading)"
                    )
                    .into(),
                ));
            }
            Ok(())
        })
        .await
        .map_err(|_| Error::WriterGone)?
    }

    /// Runs `f` on a pooled read connection, off the async runtime.
    async fn read<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match pool.idle.lock().map(|mut idle| idle.pop()) {
                Ok(Some(conn)) => conn,
                _ => open_connection(&pool.config, true)?,
            };
            let result = f(&conn);
            if let Ok(mut idle) = pool.idle.lock()
                && idle.len() < pool.config.readers
            {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|_| Error::WriterGone)?
    }
}

pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(
        &self,
        handle: &str,
        display_name: &str,
        password_hash: &str,
        admin: AdminGrant,
    ) -> Result<User, Error> {
        let (h, d, p) = (
            handle.to_owned(),
            display_name.to_owned(),
            password_hash.to_owned(),
        );
        self.writer
            .run(move |conn, _| writer::create_user(conn, &h, &d, &p, admin))
            .await
    }

    async fn user_auth(&self, handle: &str) -> Result<Option<UserAuth>, Error> {
        let handle = handle.to_owned();
        self.read(move |c| read::user_auth(c, &handle)).await
    }

    async fn user_by_handle(&self, handle: &str) -> Result<Option<User>, Error> {
        let handle = handle.to_owned();
        self.read(move |c| Ok(read::user_auth(c, &handle)?.map(|a| a.user)))
            .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        self.read(move |c| read::user_by_id(c, id)).await
    }

    async fn set_admin(&self, handle: &str, is_admin: bool) -> Result<User, Error> {
        let handle = handle.to_owned();
        self.writer
            .run(move |conn, _| writer::set_admin(conn, &handle, is_admin))
            .await
    }

    async fn create_session(&self, user_id: UserId, token_hash: [u8; 32]) -> Result<(), Error> {
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "INSERT INTO sessions (token_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(rusqlite::params![&token_hash[..], user_id, now_ms()])?;
                Ok(())
            })
            .await
    }

    async fn session_user(&self, token_hash: [u8; 32]) -> Result<Option<UserId>, Error> {
        self.read(move |c| read::session_user(c, &token_hash)).await
    }

    async fn ended_sessions(&self, token_hashes: Vec<[u8; 32]>) -> Result<Vec<[u8; 32]>, Error> {
        self.read(move |c| {
            let mut ended = Vec::new();
            for hash in token_hashes {
                if read::session_user(c, &hash)?.is_none() {
                    ended.push(hash);
                }
            }
            Ok(ended)
        })
        .await
    }

    async fn revoke_session(&self, token_hash: [u8; 32]) -> Result<(), Error> {
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
                )?
                .execute(rusqlite::params![&token_hash[..], now_ms()])?;
                Ok(())
            })
            .await
    }

    async fn open_direct(&self, a: UserId, b: UserId) -> Result<(Conversation, bool), Error> {
        self.writer
            .run(move |conn, events| writer::open_direct(conn, events, a, b))
            .await
    }

    async fn create_group(
        &self,
        owner: UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<Conversation, Error> {
        let (title, members) = (title.to_owned(), members.to_vec());
        self.writer
            .run(move |conn, events| writer::create_group(conn, events, owner, &title, &members))
            .await
    }

    async fn conversation(&self, id: i64) -> Result<Option<Conversation>, Error> {
        self.read(move |c| read::conversation(c, id)).await
    }

    async fn role(&self, conversation_id: i64, user: UserId) -> Result<Option<Role>, Error> {
        self.read(move |c| writer::role_of(c, conversation_id, user))
            .await
    }

    async fn conversations_of(&self, user: UserId) -> Result<Vec<ConversationSummary>, Error> {
        self.read(move |c| read::conversations_of(c, user)).await
    }

    async fn change_members(
        &self,
        conversation_id: i64,
        actor: UserId,
        change: MemberChange,
    ) -> Result<Event, Error> {
        self.writer
            .run(move |conn, events| {
                writer::change_members(conn, events, conversation_id, actor, change)
            })
            .await
    }

    async fn all_memberships(&self) -> Result<Vec<(i64, ConversationKind, UserId, Role)>, Error> {
        self.read(read::all_memberships).await
    }

    async fn append_message(&self, message: NewMessage) -> Result<(Message, bool), Error> {
        self.writer
            .run(move |conn, events| writer::append_message(conn, events, message))
            .await
    }

    async fn log_refused_shares(&self, shares: Vec<LinkShare>) -> Result<(), Error> {
        self.writer
            .run(move |conn, _| {
                for share in &shares {
                    writer::log_share(conn, share, None)?;
                }
                Ok(())
            })
            .await
    }

    async fn messages(
        &self,
        conversation_id: i64,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>, Error> {
        self.read(move |c| read::messages(c, conversation_id, before_seq, limit))
            .await
    }

    async fn attach_preview(
        &self,
        message_id: i64,
        url: &str,
        preview: &str,
    ) -> Result<Event, Error> {
        let (url, preview) = (url.to_owned(), preview.to_owned());
        self.writer
            .run(move |conn, events| {
                writer::attach_preview(conn, events, message_id, &url, &preview)
            })
            .await
    }

    async fn events_for(
        &self,
        user: UserId,
        after: EventId,
        limit: u32,
    ) -> Result<Vec<Event>, Error> {
        self.read(move |c| read::events_for(c, user, after, limit))
            .await
    }

    async fn events_after(&self, after: EventId, limit: u32) -> Result<Vec<Event>, Error> {
        self.read(move |c| read::events_after(c, after, limit))
            .await
    }

    async fn head(&self) -> Result<EventId, Error> {
        self.read(|c| Ok(c.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?))
            .await
    }

    async fn cached_preview(&self, url: &str) -> Result<Option<CachedPreview>, Error> {
        let url = url.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT fetched_at, expires_at, data FROM preview_cache WHERE url = ?1",
            )?
            .query_row([&url], |r| {
                Ok(CachedPreview {
                    fetched_at: r.get(0)?,
                    expires_at: r.get(1)?,
                    data: r.get(2)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn cache_preview(
        &self,
        url: &str,
        entry: CachedPreview,
        max_entries: usize,
    ) -> Result<(), Error> {
        let url = url.to_owned();
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "INSERT INTO preview_cache (url, fetched_at, expires_at, data) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (url) DO UPDATE SET \
                     fetched_at = excluded.fetched_at, expires_at = excluded.expires_at, \
                     data = excluded.data",
                )?
                .execute(rusqlite::params![
                    url,
                    entry.fetched_at,
                    entry.expires_at,
                    entry.data
                ])?;
                let count: i64 =
                    conn.query_row("SELECT COUNT(*) FROM preview_cache", [], |r| r.get(0))?;
                let excess = count - i64::try_from(max_entries).unwrap_or(i64::MAX);
                if excess > 0 {
                    conn.prepare_cached(
                        "DELETE FROM preview_cache WHERE url IN \
                         (SELECT url FROM preview_cache ORDER BY expires_at LIMIT ?1)",
                    )?
                    .execute([excess])?;
                }
                Ok(())
            })
            .await
    }
}
