//! The Alipay adapter against the in-process simulator, on loopback: a payment from the buyer's
//! page to the statement, and each fault the simulator can commit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use kaifang_pay::keys::{PrivateKey, PublicKey};
use kaifang_pay::{Currency, Money};
use kaifang_paysim::Faults;
use kaifang_paysim::alipay::{self as sim, SimHandle};
use kaifang_wallets::alipay::{Alipay, AlipayConfig, DEFAULT_NOTIFY_WINDOW, NOTIFICATION_ACK};
use kaifang_wallets::{
    AdapterError, Notification, PaymentRequest, RefundRequest, StatementKind, TradeStatus,
};
use tokio::sync::mpsc;

// ---- helpers ----

const APP_ID: &str = "2021000000000001";
const RETURN_URL: &str = "http://127.0.0.1:9/return";
/// The longest a test waits for a notification.
const WAIT: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../pay/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

fn merchant_key() -> PrivateKey {
    PrivateKey::from_pem_or_base64(&fixture("TEST_ONLY_rsa2048_key.pem")).expect("merchant key")
}

fn merchant_public() -> PublicKey {
    PublicKey::from_pem_or_base64(&fixture("TEST_ONLY_rsa2048_pub.pem")).expect("merchant pub")
}

fn alipay_key() -> PrivateKey {
    PrivateKey::from_pem_or_base64(&fixture("TEST_ONLY_wechatpay_go_signer_key.pem"))
        .expect("alipay key")
}

fn yuan(text: &str) -> Money {
    Money::parse(text, Currency::CNY).expect("amount")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn utc_date() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::now_utc()
        .date()
        .format(format)
        .expect("date")
}

async fn start_sim(faults: Faults) -> SimHandle {
    let mut config = sim::Config::new(APP_ID, merchant_public(), alipay_key());
    config.faults = faults;
    config.hold = Duration::from_millis(1500);
    config.notify_backoff = Duration::from_millis(50);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    sim::serve(listener, config).await.expect("simulator")
}

fn config(sim: &SimHandle) -> AlipayConfig {
    AlipayConfig {
        base_url: format!("http://{}", sim.addr),
        app_id: APP_ID.to_owned(),
        app_key: merchant_key(),
        alipay_key: alipay_key().public_key(),
        timeout: Duration::from_millis(700),
        notify_window: DEFAULT_NOTIFY_WINDOW,
    }
}

fn adapter(sim: &SimHandle) -> Alipay {
    Alipay::new(config(sim)).expect("adapter")
}

/// A notification endpoint on loopback: every body it receives goes to the channel; it answers
/// `fail` to the first `failures` and `success` after.
struct Receiver {
    url: String,
    bodies: mpsc::UnboundedReceiver<Vec<u8>>,
}

async fn receiver(failures: usize) -> Receiver {
    #[derive(Clone)]
    struct Rx {
        tx: mpsc::UnboundedSender<Vec<u8>>,
        failures: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }
    async fn take(State(rx): State<Rx>, body: axum::body::Bytes) -> &'static str {
        let _ = rx.tx.send(body.to_vec());
        let left = rx.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            rx.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return "fail";
        }
        NOTIFICATION_ACK
    }
    let (tx, bodies) = mpsc::unbounded_channel();
    let state = Rx {
        tx,
        failures: std::sync::Arc::new(failures.into()),
    };
    let app = Router::new().route("/notify", post(take)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, bodies }
}

impl Receiver {
    async fn next(&mut self) -> Vec<u8> {
        tokio::time::timeout(WAIT, self.bodies.recv())
            .await
            .expect("a notification within the wait")
            .expect("receiver open")
    }
}

