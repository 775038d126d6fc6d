//! The WeChat Pay adapter against the WeChat Pay simulator, both on loopback: a payment from
//! creation to the daily bill, idempotent retries, refusals, and each simulator fault.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use kaifang_pay::keys::{ApiV3Key, PrivateKey, PublicKey};
use kaifang_pay::wechat::notification_message;
use kaifang_pay::{Currency, Money};
use kaifang_paysim::Faults;
use kaifang_paysim::wechat::{self as sim, SimHandle};
use kaifang_wallets::wechat::{NOTIFICATION_ACK, Wechat, WechatConfig};
use kaifang_wallets::{
    AdapterError, Notification, PaymentRequest, RefundRequest, StatementKind, TradeStatus,
};
use tokio::sync::mpsc;

const MERCHANT_KEY: &str =
    include_str!("../../pay/tests/fixtures/TEST_ONLY_wechatpay_go_signer_key.pem");
const PLATFORM_KEY: &str = include_str!("../../pay/tests/fixtures/TEST_ONLY_rsa2048_key.pem");
const PLATFORM_PUB: &str = include_str!("../../pay/tests/fixtures/TEST_ONLY_rsa2048_pub.pem");
const API_V3_KEY: &[u8; 32] = b"kaifang-test-apiv3-key-32-bytes!";
const MCHID: &str = "1900000109";
const APPID: &str = "wxd678efh567hg6787";
const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0119000001092025";
/// The adapter's timeout, and how long the timeout fault holds an answer (longer).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
const SIM_HOLD: Duration = Duration::from_secs(4);
/// How long a test waits for a notification before failing.
const NOTE_WAIT: Duration = Duration::from_secs(10);

