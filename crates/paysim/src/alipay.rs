//! Alipay OpenAPI simulator: `gateway.do` with RSA2 request signatures checked against the
//! merchant's public key, answers and notifications signed with the simulator's (Alipay's) key.
//!
//! - `GET /gateway.do?method=alipay.trade.page.pay&…`: the buyer's page (creates the trade);
//!   `GET /pay/{trade_no}` shows it again, `POST /pay/{trade_no}` (`action=pay|cancel`) pays or
//!   closes the trade, sends the notification, and redirects (303) to the trade's `return_url`.
//! - `POST /gateway.do`: `alipay.trade.query`, `alipay.trade.refund`,
//!   `alipay.data.dataservice.bill.downloadurl.query`.
//! - `GET /bill/trade/{date}`: the statement of a UTC day (see docs/payments.md for its columns).
//! - `GET`/`PUT /_sim/faults`.
//!
//! Notifications are POSTed only to loopback `notify_url`s, at most [`Config::notify_attempts`]
//! times each until the answer is `success`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use kaifang_pay::alipay::signing_content;
use kaifang_pay::keys::{PrivateKey, PublicKey};
use kaifang_pay::{Currency, Money};
use serde::Deserialize;
use serde_json::{Value, json};
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Faults, SharedFaults, control_router};

/// Default of [`Config::hold`]: how long an answer is held under the timeout fault.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(3);
/// The longest the timeout fault holds an answer, whatever the configuration says.
pub const MAX_HOLD: Duration = Duration::from_secs(10);
/// Default of [`Config::notify_attempts`].
pub const DEFAULT_NOTIFY_ATTEMPTS: u32 = 3;
/// Default of [`Config::notify_backoff`].
pub const DEFAULT_NOTIFY_BACKOFF: Duration = Duration::from_millis(200);
/// How long one notification POST may take.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};
const TIME_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// The simulator's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The one application (`app_id`) the simulator serves.
    pub app_id: String,
    /// The application's public key: verifies its requests.
    pub merchant_key: PublicKey,
    /// Alipay's private key: signs answers and notifications.
    pub alipay_key: PrivateKey,
    /// Faults in force at start.
    pub faults: Faults,
    /// How long an answer is held under the timeout fault (capped at [`MAX_HOLD`]); set it above
    /// the client's timeout.
    pub hold: Duration,
    /// How many times a notification is POSTed before giving up, when not answered `success`.
    pub notify_attempts: u32,
    /// The pause between two attempts.
    pub notify_backoff: Duration,
}

impl Config {
    /// A configuration with the defaults and no fault.
    pub fn new(app_id: &str, merchant_key: PublicKey, alipay_key: PrivateKey) -> Config {
        Config {
            app_id: app_id.to_owned(),
            merchant_key,
            alipay_key,
            faults: Faults::default(),
            hold: DEFAULT_HOLD,
            notify_attempts: DEFAULT_NOTIFY_ATTEMPTS,
            notify_backoff: DEFAULT_NOTIFY_BACKOFF,
        }
    }
}

/// Reads `--app-id ID --merchant-public-key FILE --alipay-private-key FILE [--hold-ms N]
/// [--notify-attempts N] [--fault timeout|duplicate|out_of_order|bad_signature]…`.
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
                "out_of_order" => faults.out_of_order = true,
                "bad_signature" => faults.bad_signature = true,
                other => return Err(format!("unknown fault {other:?}")),
            },
            "--app-id"
            | "--merchant-public-key"
            | "--alipay-private-key"
            | "--hold-ms"
            | "--notify-attempts" => {
                values.insert(flag.as_str(), value.as_str());
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let need = |name: &str| {
        values
            .get(name)
            .copied()
            .ok_or_else(|| format!("{name} is required"))
    };
    let read = |name: &str| {
        let path = need(name)?;
        std::fs::read_to_string(path).map_err(|e| format!("{name} {path}: {e}"))
    };
    let merchant_key = PublicKey::from_pem_or_base64(&read("--merchant-public-key")?)
        .map_err(|e| format!("--merchant-public-key: {e}"))?;
    let alipay_key = PrivateKey::from_pem_or_base64(&read("--alipay-private-key")?)
        .map_err(|e| format!("--alipay-private-key: {e}"))?;
    let mut config = Config::new(need("--app-id")?, merchant_key, alipay_key);
    config.faults = faults;
    if let Some(ms) = values.get("--hold-ms") {
        let ms: u64 = ms.parse().map_err(|_| "--hold-ms is a number".to_owned())?;
        config.hold = Duration::from_millis(ms);
    }
    if let Some(n) = values.get("--notify-attempts") {
        config.notify_attempts = n
            .parse()
            .map_err(|_| "--notify-attempts is a number".to_owned())?;
    }
    Ok(config)
}

