//! A PostgreSQL database of its own for one test server, when the suite
//! runs with `KAIFANG_TEST_BACKEND=postgres`; dropped with the server.
//! `KAIFANG_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a database whose
//! user may create databases. No PostgreSQL there fails the test.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether this run puts every test server on PostgreSQL.
pub fn wanted() -> bool {
    std::env::var("KAIFANG_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

fn admin_url() -> String {
    std::env::var("KAIFANG_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs one statement as the admin user, on a thread with its own runtime
/// (test servers start from sync and async code alike).
fn admin(sql: String) -> Result<(), String> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let url = admin_url();
            let connect = tokio_postgres::connect(&url, tokio_postgres::NoTls);
            let (client, connection) = tokio::time::timeout(Duration::from_secs(10), connect)
                .await
                .map_err(|_| format!("no answer from PostgreSQL at {url}"))?
                .map_err(|e| format!("PostgreSQL at {url}: {e} ({e:?})"))?;
            tokio::spawn(connection);
            client.batch_execute(&sql).await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "the PostgreSQL admin thread panicked".to_owned())?
}

pub struct PgDb {
    pub url: String,
    name: String,
}

impl PgDb {
    pub fn create() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // Unique on this machine: a live process id and a counter. The
        // creation time lets the store tests drop leftovers an hour old.
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("kaifang_test_{now}_{}_{n}", std::process::id());
        if let Err(e) = admin(format!("CREATE DATABASE {name}")) {
            panic!(
                "KAIFANG_TEST_BACKEND=postgres needs PostgreSQL (set KAIFANG_TEST_POSTGRES): {e}"
            );
        }
        let mut url = url::Url::parse(&admin_url()).unwrap();
        url.set_path(&name);
        PgDb {
            url: url.to_string(),
            name,
        }
    }
}

static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for PgDb {
    fn drop(&mut self) {
        let dropped = admin(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
        if let Err(e) = dropped
            && !std::thread::panicking()
        {
            panic!("could not drop the test database {}: {e}", self.name);
        }
    }
}
