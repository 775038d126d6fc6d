//! Orders per second end to end: a product card in a group, bought again and again through the
//! WeChat Pay and Alipay simulators, each order placed over the API, paid on the provider's page
//! (as a browser submits it), confirmed by the provider's signed notification, and read back
//! paid. The figure in `docs/benchmarks.md` ("payments") comes from here.
//!
//! `cargo run --release -p kaifang --example orders -- [orders] [buyers]` (defaults 200 and 4)
//!
//! Everything runs in this process on 127.0.0.1: a shop page, both simulators, and the server
//! on a fresh SQLite database in a temporary folder. Every loop is bounded in count and time.
use std::error::Error;
use std::time::{Duration, Instant};

use kaifang_client::Client;
use kaifang_pay::keys::{ApiV3Key, PrivateKey};
use kaifang_paysim::{Faults, alipay as alipay_sim, wechat as wechat_sim};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// The longest a whole run may take.
const DEADLINE: Duration = Duration::from_secs(300);
/// The longest one order may take to be paid.
const ORDER_WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse battery staple";
const API_V3_KEY: &str = "kaifang-test-apiv3-key-32-bytes!";
const PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>保温杯</title>
<meta property="og:title" content="不锈钢保温杯 500ml">
<script type="application/ld+json">{"@type":"Product","offers":{"price":"199.00","priceCurrency":"CNY"}}</script>
</head><body></body></html>"#;

fn fixture(name: &str) -> String {
    format!(
        "{}/../pay/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn key(name: &str) -> Result<PrivateKey> {
    Ok(PrivateKey::from_pem_or_base64(&std::fs::read_to_string(
        fixture(name),
    )?)?)
}

/// The shop: every request gets the product page.
async fn shop() -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    PAGE.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(PAGE.as_bytes()).await;
            });
        }
    });
    Ok(port)
}

