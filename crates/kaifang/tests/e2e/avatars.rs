//! Avatars end to end: uploaded as an attachment is (capped, type sniffed),
//! stored as a square without the photo's location, shown to every
//! signed-in user, tagged in member lists and the directory, and deleted
//! with the last name of their bytes.
use kaifang_client::Client;
use reqwest::StatusCode;
use serde_json::Value;

use crate::attachments::{blob_files, contains, get, header, jpeg_with_gps, latitude_bytes, png};
use crate::{TestServer, id, user};

/// `PUT /api/v1/me/avatar` with a chosen `Content-Type` (which the server
/// ignores).
async fn put_avatar(
    server: &TestServer,
    who: &Client,
    claimed: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("{}/api/v1/me/avatar", server.url))
        .bearer_auth(who.token().unwrap())
        .header("content-type", claimed)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn profile(who: &Client) -> Value {
    who.raw(reqwest::Method::GET, "/api/v1/me/profile", None)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_avatar_is_a_square_without_location_that_everyone_signed_in_sees() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    assert_eq!(profile(&alice).await["avatar"], Value::Null);

    let r = put_avatar(&server, &alice, "text/plain", jpeg_with_gps(800, 600)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let set: Value = r.json().await.unwrap();
    let tag = set["avatar"].as_str().unwrap().to_owned();
    assert!(
        tag.len() == 16 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
        "{tag}"
    );
    assert_eq!(profile(&alice).await["avatar"], tag.as_str());

    // Bob sees it, cut to 256×256, with no trace of the GPS block.
    let got = get(
        &server,
        Some(&bob),
        &format!("/api/v1/users/alice/avatar?v={tag}"),
    )
    .await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(header(&got, "content-type"), "image/jpeg");
    assert_eq!(header(&got, "x-content-type-options"), "nosniff");
    assert!(header(&got, "content-security-policy").starts_with("sandbox"));
    let bytes = got.bytes().await.unwrap().to_vec();
    assert!(
        !contains(&bytes, &latitude_bytes()),
        "the location survived"
    );
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256));

    // The tag travels with the name: member lists and the directory.
    let conv = bob
        .raw(
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{c}"),
            None,
        )
        .await
        .unwrap();
    let members = conv["members"].as_array().unwrap();
    let of = |h: &str| members.iter().find(|m| m["handle"] == h).unwrap()["avatar"].clone();
    assert_eq!(
        (of("alice"), of("bob")),
        (Value::from(tag.clone()), Value::Null)
    );
    let found = bob
        .raw(reqwest::Method::GET, "/api/v1/users?q=alice", None)
        .await
        .unwrap();
    assert_eq!(found["users"][0]["avatar"], tag.as_str());

    // Signed-in users only; a user without one, or no user: 404.
    assert_eq!(
        get(&server, None, "/api/v1/users/alice/avatar")
            .await
            .status(),
        401
    );
    for who in ["bob", "nobody"] {
        let r = get(
            &server,
            Some(&alice),
            &format!("/api/v1/users/{who}/avatar"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who}");
        assert_eq!(header(&r, "content-type"), "application/problem+json");
    }

    // A PNG replaces it (a new tag); removing it leaves none.
    let r = put_avatar(&server, &alice, "image/jpeg", png(40, 60)).await;
    let replaced: Value = r.json().await.unwrap();
    assert_ne!(replaced["avatar"], tag.as_str());
    let got = get(&server, Some(&bob), "/api/v1/users/alice/avatar").await;
    assert_eq!(header(&got, "content-type"), "image/png");
    let img = image::load_from_memory(&got.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (40, 40), "never enlarged");
    let cleared = alice
        .raw(reqwest::Method::DELETE, "/api/v1/me/avatar", None)
        .await
        .unwrap();
    assert_eq!(cleared["avatar"], Value::Null);
    let r = get(&server, Some(&bob), "/api/v1/users/alice/avatar").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_avatars_are_refused_and_the_old_one_stays() {
    let server = TestServer::start_with(&[
        ("KAIFANG_ATTACHMENTS__MAX_AVATAR_BYTES", "100000"),
        ("KAIFANG_ATTACHMENTS__MAX_IMAGE_PIXELS", "10000"),
    ]);
    let alice = user(&server, "alice").await;
    let r = put_avatar(&server, &alice, "image/png", png(20, 20)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let kept = profile(&alice).await["avatar"].clone();

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let mut broken = png(4, 4);
    broken.truncate(20);
    let cases = [
        ("an SVG claimed as PNG", svg, StatusCode::BAD_REQUEST),
        ("a PDF", b"%PDF-1.7 tiny".to_vec(), StatusCode::BAD_REQUEST),
        ("a cut-off PNG", broken, StatusCode::BAD_REQUEST),
        (
            "over max_image_pixels",
            png(101, 100),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "over max_avatar_bytes",
            vec![7; 100_001],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (what, bytes, expected) in cases {
        let r = put_avatar(&server, &alice, "image/png", bytes).await;
        assert_eq!(r.status(), expected, "{what}");
        assert_eq!(
            header(&r, "content-type"),
            "application/problem+json",
            "{what}"
        );
        assert_eq!(profile(&alice).await["avatar"], kept, "{what}");
    }
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/me/avatar", server.url))
        .body(png(4, 4))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// The bytes go with the last name: Alice's old avatar is deleted, unless
/// Bob's avatar is the same picture.
#[tokio::test]
async fn an_old_avatar_is_deleted_when_nothing_names_it() {
    let server = TestServer::start_sqlite();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    put_avatar(&server, &alice, "image/png", png(30, 30)).await;
    put_avatar(&server, &bob, "image/png", png(30, 30)).await;
    assert_eq!(
        blob_files(&server.data).len(),
        1,
        "the same picture, stored once"
    );
    put_avatar(&server, &alice, "image/png", png(50, 50)).await;
    assert_eq!(
        blob_files(&server.data).len(),
        2,
        "Bob's still names the first"
    );
    bob.raw(reqwest::Method::DELETE, "/api/v1/me/avatar", None)
        .await
        .unwrap();
    assert_eq!(blob_files(&server.data).len(), 1);
    alice
        .raw(reqwest::Method::DELETE, "/api/v1/me/avatar", None)
        .await
        .unwrap();
    assert_eq!(blob_files(&server.data), Vec::<String>::new());
}
