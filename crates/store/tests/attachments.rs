//! Blobs and attachment records, run against every backend: the same
//! tests for the folder blob store (with SQLite) and the PostgreSQL one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{
    AdminGrant, AttachmentRef, BlobId, Error, EventBody, NewAttachment, NewMessage, UserId,
};
use sha2::Digest;
use support::{Backend, open};

/// Bytes that differ everywhere, longer than several PostgreSQL chunks.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

async fn blobs_are_named_by_their_sha256_and_round_trip(backend: Backend) {
    let f = open(backend).await;
    let blobs = f.place.blob_store().await;
    let data = bytes(600 * 1024 + 7, 1);
    let id = blobs.put(data.clone()).await.unwrap();
    assert_eq!(id.as_str(), hex::encode(sha2::Sha256::digest(&data)));
    assert_eq!(blobs.get(&id).await.unwrap().as_deref(), Some(&data[..]));
    // The same bytes again: the same name, one copy, still whole.
    assert_eq!(blobs.put(data.clone()).await.unwrap(), id);
    assert_eq!(blobs.get(&id).await.unwrap().as_deref(), Some(&data[..]));
    let empty = blobs.put(Vec::new()).await.unwrap();
    assert_eq!(blobs.get(&empty).await.unwrap(), Some(Vec::new()));

    assert!(blobs.contains(&id).await.unwrap());
    blobs.delete(&id).await.unwrap();
    assert!(!blobs.contains(&id).await.unwrap());
    assert_eq!(blobs.get(&id).await.unwrap(), None);
    blobs.delete(&id).await.unwrap();
    // Deleting one blob leaves the others.
    assert_eq!(blobs.get(&empty).await.unwrap(), Some(Vec::new()));
    assert_eq!(BlobId::parse("../etc/passwd"), None);
}

fn upload(conversation_id: i64, uploader_id: UserId, blob: &BlobId, at: i64) -> NewAttachment {
    NewAttachment {
        conversation_id,
        uploader_id,
        name: "cat.png".into(),
        content_type: "image/png".into(),
        size: 10,
        blob: blob.clone(),
        thumbnail: None,
        width: Some(4),
        height: Some(3),
        created_at: at,
    }
}

fn send(conversation_id: i64, sender_id: UserId, attachments: Vec<i64>) -> NewMessage {
    NewMessage {
        attachments,
        ..NewMessage::text(conversation_id, sender_id, String::new())
    }
}

fn refs(json: Option<&str>) -> Vec<AttachmentRef> {
    serde_json::from_str(json.expect("a list of attachments")).unwrap()
}

/// Only a member uploads; only the uploader sends an upload, once; the
/// message carries the list into history and into its event.
async fn uploads_are_bound_to_one_message_of_their_uploader(backend: Backend) {
    let mut f = open(backend).await;
    let s = &f.store;
    let alice = s
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let bob = s
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let carol = s
        .create_user("carol", "C", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = s.open_direct(alice.id, bob.id).await.unwrap();
    let blob = BlobId::of(b"cat");

    let outsider = s.create_attachment(upload(c.id, carol.id, &blob, 1)).await;
    assert!(matches!(outsider, Err(Error::NotFound("conversation"))));
    let a = s
        .create_attachment(upload(c.id, alice.id, &blob, 1))
        .await
        .unwrap();
    assert_eq!((a.message_id, &a.blob), (None, &blob));
    assert_eq!(s.attachment(a.id).await.unwrap(), Some(a.clone()));

    // Bob cannot send Alice's upload, and the refused send leaves no message.
    let stolen = s.append_message(send(c.id, bob.id, vec![a.id])).await;
    assert!(matches!(stolen, Err(Error::NotFound("attachment"))));
    assert!(s.messages(c.id, None, 10).await.unwrap().is_empty());

    while f.events.try_recv().is_ok() {}
    let (m, _) = f
        .store
        .append_message(send(c.id, alice.id, vec![a.id]))
        .await
        .unwrap();
    let listed = refs(m.attachments.as_deref());
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id, listed[0].name.as_str(), listed[0].width),
        (a.id, "cat.png", Some(4))
    );
    let history = f.store.messages(c.id, None, 10).await.unwrap();
    assert_eq!(history[0].attachments, m.attachments);
    let batch = f.events.recv().await.unwrap();
    match &batch[0].body {
        EventBody::Message(sent) => assert_eq!(sent.attachments, m.attachments),
        other => panic!("expected the message, got {other:?}"),
    }
    let read = f.store.events_for(bob.id, 0, 100).await.unwrap();
    let last = read.last().unwrap();
    assert!(matches!(&last.body, EventBody::Message(x) if x.attachments == m.attachments));

    // Sent once: a second send of it is refused.
    let again = f
        .store
        .append_message(send(c.id, alice.id, vec![a.id]))
        .await;
    assert!(matches!(again, Err(Error::NotFound("attachment"))));
    let bound = f.store.attachment(a.id).await.unwrap().unwrap();
    assert_eq!(bound.message_id, Some(m.id));
}

/// A blob is released only when the last record naming it goes: by the
/// removal of its message, or by an unsent upload's expiry.
async fn blobs_are_released_with_their_last_record(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let alice = s
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let bob = s
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = s.open_direct(alice.id, bob.id).await.unwrap();
    let (shared, own, thumb) = (BlobId::of(b"1"), BlobId::of(b"2"), BlobId::of(b"3"));

    let sent = s
        .create_attachment(upload(c.id, alice.id, &shared, 100))
        .await
        .unwrap();
    let mut with_thumb = upload(c.id, alice.id, &own, 100);
    with_thumb.thumbnail = Some(thumb.clone());
    let sent2 = s.create_attachment(with_thumb).await.unwrap();
    let unsent_old = s
        .create_attachment(upload(c.id, bob.id, &shared, 100))
        .await
        .unwrap();
    let unsent_new = s
        .create_attachment(upload(c.id, bob.id, &own, 300))
        .await
        .unwrap();
    let (m, _) = s
        .append_message(send(c.id, alice.id, vec![sent.id, sent2.id]))
        .await
        .unwrap();

    // `shared` is still named by Bob's unsent upload, `own` by his newer one.
    let mut released = s.release_attachments(m.id).await.unwrap();
    released.sort();
    assert_eq!(released, vec![thumb.clone()]);
    assert_eq!(s.attachment(sent.id).await.unwrap(), None);
    let history = s.messages(c.id, None, 10).await.unwrap();
    assert_eq!(history[0].attachments, None);

    // Only uploads older than the cut expire.
    let expired = s.expire_unsent_attachments(200, 100).await.unwrap();
    assert_eq!(expired, vec![shared]);
    assert_eq!(s.attachment(unsent_old.id).await.unwrap(), None);
    assert!(s.attachment(unsent_new.id).await.unwrap().is_some());
    let expired = s.expire_unsent_attachments(301, 100).await.unwrap();
    assert_eq!(expired, vec![own]);
    assert!(
        s.expire_unsent_attachments(i64::MAX, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

on_every_backend!(
    blobs_are_named_by_their_sha256_and_round_trip,
    uploads_are_bound_to_one_message_of_their_uploader,
    blobs_are_released_with_their_last_record,
);
