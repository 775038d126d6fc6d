use std::sync::Arc;

use crate::{PASSWORD, TestServer, id, user};

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let mut server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    // Concurrent senders so that commits are batched; keep every ack.
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let alice = alice.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let txn = format!("{t}-{i}");
                if let Ok(m) = alice.send(c, &format!("m {txn}"), Some(&txn)).await {
                    acked.lock().unwrap().push(m["id"].as_i64().unwrap());
                }
            }
        }));
    }
    // Kill while sends are in flight.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    server.kill_hard();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        !acked.is_empty(),
        "some sends were acknowledged before the kill"
    );

    server.restart();
    let mut alice = kaifang_client::Client::new(&server.url).unwrap();
    alice.sign_in("alice", PASSWORD).await.unwrap();
    let mut stored = Vec::new();
    let mut before = None;
    loop {
        let page = alice.history(c, before, 200).await.unwrap();
        let msgs = page["messages"].as_array().unwrap().clone();
        if msgs.is_empty() {
            break;
        }
        before = msgs[0]["seq"].as_i64();
        stored.extend(
            msgs.iter()
                .map(|m| (m["id"].as_i64().unwrap(), m["seq"].as_i64().unwrap())),
        );
    }
    let ids: std::collections::HashSet<i64> = stored.iter().map(|(i, _)| *i).collect();
    for a in &acked {
        assert!(ids.contains(a), "acknowledged message {a} was lost");
    }
    // And the sequence has no gaps.
    let mut seqs: Vec<i64> = stored.iter().map(|(_, s)| *s).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
}
