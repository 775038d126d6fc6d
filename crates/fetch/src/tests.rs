//! Tests of the resolver hook and the dialer seam: which addresses would be
//! dialled, proven by a dialer that records every call. The dialer only ever
//! opens a real connection to loopback; anything else is recorded and refused.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::connect::{Dial, DialFuture};
use crate::guard::{self, Vetted};
use crate::{AddrClass, FetchConfig, FetchError, Fetcher, Resolve, ResolveFuture};

/// Answers lookups from a script (one entry per call, the last repeating) and
/// records the names asked for.
struct Scripted {
    answers: Vec<Vec<SocketAddr>>,
    asked: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(answers: Vec<Vec<SocketAddr>>) -> Arc<Self> {
        Arc::new(Self {
            answers,
            asked: Mutex::new(Vec::new()),
        })
    }
    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Resolve for Scripted {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> ResolveFuture<'a> {
        let mut asked = self.asked.lock().unwrap();
        asked.push(host.to_owned());
        let answer = self.answers[(asked.len() - 1).min(self.answers.len() - 1)].clone();
        Box::pin(async move { Ok(answer) })
    }
}

#[derive(Default)]
struct RecordingDial {
    dialled: Mutex<Vec<SocketAddr>>,
}

impl Dial for RecordingDial {
    fn dial(&self, addr: Vetted) -> DialFuture<'_> {
        self.dialled.lock().unwrap().push(addr.addr());
        Box::pin(async move {
            if addr.addr().ip().is_loopback() {
                TcpStream::connect(addr.addr()).await
            } else {
                Err(io::Error::other("test dialer refuses non-loopback"))
            }
        })
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn fetcher(allow: Vec<SocketAddr>, resolver: Arc<Scripted>, dial: Arc<RecordingDial>) -> Fetcher {
    let config = FetchConfig {
        allow_addresses: allow,
        ..FetchConfig::default()
    };
    Fetcher::build(config, resolver, dial).unwrap()
}

/// Private, link-local and metadata answers from the resolver hook are refused
/// by `vet`, whatever else the answer holds.
#[tokio::test]
async fn vet_refuses_every_non_public_answer() {
    let denied = [
        ("10.0.0.1", AddrClass::Private),
        ("172.16.5.4", AddrClass::Private),
        ("192.168.0.10", AddrClass::Private),
        ("169.254.169.254", AddrClass::CloudMetadata),
        ("169.254.1.1", AddrClass::LinkLocal),
        ("100.64.0.1", AddrClass::SharedNat),
        ("127.0.0.1", AddrClass::Loopback),
        ("0.0.0.0", AddrClass::Unspecified),
        ("::1", AddrClass::Loopback),
        ("fd00:ec2::254", AddrClass::CloudMetadata),
        ("fe80::1", AddrClass::LinkLocal),
        ("fc00::1", AddrClass::Private),
        ("::ffff:10.0.0.1", AddrClass::Private),
        ("64:ff9b::a9fe:a9fe", AddrClass::CloudMetadata),
        ("2002:c0a8:1::", AddrClass::Private),
    ];
    let target = guard::check_url(&Url::parse("https://name.test/").unwrap()).unwrap();
    for (ip, class) in denied {
        let bad = SocketAddr::new(ip.parse().unwrap(), 443);
        // Alone, after a public answer, and before one: always refused.
        for answer in [
            vec![bad],
            vec![sa("93.184.215.14:443"), bad],
            vec![bad, sa("[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443")],
        ] {
            let resolver = Scripted::new(vec![answer]);
            let err = guard::vet(&target, resolver.as_ref(), &[])
                .await
                .unwrap_err();
            match err {
                FetchError::Blocked { addr, class: got } => {
                    assert_eq!((addr, got), (bad, class), "{ip}");
                }
                other => panic!("{ip}: {other:?}"),
            }
            assert_eq!(resolver.asked(), vec!["name.test".to_owned()]);
        }
    }
    // Public answers pass, with the URL's port, never the resolver's.
    let resolver = Scripted::new(vec![vec![sa("93.184.215.14:9"), sa("[2a00:1450::1]:9")]]);
    let vetted = guard::vet(&target, resolver.as_ref(), &[]).await.unwrap();
    let addrs: Vec<SocketAddr> = vetted.into_iter().map(Vetted::addr).collect();
    assert_eq!(
        addrs,
        vec![sa("93.184.215.14:443"), sa("[2a00:1450::1]:443")]
    );
}

/// IP literals never reach the resolver.
#[tokio::test]
async fn ip_literals_skip_the_resolver() {
    let resolver = Scripted::new(vec![vec![sa("127.0.0.1:80")]]);
    for u in [
        "http://10.0.0.1/",
        "http://[fd00:ec2::254]/",
        "http://0xa9.254.169.254/",
    ] {
        let target = guard::check_url(&Url::parse(u).unwrap()).unwrap();
        let err = guard::vet(&target, resolver.as_ref(), &[])
            .await
            .unwrap_err();
        assert!(err.is_blocked(), "{u}: {err:?}");
    }
    assert!(resolver.asked().is_empty());
}

/// A name resolving to private or metadata addresses is refused before any
/// dial is attempted.
#[tokio::test]
async fn private_answers_are_never_dialled() {
    for answer in [
        vec![sa("10.0.0.1:80")],
        vec![sa("169.254.169.254:80")],
        vec![sa("[fd00:ec2::254]:80")],
        vec![sa("127.0.0.1:80"), sa("192.168.1.1:80")],
    ] {
        let resolver = Scripted::new(vec![answer.clone()]);
        let dial = Arc::new(RecordingDial::default());
        let f = fetcher(vec![sa("127.0.0.1:80")], resolver.clone(), dial.clone());
        let err = f
            .fetch_page(&Url::parse("http://metadata.test/").unwrap())
            .await
            .unwrap_err();
        assert!(err.is_blocked(), "{answer:?}: {err:?}");
        assert_eq!(resolver.asked().len(), 1);
        assert!(dial.dialled.lock().unwrap().is_empty(), "{answer:?}");
    }
}

/// Rebinding: the first lookup answers the allowed loopback server, every
/// later one a private address. One fetch makes one lookup and dials exactly
/// the address it checked.
#[tokio::test]
async fn the_checked_address_is_the_dialled_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 2048];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            let reply = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok";
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    let resolver = Scripted::new(vec![vec![addr], vec![sa("10.0.0.1:80")]]);
    let dial = Arc::new(RecordingDial::default());
    let f = fetcher(vec![addr], resolver.clone(), dial.clone());
    let url = Url::parse(&format!("http://rebind.test:{}/", addr.port())).unwrap();
    let page = f.fetch_page(&url).await.unwrap();
    assert_eq!(&page.body[..], b"ok");
    assert_eq!(resolver.asked(), vec!["rebind.test".to_owned()]);
    assert_eq!(*dial.dialled.lock().unwrap(), vec![addr]);
    // The next fetch looks up again, gets the private answer and dials nothing new.
    let err = f.fetch_page(&url).await.unwrap_err();
    assert_eq!(
        match err {
            FetchError::Blocked { addr, .. } => addr,
            other => panic!("{other:?}"),
        },
        SocketAddr::new(sa("10.0.0.1:80").ip(), addr.port())
    );
    assert_eq!(*dial.dialled.lock().unwrap(), vec![addr]);
    server.abort();
}

/// The server spawns fetches on tokio's pool: they must be `Send`, and the
/// fetcher shareable.
#[test]
fn fetches_are_send_and_the_fetcher_is_shareable() {
    fn send<T: Send>(_: &T) {}
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Fetcher>();
    let f = Fetcher::new(FetchConfig::default()).unwrap();
    let url = Url::parse("http://name.test/").unwrap();
    send(&f.fetch_page(&url));
    send(&f.fetch_json(&url));
    send(&f.fetch_image(&url));
    send(&f.head_image(&url));
}
