//! A WeChat Pay API v3 simulator (H5 payments) on loopback: it checks each request's
//! `WECHATPAY2-SHA256-RSA2048` signature with the merchant's public key, signs each answer and
//! notification with its platform key, seals notification resources with the APIv3 key, serves
//! the buyer's page and the daily trade bill. Endpoints, faults and the bill format are in
//! docs/payments.md ("WeChat Pay adapter and simulator").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, serve as axum_serve};
use kaifang_pay::keys::{ApiV3Key, PrivateKey, PublicKey};
use kaifang_pay::wechat::{AUTH_SCHEME, encrypt_resource, notification_message, request_message};
use kaifang_pay::{Currency, Money};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio::sync::{mpsc, oneshot};

use crate::{Faults, SharedFaults, control_router};

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
    tokio::spawn(send_notifications(queue));
    let sim = Arc::new(Sim {
        base_url: format!("http://{addr}"),
        faults: faults.clone(),
        config,
        store: Mutex::new(Store::default()),
        outbox,
    });
    let app = Router::new()
        .route("/v3/pay/transactions/h5", post(create))
        .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
        .route("/v3/refund/domestic/refunds", post(refund))
        .route("/v3/bill/tradebill", get(tradebill))
        .route("/v3/billdownload/file", get(billdownload))
        .route("/pay/{token}", get(page).post(pay))
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
    let mut values: HashMap<&str, &str> = HashMap::new();
    let mut faults = Faults::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--fault" => match value.as_str() {
                "timeout" => faults.timeout = true,
                "duplicate" => faults.duplicate = true,
                "out-of-order" => faults.out_of_order = true,
                "bad-signature" => faults.bad_signature = true,
                other => return Err(format!("unknown fault {other:?}")),
            },
            "--mchid"
            | "--merchant-id"
            | "--appid"
            | "--merchant-serial"
            | "--merchant-public-key"
            | "--platform-serial"
            | "--platform-private-key"
            | "--api-v3-key-file"
            | "--timeout-hold-ms" => {
                values.insert(flag.trim_start_matches("--"), value);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let need = |name: &str| {
        values
            .get(name)
            .copied()
            .ok_or_else(|| format!("--{name} is required"))
    };
    let read = |name: &str| {
        let path = need(name)?;
        std::fs::read_to_string(path).map_err(|e| format!("--{name} {path}: {e}"))
    };
    let mchid = values
        .get("mchid")
        .or_else(|| values.get("merchant-id"))
        .ok_or("--mchid is required")?;
    let timeout_hold = match values.get("timeout-hold-ms") {
        Some(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|_| format!("--timeout-hold-ms {ms:?} is not a number"))?,
        ),
        None => DEFAULT_TIMEOUT_HOLD,
    };
    let api_v3 = read("api-v3-key-file")?;
    Ok(Config {
        mchid: (*mchid).to_owned(),
        appid: need("appid")?.to_owned(),
        merchant_serial: need("merchant-serial")?.to_owned(),
        merchant_key: PublicKey::from_pem_or_base64(&read("merchant-public-key")?)
            .map_err(|e| e.to_string())?,
        platform_serial: need("platform-serial")?.to_owned(),
        platform_key: PrivateKey::from_pem_or_base64(&read("platform-private-key")?)
            .map_err(|e| e.to_string())?,
        api_v3_key: ApiV3Key::new(api_v3.trim_end_matches(['\r', '\n']).as_bytes())
            .map_err(|e| e.to_string())?,
        faults,
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
        let timestamp = now().to_string();
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
            && ts.abs_diff(now()) <= REQUEST_WINDOW_SECS.unsigned_abs()
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

    /// A signed, sealed notification of `event_type` for `resource` (plaintext JSON).
    fn notification(
        &self,
        url: &str,
        event_type: &str,
        original_type: &str,
        summary: &str,
        resource: &Value,
    ) -> Outgoing {
        let nonce = random(12);
        let ciphertext = encrypt_resource(
            &self.config.api_v3_key,
            original_type,
            &nonce,
            resource.to_string().as_bytes(),
        )
        .unwrap_or_default();
        let body = json!({
            "id": format!("EV-{}", random(24)),
            "create_time": rfc3339(now()),
            "event_type": event_type,
            "resource_type": "encrypt-resource",
            "summary": summary,
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "nonce": nonce,
                "associated_data": original_type,
                "original_type": original_type,
            }
        })
        .to_string();
        Outgoing {
            url: url.to_owned(),
            headers: self.signature_headers(&body),
            body,
        }
    }

    /// Sends a notification, honouring the faults: out of order holds it until the next one and
    /// then sends newest first; duplicate sends each one twice, byte for byte.
    fn deliver(&self, store: &mut Store, out: Outgoing) {
        let faults = self.faults.get();
        if faults.out_of_order && store.held.is_empty() {
            store.held.push(out);
            return;
        }
        let mut batch = vec![out];
        batch.extend(store.held.drain(..).rev());
        for out in batch {
            if faults.duplicate {
                let _ = self.outbox.send(out.clone());
            }
            let _ = self.outbox.send(out);
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

/// `POST /v3/pay/transactions/h5`.
async fn create(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = sim.check(&method, &uri, &headers, &body) {
        return refusal;
    }
    let Ok(request) = serde_json::from_slice::<CreateRequest>(&body) else {
        return sim.refuse(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "the body is not an H5 order",
        );
    };
    if request.mchid != sim.config.mchid || request.appid != sim.config.appid {
        return sim.refuse(
            StatusCode::BAD_REQUEST,
            "APPID_MCHID_NOT_MATCH",
            "appid and mchid do not match",
        );
    }
    if let Some(why) = invalid_order(&request) {
        return sim.refuse(StatusCode::BAD_REQUEST, "PARAM_ERROR", why);
    }
    let answer = {
        let mut store = sim.lock();
        let at = match store.index.get(&request.out_trade_no) {
            Some(&i) => {
                let trade = &store.trades[i];
                if trade.request != request {
                    return sim.refuse(
                        StatusCode::BAD_REQUEST,
                        "INVALID_REQUEST",
                        "out_trade_no was used with other parameters",
                    );
                }
                if trade.paid_at.is_some() {
                    return sim.refuse(StatusCode::BAD_REQUEST, "ORDERPAID", "the order is paid");
                }
                i
            }
            None if store.trades.len() >= MAX_TRADES => {
                return sim.refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    "FREQUENCY_LIMITED",
                    "the simulator holds too many trades",
                );
            }
            None => {
                let token = random(32);
                let i = store.trades.len();
                store.index.insert(request.out_trade_no.clone(), i);
                store.by_token.insert(token.clone(), i);
                store.trades.push(Trade {
                    request,
                    token,
                    transaction_id: None,
                    paid_at: None,
                    refunds: Vec::new(),
                });
                i
            }
        };
        json!({ "h5_url": format!("{}/pay/{}", sim.base_url, store.trades[at].token) })
    };
    sim.hold().await;
    sim.answer(StatusCode::OK, &answer)
}

fn invalid_order(r: &CreateRequest) -> Option<&'static str> {
    let no_ok = (6..=32).contains(&r.out_trade_no.len())
        && r.out_trade_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b));
    if !no_ok {
        return Some("out_trade_no must be 6 to 32 of [A-Za-z0-9_-|*]");
    }
    if r.description.is_empty() || r.description.len() > 127 {
        return Some("description must be 1 to 127 bytes");
    }
    if r.amount.total < 1 || r.amount.currency != "CNY" {
        return Some("amount.total must be at least 1 fen, in CNY");
    }
    if !(r.notify_url.starts_with("http://") || r.notify_url.starts_with("https://")) {
        return Some("notify_url must be an http(s) URL");
    }
    None
}

