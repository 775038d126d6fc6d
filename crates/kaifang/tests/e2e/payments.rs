//! Issue 10 end to end: a product shared in a group is bought with two wallets, through the
//! WeChat Pay and Alipay simulators on loopback, paid by signed notifications, refunded, and
//! written to a ledger that balances; and the faults around it.
use std::time::Duration;

use kaifang_client::Client;
use kaifang_pay::keys::{ApiV3Key, PrivateKey};
use kaifang_paysim::{Faults, alipay as alipay_sim, wechat as wechat_sim};
use serde_json::{Value, json};

use crate::previews::shop;
use crate::{TestServer, id, user};

const MCHID: &str = "1900000109";
const APPID: &str = "wxd678efh567hg6787";
const ALIPAY_APP: &str = "2021000000000001";
const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0119000001092025";
const API_V3_KEY: &str = "kaifang-test-apiv3-key-32-bytes!";
/// How long a test waits for something it expects (a notification, a preview).
const WAIT: Duration = Duration::from_secs(15);

fn fixture(name: &str) -> String {
    format!(
        "{}/../pay/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn key(name: &str) -> PrivateKey {
    PrivateKey::from_pem_or_base64(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

/// Both simulators, on loopback. The merchant key (ours) is wechatpay-go's test key, the
/// providers' key the other test key, for both providers.
pub(crate) struct Sims {
    pub wechat: wechat_sim::SimHandle,
    pub alipay: alipay_sim::SimHandle,
    dir: tempfile::TempDir,
}

pub(crate) async fn sims() -> Sims {
    let merchant = key("TEST_ONLY_wechatpay_go_signer_key.pem");
    let provider = key("TEST_ONLY_rsa2048_key.pem");
    let wechat = wechat_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        wechat_sim::Config {
            mchid: MCHID.into(),
            appid: APPID.into(),
            merchant_serial: MERCHANT_SERIAL.into(),
            merchant_key: merchant.public_key(),
            platform_serial: PLATFORM_SERIAL.into(),
            platform_key: provider.clone(),
            api_v3_key: ApiV3Key::new(API_V3_KEY.as_bytes()).unwrap(),
            faults: Faults::default(),
            timeout_hold: Duration::from_secs(4),
        },
    )
    .await
    .unwrap();
    let mut config = alipay_sim::Config::new(ALIPAY_APP, merchant.public_key(), provider);
    config.hold = Duration::from_secs(4);
    config.notify_backoff = Duration::from_millis(50);
    let alipay = alipay_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        config,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apiv3"), API_V3_KEY).unwrap();
    Sims {
        wechat,
        alipay,
        dir,
    }
}

impl Sims {
    /// Server settings: the shop's page reachable for previews, groups open (so that the card
    /// shows in a group), and both providers configured with keys from files.
    pub(crate) fn settings(&self, shop_port: u16) -> String {
        let policy = format!(
            "{}/../../policies/examples/groups-open.cedar",
            env!("CARGO_MANIFEST_DIR")
        );
        format!(
            r#"[links]
policy = "{policy}"
[preview]
allow_addresses = ["127.0.0.1:{shop_port}"]
[preview.resolve]
"item.taobao.com" = "127.0.0.1"
[payments]
provider_timeout_ms = 1500
[payments.wechat]
base_url = "http://{wechat}"
mchid = "{MCHID}"
appid = "{APPID}"
merchant_serial = "{MERCHANT_SERIAL}"
merchant_key = "file:{merchant}"
platform_serial = "{PLATFORM_SERIAL}"
platform_key = "file:{platform}"
api_v3_key = "file:{apiv3}"
[payments.alipay]
base_url = "http://{alipay}"
app_id = "{ALIPAY_APP}"
app_key = "file:{merchant}"
alipay_key = "file:{platform}"
"#,
            wechat = self.wechat.addr,
            alipay = self.alipay.addr,
            merchant = fixture("TEST_ONLY_wechatpay_go_signer_key.pem"),
            platform = fixture("TEST_ONLY_rsa2048_pub.pem"),
            apiv3 = self.dir.path().join("apiv3").display(),
        )
    }
}

/// Calls the API as `who`; returns status and JSON (null when none).
pub(crate) async fn call(
    server: &TestServer,
    who: &Client,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}/api/v1{path}", server.url))
        .bearer_auth(who.token().unwrap());
    if let Some(key) = key {
        r = r.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `GET` as `who`.
pub(crate) async fn get(server: &TestServer, who: &Client, path: &str) -> (u16, Value) {
    call(server, who, reqwest::Method::GET, path, None, None).await
}

/// `POST` as `who`, with an `Idempotency-Key` and a JSON body when given.
pub(crate) async fn post(
    server: &TestServer,
    who: &Client,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    call(server, who, reqwest::Method::POST, path, key, body).await
}

/// An account's balance in a ledger answer (0 when it has none).
pub(crate) fn balance(ledger: &Value, account: &str) -> i64 {
    ledger["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == account)
        .map_or(0, |a| a["balance_minor"].as_i64().unwrap())
}

/// The buyer on the provider's page: opens it and submits its form with the Pay button, as a
/// browser would (hidden fields included).
pub(crate) async fn pay_at_provider(pay_url: &str) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(pay_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{pay_url}");
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"sim-pay\""), "{html}");
    let attr = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|v| {
                v.replace("&amp;", "&")
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
            })
    };
    let action = attr(&html, "action").expect("the page's form");
    let mut fields = vec![("action".to_owned(), "pay".to_owned())];
    for input in html.split("<input").skip(1) {
        let tag = input.split('>').next().unwrap_or("");
        if let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((name, value));
        }
    }
    let base = url::Url::parse(pay_url).unwrap();
    let target = base.join(&action).unwrap();
    let answer = browser.post(target).form(&fields).send().await.unwrap();
    assert_eq!(answer.status(), 303, "the provider sends the buyer back");
}

