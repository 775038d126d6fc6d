//! Issue 10's faults end to end: forged, late, replayed or wrong notifications change nothing; a
//! provider that times out leaves the order pending until a query; `kill -9` between the
//! provider's acceptance and its notification loses nothing and charges nothing twice.
use kaifang_pay::alipay::AppSigner;
use kaifang_pay::keys::PrivateKey;
use serde_json::{Value, json};

use crate::payments::{
    balance, get, order_reaches, pay_at_provider, post, set_faults, share_card, sims,
};
use crate::previews::shop;
use crate::{TestServer, id, user};

fn key(name: &str) -> PrivateKey {
    let path = format!(
        "{}/../pay/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    PrivateKey::from_pem_or_base64(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `unix` as Alipay writes times: Beijing time, `yyyy-MM-dd HH:mm:ss`.
fn beijing(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix + 8 * 3_600).unwrap();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An Alipay `trade_status_sync` notification form for `out_trade_no`, signed by `signer`.
fn alipay_notice(
    signer: &PrivateKey,
    out_trade_no: &str,
    total: &str,
    notify_id: &str,
    at: i64,
) -> String {
    let fields: Vec<(&str, String)> = vec![
        ("notify_time", beijing(at)),
        ("notify_type", "trade_status_sync".into()),
        ("notify_id", notify_id.into()),
        ("app_id", "2021000000000001".into()),
        ("charset", "utf-8".into()),
        ("version", "1.0".into()),
        ("trade_no", "2026120422001400000000000001".into()),
        ("out_trade_no", out_trade_no.into()),
        ("trade_status", "TRADE_SUCCESS".into()),
        ("total_amount", total.into()),
        ("gmt_payment", beijing(at)),
    ];
    let sign = AppSigner::new(signer.clone())
        .sign(fields.iter().map(|(k, v)| (*k, v.as_str())))
        .unwrap();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .append_pair("sign_type", "RSA2")
        .append_pair("sign", &sign)
        .finish()
}

/// Posts a notification as a provider would; returns the status and body.
async fn deliver(server: &TestServer, wallet: &str, body: String) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/payments/notify/{wallet}", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A shop's card in a group, a server with both providers, an administrator and a buyer.
struct Shop {
    server: TestServer,
    root: kaifang_client::Client,
    bob: kaifang_client::Client,
    order: Value,
    _sims: crate::payments::Sims,
}

async fn open_shop() -> (
    TestServer,
    crate::payments::Sims,
    kaifang_client::Client,
    kaifang_client::Client,
    Value,
) {
    let (port, _, _) = shop().await;
    let sims = sims().await;
    let server = TestServer::start_full(&[], Some(&sims.settings(port)));
    let root = user(&server, "root").await;
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let group = id(&alice
        .create_group("shoppers", &["bob".into()])
        .await
        .unwrap());
    let link = format!("http://item.taobao.com:{port}/item.htm?id=678");
    let seq = share_card(&alice, group, &link).await;
    let order = json!({"conversation_id": group, "seq": seq, "link_index": 0, "quantity": 1});
    (server, sims, root, bob, order)
}

impl Shop {
    async fn new() -> Self {
        let (server, sims, root, bob, order) = open_shop().await;
        Self {
            server,
            root,
            bob,
            order,
            _sims: sims,
        }
    }

    async fn ledger(&self) -> Value {
        get(&self.server, &self.root, "/admin/payments/ledger")
            .await
            .1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_late_unknown_mismatched_or_replayed_notifications_change_nothing() {
    let shop = Shop::new().await;
    let mut body = shop.order.clone();
    body["wallet"] = json!("alipay");
    let (status, placed) = post(&shop.server, &shop.bob, "/orders", Some("b-1"), Some(body)).await;
    assert_eq!(status, 201, "{placed}");
    let order = placed["order"]["id"].as_i64().unwrap();
    let trade = format!("kaifang-{order:08}");
    let alipay = key("TEST_ONLY_rsa2048_key.pem");
    let forger = key("TEST_ONLY_wechatpay_go_signer_key.pem");
    let pending = || async {
        let (_, o) = get(&shop.server, &shop.bob, &format!("/orders/{order}")).await;
        o["state"].as_str().unwrap().to_owned()
    };

    // Forged (signed by another key), late (ten minutes old), for an unknown order, or for
    // another amount: refused, and the order is still pending with nothing in the ledger.
    let cases = [
        (
            "forged",
            alipay_notice(&forger, &trade, "199.00", "n-forged", now()),
            422,
        ),
        (
            "late",
            alipay_notice(&alipay, &trade, "199.00", "n-late", now() - 600),
            422,
        ),
        (
            "unknown order",
            alipay_notice(&alipay, "kaifang-99999999", "199.00", "n-unknown", now()),
            404,
        ),
        (
            "amount",
            alipay_notice(&alipay, &trade, "1.99", "n-amount", now()),
            422,
        ),
    ];
    for (what, notice, expected) in cases {
        let (status, text) = deliver(&shop.server, "alipay", notice).await;
        assert_eq!(status, expected, "{what}: {text}");
        assert_ne!(text, "success", "{what}");
        assert_eq!(pending().await, "pending", "{what}");
    }
    assert_eq!(shop.ledger().await["accounts"], json!([]));

    // A genuine one: paid, recorded once, acknowledged as Alipay expects.
    let genuine = alipay_notice(&alipay, &trade, "199.00", "n-1", now());
    assert_eq!(
        deliver(&shop.server, "alipay", genuine.clone()).await,
        (200, "success".to_owned())
    );
    assert_eq!(pending().await, "paid");
    assert_eq!(balance(&shop.ledger().await, "provider:alipay"), -19_900);
    // The same notification again is a replay: refused, nothing changes.
    let (status, text) = deliver(&shop.server, "alipay", genuine).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("replayed"), "{text}");
    // Another delivery of the same payment (a new notify_id): acknowledged, charged once.
    let again = alipay_notice(&alipay, &trade, "199.00", "n-2", now());
    assert_eq!(
        deliver(&shop.server, "alipay", again).await,
        (200, "success".to_owned())
    );
    let ledger = shop.ledger().await;
    assert_eq!(balance(&ledger, "provider:alipay"), -19_900);
    assert_eq!(balance(&ledger, "merchant:taobao"), 19_900);
    // A notification for a wallet with no provider: not there.
    assert_eq!(deliver(&shop.server, "paypal", String::new()).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_timeout_leaves_the_order_pending_until_it_is_asked_again() {
    let (server, sims, _root, bob, order) = open_shop().await;
    set_faults(&sims.wechat.addr, json!({"timeout": true})).await;
    let mut body = order.clone();
    body["wallet"] = json!("wechat-pay");
    let (status, placed) = post(&server, &bob, "/orders", Some("t-1"), Some(body.clone())).await;
    assert_eq!(status, 202, "{placed}");
    assert_eq!(placed["pay_url"], Value::Null);
    assert_eq!(placed["order"]["state"], "pending");
    let id = placed["order"]["id"].as_i64().unwrap();
    set_faults(&sims.wechat.addr, json!({})).await;
    // The query finds the trade unpaid: still pending.
    let (status, o) = post(&server, &bob, &format!("/orders/{id}/query"), None, None).await;
    assert_eq!((status, o["state"].as_str()), (200, Some("pending")), "{o}");
    // The buyer retries with the same key: the same order, now with the provider's page.
    let (status, again) = post(&server, &bob, "/orders", Some("t-1"), Some(body)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["order"]["id"].as_i64(), Some(id));
    pay_at_provider(again["pay_url"].as_str().unwrap()).await;
    order_reaches(&server, &bob, id, "paid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_the_providers_acceptance_and_its_notification_loses_nothing() {
    let (mut server, _sims, root, bob, order) = open_shop().await;
    let mut body = order.clone();
    body["wallet"] = json!("alipay");
    let (status, placed) = post(&server, &bob, "/orders", Some("k-1"), Some(body)).await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order"]["id"].as_i64().unwrap();
    // The provider has accepted; the server dies before any notification.
    server.kill_hard();
    pay_at_provider(placed["pay_url"].as_str().unwrap()).await;
    server.restart();
    // The order survived, pending; the buyer's query finds it paid at the provider.
    let (status, o) = get(&server, &bob, &format!("/orders/{id}")).await;
    assert_eq!((status, o["state"].as_str()), (200, Some("pending")), "{o}");
    let (status, o) = post(&server, &bob, &format!("/orders/{id}/query"), None, None).await;
    assert_eq!((status, o["state"].as_str()), (200, Some("paid")), "{o}");
    // Asking again charges nothing twice.
    let (status, _) = post(&server, &bob, &format!("/orders/{id}/query"), None, None).await;
    assert_eq!(status, 200);
    let (_, ledger) = get(&server, &root, "/admin/payments/ledger").await;
    assert_eq!(balance(&ledger, "provider:alipay"), -19_900);
    assert_eq!(ledger["balanced"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_refused_because_the_trade_is_paid_keeps_the_order_for_its_payment() {
    let (server, sims, _root, bob, order) = open_shop().await;
    let mut body = order.clone();
    body["wallet"] = json!("wechat-pay");
    let (status, placed) = post(&server, &bob, "/orders", Some("p-1"), Some(body.clone())).await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order"]["id"].as_i64().unwrap();
    // The provider holds its notification; the buyer pays, then retries the same attempt.
    set_faults(&sims.wechat.addr, json!({"out_of_order": true})).await;
    pay_at_provider(placed["pay_url"].as_str().unwrap()).await;
    let (status, refused) = post(&server, &bob, "/orders", Some("p-1"), Some(body)).await;
    assert_eq!(
        status, 422,
        "WeChat Pay refuses to open a paid trade again: {refused}"
    );
    // The order is not cancelled: it was paid, and a query says so.
    let (_, o) = get(&server, &bob, &format!("/orders/{id}")).await;
    assert_eq!(o["state"], "pending", "{o}");
    let (status, o) = post(&server, &bob, &format!("/orders/{id}/query"), None, None).await;
    assert_eq!((status, o["state"].as_str()), (200, Some("paid")), "{o}");
}
