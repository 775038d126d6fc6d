//! Backup, restore and upgrades through the real binary: `kaifang backup`
//! while sends continue, `restore` into a fresh folder, and the refusals
//! (a missing folder, a full disk, foreign files, a running server, a
//! database newer than the binary).
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kaifang_client::Client;

use crate::{PASSWORD, TestServer, id, user};

const SENDERS: usize = 4;
/// Each sender's bound, whatever happens to the stop flag.
const MAX_SENDS: usize = 3_000;
/// Acknowledged sends before the first backup, so that it has work to copy.
const ACKS_BEFORE_BACKUP: usize = 300;
/// Backups tried until one ran while a send was acknowledged.
const ATTEMPTS: usize = 5;

/// `kaifang <args>` on the data folder `data`, from an empty working
/// folder (no stray `kaifang.toml`).
fn kaifang(data: &Path, args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(args)
        .current_dir(cwd.path())
        .env("KAIFANG_DATA_DIR", data)
        .env("KAIFANG_LOG", "warn")
        // The test runner's own variables would add a warning line.
        .env_remove("KAIFANG_TEST_BACKEND")
        .env_remove("KAIFANG_TEST_POSTGRES")
        .output()
        .expect("run kaifang")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one-line error of a command that must fail.
fn refusal(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    err
}

/// `kaifang serve` on `data` must exit non-zero: its stderr.
fn serve_refused(data: &Path) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .arg("serve")
        .env_remove("KAIFANG_TEST_BACKEND")
        .env_remove("KAIFANG_TEST_POSTGRES")
        .env("KAIFANG_DATA_DIR", data)
        .env("KAIFANG_LISTEN", "127.0.0.1:0")
        .env("KAIFANG_LOG", "warn")
        .env("KAIFANG_PREVIEW__SYSTEM_DNS", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = crate::server::refused_start(
        child,
        Duration::from_secs(30),
        &format!("the server started on {}", data.display()),
    );
    refusal(&out)
}

/// Every message of conversation `c` as (id, seq, body), oldest first.
async fn history(client: &Client, c: i64) -> Vec<(i64, i64, String)> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = client.history(c, before, 200).await.unwrap();
        let msgs = page["messages"].as_array().unwrap().clone();
        if msgs.is_empty() {
            out.reverse();
            return out;
        }
        before = msgs[0]["seq"].as_i64();
        for m in msgs.iter().rev() {
            out.push((
                id(m),
                m["seq"].as_i64().unwrap(),
                m["body"].as_str().unwrap().to_owned(),
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_restores_every_acknowledged_message() {
    let server = TestServer::start_sqlite();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());

    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let (client, acked, stop) = (alice.clone(), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            for i in 0..MAX_SENDS {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let body = format!("sender {s} message {i}");
                let m = client
                    .send(c, &body, Some(&format!("{s}-{i}")))
                    .await
                    .unwrap();
                acked.lock().unwrap().push((id(&m), body));
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < ACKS_BEFORE_BACKUP {
        assert!(Instant::now() < deadline, "the senders are stuck");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A backup counts when a send was acknowledged while it ran: the copy
    // was made under load, not in a lull.
    let dir = tempfile::tempdir().unwrap();
    let mut chosen = None;
    for attempt in 0..ATTEMPTS {
        let file = dir.path().join(format!("backup-{attempt}.db"));
        let before = acked.lock().unwrap().clone();
        let (data, f) = (server.data.clone(), file.clone());
        let out =
            tokio::task::spawn_blocking(move || kaifang(&data, &["backup", f.to_str().unwrap()]))
                .await
                .unwrap();
        let during = acked.lock().unwrap().len() - before.len();
        assert!(stdout(&out).contains("backed up"));
        if during > 0 {
            chosen = Some((file, before));
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.unwrap();
    }
    let (file, before) = chosen.expect("no backup overlapped an acknowledged send");
    let all: std::collections::HashMap<i64, String> =
        acked.lock().unwrap().iter().cloned().collect();
    // No leftover temporary file beside the backups.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name.starts_with("backup-") && name.ends_with(".db"),
            "{name}"
        );
    }

    let fresh = dir.path().join("restored");
    let said = stdout(&kaifang(&fresh, &["restore", file.to_str().unwrap()]));
    assert!(said.contains("restored"), "{said}");
    let restored = TestServer::start_in(&fresh);
    let mut alice = Client::new(&restored.url).unwrap();
    alice.sign_in("alice", PASSWORD).await.unwrap();
    let messages = history(&alice, c).await;

    let ids: std::collections::HashSet<i64> = messages.iter().map(|m| m.0).collect();
    let lost: Vec<_> = before.iter().filter(|(i, _)| !ids.contains(i)).collect();
    assert!(lost.is_empty(), "{} acknowledged messages lost", lost.len());
    for (i, (mid, seq, body)) in messages.iter().enumerate() {
        // A consistent snapshot: no gap in the conversation, nothing that
        // was not sent.
        assert_eq!(*seq, i as i64 + 1, "gap before message {mid}");
        assert_eq!(all.get(mid), Some(body), "message {mid} was never sent");
    }
}

#[test]
fn a_failed_backup_says_why_and_leaves_no_file() {
    let server = TestServer::start_sqlite();
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("no-such-folder").join("b.db");
    let err = refusal(&kaifang(
        &server.data,
        &["backup", missing.to_str().unwrap()],
    ));
    assert!(err.contains("does not exist"), "{err}");
    assert!(!dir.path().join("no-such-folder").exists());

    // A disk that fills up: the file size limit makes the copy's writes
    // fail part-way, as ENOSPC would (SIGXFSZ ignored, so the write
    // returns the error instead of killing the process).
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let dest = full.join("b.db");
    let out = Command::new("sh")
        .args(["-c", "ulimit -f 16 && trap '' XFSZ && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_kaifang"))
        .args(["backup", dest.to_str().unwrap()])
        .current_dir(dir.path())
        .env("KAIFANG_DATA_DIR", &server.data)
        .output()
        .unwrap();
    let err = refusal(&out);
    assert!(err.contains("cannot write"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&full).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // The same backup with room to write succeeds.
    stdout(&kaifang(&server.data, &["backup", dest.to_str().unwrap()]));
    let err = refusal(&kaifang(&server.data, &["backup", dest.to_str().unwrap()]));
    assert!(err.contains("already exists"), "{err}");
}

#[tokio::test]
async fn restore_refuses_a_running_server_and_foreign_files() {
    let server = TestServer::start_sqlite();
    let alice = user(&server, "alice").await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("b.db");
    stdout(&kaifang(
        &server.data,
        &["backup", backup.to_str().unwrap()],
    ));

    let err = refusal(&kaifang(
        &server.data,
        &["restore", backup.to_str().unwrap()],
    ));
    assert!(err.contains("in use by a running kaifang"), "{err}");
    let err = serve_refused(&server.data);
    assert!(err.contains("in use by a running kaifang"), "{err}");
    // The running server was not disturbed.
    alice.me().await.unwrap();

    let fresh = dir.path().join("fresh");
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database, but long enough to be read as one\n".repeat(200),
    )
    .unwrap();
    let err = refusal(&kaifang(&fresh, &["restore", text.to_str().unwrap()]));
    assert!(err.contains("is not a SQLite database"), "{err}");

    let foreign = dir.path().join("other.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE things (id INTEGER PRIMARY KEY); PRAGMA user_version = 7;")
        .unwrap();
    let err = refusal(&kaifang(&fresh, &["restore", foreign.to_str().unwrap()]));
    assert!(err.contains("not Kaifang's"), "{err}");
    assert!(!fresh.exists(), "a refused restore created the data folder");
}

/// The newest schema version a database records.
fn recorded_version(db: &Path) -> u32 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT MAX(version) FROM kaifang_migrations", [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn a_database_newer_than_the_binary_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let new = stdout(&kaifang(&data, &["migrate", "--check"]));
    assert!(
        new.contains("schema version 0") && new.contains("1 init"),
        "{new}"
    );

    let mut server = TestServer::start_in(&data);
    let copy = dir.path().join("copy.db");
    stdout(&kaifang(&data, &["backup", copy.to_str().unwrap()]));
    server.kill_hard();
    let ours = recorded_version(&copy);
    let current = stdout(&kaifang(&data, &["migrate", "--check"]));
    assert!(current.contains("nothing to run"), "{current}");

    // What a newer kaifang would leave behind.
    let future = ours + 1;
    rusqlite::Connection::open(&copy)
        .unwrap()
        .execute_batch(&format!(
            "INSERT INTO kaifang_migrations (version, name, applied_at) VALUES ({future}, 'from_the_future', 0);
             PRAGMA user_version = {future};"
        ))
        .unwrap();
    let newer = dir.path().join("newer");
    let err = refusal(&kaifang(&newer, &["restore", copy.to_str().unwrap()]));
    assert!(
        err.contains(&format!(
            "schema version {future}, newer than this kaifang's {ours}"
        )),
        "{err}"
    );
    assert!(!newer.exists(), "a refused restore created the data folder");
    std::fs::create_dir(&newer).unwrap();
    std::fs::copy(&copy, newer.join("kaifang.db")).unwrap();
    let err = serve_refused(&newer);
    assert!(
        err.contains(&format!(
            "schema version {future}, newer than this kaifang's {ours}"
        )),
        "{err}"
    );
    let err = refusal(&kaifang(&newer, &["migrate", "--check"]));
    assert!(err.contains(&future.to_string()), "{err}");
    // Refused before anything was written.
    assert_eq!(recorded_version(&newer.join("kaifang.db")), future);
}

/// A database as kaifang left it before migrations were recorded by name:
/// the first three applied, `user_version` 3.
#[test]
fn migrate_check_lists_what_an_older_database_needs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let conn = rusqlite::Connection::open(data.join("kaifang.db")).unwrap();
    for sql in [
        include_str!("../../../store/migrations/sqlite/0001_init.sql"),
        include_str!("../../../store/migrations/sqlite/0002_previews.sql"),
        include_str!("../../../store/migrations/sqlite/0003_link_shares.sql"),
    ] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 3).unwrap();
    drop(conn);

    let plan = stdout(&kaifang(&data, &["migrate", "--check"]));
    assert!(plan.contains("at schema version 3"), "{plan}");
    assert!(
        plan.contains("  4 governance\n") && plan.contains("  5 link_share_flags\n"),
        "{plan}"
    );
    assert!(!plan.contains("link_shares\n"), "{plan}");
    let ran = stdout(&kaifang(&data, &["migrate"]));
    assert!(ran.contains("applied 4 governance"), "{ran}");
    let after = stdout(&kaifang(&data, &["migrate", "--check"]));
    assert!(after.contains("nothing to run"), "{after}");
    // Then a server runs on it.
    let server = TestServer::start_in(&data);
    drop(server);
}

/// Restoring over a live database (here one a crash left with its writes
/// still in the WAL): the backup's content comes back, not the old WAL's,
/// and the old database is kept, whole, beside it.
#[tokio::test]
async fn restore_over_a_database_keeps_the_old_one_aside_with_its_wal() {
    let mut server = TestServer::start_sqlite();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    alice.send(c, "before the backup", None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("b.db");
    stdout(&kaifang(
        &server.data,
        &["backup", backup.to_str().unwrap()],
    ));
    alice.send(c, "after the backup", None).await.unwrap();
    server.kill_hard();
    let wal = server.data.join("kaifang.db-wal");
    assert!(wal.metadata().unwrap().len() > 0, "no WAL left by the kill");

    let said = stdout(&kaifang(
        &server.data,
        &["restore", backup.to_str().unwrap()],
    ));
    let aside = said
        .lines()
        .find_map(|l| l.strip_prefix("the database it replaced is kept as "))
        .unwrap_or_else(|| panic!("no old database named: {said}"))
        .trim()
        .to_owned();
    let bodies = |h: Vec<(i64, i64, String)>| h.into_iter().map(|m| m.2).collect::<Vec<_>>();

    server.restart();
    let mut restored = Client::new(&server.url).unwrap();
    restored.sign_in("alice", PASSWORD).await.unwrap();
    assert_eq!(bodies(history(&restored, c).await), ["before the backup"]);
    server.kill_hard();

    let old = dir.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::copy(&aside, old.join("kaifang.db")).unwrap();
    std::fs::copy(format!("{aside}-wal"), old.join("kaifang.db-wal")).unwrap();
    let old_server = TestServer::start_in(&old);
    let mut before = Client::new(&old_server.url).unwrap();
    before.sign_in("alice", PASSWORD).await.unwrap();
    assert_eq!(
        bodies(history(&before, c).await),
        ["before the backup", "after the backup"]
    );
}