#[derive(Deserialize)]
struct MchidQuery {
    mchid: Option<String>,
}

/// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=…`.
async fn query(
    State(sim): State<Arc<Sim>>,
    Path(no): Path<String>,
    Query(q): Query<MchidQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = sim.check(&method, &uri, &headers, b"") {
        return refusal;
    }
    if q.mchid.as_deref() != Some(sim.config.mchid.as_str()) {
        return sim.refuse(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "mchid is missing or not yours",
        );
    }
    let found = {
        let store = sim.lock();
        store.index.get(&no).map(|&i| store.trades[i].transaction())
    };
    sim.hold().await;
    match found {
        Some(t) => sim.answer(StatusCode::OK, &t),
        None => sim.refuse(
            StatusCode::NOT_FOUND,
            "ORDER_NOT_EXIST",
            "the order does not exist",
        ),
    }
}

#[derive(Deserialize)]
struct RefundRequest {
    out_trade_no: String,
    out_refund_no: String,
    notify_url: Option<String>,
    amount: RefundAmount,
}

#[derive(Deserialize)]
struct RefundAmount {
    refund: i64,
    total: i64,
    currency: String,
}

/// `POST /v3/refund/domestic/refunds`: refunds succeed at once (status `SUCCESS`).
async fn refund(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = sim.check(&method, &uri, &headers, &body) {
        return refusal;
    }
    let Ok(r) = serde_json::from_slice::<RefundRequest>(&body) else {
        return sim.refuse(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "the body is not a refund",
        );
    };
    let answer = {
        let mut store = sim.lock();
        let Some(&i) = store.index.get(&r.out_trade_no) else {
            return sim.refuse(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_EXISTS",
                "the order does not exist",
            );
        };
        let trade = &store.trades[i];
        if let Some(done) = trade
            .refunds
            .iter()
            .find(|d| d.out_refund_no == r.out_refund_no)
        {
            if done.amount != r.amount.refund {
                return sim.refuse(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "out_refund_no was used with another amount",
                );
            }
            trade.refund_json(done)
        } else {
            if store
                .trades
                .iter()
                .any(|t| t.refunds.iter().any(|d| d.out_refund_no == r.out_refund_no))
            {
                return sim.refuse(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "out_refund_no was used for another order",
                );
            }
            let trade = &store.trades[i];
            let why = if trade.paid_at.is_none() {
                Some("the order is not paid")
            } else if r.amount.total != trade.request.amount.total
                || r.amount.currency != trade.request.amount.currency
            {
                Some("amount.total or currency differs from the order's")
            } else if r.amount.refund < 1 {
                Some("amount.refund must be at least 1 fen")
            } else if r.amount.refund > trade.request.amount.total - trade.refunded() {
                Some("the refund exceeds what remains refundable")
            } else {
                None
            };
            if let Some(why) = why {
                return sim.refuse(StatusCode::BAD_REQUEST, "INVALID_REQUEST", why);
            }
            let serial = store.next_serial();
            let done = Refund {
                out_refund_no: r.out_refund_no,
                refund_id: format!("50300{serial:023}"),
                amount: r.amount.refund,
                at: now(),
            };
            let trade = &mut store.trades[i];
            let answer = trade.refund_json(&done);
            let url = r
                .notify_url
                .unwrap_or_else(|| trade.request.notify_url.clone());
            trade.refunds.push(done);
            let out = sim.notification(
                &url,
                "REFUND.SUCCESS",
                "refund",
                "refund succeeded",
                &answer,
            );
            sim.deliver(&mut store, out);
            answer
        }
    };
    sim.hold().await;
    sim.answer(StatusCode::OK, &answer)
}