/// Places one order and pays it on the provider's page; returns when it reads back paid.
async fn one_order(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    order: &Value,
    key: &str,
) -> Result<()> {
    let placed: Value = http
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(order)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = placed["order"]["id"].as_i64().ok_or("no order id")?;
    let pay_url = placed["pay_url"].as_str().ok_or("no pay_url")?;
    // The buyer on the provider's page: open it, submit its form with Pay.
    let html = http.get(pay_url).send().await?.text().await?;
    let attr = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|v| v.replace("&amp;", "&").replace("&quot;", "\""))
    };
    let action = attr(&html, "action").ok_or("no form on the provider's page")?;
    let mut fields = vec![("action".to_owned(), "pay".to_owned())];
    for input in html.split("<input").skip(1) {
        let tag = input.split('>').next().unwrap_or("");
        if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((n, v));
        }
    }
    let target = url::Url::parse(pay_url)?.join(&action)?;
    http.post(target).form(&fields).send().await?;
    let until = Instant::now() + ORDER_WAIT;
    loop {
        let o: Value = http
            .get(format!("{base}/api/v1/orders/{id}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if o["state"] == "paid" {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("order {id} stayed {}", o["state"]).into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// `buyers` buyers each placing `per_buyer` orders one after another, all at once.
async fn run(
    base: &str,
    tokens: &[String],
    order: &Value,
    per_buyer: usize,
    label: &str,
) -> Result<Value> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (b, token) in tokens.iter().enumerate() {
        let (base, token, order, label) = (
            base.to_owned(),
            token.clone(),
            order.clone(),
            label.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            let mut times = Vec::with_capacity(per_buyer);
            for i in 0..per_buyer {
                // Alternate the wallets so that both providers carry the load.
                let mut order = order.clone();
                order["wallet"] = json!(if i % 2 == 0 { "alipay" } else { "wechat-pay" });
                let t = Instant::now();
                one_order(&http, &base, &token, &order, &format!("{label}-{b}-{i}")).await?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                if started.elapsed() > DEADLINE {
                    break;
                }
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(times)
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    Ok(json!({
        "run": label,
        "buyers": tokens.len(),
        "orders": times.len(),
        "seconds": (secs * 1000.0).round() / 1000.0,
        "orders_per_s": (times.len() as f64 / secs * 10.0).round() / 10.0,
        "p50_ms": (percentile(&times, 0.5) * 10.0).round() / 10.0,
        "p99_ms": (percentile(&times, 0.99) * 10.0).round() / 10.0,
    }))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| "usage: orders [orders] [buyers] (positive numbers)")?;
    let orders = args.first().copied().unwrap_or(200).clamp(1, 10_000);
    let buyers = args.get(1).copied().unwrap_or(4).clamp(1, 64);

    let port = shop().await?;
    let merchant = key("TEST_ONLY_wechatpay_go_signer_key.pem")?;
    let provider = key("TEST_ONLY_rsa2048_key.pem")?;
    let wechat = wechat_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        wechat_sim::Config {
            mchid: "1900000109".into(),
            appid: "wxd678efh567hg6787".into(),
            merchant_serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            merchant_key: merchant.public_key(),
            platform_serial: "PUB_KEY_ID_0119000001092025".into(),
            platform_key: provider.clone(),
            api_v3_key: ApiV3Key::new(API_V3_KEY.as_bytes())?,
            faults: Faults::default(),
            timeout_hold: Duration::from_secs(4),
        },
    )
    .await?;
    let alipay = alipay_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        alipay_sim::Config::new("2021000000000001", merchant.public_key(), provider),
    )
    .await?;

    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("apiv3"), API_V3_KEY)?;
    let settings = format!(
        r#"listen = "127.0.0.1:0"
data_dir = "{data}"
[links]
policy = "{repo}/policies/examples/groups-open.cedar"
[preview]
allow_addresses = ["127.0.0.1:{port}"]
[preview.resolve]
"item.taobao.com" = "127.0.0.1"
[payments.wechat]
base_url = "http://{wechat}"
mchid = "1900000109"
appid = "wxd678efh567hg6787"
merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
merchant_key = "file:{merchant}"
platform_serial = "PUB_KEY_ID_0119000001092025"
platform_key = "file:{platform}"
api_v3_key = "file:{apiv3}"
[payments.alipay]
base_url = "http://{alipay}"
app_id = "2021000000000001"
app_key = "file:{merchant}"
alipay_key = "file:{platform}"
"#,
        data = dir.path().join("data").display(),
        repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        wechat = wechat.addr,
        alipay = alipay.addr,
        merchant = fixture("TEST_ONLY_wechatpay_go_signer_key.pem"),
        platform = fixture("TEST_ONLY_rsa2048_pub.pem"),
        apiv3 = dir.path().join("apiv3").display(),
    );
    let path = dir.path().join("kaifang.toml");
    std::fs::write(&path, settings)?;
    let server =
        kaifang_server::Server::build(kaifang_server::Settings::load(Some(&path))?).await?;
    let base = format!("http://{}", server.local_addr()?);
    tokio::spawn(server.run(std::future::pending()));

    // A group with the card, and the buyers in it.
    let mut alice = Client::new(&base)?;
    alice.sign_up("alice", PASSWORD, None).await?;
    alice.sign_in("alice", PASSWORD).await?;
    let handles: Vec<String> = (0..buyers).map(|b| format!("buyer{b}")).collect();
    let mut tokens = Vec::new();
    for h in &handles {
        let mut c = Client::new(&base)?;
        c.sign_up(h, PASSWORD, None).await?;
        tokens.push(c.sign_in(h, PASSWORD).await?);
    }
    let group = alice.create_group("shop", &handles).await?["id"]
        .as_i64()
        .ok_or("no group id")?;
    let link = format!("http://item.taobao.com:{port}/item.htm?id=678");
    let sent = alice.send(group, &format!("看看 {link}"), None).await?;
    let seq = sent["seq"].as_i64().ok_or("no seq")?;
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let h = alice.history(group, None, 1).await?;
        if !h["messages"][0]["previews"][&link]["price"].is_null() {
            break;
        }
        if Instant::now() > until {
            return Err("the card never came".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let order = json!({"conversation_id": group, "seq": seq, "link_index": 0, "quantity": 1});

    // Warm-up, then one buyer alone, then all buyers at once.
    run(&base, &tokens[..1], &order, 10, "warm-up").await?;
    let sequential = run(&base, &tokens[..1], &order, orders, "sequential").await?;
    println!("{sequential}");
    let concurrent = run(
        &base,
        &tokens,
        &order,
        orders.div_ceil(buyers),
        "concurrent",
    )
    .await?;
    println!("{concurrent}");
    Ok(())
}
