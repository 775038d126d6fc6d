//! `database.url`: PostgreSQL instead of the embedded database, and what a
//! server says when that database does not answer.
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::pgdb::PgDb;
use crate::{TestServer, user};

/// With `database.url` set, accounts land in PostgreSQL and no SQLite file
/// is created.
#[tokio::test]
async fn database_url_puts_the_data_in_postgresql() {
    let db = PgDb::create();
    let server = TestServer::start_with(&[("KAIFANG_DATABASE__URL", &db.url)]);
    let alice = user(&server, "alice").await;
    assert_eq!(alice.me().await.unwrap()["is_admin"], true);

    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let handles: Vec<String> = client
        .query("SELECT handle FROM users", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(handles, ["alice"]);
    assert!(!server.data.join("kaifang.db").exists());
    drop(server);
}

/// A database that does not answer at start: one clear line, a non-zero
/// exit, and the URL's password nowhere in the output.
#[test]
fn an_unreachable_database_stops_the_server_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .arg("serve")
        .env("KAIFANG_DATA_DIR", dir.path())
        .env("KAIFANG_LISTEN", "127.0.0.1:0")
        // Port 1 on loopback: nothing listens there.
        .env(
            "KAIFANG_DATABASE__URL",
            "postgres://kaifang:s3cret-pw@127.0.0.1:1/kaifang",
        )
        .env("KAIFANG_DATABASE__CONNECT_TIMEOUT_MS", "2000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a server that starts anyway (on SQLite) would never exit.
    let output = crate::server::refused_start(
        child,
        Duration::from_secs(20),
        "the server kept running without its database",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("kaifang:") && l.contains("database")),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-pw") && !stdout.contains("s3cret-pw"));
    assert!(!stdout.contains("listening on"));
}

/// Two servers starting at the same moment on one empty database both
/// come up, serve the same data, and each migration is applied once:
/// `kaifang_migrations` holds every version of this build exactly once.
#[tokio::test]
async fn two_servers_starting_at_once_migrate_the_database_once() {
    let db = PgDb::create();
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let start = |gate: std::sync::Arc<std::sync::Barrier>, url: String| {
        std::thread::spawn(move || {
            gate.wait();
            TestServer::start_with(&[("KAIFANG_DATABASE__URL", &url)])
        })
    };
    let a = start(gate.clone(), db.url.clone());
    let b = start(gate, db.url.clone());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());

    // One database behind both: an account made on one signs in on the other.
    let _alice = user(&a, "alice").await;
    let mut on_b = kaifang_client::Client::new(&b.url).unwrap();
    on_b.sign_in("alice", crate::PASSWORD).await.unwrap();

    // The numbers of the migration files (`0009_attachments.sql`: 9); they
    // are handed out per feature, so there may be gaps.
    let mut migrations: Vec<i64> = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../store/migrations/postgres"
    ))
    .unwrap()
    .filter_map(|e| {
        let name = e.ok()?.file_name().into_string().ok()?;
        name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
    })
    .collect();
    migrations.sort_unstable();
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions: Vec<i64> = client
        .query(
            "SELECT version FROM kaifang_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, migrations);
    // All by one server, in one transaction (`now()` is its start): not
    // some versions by each.
    let runs: i64 = client
        .query_one(
            "SELECT COUNT(DISTINCT applied_at) FROM kaifang_migrations",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 1);
    drop((a, b, client));
}