#[derive(Deserialize)]
struct BillQuery {
    bill_date: String,
}

/// `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD`: the bill of that UTC day, ready at once.
async fn tradebill(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<BillQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = sim.check(&method, &uri, &headers, b"") {
        return refusal;
    }
    let answer = {
        let mut store = sim.lock();
        let Some(bill) = bill(&store.trades, &q.bill_date) else {
            return sim.refuse(
                StatusCode::BAD_REQUEST,
                "NO_STATEMENT_EXIST",
                "no bill for that date",
            );
        };
        let hash = hex::encode(Sha1::digest(bill.as_bytes()));
        let token = random(32);
        if store.bills.len() >= MAX_BILLS {
            store.bills.clear();
        }
        store.bills.insert(token.clone(), bill);
        json!({
            "hash_type": "SHA1",
            "hash_value": hash,
            "download_url": format!("{}/v3/billdownload/file?token={token}", sim.base_url),
        })
    };
    sim.hold().await;
    sim.answer(StatusCode::OK, &answer)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: String,
}

/// `GET /v3/billdownload/file?token=…`: the bill as text. Signed request, unsigned answer: the
/// hash in the signed `tradebill` answer vouches for it.
async fn billdownload(
    State(sim): State<Arc<Sim>>,
    Query(q): Query<TokenQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = sim.check(&method, &uri, &headers, b"") {
        return refusal;
    }
    match sim.lock().bills.get(&q.token) {
        Some(bill) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            bill.clone(),
        )
            .into_response(),
        None => sim.refuse(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "no such bill"),
    }
}

