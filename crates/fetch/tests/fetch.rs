//! The fetcher against scripted servers on 127.0.0.1. Each test allows exactly
//! one loopback address and port (its own server); every other address stays
//! refused and is never connected to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kaifang_fetch::{AddrClass, FetchConfig, FetchError, Fetcher, Resolve, ResolveFuture};
use support::{Reply, Server, html, redirect, response};
use url::Url;

fn config(server: &Server) -> FetchConfig {
    let mut config = FetchConfig::default();
    config.allow_addresses = vec![server.addr];
    config
}

fn fetcher(server: &Server) -> Fetcher {
    Fetcher::new(config(server)).unwrap()
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// Answers every lookup from a list, one entry per call (the last repeats),
/// and counts the calls.
struct ScriptedResolver {
    answers: Vec<Vec<SocketAddr>>,
    calls: AtomicUsize,
}

impl ScriptedResolver {
    fn new(answers: Vec<Vec<SocketAddr>>) -> Arc<Self> {
        Arc::new(Self {
            answers,
            calls: AtomicUsize::new(0),
        })
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Resolve for ScriptedResolver {
    fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> ResolveFuture<'a> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers[n.min(self.answers.len() - 1)].clone();
        Box::pin(async move { Ok(answer) })
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn blocked_addr(err: &FetchError) -> SocketAddr {
    match err {
        FetchError::Blocked { addr, .. } => *addr,
        other => panic!("expected a blocked address, got {other:?}"),
    }
}

#[tokio::test]
async fn normal_page() {
    let server = Server::start(|_| html("<html><head><title>Hi</title></head></html>")).await;
    let page = fetcher(&server)
        .fetch_page(&server.url("/p?q=1#frag"))
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        &page.body[..],
        b"<html><head><title>Hi</title></head></html>"
    );
    assert!(!page.truncated);
    assert_eq!(page.final_url, server.url("/p?q=1"));
    let head = &server.requests()[0];
    assert!(head.starts_with("GET /p?q=1 HTTP/1.1\r\n"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains(&format!(
        "user-agent: kaifang-preview/{}\r\n",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(lower.contains(&format!("host: {}\r\n", server.addr)));
    assert!(lower.contains("accept-encoding: gzip, deflate, br\r\n"));
}

#[tokio::test]
async fn xhtml_is_a_page_but_pdf_is_not() {
    let server = Server::start(|path| {
        let ct = if path == "/x" {
            "application/xhtml+xml"
        } else {
            "application/pdf"
        };
        Reply::Raw(response("200 OK", &[("Content-Type", ct)], b"%PDF"))
    })
    .await;
    let f = fetcher(&server);
    assert!(f.fetch_page(&server.url("/x")).await.is_ok());
    let err = f.fetch_page(&server.url("/pdf")).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::UnsupportedContentType(Some(ct)) if ct == "application/pdf"),
        "{err:?}"
    );
}

#[tokio::test]
async fn error_status_is_an_error() {
    let server = Server::start(|_| {
        Reply::Raw(response(
            "404 Not Found",
            &[("Content-Type", "text/html")],
            b"no",
        ))
    })
    .await;
    let err = fetcher(&server)
        .fetch_page(&server.url("/"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Status(404)), "{err:?}");
}

async fn assert_times_out(server: &Server) {
    let mut config = config(server);
    config.total_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = Fetcher::new(config)
        .unwrap()
        .fetch_page(&server.url("/"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, FetchError::Timeout(_)), "{err:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let server = Server::start(|_| Reply::Silent).await;
    assert_times_out(&server).await;
}

#[tokio::test]
async fn server_that_drips_the_body_times_out() {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n";
    let mut bytes = head.as_bytes().to_vec();
    bytes.extend_from_slice(&[b'a'; 100]);
    let server = Server::start(move |_| Reply::Drip {
        bytes: bytes.clone(),
        every: Duration::from_millis(200),
    })
    .await;
    assert_times_out(&server).await;
}

#[tokio::test]
async fn server_that_drips_the_head_times_out() {
    let server = Server::start(|_| Reply::Drip {
        bytes: b"HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n".to_vec(),
        every: Duration::from_secs(1),
    })
    .await;
    assert_times_out(&server).await;
}

fn endless(content_type: &str) -> Reply {
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n");
    Reply::Endless {
        head: head.into_bytes(),
        fill: b'a',
    }
}

#[tokio::test]
async fn endless_page_is_cut_at_the_cap_quickly() {
    let server = Server::start(|_| endless("text/html")).await;
    let started = Instant::now();
    let page = fetcher(&server).fetch_page(&server.url("/")).await.unwrap();
    assert!(page.truncated);
    assert_eq!(page.body.len(), 2 * 1024 * 1024);
    assert!(page.body.iter().all(|&b| b == b'a'));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn endless_image_and_json_are_refused() {
    let server = Server::start(|path| {
        endless(if path == "/i" {
            "image/png"
        } else {
            "application/json"
        })
    })
    .await;
    let f = fetcher(&server);
    let err = f.fetch_image(&server.url("/i")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge(n) if n == 5 * 1024 * 1024),
        "{err:?}"
    );
    let err = f.fetch_json(&server.url("/j")).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge(_)), "{err:?}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 1, 22);
        enc.write_all(data).unwrap();
    }
    out
}

fn encoded(content_type: &str, encoding: &str, body: &[u8]) -> Reply {
    Reply::Raw(response(
        "200 OK",
        &[
            ("Content-Type", content_type),
            ("Content-Encoding", encoding),
        ],
        body,
    ))
}

#[tokio::test]
async fn compressed_pages_are_decoded() {
    let page = b"<html><head><title>zip</title></head><body>hello hello hello</body></html>";
    let (gz, zl, br, raw) = (gzip(page), zlib(page), brotli(page), raw_deflate(page));
    let server = Server::start(move |path| match path {
        "/gzip" => encoded("text/html", "gzip", &gz),
        "/deflate" => encoded("text/html", "deflate", &zl),
        "/br" => encoded("text/html", "br", &br),
        "/raw-deflate" => encoded("text/html", "deflate", &raw),
        _ => encoded("text/html", "compress", b"?"),
    })
    .await;
    let f = fetcher(&server);
    for path in ["/gzip", "/deflate", "/br", "/raw-deflate"] {
        let got = f.fetch_page(&server.url(path)).await.unwrap();
        assert_eq!(&got.body[..], page, "{path}");
        assert!(!got.truncated, "{path}");
    }
    let err = f.fetch_page(&server.url("/other")).await.unwrap_err();
    assert!(matches!(err, FetchError::UnsupportedEncoding(_)), "{err:?}");
}

#[tokio::test]
async fn corrupt_gzip_is_a_decode_error() {
    let server =
        Server::start(|_| encoded("text/html", "gzip", b"\x1f\x8bnot really gzip at all")).await;
    let err = fetcher(&server)
        .fetch_page(&server.url("/"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Decode(_)), "{err:?}");
}

#[tokio::test]
async fn compression_bombs_stop_at_the_decompressed_cap() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    let (gz, br) = (gzip(&zeros), brotli(&zeros));
    assert!(gz.len() < 64 * 1024 && br.len() < 64 * 1024);
    let server = Server::start(move |path| match path {
        "/gz.html" => encoded("text/html", "gzip", &gz),
        "/br.html" => encoded("text/html", "br", &br),
        "/gz.json" => encoded("application/json", "gzip", &gz),
        _ => encoded("application/json", "br", &br),
    })
    .await;
    let mut config = config(&server);
    config.max_decompressed_bytes = 1024 * 1024;
    let f = Fetcher::new(config).unwrap();
    for path in ["/gz.html", "/br.html"] {
        let started = Instant::now();
        let page = f.fetch_page(&server.url(path)).await.unwrap();
        assert!(page.truncated, "{path}");
        assert_eq!(page.body.len(), 1024 * 1024, "{path}");
        assert!(started.elapsed() < Duration::from_secs(4), "{path}");
    }
    for path in ["/gz.json", "/br.json"] {
        let err = f.fetch_json(&server.url(path)).await.unwrap_err();
        assert!(
            matches!(err, FetchError::TooLarge(n) if n == 1024 * 1024),
            "{path}: {err:?}"
        );
    }
}

#[tokio::test]
async fn redirects_are_followed_and_re_checked() {
    let server = Server::start(|path| match path {
        "/start" => redirect("301 Moved Permanently", "/middle"),
        "/middle" => redirect("302 Found", "end?x=1"),
        _ => html("<title>end</title>"),
    })
    .await;
    let page = fetcher(&server)
        .fetch_page(&server.url("/start"))
        .await
        .unwrap();
    assert_eq!(page.final_url, server.url("/end?x=1"));
    assert_eq!(&page.body[..], b"<title>end</title>");
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn redirect_loop_is_refused() {
    let server = Server::start(|path| match path {
        "/a" => redirect("302 Found", "/b"),
        _ => redirect("307 Temporary Redirect", "/a"),
    })
    .await;
    let err = fetcher(&server)
        .fetch_page(&server.url("/a"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::RedirectLoop(_)), "{err:?}");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn too_many_redirects() {
    let server = Server::start(|path| {
        let n: u32 = path.trim_start_matches('/').parse().unwrap_or(0);
        redirect("302 Found", &format!("/{}", n + 1))
    })
    .await;
    let err = fetcher(&server)
        .fetch_page(&server.url("/0"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooManyRedirects(5)), "{err:?}");
    // The first request and five redirects; the sixth is not followed.
    assert_eq!(server.connections(), 6);
}

#[tokio::test]
async fn redirects_to_other_loopback_spellings_are_blocked_before_connecting() {
    // A second loopback server that must never be reached: it is not allowed.
    let other = Server::start(|_| html("secret")).await;
    let port = other.addr.port();
    let targets: Vec<(String, SocketAddr)> = vec![
        (format!("http://127.0.0.1:{port}/"), other.addr),
        (format!("http://localhost.:{port}/"), other.addr),
        (
            format!("http://[::1]:{port}/"),
            sa(&format!("[::1]:{port}")),
        ),
        ("http://0x7f.1/".into(), sa("127.0.0.1:80")),
        ("http://2130706433/".into(), sa("127.0.0.1:80")),
        ("http://017700000001/".into(), sa("127.0.0.1:80")),
        ("http://127.1/".into(), sa("127.0.0.1:80")),
        ("https://0177.0.0.1/".into(), sa("127.0.0.1:443")),
        (
            "http://[::ffff:127.0.0.1]/".into(),
            sa("[::ffff:127.0.0.1]:80"),
        ),
        (
            format!("http://[::ffff:7f00:1]:{port}/"),
            sa(&format!("[::ffff:127.0.0.1]:{port}")),
        ),
        ("http://[::127.0.0.1]/".into(), sa("[::127.0.0.1]:80")),
        ("http://0.0.0.0/".into(), sa("0.0.0.0:80")),
    ];
    let list = targets.clone();
    let server = Server::start(move |path| {
        let i: usize = path.trim_start_matches('/').parse().unwrap();
        redirect("302 Found", &list[i].0)
    })
    .await;
    let resolver = ScriptedResolver::new(vec![vec![other.addr]]);
    let f = Fetcher::with_resolver(config(&server), resolver.clone()).unwrap();
    for (i, (target, expected)) in targets.iter().enumerate() {
        let err = f
            .fetch_page(&server.url(&format!("/{i}")))
            .await
            .unwrap_err();
        assert_eq!(blocked_addr(&err), *expected, "{target}");
    }
    assert_eq!(other.connections(), 0);
    assert_eq!(server.connections(), targets.len());
    assert_eq!(resolver.calls(), 1, "only localhost. needed a lookup");
}

#[tokio::test]
async fn redirects_to_bad_schemes_and_credentials_are_refused() {
    let server = Server::start(|path| match path {
        "/file" => redirect("302 Found", "file:///etc/passwd"),
        "/ftp" => redirect("302 Found", "ftp://example.com/"),
        "/gopher" => redirect("302 Found", "gopher://127.0.0.1:70/"),
        "/nolocation" => Reply::Raw(response("302 Found", &[], b"")),
        _ => redirect("302 Found", "http://user:pw@127.0.0.1/"),
    })
    .await;
    let f = fetcher(&server);
    for path in ["/file", "/ftp", "/gopher"] {
        let err = f.fetch_page(&server.url(path)).await.unwrap_err();
        assert!(matches!(err, FetchError::BadScheme(_)), "{path}: {err:?}");
    }
    let err = f.fetch_page(&server.url("/cred")).await.unwrap_err();
    assert!(matches!(err, FetchError::Credentials), "{err:?}");
    let err = f.fetch_page(&server.url("/nolocation")).await.unwrap_err();
    assert!(matches!(err, FetchError::BadRedirect), "{err:?}");
}

#[tokio::test]
async fn bad_schemes_and_credentials_are_refused_up_front() {
    let f = Fetcher::new(FetchConfig::default()).unwrap();
    for u in [
        "file:///etc/passwd",
        "ftp://ftp.example.com/x",
        "data:text/html,<title>x</title>",
        "javascript:alert(1)",
        "ws://example.com/",
    ] {
        let err = f.fetch_page(&url(u)).await.unwrap_err();
        assert!(matches!(err, FetchError::BadScheme(_)), "{u}: {err:?}");
    }
    for u in [
        "http://user:pass@example.com/",
        "https://user@example.com/",
        "http://:pw@example.com/",
    ] {
        let err = f.fetch_page(&url(u)).await.unwrap_err();
        assert!(matches!(err, FetchError::Credentials), "{u}: {err:?}");
    }
}

#[tokio::test]
async fn only_the_exact_allowed_port_is_reachable() {
    let server = Server::start(|_| html("ok")).await;
    let f = fetcher(&server);
    assert!(f.fetch_page(&server.url("/")).await.is_ok());
    let mut wrong_port = server.addr;
    wrong_port.set_port(if server.addr.port() == 1 {
        2
    } else {
        server.addr.port() - 1
    });
    let err = f
        .fetch_page(&url(&format!("http://{wrong_port}/")))
        .await
        .unwrap_err();
    assert_eq!(blocked_addr(&err), wrong_port);
    let err = f
        .fetch_page(&url(&format!("http://127.0.0.2:{}/", server.addr.port())))
        .await
        .unwrap_err();
    assert_eq!(
        blocked_addr(&err),
        sa(&format!("127.0.0.2:{}", server.addr.port()))
    );
    // Nothing is allowed by default.
    let err = Fetcher::new(FetchConfig::default())
        .unwrap()
        .fetch_page(&server.url("/"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Blocked {
                class: AddrClass::Loopback,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused() {
    let server = Server::start(|_| html("ok")).await;
    for answer in [
        vec![sa("10.0.0.1:80")],
        vec![sa("169.254.169.254:80")],
        vec![sa("[fd00:ec2::254]:80")],
        vec![sa("192.168.1.1:80")],
        vec![sa("[::ffff:10.0.0.1]:80")],
        // One bad answer spoils the lot, even next to the allowed address.
        vec![server.addr, sa("10.0.0.1:80")],
    ] {
        let resolver = ScriptedResolver::new(vec![answer.clone()]);
        let f = Fetcher::with_resolver(config(&server), resolver.clone()).unwrap();
        let u = url(&format!("http://evil.test:{}/", server.addr.port()));
        let err = f.fetch_page(&u).await.unwrap_err();
        assert!(err.is_blocked(), "{answer:?}: {err:?}");
        assert_eq!(resolver.calls(), 1);
    }
    assert_eq!(server.connections(), 0);
    let resolver = ScriptedResolver::new(vec![vec![]]);
    let f = Fetcher::with_resolver(config(&server), resolver).unwrap();
    let err = f.fetch_page(&url("http://empty.test/")).await.unwrap_err();
    assert!(matches!(err, FetchError::NoAddresses(_)), "{err:?}");
}

#[tokio::test]
async fn each_hop_resolves_once_and_uses_the_checked_answer() {
    // Two lookups answer the allowed test server; any later one a private address.
    let server = Server::start(|path| match path {
        "/again" => redirect("302 Found", "/final"),
        _ => html("ok"),
    })
    .await;
    let resolver = ScriptedResolver::new(vec![
        vec![server.addr],
        vec![server.addr],
        vec![sa("10.0.0.1:80")],
    ]);
    let f = Fetcher::with_resolver(config(&server), resolver.clone()).unwrap();
    let base = format!("http://rebind.test:{}", server.addr.port());
    let page = f.fetch_page(&url(&format!("{base}/"))).await.unwrap();
    assert_eq!(&page.body[..], b"ok");
    assert_eq!(resolver.calls(), 1, "one lookup for one hop");
    assert_eq!(server.connections(), 1);
    let head = &server.requests()[0].to_ascii_lowercase();
    assert!(
        head.contains(&format!("host: rebind.test:{}\r\n", server.addr.port())),
        "{head}"
    );
    // A redirect to the same name is a new hop: resolved again, and this time refused.
    let err = f
        .fetch_page(&url(&format!("{base}/again")))
        .await
        .unwrap_err();
    assert_eq!(
        blocked_addr(&err),
        sa(&format!("10.0.0.1:{}", server.addr.port()))
    );
    assert_eq!(resolver.calls(), 3);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn image_url_returning_html_is_refused() {
    let png = b"\x89PNG\r\n\x1a\nfake".to_vec();
    let server = Server::start(move |path| match path {
        "/img.png" => Reply::Raw(response("200 OK", &[("Content-Type", "image/png")], &png)),
        "/svg" => Reply::Raw(response(
            "200 OK",
            &[("Content-Type", "image/svg+xml")],
            b"<svg/>",
        )),
        "/big" => Reply::Raw(response(
            "200 OK",
            &[("Content-Type", "image/jpeg")],
            &vec![0; 64 * 1024],
        )),
        _ => html("<html>not an image</html>"),
    })
    .await;
    let f = fetcher(&server);
    let image = f.fetch_image(&server.url("/img.png")).await.unwrap();
    assert_eq!(image.content_type, "image/png");
    assert_eq!(&image.body[..], b"\x89PNG\r\n\x1a\nfake");
    let head = f.head_image(&server.url("/img.png")).await.unwrap();
    assert_eq!(head.content_type, "image/png");
    assert_eq!(head.content_length, Some(12));
    assert!(
        server
            .requests()
            .last()
            .unwrap()
            .starts_with("HEAD /img.png ")
    );
    let err = f.fetch_image(&server.url("/page")).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::UnsupportedContentType(Some(ct)) if ct.starts_with("text/html")),
        "{err:?}"
    );
    let err = f.fetch_image(&server.url("/svg")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::UnsupportedContentType(_)),
        "{err:?}"
    );
    let mut small = config(&server);
    small.max_image_bytes = 1024;
    let err = Fetcher::new(small)
        .unwrap()
        .fetch_image(&server.url("/big"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge(1024)), "{err:?}");
}

#[tokio::test]
async fn json_accepts_json_types_only() {
    let server = Server::start(|path| {
        let ct = match path {
            "/a" => "application/json; charset=utf-8",
            "/b" => "application/json+oembed",
            "/c" => "text/json",
            "/d" => "application/ld+json",
            _ => "text/html",
        };
        Reply::Raw(response(
            "200 OK",
            &[("Content-Type", ct)],
            b"{\"type\":\"rich\"}",
        ))
    })
    .await;
    let f = fetcher(&server);
    for path in ["/a", "/c", "/d"] {
        assert_eq!(
            &f.fetch_json(&server.url(path)).await.unwrap()[..],
            b"{\"type\":\"rich\"}",
            "{path}"
        );
    }
    for path in ["/b", "/e"] {
        let err = f.fetch_json(&server.url(path)).await.unwrap_err();
        assert!(
            matches!(err, FetchError::UnsupportedContentType(_)),
            "{path}: {err:?}"
        );
    }
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let server = Server::start(|path| {
        if path == "/long" {
            let big = "a".repeat(64 * 1024);
            Reply::Raw(response(
                "200 OK",
                &[("Content-Type", "text/html"), ("X-Big", &big)],
                b"x",
            ))
        } else {
            let mut headers = vec![("Content-Type", "text/html")];
            headers.extend(std::iter::repeat_n(("X-Many", "1"), 200));
            Reply::Raw(response("200 OK", &headers, b"x"))
        }
    })
    .await;
    let f = fetcher(&server);
    for path in ["/long", "/many"] {
        let err = f.fetch_page(&server.url(path)).await.unwrap_err();
        assert!(matches!(err, FetchError::HeaderTooLarge), "{path}: {err:?}");
    }
}

#[tokio::test]
async fn https_to_a_plain_server_fails_the_handshake() {
    // Answers plain HTTP the moment a client connects, without reading.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        }
    });
    let mut config = FetchConfig::default();
    config.allow_addresses = vec![addr];
    let err = Fetcher::new(config)
        .unwrap()
        .fetch_page(&url(&format!("https://{addr}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Tls(_)), "{err:?}");
    task.abort();
}

#[tokio::test]
async fn config_is_validated() {
    let mut c = FetchConfig::default();
    c.max_header_bytes = 1024;
    assert!(matches!(
        Fetcher::new(c).unwrap_err(),
        FetchError::Config(_)
    ));
    let mut c = FetchConfig::default();
    c.user_agent = "bad\nagent".into();
    assert!(matches!(
        Fetcher::new(c).unwrap_err(),
        FetchError::Config(_)
    ));
    let mut c = FetchConfig::default();
    c.total_timeout = Duration::ZERO;
    assert!(matches!(
        Fetcher::new(c).unwrap_err(),
        FetchError::Config(_)
    ));
}

/// Reads one TLS ClientHello on a loopback socket and reports its SNI (no
/// certificate needed: the handshake is never completed).
async fn sni_of_next_client(listener: tokio::net::TcpListener) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut acceptor = rustls::server::Acceptor::default();
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..64 {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "client closed before its hello");
        acceptor.read_tls(&mut &buf[..n]).unwrap();
        if let Some(accepted) = acceptor.accept().map_err(|(e, _)| e).unwrap() {
            return accepted.client_hello().server_name().map(str::to_owned);
        }
    }
    panic!("no ClientHello");
}

#[tokio::test]
async fn tls_sni_is_the_url_host_while_the_socket_goes_to_the_checked_address() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hello = tokio::spawn(sni_of_next_client(listener));
    let resolver = ScriptedResolver::new(vec![vec![addr]]);
    let mut config = FetchConfig::default();
    config.allow_addresses = vec![addr];
    config.total_timeout = Duration::from_secs(2);
    let f = Fetcher::with_resolver(config, resolver.clone()).unwrap();
    let err = f
        .fetch_page(&url(&format!("https://Preview.Test:{}/", addr.port())))
        .await
        .unwrap_err();
    // The test server hangs up after the hello, so the handshake fails.
    assert!(matches!(err, FetchError::Tls(_)), "{err:?}");
    assert_eq!(hello.await.unwrap().as_deref(), Some("preview.test"));
    assert_eq!(resolver.calls(), 1);
}
