//! The PostgreSQL backend: a pool of connections (deadpool, with a statement
//! cache per connection) over `tokio-postgres`, without TLS (the database is
//! expected on loopback or a private network).
//!
//! Writes are serialised: one transaction at a time in this process (its
//! writer task, `writer.rs`, which puts concurrent writes in one
//! transaction), and each transaction first takes one advisory lock, so
//! writers in other processes wait their turn too. Why: event ids are the
//! newest plus one (`write.rs`), so two concurrent writers could take the
//! same id, or, with a sequence, commit ids 4 and then 3, and a reader that
//! saw 4 first would skip 3 for ever. Holding one lock from the first insert
//! to the commit makes ids contiguous and visible in order, and the single
//! writer task hands the events to the sink after the commit, in id order.
//! The same lock also decides "first account is admin" and "not the last
//! admin" without races. Since every write takes turns on it, the writer
//! keeps each turn short: a batch of sends is one statement, sent without
//! waiting for the batch before it (`send.rs`, `writer.rs`).
mod administration;
mod attachments;
mod chat;
mod error;
mod governance;
mod migrate;
mod moderation;
mod payments;
mod people;
mod preview_rules;
mod read;
mod read_state;
mod search;
mod send;
mod write;
mod writer;

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use tokio_postgres::NoTls;

use crate::{
    AdminGrant, CachedPreview, Conversation, ConversationKind, ConversationSummary, Error, Event,
    EventId, EventSink, LinkShare, MemberChange, Message, NewMessage, Role, Store, User, UserAuth,
    UserId,
};
use read::{execute, query_one, query_opt};
use write::Events;
use writer::{WriteFuture, Writer};

pub use attachments::PgBlobStore;

/// Settings of the PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// A libpq-style URL, e.g. `postgres://kaifang@127.0.0.1:5432/kaifang`.
    pub url: String,
    /// Connections kept in the pool (default 16, at least 2): the writer
    /// keeps one for sends (`writer.rs`), the rest serve reads and other
    /// writes.
    pub pool_size: usize,
    /// How long opening one connection may take (ms, default 5,000).
    pub connect_timeout_ms: u64,
    /// How long a call may wait for a pooled connection before it fails
    /// with [`Error::Unavailable`] (ms, default 5,000): with the database
    /// gone, calls fail within this instead of queueing without end.
    pub acquire_timeout_ms: u64,
    /// Most writes committed in one transaction (default 64; 0 counts as
    /// 1): writes that queue while one commits share the next commit.
    pub max_batch: usize,
    /// Most batches of sends sent to the database before the first of them
    /// is answered (default 2; 0 counts as 1): one runs while the next
    /// waits at the database, so no round trip separates them.
    pub pipeline_depth: usize,
}

impl PgConfig {
    /// Defaults for the database at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            connect_timeout_ms: 5_000,
            acquire_timeout_ms: 5_000,
            max_batch: 64,
            pipeline_depth: 2,
        }
    }
}

/// The advisory-lock key every write transaction takes (see the module's
/// documentation); any constant distinct from the migrations' key.
const WRITE_LOCK: i64 = 0x6b61_6966_616e_6702;

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    /// This process's writer task, which commits every write.
    writer: Writer,
}