/// A trade's state in the simulator (Alipay's `trade_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimStatus {
    /// `WAIT_BUYER_PAY`.
    WaitBuyerPay,
    /// `TRADE_SUCCESS`.
    Success,
    /// `TRADE_CLOSED` (cancelled, or refunded in full).
    Closed,
}

impl SimStatus {
    fn wire(self) -> &'static str {
        match self {
            SimStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            SimStatus::Success => "TRADE_SUCCESS",
            SimStatus::Closed => "TRADE_CLOSED",
        }
    }
}

/// A trade as the simulator holds it.
#[derive(Debug, Clone)]
pub struct SimTrade {
    /// The merchant's reference.
    pub out_trade_no: String,
    /// The simulator's reference.
    pub trade_no: String,
    /// `subject`.
    pub subject: String,
    /// `total_amount`.
    pub total: Money,
    /// `trade_status`.
    pub status: SimStatus,
    /// When the buyer paid (Unix seconds).
    pub paid_at: Option<i64>,
    /// Refunds accepted, in order.
    pub refunds: Vec<SimRefund>,
    /// `notify_url` as given.
    pub notify_url: String,
    /// `return_url` as given.
    pub return_url: String,
    /// When the trade was created (Unix seconds).
    pub created_at: i64,
}

/// A refund the simulator accepted.
#[derive(Debug, Clone)]
pub struct SimRefund {
    /// `out_request_no`.
    pub out_request_no: String,
    /// `refund_amount`.
    pub amount: Money,
    /// When (Unix seconds).
    pub at: i64,
}

/// A signed notification waiting to be sent.
#[derive(Debug, Clone)]
struct Notice {
    url: String,
    body: String,
}

struct Sim {
    config: Config,
    faults: SharedFaults,
    addr: SocketAddr,
    http: reqwest::Client,
    state: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    trades: BTreeMap<String, SimTrade>,
    /// trade_no → out_trade_no.
    by_trade_no: HashMap<String, String>,
    next_seq: u64,
    /// Notifications held by the out-of-order fault.
    held: Vec<Notice>,
}

impl Sim {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running simulator.
pub struct SimHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its faults, switchable at run time.
    pub faults: SharedFaults,
    sim: Arc<Sim>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl SimHandle {
    /// A copy of every trade, by `out_trade_no`.
    pub fn trades(&self) -> Vec<SimTrade> {
        self.sim.book().trades.values().cloned().collect()
    }

    /// Stops listening and waits for the server to end.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
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
            "the Alipay simulator listens on loopback only",
        ));
    }
    let http = reqwest::Client::builder()
        .timeout(NOTIFY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    let faults = SharedFaults::new(config.faults);
    let sim = Arc::new(Sim {
        config,
        faults: faults.clone(),
        addr,
        http,
        state: Mutex::new(Book::default()),
    });
    let app = Router::new()
        .route("/gateway.do", get(page_pay).post(api))
        .route("/pay/{trade_no}", get(show_page).post(buyer_action))
        .route("/bill/trade/{date}", get(bill))
        .with_state(sim.clone())
        .merge(control_router(faults.clone()));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(SimHandle {
        addr,
        faults,
        sim,
        stop: Some(stop),
        task,
    })
}

fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn beijing(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(BEIJING))
        .ok()
        .and_then(|t| t.format(TIME_FORMAT).ok())
        .unwrap_or_default()
}

