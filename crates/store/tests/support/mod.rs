//! What the store tests share: a fresh store of either backend, and the
//! macro that runs each test once per backend.
//!
//! PostgreSQL tests need a server: `KAIFANG_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a database whose
//! user may create databases. Each test gets its own database, dropped
//! when the test ends, passed or failed; databases left by a killed run are
//! dropped by the next run once they are an hour old. Without PostgreSQL the
//! PostgreSQL tests fail, saying so: they never skip.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kaifang_store::{
    Administration, Attachments, BlobStore, Chat, Event, FsBlobStore, Governance, Moderation,
    Payments, People, PgConfig, PgStore, PreviewRules, ReadState, Search, SqliteConfig,
    SqliteStore, Store,
};
use tokio::sync::mpsc;

/// Runs each named `async fn name(backend: Backend)` as `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Every storage trait, so that a test holds one object.
pub trait AnyStore:
    Store
    + Governance
    + Administration
    + ReadState
    + Search
    + Attachments
    + Chat
    + People
    + Moderation
    + PreviewRules
    + Payments
{
}
impl<T> AnyStore for T where
    T: Store
        + Governance
        + Administration
        + ReadState
        + Search
        + Attachments
        + Chat
        + People
        + Moderation
        + PreviewRules
        + Payments
{
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub type Events = mpsc::UnboundedReceiver<Vec<Event>>;

/// A fresh store; fields drop in order, the store before its database.
pub struct Fixture {
    pub store: Box<dyn AnyStore>,
    pub events: Events,
    pub place: Place,
}

/// Where a fixture's data lives, kept so that a test can reopen it.
pub enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(TestDb),
}

impl Place {
    pub async fn reopen(&self) -> (Box<dyn AnyStore>, Events) {
        let (sink, events) = mpsc::unbounded_channel();
        let store: Box<dyn AnyStore> = match self {
            Place::Sqlite(dir) => Box::new(
                SqliteStore::open(SqliteConfig::new(dir.path().join("db/kaifang.db")), sink)
                    .unwrap(),
            ),
            Place::Postgres(db) => Box::new(
                PgStore::connect(PgConfig::new(db.url.clone()), sink)
                    .await
                    .unwrap(),
            ),
        };
        (store, events)
    }
}

impl Place {
    /// The blob store this backend uses: a folder beside the SQLite
    /// database, or the PostgreSQL database itself.
    pub async fn blob_store(&self) -> Box<dyn BlobStore> {
        match self {
            Place::Sqlite(dir) => Box::new(FsBlobStore::open(dir.path().join("blobs")).unwrap()),
            Place::Postgres(db) => {
                let (sink, _) = mpsc::unbounded_channel();
                let store = PgStore::connect(PgConfig::new(db.url.clone()), sink)
                    .await
                    .unwrap();
                Box::new(store.blob_store())
            }
        }
    }
}

pub async fn open(backend: Backend) -> Fixture {
    let place = match backend {
        Backend::Sqlite => Place::Sqlite(tempfile::tempdir().unwrap()),
        Backend::Postgres => Place::Postgres(TestDb::create().await),
    };
    let (store, events) = place.reopen().await;
    Fixture {
        store,
        events,
        place,
    }
}

pub fn admin_url() -> String {
    std::env::var("KAIFANG_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn admin_client() -> tokio_postgres::Client {
    let url = admin_url();
    let connect = tokio_postgres::connect(&url, tokio_postgres::NoTls);
    let (client, connection) = match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => panic!(
            "the PostgreSQL tests need a PostgreSQL server at {url} (set KAIFANG_TEST_POSTGRES, \
             or start it: .ci/run shows how): {e}: {}",
            std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default()
        ),
        Err(_) => panic!("the PostgreSQL server at {url} did not answer within 10 s"),
    };
    tokio::spawn(connection);
    client
}

const PREFIX: &str = "kaifang_test_";

/// A database of its own for one test, dropped with this value.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let client = admin_client().await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        drop_leftovers(&client, now).await;
        let name = format!("{PREFIX}{now}_{:08x}", rand::random::<u32>());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url()).unwrap();
        url.set_path(&name);
        TestDb {
            url: url.to_string(),
            name,
        }
    }
}

/// Databases of runs that were killed before their guards ran: their names
/// carry their creation time; those over an hour old are dropped.
async fn drop_leftovers(client: &tokio_postgres::Client, now: u64) {
    let rows = client
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
            &[&PREFIX],
        )
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let born = name[PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if born.is_some_and(|born| born + 3600 < now) {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop cannot await: a thread with its own runtime drops the
        // database (FORCE ends the store's pooled connections still open).
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = admin_client().await;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!(
                "could not drop the test database {}: {dropped:?}",
                self.name
            );
        }
    }
}