impl PgStore {
    /// Connects, applies pending migrations (exactly once, even when several
    /// servers connect at once) and returns the store. Committed events go
    /// to `sink`. Fails when the database cannot be reached.
    pub async fn connect(config: PgConfig, sink: EventSink) -> Result<Self, Error> {
        let mut pg: tokio_postgres::Config = config.url.parse()?;
        pg.connect_timeout(Duration::from_millis(config.connect_timeout_ms));
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_millis(config.acquire_timeout_ms)))
            .create_timeout(Some(Duration::from_millis(config.connect_timeout_ms)))
            .recycle_timeout(Some(Duration::from_millis(config.acquire_timeout_ms)))
            .build()
            .map_err(|e| Error::Backend(Box::new(e)))?;
        let mut client = pool.get().await?;
        migrate::apply(&mut client).await?;
        drop(client);
        let writer = Writer::start(
            pool.clone(),
            config.max_batch,
            config.pipeline_depth,
            Duration::from_millis(config.acquire_timeout_ms),
            sink,
        );
        Ok(Self { pool, writer })
    }

    /// A pooled connection for reads.
    async fn client(&self) -> Result<deadpool_postgres::Client, Error> {
        Ok(self.pool.get().await?)
    }

    /// Runs `work` in a write transaction holding the write lock (with
    /// other writes queued at the same time), and returns its result once
    /// committed and its events are in the sink.
    async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Transaction<'c>, &'c mut Events) -> WriteFuture<'c, T>
            + Send
            + 'static,
    {
        self.writer.run(work).await
    }
}

pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