/// Why a request was refused: Alipay's `code`, `msg`, `sub_code`.
struct Refusal(&'static str, &'static str, &'static str);

const BAD_SIGNATURE: Refusal = Refusal("40002", "Invalid Arguments", "isv.invalid-signature");
const BAD_APP_ID: Refusal = Refusal("40002", "Invalid Arguments", "isv.invalid-app-id");
const BAD_PARAMS: Refusal = Refusal("40002", "Invalid Arguments", "isv.invalid-parameter");
const BAD_METHOD: Refusal = Refusal("40002", "Invalid Arguments", "isv.invalid-method");
const NOT_EXIST: Refusal = Refusal("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST");
const STATUS_ERROR: Refusal = Refusal("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR");
const TOO_MUCH: Refusal = Refusal("40004", "Business Failed", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL");
const INCONSISTENT: Refusal = Refusal("40004", "Business Failed", "ACQ.CONTEXT_INCONSISTENT");

/// Checks the merchant's signature and `app_id`; returns the parameters and the parsed
/// `biz_content`.
fn verified(
    sim: &Sim,
    pairs: &[(String, String)],
) -> Result<(BTreeMap<String, String>, Value), Refusal> {
    let content = signing_content(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|_| BAD_PARAMS)?;
    let params: BTreeMap<String, String> = pairs.iter().cloned().collect();
    let sign = params.get("sign").ok_or(BAD_SIGNATURE)?;
    if params.get("sign_type").map(String::as_str) != Some("RSA2") {
        return Err(BAD_SIGNATURE);
    }
    sim.config
        .merchant_key
        .verify_base64(content.as_bytes(), sign)
        .map_err(|_| BAD_SIGNATURE)?;
    if params.get("app_id") != Some(&sim.config.app_id) {
        return Err(BAD_APP_ID);
    }
    let biz = params
        .get("biz_content")
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .filter(Value::is_object)
        .ok_or(BAD_PARAMS)?;
    Ok((params, biz))
}

fn biz_str<'a>(biz: &'a Value, name: &str) -> Result<&'a str, Refusal> {
    biz.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(BAD_PARAMS)
}

fn yuan(text: &str) -> Result<Money, Refusal> {
    Money::parse(text, Currency::CNY)
        .ok()
        .filter(|m| !m.is_zero())
        .ok_or(BAD_PARAMS)
}

// ---- the buyer's page ----

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn error_page(refusal: &Refusal) -> Response {
    let Refusal(code, msg, sub) = refusal;
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Alipay simulator: error</title><h1>{code} {msg}</h1><p id=\"sim-error\">{sub}</p>"
        )),
    )
        .into_response()
}

fn page(trade: &SimTrade) -> Response {
    let subject = html_escape(&trade.subject);
    let amount = trade.total.to_decimal();
    let body = if trade.status == SimStatus::WaitBuyerPay {
        format!(
            "<form method=\"post\" action=\"/pay/{no}\">\
             <button type=\"submit\" name=\"action\" value=\"pay\" id=\"sim-pay\">Pay</button> \
             <button type=\"submit\" name=\"action\" value=\"cancel\" id=\"sim-cancel\">Cancel</button>\
             </form>",
            no = html_escape(&trade.trade_no)
        )
    } else {
        format!("<p id=\"sim-status\">{}</p>", trade.status.wire())
    };
    Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Alipay simulator</title>\
         <h1>{subject}</h1><p id=\"sim-amount\">¥{amount}</p>{body}"
    ))
    .into_response()
}

/// `GET /gateway.do`: `alipay.trade.page.pay`, the buyer opens the signed URL.
async fn page_pay(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
    let pairs = decode(query.as_deref().unwrap_or(""));
    match open_trade(&sim, &pairs) {
        Ok(trade) => page(&trade),
        Err(refusal) => error_page(&refusal),
    }
}

fn open_trade(sim: &Sim, pairs: &[(String, String)]) -> Result<SimTrade, Refusal> {
    let (params, biz) = verified(sim, pairs)?;
    if params.get("method").map(String::as_str) != Some("alipay.trade.page.pay") {
        return Err(BAD_METHOD);
    }
    let out_trade_no = biz_str(&biz, "out_trade_no")?;
    let total = yuan(biz_str(&biz, "total_amount")?)?;
    let subject = biz_str(&biz, "subject")?;
    if biz_str(&biz, "product_code")? != "FAST_INSTANT_TRADE_PAY" {
        return Err(BAD_PARAMS);
    }
    let param = |k: &str| params.get(k).cloned().unwrap_or_default();
    let mut book = sim.book();
    if let Some(trade) = book.trades.get(out_trade_no) {
        // The same order opened again: the same trade, unless it now says something else.
        if trade.total != total || trade.subject != subject {
            return Err(INCONSISTENT);
        }
        return Ok(trade.clone());
    }
    book.next_seq += 1;
    let now = now_unix();
    let day = OffsetDateTime::from_unix_timestamp(now)
        .map(|t| {
            t.to_offset(BEIJING)
                .format(time::macros::format_description!("[year][month][day]"))
        })
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let trade = SimTrade {
        out_trade_no: out_trade_no.to_owned(),
        trade_no: format!("{day}22001{:010}", book.next_seq),
        subject: subject.to_owned(),
        total,
        status: SimStatus::WaitBuyerPay,
        paid_at: None,
        refunds: Vec::new(),
        notify_url: param("notify_url"),
        return_url: param("return_url"),
        created_at: now,
    };
    book.by_trade_no
        .insert(trade.trade_no.clone(), trade.out_trade_no.clone());
    book.trades
        .insert(trade.out_trade_no.clone(), trade.clone());
    Ok(trade)
}

