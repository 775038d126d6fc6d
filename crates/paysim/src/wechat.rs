//! A WeChat Pay API v3 simulator (H5 payments) on loopback: it checks each request's
//! `WECHATPAY2-SHA256-RSA2048` signature with the merchant's public key, signs each answer and
//! notification with its platform key, seals notification resources with the APIv3 key, serves
//! the buyer's page and the daily trade bill. Endpoints, faults and the bill format are in
//! docs/payments.md ("WeChat Pay adapter and simulator").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, serve as axum_serve};
use kaifang_pay::keys::{ApiV3Key, PrivateKey, PublicKey};
use kaifang_pay::wechat::{AUTH_SCHEME, notification_message, request_message};
use kaifang_pay::{Currency, Money};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::args::Flags;
use crate::{Faults, SharedFaults, control_router, now_unix, random};

mod api;
mod bill;
mod buyer;
mod notify;

/// How long the timeout fault holds an answer unless configured (5 s).
pub const DEFAULT_TIMEOUT_HOLD: Duration = Duration::from_secs(5);
/// The longest the timeout fault ever holds an answer (10 s), whatever the configuration says.
pub const MAX_TIMEOUT_HOLD: Duration = Duration::from_secs(10);
/// How long one notification POST may take (5 s).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How far a request's signed timestamp may be from the simulator's clock (300 s).
pub const REQUEST_WINDOW_SECS: i64 = 300;
/// How many trades one simulator keeps; creating more is refused (`FREQUENCY_LIMITED`).
pub const MAX_TRADES: usize = 100_000;
/// How many prepared bills are kept for download; older ones are forgotten.
pub const MAX_BILLS: usize = 256;

/// The simulated merchant account and the simulator's own keys.
#[derive(Debug, Clone)]
pub struct Config {
    /// The merchant id requests must carry.
    pub mchid: String,
    /// The app id payments must be made under.
    pub appid: String,
    /// The serial of the merchant's API certificate (`serial_no` in `Authorization`).
    pub merchant_serial: String,
    /// The merchant's public key, which checks request signatures.
    pub merchant_key: PublicKey,
    /// The serial of the platform key, sent as `Wechatpay-Serial`.
    pub platform_serial: String,
    /// The platform private key, which signs answers and notifications.
    pub platform_key: PrivateKey,
    /// The APIv3 key that seals notification resources.
    pub api_v3_key: ApiV3Key,
    /// The faults in force at start.
    pub faults: Faults,
    /// How long the timeout fault holds an answer (capped at [`MAX_TIMEOUT_HOLD`]).
    pub timeout_hold: Duration,
}

/// A trade as the simulator holds it, for tests and the binary's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeView {
    /// The merchant's reference.
    pub out_trade_no: String,
    /// WeChat Pay's reference, once paid.
    pub transaction_id: Option<String>,
    /// `NOTPAY`, `SUCCESS` or `REFUND`.
    pub trade_state: &'static str,
    /// The amount, in fen.
    pub total: i64,
    /// What was refunded, in fen.
    pub refunded: i64,
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its faults, to switch at run time (the same as `PUT /_sim/faults`).
    pub faults: SharedFaults,
    sim: Arc<Sim>,
    stop: Option<oneshot::Sender<()>>,
}

impl SimHandle {
    /// The trades it holds, oldest first.
    pub fn trades(&self) -> Vec<TradeView> {
        let store = self.sim.lock();
        store.trades.iter().map(Trade::view).collect()
    }

    /// Stops serving (in-flight requests are finished first).
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves the simulator on `listener`, which must be bound to a loopback address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the simulator listens on loopback only",
        ));
    }
    let faults = SharedFaults::new(config.faults);
    let (outbox, queue) = mpsc::unbounded_channel();
    tokio::spawn(notify::send_notifications(queue));
    let sim = Arc::new(Sim {
        base_url: format!("http://{addr}"),
        faults: faults.clone(),
        config,
        store: Mutex::new(Store::default()),
        outbox,
    });
    let app = Router::new()
        .merge(api::routes())
        .merge(buyer::routes())
        .with_state(sim.clone())
        .merge(control_router(faults.clone()));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = axum_serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!("wechat simulator stopped: {e}");
        }
    });
    Ok(SimHandle {
        addr,
        faults,
        sim,
        stop: Some(stop),
    })
}