fn order(no: &str, amount: &str, notify_url: &str) -> PaymentRequest {
    PaymentRequest {
        out_trade_no: no.to_owned(),
        description: "Kaifang, tea for two".to_owned(),
        amount: yuan(amount),
        notify_url: notify_url.to_owned(),
        return_url: RETURN_URL.to_owned(),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Opens the buyer's page and presses `button` ("pay" or "cancel") as a browser would; returns
/// where the simulator sends the browser.
async fn press(sim: &SimHandle, pay_url: &str, button: &str) -> String {
    let page = browser().get(pay_url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("id=\"sim-pay\"") && html.contains("id=\"sim-cancel\""));
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's form");
    let answer = browser()
        .post(format!("http://{}{action}", sim.addr))
        .form(&[("action", button)])
        .send()
        .await
        .expect("form post");
    assert_eq!(answer.status(), 303);
    answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned()
}

/// A paid trade and its verified notification.
async fn paid(
    sim: &SimHandle,
    alipay: &Alipay,
    rx: &mut Receiver,
    no: &str,
    amount: &str,
) -> Notification {
    let start = alipay
        .create(&order(no, amount, &rx.url))
        .await
        .expect("create");
    press(sim, &start.pay_url, "pay").await;
    let body = rx.next().await;
    alipay
        .verify_notification(&[], &body, now())
        .expect("notification verifies")
}

fn refund(no: &str, refund_no: &str, amount: &str, total: &str) -> RefundRequest {
    RefundRequest {
        out_trade_no: no.to_owned(),
        out_refund_no: refund_no.to_owned(),
        amount: yuan(amount),
        total: yuan(total),
    }
}

fn refused_code(result: Result<impl std::fmt::Debug, AdapterError>) -> String {
    match result {
        Err(AdapterError::Refused { code }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---- the whole journey ----

#[tokio::test]
async fn payment_refunds_and_statement() {
    let sim = start_sim(Faults::default()).await;
    let alipay = adapter(&sim);
    let mut rx = receiver(0).await;
    let day_before = utc_date();

    let start = alipay
        .create(&order("K-1001", "128.00", &rx.url))
        .await
        .expect("create");
    // The buyer's page is the signed gateway URL, with the amount in yuan as a decimal string.
    let url = url::Url::parse(&start.pay_url).expect("pay url");
    assert_eq!(url.path(), "/gateway.do");
    let biz = url
        .query_pairs()
        .find(|(k, _)| k == "biz_content")
        .expect("biz_content")
        .1
        .into_owned();
    let biz: serde_json::Value = serde_json::from_str(&biz).expect("json");
    assert_eq!(biz["total_amount"], "128.00");
    assert_eq!(biz["product_code"], "FAST_INSTANT_TRADE_PAY");

    assert_eq!(press(&sim, &start.pay_url, "pay").await, RETURN_URL);
    let body = rx.next().await;
    let note = alipay
        .verify_notification(&[], &body, now())
        .expect("verifies");
    assert_eq!(note.trade.out_trade_no, "K-1001");
    assert_eq!(note.trade.status, TradeStatus::Paid);
    assert_eq!(note.trade.amount, yuan("128.00"));
    assert!(!note.nonce.is_empty());
    let trade_no = note.trade.provider_ref.clone().expect("trade_no");

    let queried = alipay.query("K-1001").await.expect("query");
    assert_eq!(queried.status, TradeStatus::Paid);
    assert_eq!(queried.amount, yuan("128.00"));
    assert_eq!(queried.provider_ref.as_deref(), Some(trade_no.as_str()));

    let first = alipay
        .refund(&refund("K-1001", "R-1", "30.00", "128.00"))
        .await
        .expect("partial refund");
    assert_eq!(first.amount, yuan("30.00"));
    assert_eq!(first.provider_ref, format!("{trade_no}:R-1"));
    // More than the 98.00 that remains.
    let code = refused_code(
        alipay
            .refund(&refund("K-1001", "R-2", "98.01", "128.00"))
            .await,
    );
    assert_eq!(code, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL");
    let second = alipay
        .refund(&refund("K-1001", "R-3", "98.00", "128.00"))
        .await
        .expect("the rest");
    assert_eq!(second.amount, yuan("98.00"));
    // Refunded in full, the trade is closed; nothing more can go back.
    let code = refused_code(
        alipay
            .refund(&refund("K-1001", "R-4", "0.01", "128.00"))
            .await,
    );
    assert_eq!(code, "ACQ.TRADE_STATUS_ERROR");
    // A retry of R-1 is the same refund, not a new one.
    let again = alipay
        .refund(&refund("K-1001", "R-1", "30.00", "128.00"))
        .await
        .expect("retry");
    assert_eq!(again, first);
    // A closed trade that was paid is still a payment (its refunds are separate records).
    assert_eq!(
        alipay.query("K-1001").await.expect("query").status,
        TradeStatus::Paid
    );

    let mut lines = alipay.statement(&day_before).await.expect("statement");
    let day_after = utc_date();
    if day_after != day_before {
        lines.extend(alipay.statement(&day_after).await.expect("statement"));
    }
    let mut seen: Vec<(StatementKind, String, String)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l.out_trade_no, "K-1001");
            (l.kind, l.provider_ref.clone(), l.amount.to_decimal())
        })
        .collect();
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        seen,
        vec![
            (StatementKind::Payment, trade_no.clone(), "128.00".into()),
            (
                StatementKind::Refund,
                format!("{trade_no}:R-1"),
                "30.00".into()
            ),
            (
                StatementKind::Refund,
                format!("{trade_no}:R-3"),
                "98.00".into()
            ),
        ]
    );
    sim.stop().await.expect("stop");
}

#[tokio::test]
async fn cancelled_trade_is_closed_and_unknown_trade_is_unknown() {
    let sim = start_sim(Faults::default()).await;
    let alipay = adapter(&sim);
    let mut rx = receiver(0).await;
    assert_eq!(
        alipay.query("K-never").await.expect("query").status,
        TradeStatus::Unknown
    );
    let start = alipay
        .create(&order("K-2001", "5.50", &rx.url))
        .await
        .expect("create");
    assert_eq!(press(&sim, &start.pay_url, "cancel").await, RETURN_URL);
    let note = alipay
        .verify_notification(&[], &rx.next().await, now())
        .expect("verifies");
    assert_eq!(note.trade.status, TradeStatus::Closed);
    assert_eq!(
        alipay.query("K-2001").await.expect("query").status,
        TradeStatus::Closed
    );
    let code = refused_code(
        alipay
            .refund(&refund("K-2001", "R-1", "1.00", "5.50"))
            .await,
    );
    assert_eq!(code, "ACQ.TRADE_STATUS_ERROR");
}

#[tokio::test]
async fn notification_is_retried_until_acknowledged() {
    let sim = start_sim(Faults::default()).await;
    let alipay = adapter(&sim);
    let mut rx = receiver(1).await;
    let start = alipay
        .create(&order("K-3001", "1.00", &rx.url))
        .await
        .expect("create");
    press(&sim, &start.pay_url, "pay").await;
    let refused = rx.next().await;
    let retried = rx.next().await;
    assert_eq!(refused, retried);
}

// ---- faults ----

#[tokio::test]
async fn timeout_then_query_and_retry_find_the_work_done() {
    let sim = start_sim(Faults::default()).await;
    let alipay = adapter(&sim);
    let mut rx = receiver(0).await;
    paid(&sim, &alipay, &mut rx, "K-4001", "20.00").await;

    sim.faults.set(Faults {
        timeout: true,
        ..Faults::default()
    });
    assert!(matches!(
        alipay.query("K-4001").await,
        Err(AdapterError::Timeout)
    ));
    assert!(matches!(
        alipay
            .refund(&refund("K-4001", "R-1", "5.00", "20.00"))
            .await,
        Err(AdapterError::Timeout)
    ));
    sim.faults.set(Faults::default());
    // The simulator did the refund before holding its answer.
    let refunds_made = |sim: &SimHandle| {
        sim.trades()
            .iter()
            .find(|t| t.out_trade_no == "K-4001")
            .map(|t| t.refunds.len())
    };
    assert_eq!(refunds_made(&sim), Some(1));

    assert_eq!(
        alipay.query("K-4001").await.expect("query").status,
        TradeStatus::Paid
    );
    // The refund was made despite the timeout; the retry is the same refund, made once.
    let retried = alipay
        .refund(&refund("K-4001", "R-1", "5.00", "20.00"))
        .await
        .expect("retry");
    assert_eq!(retried.amount, yuan("5.00"));
    assert_eq!(refunds_made(&sim), Some(1));
}

#[tokio::test]
async fn duplicate_notification_carries_the_same_id() {
    let sim = start_sim(Faults {
        duplicate: true,
        ..Faults::default()
    })
    .await;
    let alipay = adapter(&sim);
    let mut rx = receiver(0).await;
    let first = paid(&sim, &alipay, &mut rx, "K-5001", "9.90").await;
    let body = rx.next().await;
    let second = alipay
        .verify_notification(&[], &body, now())
        .expect("verifies");
    assert_eq!(first, second);
    assert_eq!(first.nonce, second.nonce);
}

#[tokio::test]
async fn out_of_order_sends_the_newest_first() {
    let sim = start_sim(Faults::default()).await;
    // Switched at run time through the control endpoint, as an operator would.
    let switched = browser()
        .put(format!("http://{}/_sim/faults", sim.addr))
        .json(&serde_json::json!({ "out_of_order": true }))
        .send()
        .await
        .expect("control endpoint");
    assert_eq!(switched.status(), 200);
    assert!(sim.faults.get().out_of_order);
    let alipay = adapter(&sim);
    let mut rx = receiver(0).await;
    for no in ["K-6001", "K-6002"] {
        let start = alipay
            .create(&order(no, "3.00", &rx.url))
            .await
            .expect("create");
        press(&sim, &start.pay_url, "pay").await;
    }
    let mut order_seen = Vec::new();
    for _ in 0..2 {
        let note = alipay
            .verify_notification(&[], &rx.next().await, now())
            .expect("verifies");
        order_seen.push(note.trade.out_trade_no);
    }
    assert_eq!(order_seen, ["K-6002", "K-6001"]);
}

#[tokio::test]
async fn bad_signature_is_refused_in_notifications_and_answers() {
    let sim = start_sim(Faults {
        bad_signature: true,
        ..Faults::default()
    })
    .await;
    let alipay = adapter(&sim);
    let mut rx = receiver(0).await;
    let start = alipay
        .create(&order("K-7001", "1.00", &rx.url))
        .await
        .expect("create");
    press(&sim, &start.pay_url, "pay").await;
    let body = rx.next().await;
    assert!(matches!(
        alipay.verify_notification(&[], &body, now()),
        Err(AdapterError::BadNotification(_))
    ));
    assert!(matches!(
        alipay.query("K-7001").await,
        Err(AdapterError::BadAnswer(_))
    ));
}

// ---- notification checks ----

#[tokio::test]
async fn notification_window_app_id_and_tampering() {
    let sim = start_sim(Faults::default()).await;
    let alipay = adapter(&sim);
    let mut rx = receiver(0).await;
    let start = alipay
        .create(&order("K-8001", "128.00", &rx.url))
        .await
        .expect("create");
    press(&sim, &start.pay_url, "pay").await;
    let body = rx.next().await;
    let t = now();

    assert!(alipay.verify_notification(&[], &body, t + 290).is_ok());
    assert!(alipay.verify_notification(&[], &body, t - 290).is_ok());
    for late in [t + 310, t - 310] {
        assert!(matches!(
            alipay.verify_notification(&[], &body, late),
            Err(AdapterError::BadNotification(_))
        ));
    }
    let strict = Alipay::new(AlipayConfig {
        notify_window: Duration::from_secs(60),
        ..config(&sim)
    })
    .expect("adapter");
    assert!(strict.verify_notification(&[], &body, t + 120).is_err());

    let other_app = Alipay::new(AlipayConfig {
        app_id: "2021000000000002".into(),
        ..config(&sim)
    })
    .expect("adapter");
    assert!(matches!(
        other_app.verify_notification(&[], &body, t),
        Err(AdapterError::BadNotification(_))
    ));

    let text = String::from_utf8(body).expect("utf-8");
    assert!(text.contains("total_amount=128.00"));
    let tampered = text.replace("total_amount=128.00", "total_amount=1.28");
    assert!(matches!(
        alipay.verify_notification(&[], tampered.as_bytes(), t),
        Err(AdapterError::BadNotification(_))
    ));
    let unsigned: String = text
        .split('&')
        .filter(|kv| !kv.starts_with("sign="))
        .collect::<Vec<_>>()
        .join("&");
    assert!(
        alipay
            .verify_notification(&[], unsigned.as_bytes(), t)
            .is_err()
    );
}

// ---- requests the simulator refuses ----

#[tokio::test]
async fn merchant_signature_and_app_id_are_checked() {
    let sim = start_sim(Faults::default()).await;
    let rx = receiver(0).await;
    let forger = Alipay::new(AlipayConfig {
        app_key: alipay_key(),
        ..config(&sim)
    })
    .expect("adapter");
    assert_eq!(
        refused_code(forger.query("K-9001").await),
        "isv.invalid-signature"
    );
    let stranger = Alipay::new(AlipayConfig {
        app_id: "2021000000000002".into(),
        ..config(&sim)
    })
    .expect("adapter");
    assert_eq!(
        refused_code(stranger.query("K-9001").await),
        "isv.invalid-app-id"
    );

    // A buyer's page whose amount was changed after signing is refused, and no trade is made.
    let start = adapter(&sim)
        .create(&order("K-9001", "128.00", &rx.url))
        .await
        .expect("create");
    let tampered = start.pay_url.replace("128.00", "1.28");
    assert_ne!(tampered, start.pay_url);
    let page = browser().get(&tampered).send().await.expect("page");
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("isv.invalid-signature")
    );
    assert!(sim.trades().is_empty());
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let sim = start_sim(Faults::default()).await;
    let alipay = adapter(&sim);
    let mut usd = order("K-10001", "1.00", "http://127.0.0.1:9/notify");
    usd.amount = Money::parse("1.00", Currency::USD).expect("usd");
    assert!(matches!(
        alipay.create(&usd).await,
        Err(AdapterError::InvalidRequest(_))
    ));
    assert!(matches!(
        alipay
            .create(&order("K-10002", "0.00", "http://127.0.0.1:9/notify"))
            .await,
        Err(AdapterError::InvalidRequest(_))
    ));
    assert!(matches!(
        alipay.statement("2026/12/04").await,
        Err(AdapterError::InvalidRequest(_))
    ));
    assert!(matches!(
        Alipay::new(AlipayConfig {
            base_url: "ftp://127.0.0.1".into(),
            ..config(&sim)
        }),
        Err(AdapterError::InvalidRequest(_))
    ));
}