/// `GET /pay/{trade_no}`.
async fn show_page(State(sim): State<Arc<Sim>>, Path(trade_no): Path<String>) -> Response {
    let book = sim.book();
    match book
        .by_trade_no
        .get(&trade_no)
        .and_then(|out| book.trades.get(out))
    {
        Some(trade) => page(trade),
        None => error_page(&NOT_EXIST),
    }
}

#[derive(Deserialize)]
struct BuyerAction {
    action: String,
}

/// `POST /pay/{trade_no}`: the buyer pays or cancels.
async fn buyer_action(
    State(sim): State<Arc<Sim>>,
    Path(trade_no): Path<String>,
    Form(form): Form<BuyerAction>,
) -> Response {
    let trade = {
        let mut book = sim.book();
        let Some(out) = book.by_trade_no.get(&trade_no).cloned() else {
            return error_page(&NOT_EXIST);
        };
        let Some(trade) = book.trades.get_mut(&out) else {
            return error_page(&NOT_EXIST);
        };
        if trade.status != SimStatus::WaitBuyerPay {
            return error_page(&STATUS_ERROR);
        }
        match form.action.as_str() {
            "pay" => {
                trade.status = SimStatus::Success;
                trade.paid_at = Some(now_unix());
            }
            "cancel" => trade.status = SimStatus::Closed,
            _ => return error_page(&BAD_PARAMS),
        }
        trade.clone()
    };
    notify(&sim, &trade);
    if trade.return_url.is_empty() {
        return page(&trade);
    }
    Redirect::to(&trade.return_url).into_response()
}

// ---- notifications ----

/// Signs the trade's `trade_status_sync` notification and sends it, honouring the faults.
fn notify(sim: &Arc<Sim>, trade: &SimTrade) {
    let faults = sim.faults.get();
    let mut fields: Vec<(&str, String)> = vec![
        ("notify_time", beijing(now_unix())),
        ("notify_type", "trade_status_sync".into()),
        (
            "notify_id",
            format!("{}{}", trade.trade_no, trade.status.wire().to_lowercase()),
        ),
        ("app_id", sim.config.app_id.clone()),
        ("charset", "utf-8".into()),
        ("version", "1.0".into()),
        ("sign_type", "RSA2".into()),
        ("trade_no", trade.trade_no.clone()),
        ("out_trade_no", trade.out_trade_no.clone()),
        ("trade_status", trade.status.wire().into()),
        ("total_amount", trade.total.to_decimal()),
        ("subject", trade.subject.clone()),
        ("gmt_create", beijing(trade.created_at)),
    ];
    if let Some(paid) = trade.paid_at {
        fields.push(("gmt_payment", beijing(paid)));
    }
    let sign = sign(sim, fields.iter().map(|(k, v)| (*k, v.as_str())), faults);
    fields.push(("sign", sign));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .finish();
    let notice = Notice {
        url: trade.notify_url.clone(),
        body,
    };
    let batch = {
        let mut book = sim.book();
        if faults.out_of_order && book.held.is_empty() {
            // Held until the next one is due, then sent after it.
            book.held.push(notice);
            return;
        }
        let mut held = std::mem::take(&mut book.held);
        if faults.out_of_order {
            held.reverse();
            std::iter::once(notice).chain(held).collect::<Vec<_>>()
        } else {
            held.push(notice);
            held
        }
    };
    let copies = if faults.duplicate { 2 } else { 1 };
    let sim = sim.clone();
    tokio::spawn(async move {
        for notice in &batch {
            for _ in 0..copies {
                deliver(&sim, notice).await;
            }
        }
    });
}

/// RSA2 by Alipay's key over the fields; under the bad-signature fault, over other content.
fn sign<'a>(
    sim: &Sim,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    faults: Faults,
) -> String {
    let content = signing_content(fields).unwrap_or_default();
    sign_bytes(sim, content.as_bytes(), faults)
}