/// Reads a [`Config`] from command-line arguments (without the program name):
/// `--mchid ID --appid ID --merchant-serial S --merchant-public-key FILE --platform-serial S
/// --platform-private-key FILE --api-v3-key-file FILE [--timeout-hold-ms N]
/// [--fault timeout|duplicate|out-of-order|bad-signature]...`. The APIv3 key file holds the 32
/// characters of the key (a final newline is ignored).
pub fn config_from_args(args: &[String]) -> Result<Config, String> {
    let flags = Flags::parse(
        args,
        &[
            "--mchid",
            "--merchant-id",
            "--appid",
            "--merchant-serial",
            "--merchant-public-key",
            "--platform-serial",
            "--platform-private-key",
            "--api-v3-key-file",
            "--timeout-hold-ms",
        ],
    )?;
    let mchid = flags
        .get("--mchid")
        .or_else(|| flags.get("--merchant-id"))
        .ok_or("--mchid is required")?;
    let timeout_hold = flags
        .number("--timeout-hold-ms")?
        .map_or(DEFAULT_TIMEOUT_HOLD, Duration::from_millis);
    let api_v3 = flags.read("--api-v3-key-file")?;
    Ok(Config {
        mchid: mchid.to_owned(),
        appid: flags.need("--appid")?.to_owned(),
        merchant_serial: flags.need("--merchant-serial")?.to_owned(),
        merchant_key: PublicKey::from_pem_or_base64(&flags.read("--merchant-public-key")?)
            .map_err(|e| e.to_string())?,
        platform_serial: flags.need("--platform-serial")?.to_owned(),
        platform_key: PrivateKey::from_pem_or_base64(&flags.read("--platform-private-key")?)
            .map_err(|e| e.to_string())?,
        api_v3_key: ApiV3Key::new(api_v3.trim_end_matches(['\r', '\n']).as_bytes())
            .map_err(|e| e.to_string())?,
        faults: flags.faults,
        timeout_hold,
    })
}

struct Sim {
    config: Config,
    faults: SharedFaults,
    base_url: String,
    store: Mutex<Store>,
    outbox: mpsc::UnboundedSender<Outgoing>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sim")
    }
}

impl Sim {
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A JSON answer signed by the platform key (or with a broken signature, under the fault).
    fn answer(&self, status: StatusCode, body: &Value) -> Response {
        let body = body.to_string();
        let mut response = (status, body.clone()).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.signature_headers(&body) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                h.insert(name, value);
            }
        }
        response
    }

    fn refuse(&self, status: StatusCode, code: &str, message: &str) -> Response {
        self.answer(status, &json!({ "code": code, "message": message }))
    }

    /// The four `Wechatpay-*` headers over `TIMESTAMP\nNONCE\nBODY\n`.
    fn signature_headers(&self, body: &str) -> Vec<(&'static str, String)> {
        let timestamp = now_unix().to_string();
        let nonce = random(32);
        let mut message = notification_message(&timestamp, &nonce, body);
        if self.faults.get().bad_signature {
            // A real signature, of something else: it decodes but does not verify.
            message.push('x');
        }
        let signature = self
            .config
            .platform_key
            .sign_base64(message.as_bytes())
            .unwrap_or_default();
        vec![
            ("Wechatpay-Timestamp", timestamp),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Signature", signature),
            ("Wechatpay-Serial", self.config.platform_serial.clone()),
        ]
    }

    /// Checks the `Authorization` header: scheme, merchant id, serial, time window, signature
    /// over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`.
    fn authenticate(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
        let Some(params) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(AUTH_SCHEME))
            .and_then(|v| v.strip_prefix(' '))
        else {
            return false;
        };
        let params: HashMap<&str, &str> = params
            .split(',')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        let (Some(mchid), Some(nonce), Some(signature), Some(timestamp), Some(serial)) = (
            params.get("mchid"),
            params.get("nonce_str"),
            params.get("signature"),
            params.get("timestamp"),
            params.get("serial_no"),
        ) else {
            return false;
        };
        let Ok(ts) = timestamp.parse::<i64>() else {
            return false;
        };
        let Ok(body) = std::str::from_utf8(body) else {
            return false;
        };
        let url = uri.path_and_query().map_or("/", |pq| pq.as_str());
        *mchid == self.config.mchid
            && *serial == self.config.merchant_serial
            && ts.abs_diff(now_unix()) <= REQUEST_WINDOW_SECS.unsigned_abs()
            && self
                .config
                .merchant_key
                .verify_base64(
                    request_message(method.as_str(), url, ts, nonce, body).as_bytes(),
                    signature,
                )
                .is_ok()
    }

    /// The refusal for a request that does not authenticate, or `None`.
    fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Response> {
        (!self.authenticate(method, uri, headers, body)).then(|| {
            self.refuse(
                StatusCode::UNAUTHORIZED,
                "SIGN_ERROR",
                "the Authorization header is missing or does not verify",
            )
        })
    }

    /// Under the timeout fault, holds the answer until the client has given up.
    async fn hold(&self) {
        if self.faults.get().timeout {
            tokio::time::sleep(self.config.timeout_hold.min(MAX_TIMEOUT_HOLD)).await;
        }
    }
}