/// A notification as the receiver got it.
struct Note {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Note {
    fn header(&self, name: &str) -> &str {
        &self.headers.iter().find(|(k, _)| k == name).unwrap().1
    }
}

/// A running simulator, an adapter speaking to it, and a notification receiver.
struct Env {
    sim: SimHandle,
    wechat: Wechat,
    config: WechatConfig,
    notes: mpsc::UnboundedReceiver<Note>,
    notify_url: String,
    browser: reqwest::Client,
}

fn cny(fen: i64) -> Money {
    Money::from_minor(fen, Currency::from_code("CNY").unwrap()).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn adapter_config(base_url: String) -> WechatConfig {
    WechatConfig {
        base_url,
        mchid: MCHID.into(),
        appid: APPID.into(),
        merchant_serial: MERCHANT_SERIAL.into(),
        merchant_key: PrivateKey::from_pem_or_base64(MERCHANT_KEY).unwrap(),
        platform_serial: PLATFORM_SERIAL.into(),
        platform_key: PublicKey::from_pem_or_base64(PLATFORM_PUB).unwrap(),
        api_v3_key: ApiV3Key::new(API_V3_KEY).unwrap(),
        payer_client_ip: "127.0.0.1".into(),
        timeout: CLIENT_TIMEOUT,
        window_secs: 300,
    }
}

async fn start(faults: Faults) -> Env {
    let merchant = PrivateKey::from_pem_or_base64(MERCHANT_KEY).unwrap();
    let config = sim::Config {
        mchid: MCHID.into(),
        appid: APPID.into(),
        merchant_serial: MERCHANT_SERIAL.into(),
        merchant_key: merchant.public_key(),
        platform_serial: PLATFORM_SERIAL.into(),
        platform_key: PrivateKey::from_pem_or_base64(PLATFORM_KEY).unwrap(),
        api_v3_key: ApiV3Key::new(API_V3_KEY).unwrap(),
        faults,
        timeout_hold: SIM_HOLD,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = sim::serve(listener, config).await.unwrap();

    // The server's notification endpoint, reduced to recording what arrives.
    let (tx, notes) = mpsc::unbounded_channel();
    async fn receive(
        State(tx): State<mpsc::UnboundedSender<Note>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        tx.send(Note {
            headers,
            body: body.to_vec(),
        })
        .unwrap();
        (
            StatusCode::from_u16(NOTIFICATION_ACK.0).unwrap(),
            NOTIFICATION_ACK.1,
        )
    }
    let app = axum::Router::new()
        .route("/notify", post(receive))
        .with_state(tx);
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", receiver.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(receiver, app).await.unwrap() });

    let config = adapter_config(format!("http://{}", sim.addr));
    Env {
        wechat: Wechat::new(config.clone()).unwrap(),
        config,
        sim,
        notes,
        notify_url,
        browser: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Env {
    fn order(&self, out_trade_no: &str, fen: i64) -> PaymentRequest {
        PaymentRequest {
            out_trade_no: out_trade_no.into(),
            description: "Kaifang test order".into(),
            amount: cny(fen),
            notify_url: self.notify_url.clone(),
            return_url: format!("http://127.0.0.1:9/orders/{out_trade_no}?done=1&x=<y>"),
        }
    }

    /// Opens the buyer's page and submits its form with `button` ("pay" or "cancel") as a
    /// browser would; returns the status and `Location` of the answer.
    async fn buyer(&self, pay_url: &str, button: &str) -> (StatusCode, String) {
        let page = self.browser.get(pay_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!("id=\"sim-{button}\"")), "{html}");
        let action = between(&html, "action=\"", "\"");
        let back = unescape(&between(&html, "name=\"redirect_url\" value=\"", "\""));
        let answer = self
            .browser
            .post(format!("http://{}{action}", self.sim.addr))
            .form(&[("action", button), ("redirect_url", back.as_str())])
            .send()
            .await
            .unwrap();
        let location = answer
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (answer.status(), location)
    }

    async fn create_and_pay(&self, out_trade_no: &str, fen: i64) {
        let start = self
            .wechat
            .create(&self.order(out_trade_no, fen))
            .await
            .unwrap();
        let (status, _) = self.buyer(&start.pay_url, "pay").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }

    async fn next_note(&mut self) -> Note {
        tokio::time::timeout(NOTE_WAIT, self.notes.recv())
            .await
            .expect("no notification in time")
            .unwrap()
    }

    async fn next_verified(&mut self) -> Notification {
        let note = self.next_note().await;
        self.verify(&note).unwrap()
    }

    fn verify(&self, note: &Note) -> Result<Notification, AdapterError> {
        self.wechat
            .verify_notification(&note.headers, &note.body, now())
    }

    async fn set_faults(&self, faults: Faults) {
        let answer = self
            .browser
            .put(format!("http://{}/_sim/faults", self.sim.addr))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap() + start.len();
    let len = text[from..].find(end).unwrap();
    text[from..from + len].to_owned()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn refund(no: &str, out_refund_no: &str, fen: i64, total: i64) -> RefundRequest {
    RefundRequest {
        out_trade_no: no.into(),
        out_refund_no: out_refund_no.into(),
        amount: cny(fen),
        total: cny(total),
    }
}

fn refused(result: Result<impl std::fmt::Debug, AdapterError>) -> String {
    match result {
        Err(AdapterError::Refused { code }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn payment_from_creation_to_the_daily_bill() {
    let mut env = start(Faults::default()).await;
    let order = env.order("KF-FLOW-0001", 10_000);

    let start = env.wechat.create(&order).await.unwrap();
    assert!(
        start
            .pay_url
            .starts_with(&format!("http://{}/pay/", env.sim.addr))
    );
    let trade = env.wechat.query("KF-FLOW-0001").await.unwrap();
    assert_eq!(trade.status, TradeStatus::Pending);
    assert_eq!(trade.amount, cny(10_000));
    assert_eq!(trade.provider_ref, None);

    // The buyer pays and is sent back to the return URL, unchanged.
    let (status, location) = env.buyer(&start.pay_url, "pay").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, order.return_url);

    let note = env.next_note().await;
    let paid = env.verify(&note).unwrap();
    assert_eq!(paid.trade.out_trade_no, "KF-FLOW-0001");
    assert_eq!(paid.trade.status, TradeStatus::Paid);
    assert_eq!(paid.trade.amount, cny(10_000));
    assert_eq!(paid.nonce, note.header("wechatpay-nonce"));
    let transaction_id = paid.trade.provider_ref.clone().unwrap();

    let trade = env.wechat.query("KF-FLOW-0001").await.unwrap();
    assert_eq!(trade.status, TradeStatus::Paid);
    assert_eq!(trade.provider_ref.as_deref(), Some(transaction_id.as_str()));

    // A partial refund, retried with the same reference: one refund.
    let first = env
        .wechat
        .refund(&refund("KF-FLOW-0001", "KF-RF-1", 3_000, 10_000))
        .await
        .unwrap();
    assert_eq!(first.amount, cny(3_000));
    let again = env
        .wechat
        .refund(&refund("KF-FLOW-0001", "KF-RF-1", 3_000, 10_000))
        .await
        .unwrap();
    assert_eq!(again, first);
    // WeChat Pay tells of the refund too; it reads as the (still paid) trade.
    let refund_note = env.next_verified().await;
    assert_eq!(refund_note.trade.status, TradeStatus::Paid);
    assert_eq!(refund_note.trade.amount, cny(10_000));
    assert_eq!(
        refund_note.trade.provider_ref.as_deref(),
        Some(transaction_id.as_str())
    );

    let rest = env
        .wechat
        .refund(&refund("KF-FLOW-0001", "KF-RF-2", 7_000, 10_000))
        .await
        .unwrap();
    assert_ne!(rest.provider_ref, first.provider_ref);
    let past_total = env
        .wechat
        .refund(&refund("KF-FLOW-0001", "KF-RF-3", 1, 10_000))
        .await;
    assert_eq!(refused(past_total), "INVALID_REQUEST");
    let views = env.sim.trades();
    assert_eq!(views[0].refunded, 10_000);
    assert_eq!(views[0].trade_state, "REFUND");

    let mut lines = env.wechat.statement(&today()).await.unwrap();
    lines.sort_by_key(|l| l.amount.minor());
    let got: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.kind,
                l.out_trade_no.as_str(),
                l.provider_ref.as_str(),
                l.amount,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                StatementKind::Refund,
                "KF-FLOW-0001",
                first.provider_ref.as_str(),
                cny(3_000)
            ),
            (
                StatementKind::Refund,
                "KF-FLOW-0001",
                rest.provider_ref.as_str(),
                cny(7_000)
            ),
            (
                StatementKind::Payment,
                "KF-FLOW-0001",
                transaction_id.as_str(),
                cny(10_000)
            ),
        ]
    );
}

#[tokio::test]
async fn creating_again_gives_the_same_page_and_other_parameters_are_refused() {
    let env = start(Faults::default()).await;
    let order = env.order("KF-DUP-0001", 500);
    let first = env.wechat.create(&order).await.unwrap();
    assert_eq!(env.wechat.create(&order).await.unwrap(), first);
    let other = PaymentRequest {
        amount: cny(501),
        ..order
    };
    assert_eq!(refused(env.wechat.create(&other).await), "INVALID_REQUEST");
    assert_eq!(env.sim.trades().len(), 1);
}

#[tokio::test]
async fn a_cancelled_payment_stays_pending_and_an_unknown_trade_is_unknown() {
    let env = start(Faults::default()).await;
    let order = env.order("KF-CANCEL-01", 800);
    let start = env.wechat.create(&order).await.unwrap();
    let (status, location) = env.buyer(&start.pay_url, "cancel").await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, order.return_url.as_str())
    );
    let trade = env.wechat.query("KF-CANCEL-01").await.unwrap();
    assert_eq!(trade.status, TradeStatus::Pending);
    // A refund of an unpaid trade is refused.
    let r = env
        .wechat
        .refund(&refund("KF-CANCEL-01", "KF-RF-C", 100, 800))
        .await;
    assert_eq!(refused(r), "INVALID_REQUEST");

    let unknown = env.wechat.query("KF-NEVER-001").await.unwrap();
    assert_eq!(unknown.status, TradeStatus::Unknown);
    assert_eq!(unknown.provider_ref, None);
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_requests_are_refused() {
    let env = start(Faults::default()).await;
    let answer = env
        .browser
        .get(format!(
            "http://{}/v3/pay/transactions/out-trade-no/KF-X-000001?mchid={MCHID}",
            env.sim.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "SIGN_ERROR");

    // Signed with a key that is not the merchant's.
    let mut config = env.config.clone();
    config.merchant_key = PrivateKey::from_pem_or_base64(PLATFORM_KEY).unwrap();
    let impostor = Wechat::new(config).unwrap();
    assert_eq!(refused(impostor.query("KF-X-000001").await), "SIGN_ERROR");
    let order = env.order("KF-X-000001", 100);
    assert_eq!(refused(impostor.create(&order).await), "SIGN_ERROR");
    assert!(env.sim.trades().is_empty());
}

#[tokio::test]
async fn a_day_without_trades_has_no_bill() {
    let env = start(Faults::default()).await;
    assert_eq!(
        refused(env.wechat.statement("2001-01-01").await),
        "NO_STATEMENT_EXIST"
    );
    assert!(matches!(
        env.wechat.statement("2001-1-1").await,
        Err(AdapterError::BadAnswer(_))
    ));
}

#[tokio::test]
async fn timeout_fault_times_out_and_the_trade_exists_afterwards() {
    let env = start(Faults {
        timeout: true,
        ..Faults::default()
    })
    .await;
    let began = Instant::now();
    let result = env.wechat.create(&env.order("KF-SLOW-0001", 1_200)).await;
    assert!(matches!(result, Err(AdapterError::Timeout)), "{result:?}");
    assert!(
        began.elapsed() < SIM_HOLD,
        "the client waited for the held answer"
    );

    env.sim.faults.set(Faults::default());
    let trade = env.wechat.query("KF-SLOW-0001").await.unwrap();
    assert_eq!(trade.status, TradeStatus::Pending);
    assert_eq!(trade.amount, cny(1_200));
}

#[tokio::test]
async fn duplicate_fault_sends_the_same_notification_twice() {
    let mut env = start(Faults::default()).await;
    env.set_faults(Faults {
        duplicate: true,
        ..Faults::default()
    })
    .await;
    env.create_and_pay("KF-TWICE-001", 300).await;
    let first = env.next_note().await;
    let second = env.next_note().await;
    assert_eq!(first.body, second.body);
    let (a, b) = (env.verify(&first).unwrap(), env.verify(&second).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.trade.out_trade_no, "KF-TWICE-001");
    // The replay store keys on the nonce: both carry the same one.
    assert_eq!(a.nonce, b.nonce);
}

#[tokio::test]
async fn out_of_order_fault_sends_the_newest_first() {
    let mut env = start(Faults {
        out_of_order: true,
        ..Faults::default()
    })
    .await;
    env.create_and_pay("KF-ORDER-001", 100).await;
    env.create_and_pay("KF-ORDER-002", 200).await;
    let first = env.next_verified().await;
    let second = env.next_verified().await;
    assert_eq!(first.trade.out_trade_no, "KF-ORDER-002");
    assert_eq!(second.trade.out_trade_no, "KF-ORDER-001");
    assert_eq!(second.trade.status, TradeStatus::Paid);
}

#[tokio::test]
async fn bad_signature_fault_is_refused_in_notifications_and_answers() {
    let mut env = start(Faults {
        bad_signature: true,
        ..Faults::default()
    })
    .await;
    // The answer to create is badly signed too: the adapter refuses it, the trade exists.
    let created = env.wechat.create(&env.order("KF-BADSIG-01", 100)).await;
    assert!(
        matches!(created, Err(AdapterError::BadAnswer(_))),
        "{created:?}"
    );
    assert!(matches!(
        env.wechat.query("KF-BADSIG-01").await,
        Err(AdapterError::BadAnswer(_))
    ));
    env.sim.faults.set(Faults::default());
    let start = env
        .wechat
        .create(&env.order("KF-BADSIG-01", 100))
        .await
        .unwrap();
    env.sim.faults.set(Faults {
        bad_signature: true,
        ..Faults::default()
    });
    env.buyer(&start.pay_url, "pay").await;
    let note = env.next_note().await;
    assert!(matches!(
        env.verify(&note),
        Err(AdapterError::BadNotification(_))
    ));
}

#[tokio::test]
async fn notifications_outside_the_window_wrong_serial_app_or_tampered_are_refused() {
    let mut env = start(Faults::default()).await;
    env.create_and_pay("KF-CHECK-001", 100).await;
    let note = env.next_note().await;
    let ts: i64 = note.header("wechatpay-timestamp").parse().unwrap();
    let at = |now| {
        env.wechat
            .verify_notification(&note.headers, &note.body, now)
    };
    assert!(at(ts + 299).is_ok());
    assert!(matches!(
        at(ts + 301),
        Err(AdapterError::BadNotification(_))
    ));
    assert!(matches!(
        at(ts - 301),
        Err(AdapterError::BadNotification(_))
    ));

    let with = |change: fn(&mut WechatConfig)| {
        let mut config = env.config.clone();
        change(&mut config);
        Wechat::new(config)
            .unwrap()
            .verify_notification(&note.headers, &note.body, ts)
    };
    assert!(with(|_| {}).is_ok());
    let serial = with(|c| c.platform_serial = "PUB_KEY_ID_OTHER".into());
    assert!(matches!(serial, Err(AdapterError::BadNotification(_))));
    let app = with(|c| c.appid = "wx0000000000000000".into());
    assert!(matches!(app, Err(AdapterError::BadNotification(m)) if m.contains("app id")));
    let key = with(|c| c.api_v3_key = ApiV3Key::new(&[7u8; 32]).unwrap());
    assert!(matches!(key, Err(AdapterError::BadNotification(_))));

    // One byte of the body changed: the signature no longer holds.
    let mut body = note.body.clone();
    let at_ciphertext = String::from_utf8_lossy(&body)
        .find("\"ciphertext\":\"")
        .unwrap()
        + 14;
    body[at_ciphertext] = if body[at_ciphertext] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = env.wechat.verify_notification(&note.headers, &body, ts);
    assert!(matches!(tampered, Err(AdapterError::BadNotification(_))));

    // Even re-signed with the platform key, a changed ciphertext does not open.
    let platform = PrivateKey::from_pem_or_base64(PLATFORM_KEY).unwrap();
    let text = std::str::from_utf8(&body).unwrap();
    let nonce = note.header("wechatpay-nonce");
    let signature = platform
        .sign_base64(notification_message(&ts.to_string(), nonce, text).as_bytes())
        .unwrap();
    let headers: Vec<(String, String)> = note
        .headers
        .iter()
        .map(|(k, v)| {
            let v = if k == "wechatpay-signature" {
                signature.clone()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let resealed = env.wechat.verify_notification(&headers, &body, ts);
    assert!(matches!(resealed, Err(AdapterError::BadNotification(m)) if m.contains("decrypt")));

    // No Wechatpay-* headers at all.
    let bare = env.wechat.verify_notification(&[], &note.body, ts);
    assert!(matches!(bare, Err(AdapterError::BadNotification(_))));
}

#[test]
fn simulator_config_reads_its_arguments() {
    let dir = std::env::temp_dir().join(format!("kaifang-wechat-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let mut v3 = API_V3_KEY.to_vec();
    v3.push(b'\n');
    let args: Vec<String> = [
        "--mchid",
        MCHID,
        "--appid",
        APPID,
        "--merchant-serial",
        MERCHANT_SERIAL,
        "--merchant-public-key",
        &write("merchant.pem", PLATFORM_PUB.as_bytes()),
        "--platform-serial",
        PLATFORM_SERIAL,
        "--platform-private-key",
        &write("platform.pem", PLATFORM_KEY.as_bytes()),
        "--api-v3-key-file",
        &write("v3", &v3),
        "--fault",
        "duplicate",
        "--timeout-hold-ms",
        "1500",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let config = sim::config_from_args(&args).unwrap();
    assert_eq!(config.mchid, MCHID);
    assert!(config.faults.duplicate && !config.faults.timeout);
    assert_eq!(config.timeout_hold, Duration::from_millis(1500));

    let missing = sim::config_from_args(&args[2..]).unwrap_err();
    assert!(missing.contains("--mchid"), "{missing}");
    let bad = [args.clone(), vec!["--fault".into(), "fire".into()]].concat();
    assert!(sim::config_from_args(&bad).unwrap_err().contains("fire"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_stopped_simulator_is_unreachable() {
    let env = start(Faults::default()).await;
    let config = env.config.clone();
    env.sim.stop();
    // The stop is signalled, then carried out by the server task: poll, bounded in count.
    let mut last = None;
    for _ in 0..50 {
        let fresh = Wechat::new(config.clone()).unwrap();
        match fresh.query("KF-GONE-0001").await {
            Err(AdapterError::Unreachable) => return,
            other => last = Some(other),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still answering after stop: {last:?}");
}