fn sign_bytes(sim: &Sim, content: &[u8], faults: Faults) -> String {
    let mut content = content.to_vec();
    if faults.bad_signature {
        content.extend_from_slice(b"&tampered=1");
    }
    sim.config
        .alipay_key
        .sign_base64(&content)
        .unwrap_or_default()
}

fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(url) if url.scheme() == "http" || url.scheme() == "https" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

/// POSTs one notification until it is answered `success`, at most `notify_attempts` times.
async fn deliver(sim: &Sim, notice: &Notice) {
    if !is_loopback_url(&notice.url) {
        tracing::warn!("alipay simulator: notify_url is not loopback, notification dropped");
        return;
    }
    for attempt in 0..sim.config.notify_attempts {
        if attempt > 0 {
            tokio::time::sleep(sim.config.notify_backoff).await;
        }
        let sent = sim
            .http
            .post(&notice.url)
            .header(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(notice.body.clone())
            .send()
            .await;
        if let Ok(response) = sent
            && response.status().is_success()
            && response.text().await.is_ok_and(|t| t.trim() == "success")
        {
            return;
        }
    }
    tracing::warn!("alipay simulator: notification not acknowledged, given up");
}

// ---- the server API ----

fn decode(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `POST /gateway.do`: parameters in the query string and/or the form body.
async fn api(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery, body: String) -> Response {
    let mut pairs = decode(query.as_deref().unwrap_or(""));
    pairs.extend(decode(&body));
    let method = pairs
        .iter()
        .find(|(k, _)| k == "method")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let outcome = verified(&sim, &pairs).and_then(|(_, biz)| match method.as_str() {
        "alipay.trade.query" => trade_query(&sim, &biz),
        "alipay.trade.refund" => trade_refund(&sim, &biz),
        "alipay.data.dataservice.bill.downloadurl.query" => bill_url(&sim, &biz),
        _ => Err(BAD_METHOD),
    });
    let key = match method.as_str() {
        "alipay.trade.query"
        | "alipay.trade.refund"
        | "alipay.data.dataservice.bill.downloadurl.query" => {
            format!("{}_response", method.replace('.', "_"))
        }
        _ => "error_response".to_owned(),
    };
    let object = match outcome {
        Ok(mut fields) => {
            fields.insert("code".into(), "10000".into());
            fields.insert("msg".into(), "Success".into());
            Value::Object(fields)
        }
        Err(Refusal(code, msg, sub_code)) => json!({
            "code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_code,
        }),
    };
    let faults = sim.faults.get();
    let text = object.to_string();
    let sign = sign_bytes(&sim, text.as_bytes(), faults);
    let answer = format!("{{\"{key}\":{text},\"sign\":{}}}", Value::String(sign));
    if faults.timeout {
        // The work is done; only the answer is late, so the client times out.
        tokio::time::sleep(sim.config.hold.min(MAX_HOLD)).await;
    }
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        answer,
    )
        .into_response()
}

type Fields = serde_json::Map<String, Value>;

fn trade_query(sim: &Sim, biz: &Value) -> Result<Fields, Refusal> {
    let book = sim.book();
    let trade = match biz.get("trade_no").and_then(Value::as_str) {
        Some(no) => book.by_trade_no.get(no).and_then(|o| book.trades.get(o)),
        None => book.trades.get(biz_str(biz, "out_trade_no")?),
    }
    .ok_or(NOT_EXIST)?;
    let mut fields = Fields::new();
    fields.insert("trade_no".into(), trade.trade_no.clone().into());
    fields.insert("out_trade_no".into(), trade.out_trade_no.clone().into());
    fields.insert("trade_status".into(), trade.status.wire().into());
    fields.insert("total_amount".into(), trade.total.to_decimal().into());
    if let Some(paid) = trade.paid_at {
        fields.insert("send_pay_date".into(), beijing(paid).into());
    }
    Ok(fields)
}

fn trade_refund(sim: &Sim, biz: &Value) -> Result<Fields, Refusal> {
    let out_trade_no = biz_str(biz, "out_trade_no")?;
    let amount = yuan(biz_str(biz, "refund_amount")?)?;
    // Without out_request_no Alipay takes the refund for the whole trade's single refund.
    let request_no = biz
        .get("out_request_no")
        .and_then(Value::as_str)
        .unwrap_or(out_trade_no)
        .to_owned();
    let mut book = sim.book();
    let trade = book.trades.get_mut(out_trade_no).ok_or(NOT_EXIST)?;
    let refunded = |t: &SimTrade| {
        t.refunds
            .iter()
            .try_fold(Money::zero(Currency::CNY), |sum, r| {
                sum.checked_add(r.amount)
            })
    };
    let fund_change = match trade
        .refunds
        .iter()
        .find(|r| r.out_request_no == request_no)
    {
        // A retry of a refund already made: the same answer, no money moves.
        Some(earlier) if earlier.amount == amount => "N",
        Some(_) => return Err(INCONSISTENT),
        None => {
            if trade.status != SimStatus::Success {
                return Err(STATUS_ERROR);
            }
            let after = refunded(trade)
                .and_then(|r| r.checked_add(amount))
                .map_err(|_| TOO_MUCH)?;
            if after.minor() > trade.total.minor() {
                return Err(TOO_MUCH);
            }
            trade.refunds.push(SimRefund {
                out_request_no: request_no,
                amount,
                at: now_unix(),
            });
            if after == trade.total {
                trade.status = SimStatus::Closed;
            }
            "Y"
        }
    };
    let total_refunded = refunded(trade).map_err(|_| TOO_MUCH)?;
    let mut fields = Fields::new();
    fields.insert("trade_no".into(), trade.trade_no.clone().into());
    fields.insert("out_trade_no".into(), trade.out_trade_no.clone().into());
    fields.insert("fund_change".into(), fund_change.into());
    fields.insert("refund_fee".into(), total_refunded.to_decimal().into());
    Ok(fields)
}

fn bill_url(sim: &Sim, biz: &Value) -> Result<Fields, Refusal> {
    if biz_str(biz, "bill_type")? != "trade" {
        return Err(BAD_PARAMS);
    }
    let date = biz_str(biz, "bill_date")?;
    time::Date::parse(date, DATE_FORMAT).map_err(|_| BAD_PARAMS)?;
    let mut fields = Fields::new();
    fields.insert(
        "bill_download_url".into(),
        format!("http://{}/bill/trade/{date}", sim.addr).into(),
    );
    Ok(fields)
}

// ---- the statement ----

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `GET /bill/trade/{date}`: payments and refunds whose time falls on that UTC day.
async fn bill(State(sim): State<Arc<Sim>>, Path(date): Path<String>) -> Response {
    let Ok(day) = time::Date::parse(&date, DATE_FORMAT) else {
        return (StatusCode::NOT_FOUND, "no such bill").into_response();
    };
    let on_day =
        |unix: i64| OffsetDateTime::from_unix_timestamp(unix).is_ok_and(|t| t.date() == day);
    let mut out = format!(
        "#支付宝业务明细查询\n#账号：[{}]\n#起始日期：[{date} 00:00:00]   终止日期：[{date} 23:59:59] (UTC)\n\
         支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,订单金额（元）,商家实收（元）,退款批次号/请求号\n",
        sim.config.app_id
    );
    let book = sim.book();
    for trade in book.trades.values() {
        let mut row = |kind: &str, at: i64, net: String, request_no: &str| {
            let cells = [
                trade.trade_no.as_str(),
                &trade.out_trade_no,
                kind,
                &trade.subject,
                &beijing(trade.created_at),
                &beijing(at),
                &trade.total.to_decimal(),
                &net,
                request_no,
            ];
            let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        };
        if let Some(paid) = trade.paid_at.filter(|p| on_day(*p)) {
            row("交易", paid, trade.total.to_decimal(), "");
        }
        for refund in trade.refunds.iter().filter(|r| on_day(r.at)) {
            row(
                "退款",
                refund.at,
                format!("-{}", refund.amount.to_decimal()),
                &refund.out_request_no,
            );
        }
    }
    out.push_str("#业务明细列表结束\n");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_notify_urls() {
        assert!(is_loopback_url("http://127.0.0.1:8080/notify"));
        assert!(is_loopback_url("http://[::1]:8080/notify"));
        assert!(is_loopback_url("http://localhost/notify"));
        assert!(!is_loopback_url("http://192.0.2.1/notify"));
        assert!(!is_loopback_url("http://localhost.example.com/notify"));
        assert!(!is_loopback_url("file:///etc/passwd"));
    }

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn args_need_the_keys() {
        let args = vec!["--app-id".to_owned(), "2021".to_owned()];
        assert!(config_from_args(&args).is_err_and(|e| e.contains("--merchant-public-key")));
        let args = vec!["--fault".to_owned(), "sometimes".to_owned()];
        assert!(config_from_args(&args).is_err_and(|e| e.contains("unknown fault")));
    }
}
