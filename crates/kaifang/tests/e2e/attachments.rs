//! Attachments end to end: uploads whose type comes from the bytes, images
//! re-encoded without their EXIF location, downloads for members only and
//! never rendered as a page, and bytes deleted with the last reference.
use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use kaifang_client::Client;
use reqwest::{Method, StatusCode};

use crate::{TestServer, id, status, user};

/// A JPEG of `w`×`h` with an EXIF block (APP1) holding a GPS latitude of
/// 48° 51' 24.00" N, written right after the start-of-image marker.
pub(crate) fn jpeg_with_gps(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut plain = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut plain, image::ImageFormat::Jpeg)
        .unwrap();
    let plain = plain.into_inner();
    // TIFF, little-endian: IFD0 names the GPS IFD, which holds
    // GPSLatitudeRef = "N" and GPSLatitude = 48/1, 51/1, 2400/100.
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(1u16.to_le_bytes());
    tiff.extend([0x25, 0x88, 4, 0]); // GPSInfo, LONG
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(26u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    assert_eq!(tiff.len(), 26);
    tiff.extend(2u16.to_le_bytes());
    tiff.extend([1, 0, 2, 0]); // GPSLatitudeRef, ASCII
    tiff.extend(2u32.to_le_bytes());
    tiff.extend(*b"N\0\0\0");
    tiff.extend([2, 0, 5, 0]); // GPSLatitude, RATIONAL
    tiff.extend(3u32.to_le_bytes());
    tiff.extend(56u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    assert_eq!(tiff.len(), 56);
    for (n, d) in [(48u32, 1u32), (51, 1), (2400, 100)] {
        tiff.extend(n.to_le_bytes());
        tiff.extend(d.to_le_bytes());
    }
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = plain[..2].to_vec();
    out.extend([0xff, 0xe1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}

/// The GPS latitude's bytes as the EXIF block above stores them.
pub(crate) fn latitude_bytes() -> Vec<u8> {
    [48u32, 1, 51, 1, 2400, 100]
        .iter()
        .flat_map(|n| n.to_le_bytes())
        .collect()
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 200, 30, 255]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// Uploads with a chosen `Content-Type` header (which the server ignores).
async fn upload_as(
    server: &TestServer,
    who: &Client,
    conversation: i64,
    name: &str,
    claimed: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!(
            "{}/api/v1/conversations/{conversation}/attachments?name={}",
            server.url,
            crate::urlencode(name)
        ))
        .bearer_auth(who.token().unwrap())
        .header("content-type", claimed)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn get(
    server: &TestServer,
    who: Option<&Client>,
    path: &str,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.url));
    if let Some(c) = who {
        request = request.bearer_auth(c.token().unwrap());
    }
    request.send().await.unwrap()
}

pub(crate) fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn images_lose_their_location_and_only_members_download() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let c = id(&alice.open_direct("bob").await.unwrap());

    let photo = jpeg_with_gps(800, 600);
    assert!(contains(&photo, b"Exif\0\0") && contains(&photo, &latitude_bytes()));
    // The header lies (text/html); the bytes say JPEG.
    let up = upload_as(&server, &alice, c, "holiday.jpg", "text/html", photo).await;
    assert_eq!(up.status(), StatusCode::CREATED);
    let image: serde_json::Value = up.json().await.unwrap();
    assert_eq!(image["content_type"], "image/jpeg");
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(800), Some(600))
    );
    assert_eq!(image["thumbnail"], true);

    // An SVG claiming to be a PNG is a download of unknown bytes.
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let up = upload_as(&server, &alice, c, "logo.svg", "image/png", svg.clone()).await;
    assert_eq!(up.status(), StatusCode::CREATED);
    let file: serde_json::Value = up.json().await.unwrap();
    assert_eq!(file["content_type"], "application/octet-stream");
    assert_eq!(file["thumbnail"], false);

    let sent = alice
        .send_with(c, "", &[id(&image), id(&file)])
        .await
        .unwrap();
    let history = bob.history(c, None, 10).await.unwrap();
    let listed = &history["messages"][0]["attachments"];
    assert_eq!(history["messages"][0]["id"], sent["id"]);
    assert_eq!(listed[0]["id"], image["id"]);
    assert_eq!(listed[1]["name"], "logo.svg");

    // Bob, a member, gets the photo re-encoded: no EXIF, no latitude.
    let got = get(
        &server,
        Some(&bob),
        &format!("/api/v1/attachments/{}", id(&image)),
    )
    .await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(header(&got, "content-type"), "image/jpeg");
    assert!(header(&got, "content-disposition").starts_with("inline;"));
    assert_eq!(header(&got, "x-content-type-options"), "nosniff");
    assert!(header(&got, "content-security-policy").starts_with("sandbox"));
    let bytes = got.bytes().await.unwrap();
    assert!(!contains(&bytes, b"Exif"), "an EXIF block survived");
    assert!(
        !contains(&bytes, &latitude_bytes()),
        "the latitude survived"
    );
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (800, 600));

    let thumb = get(
        &server,
        Some(&bob),
        &format!("/api/v1/attachments/{}/thumbnail", id(&image)),
    )
    .await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let t = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((t.width(), t.height()), (320, 240));

    // The SVG comes back as it went, but only as a sandboxed download.
    let got = get(
        &server,
        Some(&bob),
        &format!("/api/v1/attachments/{}", id(&file)),
    )
    .await;
    assert_eq!(header(&got, "content-type"), "application/octet-stream");
    assert!(header(&got, "content-disposition").starts_with("attachment;"));
    assert!(header(&got, "content-disposition").contains("logo.svg"));
    assert_eq!(header(&got, "x-content-type-options"), "nosniff");
    assert!(header(&got, "content-security-policy").starts_with("sandbox"));
    assert_eq!(got.bytes().await.unwrap().to_vec(), svg);

    // Carol is no member: 404 for the file, its thumbnail and an upload;
    // without a token: 401.
    for path in [
        format!("/api/v1/attachments/{}", id(&image)),
        format!("/api/v1/attachments/{}/thumbnail", id(&image)),
        "/api/v1/attachments/999999".to_owned(),
    ] {
        assert_eq!(
            get(&server, Some(&carol), &path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            get(&server, None, &path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let up = upload_as(&server, &carol, c, "x.png", "image/png", png(4, 4)).await;
    assert_eq!(up.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&up, "content-type"), "application/problem+json");

    // An upload is sent once, and only by its uploader.
    let mine = alice.upload(c, "again.png", png(4, 4)).await.unwrap();
    assert_eq!(status(bob.send_with(c, "", &[id(&mine)]).await), 404);
    assert_eq!(status(alice.send_with(c, "", &[id(&image)]).await), 404);
    assert_eq!(
        status(alice.send_with(c, "", &[id(&mine), id(&mine)]).await),
        400
    );
    assert_eq!(status(alice.send(c, " ", None).await), 400);
}

#[tokio::test]
async fn bad_uploads_are_refused() {
    let server = TestServer::start_with(&[
        ("KAIFANG_ATTACHMENTS__MAX_BYTES", "200000"),
        ("KAIFANG_ATTACHMENTS__MAX_IMAGE_PIXELS", "10000"),
    ]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());

    for name in ["../../etc/passwd", "a/b.png", "C:\\x", ".."] {
        let r = upload_as(&server, &alice, c, name, "text/plain", b"hello".to_vec()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(header(&r, "content-type"), "application/problem+json");
    }
    // Over `attachments.max_bytes` (and over `limits.max_body_bytes`,
    // which uploads do not have): 413, at the cap exactly: accepted.
    let r = upload_as(
        &server,
        &alice,
        c,
        "big.bin",
        "application/octet-stream",
        vec![7; 200_001],
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(header(&r, "content-type"), "application/problem+json");
    let r = upload_as(
        &server,
        &alice,
        c,
        "cap.bin",
        "application/octet-stream",
        vec![7; 200_000],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // (A body with no declared length is cut off while it streams in:
    // `api::attachments::tests` in the server crate.)
    // Over `attachments.max_image_pixels` (101 × 100): refused from the header.
    let r = upload_as(&server, &alice, c, "wide.png", "image/png", png(101, 100)).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // PNG magic, then garbage: not an image to show, not stored.
    let mut broken = png(4, 4);
    broken.truncate(20);
    let r = upload_as(&server, &alice, c, "broken.png", "image/png", broken).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(status(alice.upload(c, "", b"x".to_vec()).await), 400);
}

/// The blob files in a SQLite server's blob folder.
pub(crate) fn blob_files(data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(data.join("blobs")).unwrap().flatten() {
        if dir.file_name() == "tmp" {
            continue;
        }
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            out.push(f.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn removing_the_message_deletes_its_bytes() {
    let server = TestServer::start_sqlite();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let image = alice.upload(c, "p.png", png(400, 300)).await.unwrap();
    let pdf = alice
        .upload(c, "r.pdf", b"%PDF-1.7 tiny".to_vec())
        .await
        .unwrap();
    assert_eq!(pdf["content_type"], "application/pdf");
    // Image, its thumbnail, the PDF.
    assert_eq!(blob_files(&server.data).len(), 3);
    let m = alice
        .send_with(c, "look", &[id(&image), id(&pdf)])
        .await
        .unwrap();
    let pdf_view = get(
        &server,
        Some(&alice),
        &format!("/api/v1/attachments/{}", id(&pdf)),
    )
    .await;
    assert!(header(&pdf_view, "content-disposition").starts_with("attachment;"));

    // Alice is the first account, so the operator.
    alice
        .raw(
            Method::DELETE,
            &format!("/api/v1/admin/messages/{}", id(&m)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(blob_files(&server.data), Vec::<String>::new());
    let gone = get(
        &server,
        Some(&alice),
        &format!("/api/v1/attachments/{}", id(&image)),
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let history = alice.history(c, None, 10).await.unwrap();
    assert_eq!(history["messages"][0]["attachments"], serde_json::json!([]));
}

#[tokio::test]
async fn recalling_the_message_deletes_its_bytes() {
    let server = TestServer::start_sqlite();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let image = alice.upload(c, "p.png", png(40, 30)).await.unwrap();
    let m = alice.send_with(c, "oops", &[id(&image)]).await.unwrap();
    assert_eq!(blob_files(&server.data).len(), 1);
    alice.recall(c, m["seq"].as_i64().unwrap()).await.unwrap();
    assert_eq!(blob_files(&server.data), Vec::<String>::new());
    let gone = get(
        &server,
        Some(&alice),
        &format!("/api/v1/attachments/{}", id(&image)),
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let history = alice.history(c, None, 10).await.unwrap();
    assert_eq!(history["messages"][0]["recalled"], true);
    assert_eq!(history["messages"][0]["attachments"], serde_json::json!([]));
}

#[tokio::test]
async fn uploads_never_sent_expire() {
    let server = TestServer::start_with(&[
        ("KAIFANG_DATABASE__URL", ""),
        ("KAIFANG_ATTACHMENTS__ORPHAN_TTL_MS", "3000"),
        ("KAIFANG_ATTACHMENTS__SWEEP_INTERVAL_MS", "100"),
    ]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let kept = alice
        .upload(c, "kept.bin", b"sent in time".to_vec())
        .await
        .unwrap();
    alice.send_with(c, "", &[id(&kept)]).await.unwrap();
    let unsent = alice
        .upload(c, "late.bin", b"never sent".to_vec())
        .await
        .unwrap();
    assert_eq!(blob_files(&server.data).len(), 2);
    // The unsent upload, younger than the sent one, goes; the sent one stays.
    let deadline = Instant::now() + Duration::from_secs(30);
    while blob_files(&server.data).len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the unsent upload was never swept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gone = get(
        &server,
        Some(&alice),
        &format!("/api/v1/attachments/{}", id(&unsent)),
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let still = get(
        &server,
        Some(&alice),
        &format!("/api/v1/attachments/{}", id(&kept)),
    )
    .await;
    assert_eq!(still.bytes().await.unwrap().as_ref(), b"sent in time");
}

/// With PostgreSQL the bytes are rows of `blobs` and `blob_chunks`, and no
/// blob folder is made; removing the message deletes them there.
#[tokio::test]
async fn with_postgresql_the_bytes_live_and_die_in_the_database() {
    let db = crate::pgdb::PgDb::create();
    let server = TestServer::start_with(&[("KAIFANG_DATABASE__URL", &db.url)]);
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let big: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = alice.upload(c, "big.bin", big.clone()).await.unwrap();
    let image = alice.upload(c, "p.png", png(400, 300)).await.unwrap();
    let m = alice
        .send_with(c, "", &[id(&file), id(&image)])
        .await
        .unwrap();

    let (pg, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let count = |table: &'static str| {
        let pg = &pg;
        async move {
            let row = pg
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .unwrap();
            row.get::<_, i64>(0)
        }
    };
    // The file, the image and its thumbnail; the file in three chunks.
    assert_eq!(count("blobs").await, 3);
    assert_eq!(count("blob_chunks").await, 5);
    assert!(!server.data.join("blobs").exists());
    let got = get(
        &server,
        Some(&bob),
        &format!("/api/v1/attachments/{}", id(&file)),
    )
    .await;
    assert_eq!(got.bytes().await.unwrap().to_vec(), big);

    alice
        .raw(
            Method::DELETE,
            &format!("/api/v1/admin/messages/{}", id(&m)),
            None,
        )
        .await
        .unwrap();
    assert_eq!((count("blobs").await, count("blob_chunks").await), (0, 0));
    let gone = get(
        &server,
        Some(&bob),
        &format!("/api/v1/attachments/{}", id(&file)),
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    drop(server);
}