#[async_trait]
impl Store for PgStore {
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
        self.write(move |tx, _| {
            Box::pin(async move { write::create_user(tx, &h, &d, &p, admin).await })
        })
        .await
    }

    async fn user_auth(&self, handle: &str) -> Result<Option<UserAuth>, Error> {
        read::user_auth(&self.client().await?, handle).await
    }

    async fn user_by_handle(&self, handle: &str) -> Result<Option<User>, Error> {
        Ok(read::user_auth(&self.client().await?, handle)
            .await?
            .map(|a| a.user))
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        read::user_by_id(&self.client().await?, id).await
    }

    async fn set_admin(&self, handle: &str, is_admin: bool) -> Result<User, Error> {
        let handle = handle.to_owned();
        self.write(move |tx, _| {
            Box::pin(async move { write::set_admin(tx, &handle, is_admin).await })
        })
        .await
    }

    async fn create_session(&self, user_id: UserId, token_hash: [u8; 32]) -> Result<(), Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                execute(
                    tx,
                    "INSERT INTO sessions (token_hash, user_id, created_at) VALUES ($1, $2, $3)",
                    &[&&token_hash[..], &user_id, &now_ms()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn session_user(&self, token_hash: [u8; 32]) -> Result<Option<UserId>, Error> {
        let row = query_opt(
            &self.client().await?,
            // A suspended account's tokens are refused even if one was
            // issued in the instant around its suspension.
            "SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.suspended_at IS NULL",
            &[&&token_hash[..]],
        )
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn ended_sessions(&self, token_hashes: Vec<[u8; 32]>) -> Result<Vec<[u8; 32]>, Error> {
        if token_hashes.is_empty() {
            return Ok(Vec::new());
        }
        let given: Vec<&[u8]> = token_hashes.iter().map(|h| &h[..]).collect();
        let rows = read::query(
            &self.client().await?,
            "SELECT token_hash FROM sessions WHERE token_hash = ANY($1) AND revoked_at IS NULL",
            &[&given],
        )
        .await?;
        let mut live = std::collections::HashSet::new();
        for row in &rows {
            live.insert(row.try_get::<_, Vec<u8>>(0)?);
        }
        Ok(token_hashes
            .into_iter()
            .filter(|h| !live.contains(&h[..]))
            .collect())
    }

    async fn revoke_session(&self, token_hash: [u8; 32]) -> Result<(), Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                execute(
                    tx,
                    "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
                    &[&&token_hash[..], &now_ms()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn open_direct(&self, a: UserId, b: UserId) -> Result<(Conversation, bool), Error> {
        self.write(move |tx, events| Box::pin(write::open_direct(tx, events, a, b)))
            .await
    }

    async fn create_group(
        &self,
        owner: UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<Conversation, Error> {
        let (title, members) = (title.to_owned(), members.to_vec());
        self.write(move |tx, events| {
            Box::pin(async move { write::create_group(tx, events, owner, &title, &members).await })
        })
        .await
    }

    async fn conversation(&self, id: i64) -> Result<Option<Conversation>, Error> {
        read::conversation(&self.client().await?, id).await
    }

    async fn role(&self, conversation_id: i64, user: UserId) -> Result<Option<Role>, Error> {
        read::role_of(&self.client().await?, conversation_id, user).await
    }

    async fn conversations_of(&self, user: UserId) -> Result<Vec<ConversationSummary>, Error> {
        read::conversations_of(&self.client().await?, user).await
    }

    async fn change_members(
        &self,
        conversation_id: i64,
        actor: UserId,
        change: MemberChange,
    ) -> Result<Event, Error> {
        self.write(move |tx, events| {
            Box::pin(write::change_members(
                tx,
                events,
                conversation_id,
                actor,
                change,
            ))
        })
        .await
    }

    async fn all_memberships(&self) -> Result<Vec<(i64, ConversationKind, UserId, Role)>, Error> {
        read::all_memberships(&self.client().await?).await
    }

    async fn append_message(&self, message: NewMessage) -> Result<(Message, bool), Error> {
        self.writer.send(message).await
    }

    async fn log_refused_shares(&self, shares: Vec<LinkShare>) -> Result<(), Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                for share in &shares {
                    write::log_share(tx, share, None).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn messages(
        &self,
        conversation_id: i64,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>, Error> {
        read::messages(&self.client().await?, conversation_id, before_seq, limit).await
    }

    async fn attach_preview(
        &self,
        message_id: i64,
        url: &str,
        preview: &str,
    ) -> Result<Event, Error> {
        let (url, preview) = (url.to_owned(), preview.to_owned());
        self.write(move |tx, events| {
            Box::pin(
                async move { write::attach_preview(tx, events, message_id, &url, &preview).await },
            )
        })
        .await
    }

    async fn events_for(
        &self,
        user: UserId,
        after: EventId,
        limit: u32,
    ) -> Result<Vec<Event>, Error> {
        read::events_for(&self.client().await?, user, after, limit).await
    }

    async fn events_after(&self, after: EventId, limit: u32) -> Result<Vec<Event>, Error> {
        read::events_after(&self.client().await?, after, limit).await
    }

    async fn head(&self) -> Result<EventId, Error> {
        let row = query_one(
            &self.client().await?,
            "SELECT COALESCE(MAX(id), 0)::BIGINT FROM events",
            &[],
        )
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn cached_preview(&self, url: &str) -> Result<Option<CachedPreview>, Error> {
        let row = query_opt(
            &self.client().await?,
            "SELECT fetched_at, expires_at, data FROM preview_cache WHERE url = $1",
            &[&url],
        )
        .await?;
        row.map(|r| {
            Ok(CachedPreview {
                fetched_at: r.try_get(0)?,
                expires_at: r.try_get(1)?,
                data: r.try_get(2)?,
            })
        })
        .transpose()
    }

    async fn cache_preview(
        &self,
        url: &str,
        entry: CachedPreview,
        max_entries: usize,
    ) -> Result<(), Error> {
        let url = url.to_owned();
        self.write(move |tx, _| {
            Box::pin(async move {
                execute(
                    tx,
                    "INSERT INTO preview_cache (url, fetched_at, expires_at, data) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (url) DO UPDATE SET \
                     fetched_at = excluded.fetched_at, expires_at = excluded.expires_at, \
                     data = excluded.data",
                    &[&url, &entry.fetched_at, &entry.expires_at, &entry.data],
                )
                .await?;
                let count: i64 = query_one(tx, "SELECT COUNT(*) FROM preview_cache", &[])
                    .await?
                    .try_get(0)?;
                let excess = count - i64::try_from(max_entries).unwrap_or(i64::MAX);
                if excess > 0 {
                    execute(
                        tx,
                        "DELETE FROM preview_cache WHERE url IN \
                         (SELECT url FROM preview_cache ORDER BY expires_at LIMIT $1)",
                        &[&excess],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }
}