#[derive(Default)]
struct Store {
    trades: Vec<Trade>,
    index: HashMap<String, usize>,
    by_token: HashMap<String, usize>,
    bills: HashMap<String, String>,
    held: Vec<Outgoing>,
    serial: u64,
}

impl Store {
    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }
}

#[derive(Clone)]
struct Outgoing {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct CreateRequest {
    appid: String,
    mchid: String,
    description: String,
    out_trade_no: String,
    notify_url: String,
    amount: CreateAmount,
    scene_info: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct CreateAmount {
    total: i64,
    #[serde(default = "cny")]
    currency: String,
}

fn cny() -> String {
    "CNY".to_owned()
}

struct Trade {
    request: CreateRequest,
    token: String,
    transaction_id: Option<String>,
    paid_at: Option<i64>,
    refunds: Vec<Refund>,
}

struct Refund {
    out_refund_no: String,
    refund_id: String,
    amount: i64,
    at: i64,
}

impl Trade {
    fn refunded(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    fn state(&self) -> &'static str {
        match (self.paid_at, self.refunds.is_empty()) {
            (None, _) => "NOTPAY",
            (Some(_), true) => "SUCCESS",
            (Some(_), false) => "REFUND",
        }
    }

    fn view(&self) -> TradeView {
        TradeView {
            out_trade_no: self.request.out_trade_no.clone(),
            transaction_id: self.transaction_id.clone(),
            trade_state: self.state(),
            total: self.request.amount.total,
            refunded: self.refunded(),
        }
    }

    /// The transaction as the query answers it and `TRANSACTION.SUCCESS` carries it.
    fn transaction(&self) -> Value {
        let r = &self.request;
        let mut t = json!({
            "appid": r.appid,
            "mchid": r.mchid,
            "out_trade_no": r.out_trade_no,
            "trade_type": "MWEB",
            "trade_state": self.state(),
            "trade_state_desc": self.state(),
            "amount": { "total": r.amount.total, "currency": r.amount.currency },
        });
        if let (Some(id), Some(at)) = (&self.transaction_id, self.paid_at) {
            t["transaction_id"] = json!(id);
            t["success_time"] = json!(rfc3339(at));
            t["bank_type"] = json!("OTHERS");
            t["payer"] = json!({ "openid": "sim-openid" });
            t["amount"]["payer_total"] = json!(r.amount.total);
            t["amount"]["payer_currency"] = json!(r.amount.currency);
        }
        t
    }

    fn refund_json(&self, refund: &Refund) -> Value {
        json!({
            "mchid": self.request.mchid,
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.request.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "sim-balance",
            "success_time": rfc3339(refund.at),
            "create_time": rfc3339(refund.at),
            "status": "SUCCESS",
            "refund_status": "SUCCESS",
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.request.amount.total,
                "refund": refund.amount,
                "payer_total": self.request.amount.total,
                "payer_refund": refund.amount,
                "settlement_total": self.request.amount.total,
                "settlement_refund": refund.amount,
                "discount_refund": 0,
                "currency": self.request.amount.currency,
            }
        })
    }
}

fn utc(ts: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(ts).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The UTC day of a Unix time, `YYYY-MM-DD`.
fn day(ts: i64) -> String {
    let d = utc(ts).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYY-MM-DD HH:MM:SS`, UTC, as the bill's first column.
fn datetime(ts: i64) -> String {
    let t = utc(ts);
    format!(
        "{} {:02}:{:02}:{:02}",
        day(ts),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn rfc3339(ts: i64) -> String {
    utc(ts)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Fen as decimal yuan (`12.34`).
fn yuan(fen: i64) -> String {
    Currency::from_code("CNY")
        .and_then(|c| Money::from_minor(fen, c))
        .map_or_else(|_| fen.to_string(), |m| m.to_decimal())
}
