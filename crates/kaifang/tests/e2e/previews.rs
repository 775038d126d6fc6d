//! Issue 4 end to end: a Taobao-style product page served on loopback
//! becomes a card on the message, pushed over the WebSocket; the fetcher
//! reaches only the one allowed test address.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{TestServer, id, status, user};

const PAGE: &str = r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>不锈钢保温杯-淘宝网</title>
<meta property="og:title" content="不锈钢保温杯 500ml">
<meta property="og:image" content="/cup.png">
<meta property="og:site_name" content="淘宝网">
<script type="application/ld+json">{"@type":"Product","offers":{"price":"199.00","priceCurrency":"CNY"}}</script>
</head><body></body></html>"#;

/// A PNG's first bytes are enough for a content-type check.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000";

/// The request targets of the pages a shop served, in order.
type Pages = Arc<std::sync::Mutex<Vec<String>>>;

/// A tiny HTTP server on 127.0.0.1 counting (and recording) page requests.
pub(crate) async fn shop() -> (u16, Arc<AtomicUsize>, Pages) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let pages = Pages::default();
    let (counter, served) = (hits.clone(), pages.clone());
    tokio::spawn(async move {
        for _ in 0..200 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (counter, served) = (counter.clone(), served.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let (ctype, body): (&str, Vec<u8>) = if req.starts_with("GET /cup.png") {
                    ("image/png", PNG.to_vec())
                } else if req.starts_with("GET /not-an-image") {
                    ("text/html", b"<p>hi</p>".to_vec())
                } else {
                    let target = req.split(' ').nth(1).unwrap_or("").to_owned();
                    served.lock().unwrap().push(target);
                    counter.fetch_add(1, Ordering::SeqCst);
                    ("text/html; charset=utf-8", PAGE.as_bytes().to_vec())
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    (port, hits, pages)
}

/// Settings that let the fetcher reach exactly the shop: its name mapped
/// to loopback, its one address allowed.
fn shop_settings(port: u16) -> String {
    format!(
        "[preview]\nallow_addresses = [\"127.0.0.1:{port}\"]\n[preview.resolve]\n\"item.taobao.com\" = \"127.0.0.1\"\n"
    )
}

#[tokio::test]
async fn a_product_page_becomes_a_card_pushed_over_the_websocket() {
    let (port, hits, _) = shop().await;
    let settings = shop_settings(port);
    let server = TestServer::start_full(&[], Some(&settings));
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let mut stream = bob.stream(None).await.unwrap();
    let link = format!("http://item.taobao.com:{port}/item.htm?id=678");
    let sent = alice.send(c, &format!("看看 {link}"), None).await.unwrap();
    assert_eq!(sent["links"][0]["treatment"], "live");
    assert_eq!(sent["links"][0]["preview"], true);

    // The message first, at once; the preview follows as its own event.
    let mut preview = serde_json::Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while preview.is_null() && tokio::time::Instant::now() < deadline {
        let e = tokio::time::timeout(Duration::from_secs(10), stream.next_event())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if e["type"] == "preview" {
            assert_eq!(e["message_id"], sent["id"]);
            assert_eq!(e["url"], link);
            preview = e["preview"].clone();
        }
    }
    assert_eq!(preview["title"], "不锈钢保温杯 500ml");
    assert_eq!(preview["price"], "199.00");
    assert_eq!(preview["currency"], "CNY");
    assert_eq!(preview["kind"], "product");
    let image = preview["image"].as_str().unwrap().to_owned();
    assert_eq!(image, format!("http://item.taobao.com:{port}/cup.png"));

    // History carries the stored preview.
    let h = alice.history(c, None, 1).await.unwrap();
    assert_eq!(h["messages"][0]["previews"][&link]["price"], "199.00");

    // The same link again is served from the cache: its preview event
    // comes (the signal that the work is done), and no second fetch.
    let again = alice.send(c, &link, None).await.unwrap();
    preview_of(&mut stream, &again).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // The image proxy fetches under the same rules.
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/v1/previews/image", server.url))
        .query(&[("url", image.as_str())])
        .bearer_auth(alice.token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    // An "image" that is HTML is refused; so is any other loopback address.
    let not_image = format!("http://item.taobao.com:{port}/not-an-image");
    assert_eq!(
        status(
            alice
                .raw(
                    reqwest::Method::GET,
                    &format!(
                        "/api/v1/previews/image?url={}",
                        crate::urlencode(&not_image)
                    ),
                    None
                )
                .await
        ),
        422
    );
    for other in [
        "http://127.0.0.2/x.png",
        "http://[::1]/x.png",
        "http://2130706433/x.png",
        "file:///etc/passwd",
    ] {
        let code = status(
            alice
                .raw(
                    reqwest::Method::GET,
                    &format!("/api/v1/previews/image?url={}", crate::urlencode(other)),
                    None,
                )
                .await,
        );
        assert!(code == 422 || code == 400, "{other}: {code}");
    }
    // Without a token: 401.
    let anon = http
        .get(format!("{}/api/v1/previews/image", server.url))
        .query(&[("url", image.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
}

#[tokio::test]
async fn concurrent_sends_of_one_link_share_one_fetch() {
    let (port, hits, _) = shop().await;
    let settings = shop_settings(port);
    let server = TestServer::start_full(&[], Some(&settings));
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let link = format!("http://item.taobao.com:{port}/item.htm?id=9");
    let sends: Vec<_> = (0..8)
        .map(|i| {
            let (alice, link) = (alice.clone(), link.clone());
            tokio::spawn(async move { alice.send(c, &format!("{i} {link}"), None).await.unwrap() })
        })
        .collect();
    for s in sends {
        s.await.unwrap();
    }
    // Every message gets its preview, from a single fetch.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let h = alice.history(c, None, 10).await.unwrap();
        let with = h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["previews"][&link]["price"] == "199.00")
            .count();
        if with == 8 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {with} of 8 previews attached"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_preview_is_fetched_for_inert_links() {
    let (port, _, pages) = shop().await;
    let settings = shop_settings(port);
    let server = TestServer::start_full(&[], Some(&settings));
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let g = id(&alice.create_group("g", &["bob".into()]).await.unwrap());
    let d = id(&alice.open_direct("bob").await.unwrap());
    let mut stream = bob.stream(None).await.unwrap();
    let m = alice
        .send(
            g,
            &format!("http://item.taobao.com:{port}/item.htm?id=1"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(m["links"][0]["treatment"], "inert");
    // A live link sent afterwards is previewed: once its card is pushed,
    // the previews got past the inert one, which fetched nothing.
    let live = alice
        .send(
            d,
            &format!("http://item.taobao.com:{port}/item.htm?id=2"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(live["links"][0]["treatment"], "live");
    preview_of(&mut stream, &live).await;
    assert_eq!(*pages.lock().unwrap(), ["/item.htm?id=2"]);
}

/// Waits (bounded) for the `preview` event of `message` on `stream`.
pub(crate) async fn preview_of(
    stream: &mut kaifang_client::EventStream,
    message: &serde_json::Value,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = tokio::time::timeout_at(deadline, stream.next_event())
            .await
            .expect("the preview event within 10 s")
            .unwrap()
            .unwrap();
        if e["type"] == "preview" && e["message_id"] == message["id"] {
            return e;
        }
    }
}

/// The extractor's limits are server settings: a shorter title cap cuts
/// the card's title.
#[tokio::test]
async fn extraction_limits_come_from_the_settings() {
    let (port, _, _) = shop().await;
    let settings =
        shop_settings(port).replacen("[preview]\n", "[preview]\nmax_title_chars = 5\n", 1);
    let server = TestServer::start_full(&[], Some(&settings));
    let alice = user(&server, "alice").await;
    let link = format!("http://item.taobao.com:{port}/item.htm?id=5");
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/previews", server.url))
        .query(&[("url", link.as_str())])
        .bearer_auth(alice.token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let preview: serde_json::Value = r.json().await.unwrap();
    let title = preview["title"].as_str().unwrap();
    assert!(title.ends_with('…'), "{title}");
    assert!(title.chars().count() <= 6, "{title}");
    assert_eq!(preview["price"], "199.00");
}
