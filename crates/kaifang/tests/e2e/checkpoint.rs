//! A clean stop leaves the SQLite database in one file: after SIGTERM the
//! WAL is folded into `kaifang.db` and emptied, so an operator who copies
//! only the `.db` file of a stopped server copies everything.
use std::path::Path;
use std::time::Duration;

use kaifang_client::Client;

use crate::{PASSWORD, TestServer, id, user};

const MESSAGES: usize = 150;

fn size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[tokio::test]
async fn after_sigterm_the_database_file_alone_is_complete() {
    let mut server = TestServer::start_sqlite();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    for n in 0..MESSAGES {
        alice.send(c, &format!("m{n}"), None).await.unwrap();
    }
    let db = server.data.join("kaifang.db");
    let wal = server.data.join("kaifang.db-wal");
    // While it runs, recent commits are in the WAL: what the stop must fold.
    assert!(size(&wal).unwrap_or(0) > 0, "no WAL while running");

    server.sigterm();
    let (status, _) = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "exit status {status}");
    assert_eq!(size(&wal).unwrap_or(0), 0, "the WAL is left non-empty");

    // Only the .db file, into a fresh folder: a server there has it all.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(&db, copy.path().join("kaifang.db")).unwrap();
    let restored = TestServer::start_in(copy.path());
    let mut alice = Client::new(&restored.url).unwrap();
    alice.sign_in("alice", PASSWORD).await.unwrap();
    let page = alice.history(c, None, 200).await.unwrap();
    let bodies: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    assert_eq!(bodies, expected);
}