/// The bill's header, as in WeChat Pay's `ALL` trade bill (its first 24 columns).
const BILL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率";
const BILL_SUMMARY: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/// The bill of `date` (UTC): a row per payment and per refund made that day, every field
/// prefixed with a backquote, then the summary. `None` when nothing happened that day.
fn bill(trades: &[Trade], date: &str) -> Option<String> {
    let mut rows: Vec<(i64, String)> = Vec::new();
    let (mut paid, mut refunded) = (0i64, 0i64);
    for t in trades {
        let r = &t.request;
        let (Some(id), Some(at)) = (&t.transaction_id, t.paid_at) else {
            continue;
        };
        let row = |at: i64, state: &str, refund_id: &str, out_refund_no: &str, refund: i64| {
            let fields = [
                datetime(at),
                r.appid.clone(),
                r.mchid.clone(),
                "0".into(),
                String::new(),
                id.clone(),
                r.out_trade_no.clone(),
                "sim-openid".into(),
                "MWEB".into(),
                state.into(),
                "OTHERS".into(),
                r.amount.currency.clone(),
                yuan(r.amount.total),
                yuan(0),
                refund_id.into(),
                out_refund_no.into(),
                yuan(refund),
                yuan(0),
                if refund > 0 { "ORIGINAL" } else { "" }.into(),
                if refund > 0 { "SUCCESS" } else { "" }.into(),
                r.description.replace([',', '`', '\n', '\r'], " "),
                String::new(),
                yuan(0),
                "0.00%".into(),
            ];
            fields
                .iter()
                .map(|f| format!("`{f}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        if day(at) == date {
            paid += r.amount.total;
            rows.push((at, row(at, "SUCCESS", "0", "0", 0)));
        }
        for d in t.refunds.iter().filter(|d| day(d.at) == date) {
            refunded += d.amount;
            rows.push((
                d.at,
                row(d.at, "REFUND", &d.refund_id, &d.out_refund_no, d.amount),
            ));
        }
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_by_key(|(at, _)| *at);
    let mut text = String::from(BILL_HEADER);
    for (_, row) in &rows {
        text.push('\n');
        text.push_str(row);
    }
    text.push_str(&format!(
        "\n{BILL_SUMMARY}\n`{},`{},`{},`0.00,`0.00,`{},`{}\n",
        rows.len(),
        yuan(paid),
        yuan(refunded),
        yuan(paid),
        yuan(refunded)
    ));
    Some(text)
}

#[derive(Deserialize)]
struct PageQuery {
    redirect_url: Option<String>,
}

/// `GET /pay/{token}`: the buyer's page, a form with Pay and Cancel.
async fn page(
    State(sim): State<Arc<Sim>>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let store = sim.lock();
    let Some(&i) = store.by_token.get(&token) else {
        return (StatusCode::NOT_FOUND, "no such payment").into_response();
    };
    let r = &store.trades[i].request;
    let back = q.redirect_url.unwrap_or_default();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>WeChat Pay (simulator)</title></head><body>\
         <h1>WeChat Pay simulator</h1><p>{}</p><p>{} {}</p>\
         <form method=\"post\" action=\"/pay/{}\">\
         <input type=\"hidden\" name=\"redirect_url\" value=\"{}\">\
         <button type=\"submit\" name=\"action\" value=\"pay\" id=\"sim-pay\">Pay</button> \
         <button type=\"submit\" name=\"action\" value=\"cancel\" id=\"sim-cancel\">Cancel</button>\
         </form></body></html>",
        escape(&r.description),
        escape(&r.amount.currency),
        yuan(r.amount.total),
        escape(&token),
        escape(&back),
    ))
    .into_response()
}

#[derive(Deserialize)]
struct PayForm {
    action: String,
    redirect_url: Option<String>,
}

/// `POST /pay/{token}`: Pay marks the trade paid and notifies; Cancel leaves it `NOTPAY` (as a
/// buyer closing WeChat's page does). Both send the browser back to `redirect_url` (303).
async fn pay(
    State(sim): State<Arc<Sim>>,
    Path(token): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    {
        let mut store = sim.lock();
        let Some(&i) = store.by_token.get(&token) else {
            return (StatusCode::NOT_FOUND, "no such payment").into_response();
        };
        if form.action == "pay" && store.trades[i].paid_at.is_none() {
            let serial = store.next_serial();
            let trade = &mut store.trades[i];
            trade.transaction_id = Some(format!("42000{serial:023}"));
            trade.paid_at = Some(now());
            let out = sim.notification(
                &trade.request.notify_url,
                "TRANSACTION.SUCCESS",
                "transaction",
                "payment succeeded",
                &trade.transaction(),
            );
            sim.deliver(&mut store, out);
        }
    }
    match form.redirect_url.filter(|u| !u.is_empty()) {
        Some(url) => match HeaderValue::from_str(&url) {
            Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
            Err(_) => (StatusCode::BAD_REQUEST, "bad redirect_url").into_response(),
        },
        None => Html("<p>Done. You may close this page.</p>").into_response(),
    }
}

/// POSTs notifications one after another, in the order queued, to loopback addresses only.
async fn send_notifications(mut queue: mpsc::UnboundedReceiver<Outgoing>) {
    let client = match reqwest::Client::builder()
        .timeout(NOTIFY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("wechat simulator: no HTTP client, notifications are off: {e}");
            return;
        }
    };
    while let Some(out) = queue.recv().await {
        if !is_loopback_url(&out.url) {
            tracing::warn!("wechat simulator: notify_url is not loopback, notification dropped");
            continue;
        }
        let mut request = client
            .post(&out.url)
            .header("Content-Type", "application/json")
            .body(out.body);
        for (name, value) in out.headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::info!("wechat simulator: notification answered {}", r.status()),
            Err(e) => tracing::info!("wechat simulator: notification not delivered: {e}"),
        }
    }
}

/// Whether `url` is http(s) to a literal loopback address (no name: a name could resolve
/// anywhere).
fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    matches!(url.scheme(), "http" | "https")
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn random(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