/// Waits until the order reaches `state` (the notification is asynchronous), within [`WAIT`].
pub(crate) async fn order_reaches(
    server: &TestServer,
    who: &Client,
    order: i64,
    state: &str,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, o) = get(server, who, &format!("/orders/{order}")).await;
        assert_eq!(status, 200, "{o}");
        if o["state"] == state {
            return o;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order} stayed {}",
            o["state"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Shares the shop's product page in `conversation` and waits for its card: returns the
/// message's seq.
pub(crate) async fn share_card(alice: &Client, conversation: i64, link: &str) -> i64 {
    let sent = alice
        .send(conversation, &format!("这个杯子不错 {link}"), None)
        .await
        .unwrap();
    let seq = sent["seq"].as_i64().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let h = alice.history(conversation, None, 5).await.unwrap();
        let m = h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["seq"] == seq)
            .cloned()
            .unwrap();
        if !m["previews"][link]["price"].is_null() {
            assert_eq!(m["previews"][link]["price"], "199.00");
            assert_eq!(m["previews"][link]["currency"], "CNY");
            return seq;
        }
        assert!(tokio::time::Instant::now() < deadline, "no card: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// Multi-threaded: the simulators run in this process and must answer while the CLI, a child
// process, is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_in_a_group_is_bought_with_two_wallets_paid_refunded_and_balanced() {
    let (port, _, _) = shop().await;
    let sims = sims().await;
    let server = TestServer::start_full(&[], Some(&sims.settings(port)));
    let root = user(&server, "root").await; // the first account: an administrator
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let outsider = user(&server, "dave").await;
    let group = id(&alice
        .create_group("shoppers", &["bob".into(), "carol".into()])
        .await
        .unwrap());
    let link = format!("http://item.taobao.com:{port}/item.htm?id=678");
    let seq = share_card(&alice, group, &link).await;
    let card = format!("/orders/quote?conversation_id={group}&seq={seq}&link_index=0");

    // The card's price and the wallets Taobao accepts, both configured.
    let (status, quote) = get(&server, &bob, &card).await;
    assert_eq!(status, 200, "{quote}");
    assert_eq!(quote["merchant"], "taobao");
    assert_eq!(
        quote["unit_price"],
        json!({"amount_minor": 19_900, "currency": "CNY", "display": "199.00 CNY"})
    );
    let mut offered: Vec<&str> = quote["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    offered.sort_unstable();
    assert_eq!(offered, ["alipay", "wechat-pay"]);
    assert_eq!(quote["picker_order"], "neutral");
    // A non-member learns nothing.
    assert_eq!(get(&server, &outsider, &card).await.0, 404);

    let order_body = |wallet: &str, quantity: u32| json!({"conversation_id": group, "seq": seq, "link_index": 0, "quantity": quantity, "wallet": wallet});
    // Bob pays with Alipay.
    let (status, placed) = post(
        &server,
        &bob,
        "/orders",
        Some("bob-1"),
        Some(order_body("alipay", 2)),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["order"]["amount"]["amount_minor"], 39_800);
    assert_eq!(placed["order"]["state"], "pending");
    let bob_order = placed["order"]["id"].as_i64().unwrap();
    // The same key and parameters: the same order; other parameters: refused.
    let (status, again) = post(
        &server,
        &bob,
        "/orders",
        Some("bob-1"),
        Some(order_body("alipay", 2)),
    )
    .await;
    assert_eq!(
        (status, again["order"]["id"].as_i64()),
        (200, Some(bob_order)),
        "{again}"
    );
    let (status, reused) = post(
        &server,
        &bob,
        "/orders",
        Some("bob-1"),
        Some(order_body("alipay", 3)),
    )
    .await;
    assert_eq!(status, 422, "{reused}");
    // No key: refused.
    assert_eq!(
        post(
            &server,
            &bob,
            "/orders",
            None,
            Some(order_body("alipay", 1))
        )
        .await
        .0,
        400
    );
    pay_at_provider(placed["pay_url"].as_str().unwrap()).await;
    order_reaches(&server, &bob, bob_order, "paid").await;

    // Carol pays with WeChat Pay.
    let (status, placed) = post(
        &server,
        &carol,
        "/orders",
        Some("carol-1"),
        Some(order_body("wechat-pay", 1)),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    let carol_order = placed["order"]["id"].as_i64().unwrap();
    pay_at_provider(placed["pay_url"].as_str().unwrap()).await;
    order_reaches(&server, &carol, carol_order, "paid").await;
    // The picker puts each buyer's last paid wallet first.
    let first_offered = |q: &Value| q["wallets"][0]["id"].as_str().unwrap().to_owned();
    let (_, q) = get(&server, &bob, &card).await;
    assert_eq!(first_offered(&q), "alipay", "{q}");
    let (_, q) = get(&server, &carol, &card).await;
    assert_eq!(first_offered(&q), "wechat-pay", "{q}");
    // Nobody else reads an order.
    assert_eq!(
        get(&server, &carol, &format!("/orders/{bob_order}"))
            .await
            .0,
        404
    );

    // The ledger: every yuan that came in through a wallet is the merchant's, and it balances.
    let (status, ledger) = get(&server, &root, "/admin/payments/ledger").await;
    assert_eq!(status, 200, "{ledger}");
    assert_eq!(ledger["balanced"], true);
    assert_eq!(balance(&ledger, "provider:alipay"), -39_800);
    assert_eq!(balance(&ledger, "provider:wechat-pay"), -19_900);
    assert_eq!(balance(&ledger, "merchant:taobao"), 59_700);
    assert_eq!(get(&server, &bob, "/admin/payments/ledger").await.0, 404);

    // Refunds: part, then more than is left (refused), then the rest.
    let refunds = format!("/orders/{bob_order}/refunds");
    let (status, o) = post(
        &server,
        &root,
        &refunds,
        Some("r1"),
        Some(json!({"amount_minor": 10_000})),
    )
    .await;
    assert_eq!(
        (status, o["state"].as_str()),
        (200, Some("partially_refunded")),
        "{o}"
    );
    let (status, too_much) = post(
        &server,
        &root,
        &refunds,
        Some("r2"),
        Some(json!({"amount_minor": 29_801})),
    )
    .await;
    assert_eq!(status, 422, "{too_much}");
    // Only an administrator refunds.
    assert_eq!(
        post(
            &server,
            &bob,
            &refunds,
            Some("r3"),
            Some(json!({"amount_minor": 1}))
        )
        .await
        .0,
        404
    );
    let (status, o) = post(
        &server,
        &root,
        &refunds,
        Some("r4"),
        Some(json!({"amount_minor": 29_800})),
    )
    .await;
    assert_eq!(
        (status, o["state"].as_str()),
        (200, Some("refunded")),
        "{o}"
    );
    let (_, ledger) = get(&server, &root, "/admin/payments/ledger").await;
    assert_eq!(ledger["balanced"], true);
    assert_eq!(balance(&ledger, "provider:alipay"), 0);
    assert_eq!(balance(&ledger, "merchant:taobao"), 19_900);

    // Reconciliation of today: the ledger agrees with both statements.
    let today = {
        let d = time::OffsetDateTime::now_utc().date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    let reconcile = format!("/admin/payments/reconcile?date={today}");
    let (status, r) = get(&server, &root, &reconcile).await;
    assert_eq!(status, 200, "{r}");
    for w in r["wallets"].as_array().unwrap() {
        assert_eq!(w["differences"], json!([]), "{w}");
    }
    let lines = |wallet: &str, r: &Value| {
        let w = r["wallets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["wallet"] == wallet)
            .unwrap()
            .clone();
        (
            w["ledger_lines"].as_u64().unwrap(),
            w["statement_lines"].as_u64().unwrap(),
        )
    };
    assert_eq!(lines("alipay", &r), (3, 3), "a payment and two refunds");
    assert_eq!(lines("wechat-pay", &r), (1, 1));
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(["--server", &server.url])
            .args(args)
            .env("KAIFANG_TOKEN", root.token().unwrap())
            .output()
            .unwrap()
    };
    let out = cli(&["pay", "reconcile", "--date", &today]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "{today} alipay: 3 ledger, 3 statement, no difference"
        )),
        "{text}"
    );

    // A planted difference: the provider holds its notification (out-of-order fault), so it has
    // a payment the ledger lacks.
    set_faults(&sims.wechat.addr, json!({"out_of_order": true})).await;
    let (status, placed) = post(
        &server,
        &carol,
        "/orders",
        Some("carol-2"),
        Some(order_body("wechat-pay", 1)),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    let held = placed["order"]["id"].as_i64().unwrap();
    pay_at_provider(placed["pay_url"].as_str().unwrap()).await;
    let (_, r) = get(&server, &root, &reconcile).await;
    let w = r["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["wallet"] == "wechat-pay")
        .unwrap()
        .clone();
    let differences = w["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{w}");
    let line = differences[0].as_str().unwrap();
    assert!(line.contains("missing from the ledger"), "{line}");
    assert!(line.contains(&format!("kaifang-{held:08}")), "{line}");
    let out = cli(&["pay", "reconcile", "--date", &today]);
    assert_eq!(out.status.code(), Some(1), "a difference exits 1");
    assert!(String::from_utf8_lossy(&out.stdout).contains("missing from the ledger"));
    // No notification came: the buyer's query asks the provider, and the ledger catches up.
    let (status, o) = post(
        &server,
        &carol,
        &format!("/orders/{held}/query"),
        None,
        None,
    )
    .await;
    assert_eq!((status, o["state"].as_str()), (200, Some("paid")), "{o}");
    let (_, r) = get(&server, &root, &reconcile).await;
    for w in r["wallets"].as_array().unwrap() {
        assert_eq!(w["differences"], json!([]), "{w}");
    }
    let bad = cli(&["pay", "reconcile", "--date", "4 December"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Switches a simulator's faults.
pub(crate) async fn set_faults(addr: &std::net::SocketAddr, faults: Value) {
    let r = reqwest::Client::new()
        .put(format!("http://{addr}/_sim/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
