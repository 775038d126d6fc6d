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

use crate::args::Flags;
use crate::{Faults, SharedFaults, control_router, now_unix};

mod api;
mod bill;
mod buyer;
mod notify;

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
    let flags = Flags::parse(
        args,
        &[
            "--app-id",
            "--merchant-public-key",
            "--alipay-private-key",
            "--hold-ms",
            "--notify-attempts",
        ],
    )?;
    let merchant_key = PublicKey::from_pem_or_base64(&flags.read("--merchant-public-key")?)
        .map_err(|e| format!("--merchant-public-key: {e}"))?;
    let alipay_key = PrivateKey::from_pem_or_base64(&flags.read("--alipay-private-key")?)
        .map_err(|e| format!("--alipay-private-key: {e}"))?;
    let mut config = Config::new(flags.need("--app-id")?, merchant_key, alipay_key);
    config.faults = flags.faults;
    if let Some(ms) = flags.number("--hold-ms")? {
        config.hold = Duration::from_millis(ms);
    }
    if let Some(n) = flags.number("--notify-attempts")? {
        config.notify_attempts = n;
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
    held: Vec<notify::Notice>,
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
    let http = crate::notify::client(NOTIFY_TIMEOUT).map_err(std::io::Error::other)?;
    let faults = SharedFaults::new(config.faults);
    let sim = Arc::new(Sim {
        config,
        faults: faults.clone(),
        addr,
        http,
        state: Mutex::new(Book::default()),
    });
    let app = Router::new()
        .route("/gateway.do", get(buyer::page_pay).post(api::api))
        .route(
            "/pay/{trade_no}",
            get(buyer::show_page).post(buyer::buyer_action),
        )
        .route("/bill/trade/{date}", get(bill::bill))
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

/// The pairs of a query string or a form body.
fn decode(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_need_the_keys() {
        let args = vec!["--app-id".to_owned(), "2021".to_owned()];
        assert!(config_from_args(&args).is_err_and(|e| e.contains("--merchant-public-key")));
        let args = vec!["--fault".to_owned(), "sometimes".to_owned()];
        assert!(config_from_args(&args).is_err_and(|e| e.contains("unknown fault")));
    }

    #[test]
    fn args_with_key_files_and_faults() {
        let fixtures = format!("{}/../pay/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
        let args: Vec<String> = [
            "--app-id",
            "2021000000000001",
            "--merchant-public-key",
            &format!("{fixtures}/TEST_ONLY_rsa2048_pub.pem"),
            "--alipay-private-key",
            &format!("{fixtures}/TEST_ONLY_wechatpay_go_signer_key.pem"),
            "--hold-ms",
            "2500",
            "--fault",
            "duplicate",
            "--fault",
            "bad_signature",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let config = config_from_args(&args).expect("config");
        assert_eq!(config.app_id, "2021000000000001");
        assert_eq!(config.hold, Duration::from_millis(2500));
        assert_eq!(config.notify_attempts, DEFAULT_NOTIFY_ATTEMPTS);
        assert_eq!(
            config.faults,
            Faults {
                duplicate: true,
                bad_signature: true,
                ..Faults::default()
            }
        );
        // A private key where the public one belongs is refused, without echoing the key.
        let mut swapped = args.clone();
        swapped.swap(3, 5);
        let error = config_from_args(&swapped).expect_err("swapped keys");
        assert!(!error.contains("BEGIN"));
    }

    #[tokio::test]
    async fn refuses_a_listener_off_loopback() {
        let fixtures = format!("{}/../pay/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
        let read = |name: &str| std::fs::read_to_string(format!("{fixtures}/{name}")).expect(name);
        let config = Config::new(
            "2021000000000001",
            PublicKey::from_pem_or_base64(&read("TEST_ONLY_rsa2048_pub.pem")).expect("pub"),
            PrivateKey::from_pem_or_base64(&read("TEST_ONLY_wechatpay_go_signer_key.pem"))
                .expect("key"),
        );
        // Every interface, so not loopback; the simulator must refuse before serving anything.
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
            .await
            .expect("bind");
        let refused = serve(listener, config).await.err().expect("refused");
        assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    }
}
