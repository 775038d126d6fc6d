//! WeChat Pay API v3 (H5 payments): every request carries a `WECHATPAY2-SHA256-RSA2048`
//! `Authorization` header signed with the merchant key, every answer is checked against the
//! platform key (`Wechatpay-*` headers over `TIMESTAMP\nNONCE\nBODY\n`), notifications are checked
//! the same way and their resource is opened with the APIv3 key. The daily bill is fetched through
//! its `download_url` and checked against its SHA-1 `hash_value`.
//!
//! The wire format as implemented, with its simplifications, is in docs/payments.md ("WeChat Pay
//! adapter and simulator").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kaifang_pay::keys::{ApiV3Key, PrivateKey, PublicKey};
use kaifang_pay::wechat::{self, MerchantSigner, NotificationHeaders, PlatformVerifier};
use kaifang_pay::{Currency, Money};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::Deserialize;
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::common::{http_client, read_capped, transport};
use crate::{
    AdapterError, Notification, PaymentRequest, PaymentStart, ProviderTrade, RefundRequest,
    RefundResult, StatementKind, StatementLine, TradeStatus,
};

/// What the server answers after handling a notification: v3 wants HTTP 200 (or 204) with an
/// empty body; anything else makes WeChat Pay send the notification again later.
pub const NOTIFICATION_ACK: (u16, &str) = (200, "");

/// The most an API answer may weigh; a bigger one is refused unread (1 MiB).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The most a daily bill may weigh (64 MiB): a busy merchant's day, far above any test.
pub const MAX_BILL_BYTES: usize = 64 << 20;

/// The length of the request nonces, as in WeChat Pay's SDKs.
const NONCE_LEN: usize = 32;

/// How Kaifang speaks to WeChat Pay as one merchant.
#[derive(Debug, Clone)]
pub struct WechatConfig {
    /// The API root, `https://api.mch.weixin.qq.com` in production (the simulator's in tests).
    pub base_url: String,
    /// The merchant id (`mchid`).
    pub mchid: String,
    /// The app id the merchant pays under (`appid`); notifications for another app are refused.
    pub appid: String,
    /// The serial of the merchant's API certificate (`serial_no` in `Authorization`).
    pub merchant_serial: String,
    /// The merchant's private key, which signs requests.
    pub merchant_key: PrivateKey,
    /// The serial of WeChat Pay's platform key (`Wechatpay-Serial`).
    pub platform_serial: String,
    /// WeChat Pay's platform public key, which signs answers and notifications.
    pub platform_key: PublicKey,
    /// The APIv3 key that seals notification resources.
    pub api_v3_key: ApiV3Key,
    /// The buyer's address for `scene_info.payer_client_ip`: [`PaymentRequest`] has none, so the
    /// server's configured value is sent.
    pub payer_client_ip: String,
    /// How long one HTTP exchange may take before [`AdapterError::Timeout`].
    pub timeout: Duration,
    /// How far a signed timestamp may be from now, either way, in seconds
    /// ([`wechat::DEFAULT_WINDOW_SECS`], 300, by default).
    pub window_secs: i64,
}

/// A WeChat Pay API v3 client for one merchant.
#[derive(Debug, Clone)]
pub struct Wechat {
    config: WechatConfig,
    base: url::Url,
    signer: MerchantSigner,
    verifier: PlatformVerifier,
    http: reqwest::Client,
}

impl Wechat {
    /// A client; fails on an unusable base URL, merchant id or serial.
    pub fn new(config: WechatConfig) -> Result<Self, AdapterError> {
        let base = url::Url::parse(&config.base_url).map_err(|_| {
            AdapterError::BadAnswer("configuration: the base URL does not parse".into())
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(AdapterError::BadAnswer(
                "the base URL is not http(s)".into(),
            ));
        }
        let signer = MerchantSigner::new(
            &config.mchid,
            &config.merchant_serial,
            config.merchant_key.clone(),
        )
        .map_err(|e| AdapterError::BadAnswer(format!("configuration: {e}")))?;
        let verifier = PlatformVerifier::new(&config.platform_serial, config.platform_key.clone())
            .with_window(config.window_secs);
        let http = http_client(config.timeout).map_err(|_| AdapterError::Unreachable)?;
        Ok(Self {
            config,
            base,
            signer,
            verifier,
            http,
        })
    }

    /// `POST /v3/pay/transactions/h5`; the buyer's page is the `h5_url` with `redirect_url`
    /// appended, as WeChat Pay's H5 guide says, so the page sends the buyer back when done.
    pub async fn create(&self, request: &PaymentRequest) -> Result<PaymentStart, AdapterError> {
        let body = json!({
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            "description": request.description,
            "out_trade_no": request.out_trade_no,
            "notify_url": request.notify_url,
            "amount": { "total": request.amount.minor(), "currency": request.amount.currency().code() },
            "scene_info": {
                "payer_client_ip": self.config.payer_client_ip,
                "h5_info": { "type": "Wap" }
            }
        });
        #[derive(Deserialize)]
        struct Answer {
            h5_url: String,
        }
        let answer: Answer = self
            .call("POST", "/v3/pay/transactions/h5", Some(body))
            .await?;
        let mut pay_url = url::Url::parse(&answer.h5_url)
            .map_err(|_| AdapterError::BadAnswer("h5_url does not parse".into()))?;
        pay_url
            .query_pairs_mut()
            .append_pair("redirect_url", &request.return_url);
        Ok(PaymentStart {
            pay_url: pay_url.into(),
        })
    }

    /// `GET /v3/pay/transactions/out-trade-no/{no}`. A trade WeChat Pay does not know
    /// (`ORDER_NOT_EXIST`) is [`TradeStatus::Unknown`] with a zero CNY amount; a trade in
    /// `REFUND` is still [`TradeStatus::Paid`] (its refunds are the ledger's, from `refund`).
    pub async fn query(&self, out_trade_no: &str) -> Result<ProviderTrade, AdapterError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            encode_path(out_trade_no),
            encode_path(&self.config.mchid)
        );
        match self.call::<Transaction>("GET", &path, None).await {
            Ok(t) if t.out_trade_no != out_trade_no => Err(AdapterError::BadAnswer(
                "the answer is for another trade".into(),
            )),
            Ok(t) => t.into_trade(),
            Err(AdapterError::Refused { code }) if code == "ORDER_NOT_EXIST" => Ok(ProviderTrade {
                out_trade_no: out_trade_no.to_owned(),
                provider_ref: None,
                status: TradeStatus::Unknown,
                amount: Money::zero(cny()?),
            }),
            Err(e) => Err(e),
        }
    }

    /// `POST /v3/refund/domestic/refunds`. `SUCCESS` and `PROCESSING` are both accepted (the
    /// money will go back); `CLOSED` and `ABNORMAL` are refusals with that status as code.
    pub async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, AdapterError> {
        if request.amount.currency() != request.total.currency() {
            return Err(AdapterError::BadAnswer(
                "the refund and the total differ in currency".into(),
            ));
        }
        let body = json!({
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "amount": {
                "refund": request.amount.minor(),
                "total": request.total.minor(),
                "currency": request.amount.currency().code()
            }
        });
        #[derive(Deserialize)]
        struct Answer {
            refund_id: String,
            out_refund_no: String,
            status: String,
            amount: RefundAmount,
        }
        #[derive(Deserialize)]
        struct RefundAmount {
            refund: i64,
            currency: String,
        }
        let a: Answer = self
            .call("POST", "/v3/refund/domestic/refunds", Some(body))
            .await?;
        if !matches!(a.status.as_str(), "SUCCESS" | "PROCESSING") {
            return Err(AdapterError::Refused { code: a.status });
        }
        if a.out_refund_no != request.out_refund_no {
            return Err(AdapterError::BadAnswer(
                "the answer is for another refund".into(),
            ));
        }
        Ok(RefundResult {
            out_refund_no: a.out_refund_no,
            provider_ref: a.refund_id,
            amount: money(a.amount.refund, &a.amount.currency)?,
        })
    }

    /// `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL`, then its `download_url` (only on the
    /// API's own origin, since the request is signed), checked against `hash_value` (SHA-1) and
    /// parsed: a `SUCCESS` row is a payment, a `REFUND` row a refund.
    pub async fn statement(&self, date: &str) -> Result<Vec<StatementLine>, AdapterError> {
        if !is_date(date) {
            return Err(AdapterError::BadAnswer("the date is not YYYY-MM-DD".into()));
        }
        #[derive(Deserialize)]
        struct Answer {
            download_url: String,
            hash_type: String,
            hash_value: String,
        }
        let path = format!("/v3/bill/tradebill?bill_date={date}&bill_type=ALL");
        let a: Answer = self.call("GET", &path, None).await?;
        if a.hash_type != "SHA1" {
            return Err(AdapterError::BadAnswer("unknown bill hash type".into()));
        }
        let download = url::Url::parse(&a.download_url)
            .map_err(|_| AdapterError::BadAnswer("download_url does not parse".into()))?;
        if download.origin() != self.base.origin() {
            return Err(AdapterError::BadAnswer(
                "download_url is not on the API's origin".into(),
            ));
        }
        let mut target = download.path().to_owned();
        if let Some(q) = download.query() {
            target.push('?');
            target.push_str(q);
        }
        // The file itself is not signed: its integrity is the hash in the signed answer.
        let reply = self
            .exchange("GET", download, &target, None, MAX_BILL_BYTES)
            .await?;
        if !reply.status.is_success() {
            return Err(AdapterError::Refused {
                code: format!("HTTP {}", reply.status.as_u16()),
            });
        }
        let bill = reply.body;
        let digest = hex::encode(Sha1::digest(&bill));
        if !digest.eq_ignore_ascii_case(&a.hash_value) {
            return Err(AdapterError::BadAnswer(
                "the bill does not match its hash".into(),
            ));
        }
        let text = std::str::from_utf8(&bill)
            .map_err(|_| AdapterError::BadAnswer("the bill is not UTF-8".into()))?;
        parse_bill(text)
    }

    /// Checks a notification (serial, time window around `now_unix`, signature), opens its
    /// resource and checks that it is for this merchant (and app, for a payment).
    ///
    /// `TRANSACTION.SUCCESS` gives the trade as paid. `REFUND.SUCCESS` (and `REFUND.ABNORMAL`,
    /// `REFUND.CLOSED`) give the refunded trade as [`TradeStatus::Paid`] with its total: the
    /// trade was paid, and refunds are recorded by `refund` and reconciled by `statement`, so the
    /// server only acknowledges it (refusing it would make WeChat Pay send it again for hours).
    /// The returned nonce is the `Wechatpay-Nonce` header, which a replay repeats.
    pub fn verify_notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now_unix: i64,
    ) -> Result<Notification, AdapterError> {
        let bad = |why: &str| AdapterError::BadNotification(why.to_owned());
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| AdapterError::BadNotification(format!("no {name} header")))
        };
        let signed = NotificationHeaders {
            signature: header("Wechatpay-Signature")?,
            timestamp: header("Wechatpay-Timestamp")?,
            nonce: header("Wechatpay-Nonce")?,
            serial: header("Wechatpay-Serial")?,
        };
        let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
        self.verifier
            .verify(&signed, text, now_unix)
            .map_err(|e| AdapterError::BadNotification(e.to_string()))?;

        let envelope: Envelope =
            serde_json::from_str(text).map_err(|_| bad("the body is not a v3 notification"))?;
        if envelope.resource_type != "encrypt-resource"
            || envelope.resource.algorithm != "AEAD_AES_256_GCM"
        {
            return Err(bad("unknown resource type or algorithm"));
        }
        let r = &envelope.resource;
        let plain = wechat::decrypt_resource(
            &self.config.api_v3_key,
            r.associated_data.as_deref().unwrap_or(""),
            &r.nonce,
            &r.ciphertext,
        )
        .map_err(|_| bad("the resource does not decrypt"))?;
        let trade = match envelope.event_type.as_str() {
            "TRANSACTION.SUCCESS" => {
                let t: Transaction = serde_json::from_slice(&plain)
                    .map_err(|_| bad("the resource is not a transaction"))?;
                if t.appid.as_deref() != Some(self.config.appid.as_str()) {
                    return Err(bad("the notification is for another app id"));
                }
                if t.mchid.as_deref() != Some(self.config.mchid.as_str()) {
                    return Err(bad("the notification is for another merchant"));
                }
                t.into_trade()
                    .map_err(|_| bad("the transaction's amount is invalid"))?
            }
            "REFUND.SUCCESS" | "REFUND.ABNORMAL" | "REFUND.CLOSED" => {
                let r: RefundResource = serde_json::from_slice(&plain)
                    .map_err(|_| bad("the resource is not a refund"))?;
                if r.mchid != self.config.mchid {
                    return Err(bad("the notification is for another merchant"));
                }
                ProviderTrade {
                    out_trade_no: r.out_trade_no,
                    provider_ref: Some(r.transaction_id),
                    status: TradeStatus::Paid,
                    amount: Money::from_minor(r.amount.total, cny().map_err(|_| bad("CNY"))?)
                        .map_err(|_| bad("the refund's amount is invalid"))?,
                }
            }
            _ => return Err(bad("unknown event type")),
        };
        Ok(Notification {
            trade,
            nonce: signed.nonce.to_owned(),
        })
    }

    /// One signed exchange whose answer must be signed by the platform; a 2xx answer is parsed
    /// as `T`, any other as `{code, message}` and returned as [`AdapterError::Refused`].
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        target: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, AdapterError> {
        let url = self
            .base
            .join(target)
            .map_err(|_| AdapterError::BadAnswer("the request URL does not parse".into()))?;
        let body = body.map(|b| b.to_string());
        let answer = self
            .exchange(method, url, target, body, MAX_ANSWER_BYTES)
            .await?;
        let status = answer.status;
        let text = std::str::from_utf8(&answer.body)
            .map_err(|_| AdapterError::BadAnswer("the answer is not UTF-8".into()))?;
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| AdapterError::BadAnswer(format!("the answer has no {name}")))
        };
        let signed = NotificationHeaders {
            signature: header("Wechatpay-Signature")?,
            timestamp: header("Wechatpay-Timestamp")?,
            nonce: header("Wechatpay-Nonce")?,
            serial: header("Wechatpay-Serial")?,
        };
        self.verifier
            .verify(&signed, text, now())
            .map_err(|e| AdapterError::BadAnswer(e.to_string()))?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct Refusal {
                code: String,
            }
            let r: Refusal = serde_json::from_str(text).map_err(|_| {
                AdapterError::BadAnswer(format!("HTTP {} without an error code", status.as_u16()))
            })?;
            return Err(AdapterError::Refused { code: r.code });
        }
        serde_json::from_str(text)
            .map_err(|e| AdapterError::BadAnswer(format!("unexpected answer: {e}")))
    }

    /// Sends one signed request and reads at most `cap` bytes of the answer.
    async fn exchange(
        &self,
        method: &str,
        url: url::Url,
        target: &str,
        body: Option<String>,
        cap: usize,
    ) -> Result<Reply, AdapterError> {
        let nonce = random_nonce();
        let body_text = body.as_deref().unwrap_or("");
        let authorization = self
            .signer
            .authorization(method, target, now(), &nonce, body_text)
            .map_err(|e| AdapterError::BadAnswer(e.to_string()))?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| AdapterError::BadAnswer("bad method".into()))?;
        let mut request = self
            .http
            .request(method, url)
            .header("Authorization", authorization)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        Ok(Reply {
            status,
            headers,
            body: read_capped(response, cap).await?,
        })
    }
}

/// An HTTP answer, read whole (within its cap).
struct Reply {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

/// The notification envelope; only the fields Kaifang uses.
#[derive(Deserialize)]
struct Envelope {
    event_type: String,
    resource_type: String,
    resource: Resource,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    nonce: String,
    associated_data: Option<String>,
}

/// A transaction, as the query answers it and as `TRANSACTION.SUCCESS` carries it.
#[derive(Deserialize)]
struct Transaction {
    appid: Option<String>,
    mchid: Option<String>,
    out_trade_no: String,
    transaction_id: Option<String>,
    trade_state: String,
    amount: TransactionAmount,
}

#[derive(Deserialize)]
struct TransactionAmount {
    total: i64,
    currency: String,
}

impl Transaction {
    fn into_trade(self) -> Result<ProviderTrade, AdapterError> {
        let status = match self.trade_state.as_str() {
            "SUCCESS" | "REFUND" => TradeStatus::Paid,
            "NOTPAY" | "USERPAYING" => TradeStatus::Pending,
            "CLOSED" | "REVOKED" => TradeStatus::Closed,
            "PAYERROR" => TradeStatus::Failed,
            _ => return Err(AdapterError::BadAnswer("unknown trade_state".into())),
        };
        Ok(ProviderTrade {
            out_trade_no: self.out_trade_no,
            provider_ref: self.transaction_id.filter(|id| !id.is_empty()),
            status,
            amount: money(self.amount.total, &self.amount.currency)?,
        })
    }
}

/// A `REFUND.SUCCESS` resource; only the fields Kaifang uses.
#[derive(Deserialize)]
struct RefundResource {
    mchid: String,
    out_trade_no: String,
    transaction_id: String,
    amount: RefundResourceAmount,
}

#[derive(Deserialize)]
struct RefundResourceAmount {
    total: i64,
}

/// The bill's columns Kaifang reads, by their names in WeChat Pay's header line.
const COL_STATE: &str = "交易状态";
const COL_CURRENCY: &str = "货币种类";
const COL_OUT_TRADE_NO: &str = "商户订单号";
const COL_TRANSACTION_ID: &str = "微信订单号";
const COL_AMOUNT: &str = "应结订单金额";
const COL_REFUND_ID: &str = "微信退款单号";
const COL_REFUND_AMOUNT: &str = "退款金额";
/// The line that starts the bill's summary section, after the rows.
const SUMMARY_HEADER: &str = "总交易单数";

/// Parses a trade bill: a header line naming the columns, rows whose fields each start with a
/// backquote (so spreadsheets keep long numbers as text), then a summary section. Amounts are
/// decimal yuan (`0.01`).
fn parse_bill(text: &str) -> Result<Vec<StatementLine>, AdapterError> {
    let bad = |why: String| AdapterError::BadAnswer(format!("bill: {why}"));
    let mut lines = text.lines().map(|l| l.trim_start_matches('\u{feff}'));
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| bad("empty".into()))?
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| bad(format!("no column {name}")))
    };
    let (state, currency, out_trade_no, transaction_id, amount, refund_id, refund_amount) = (
        col(COL_STATE)?,
        col(COL_CURRENCY)?,
        col(COL_OUT_TRADE_NO)?,
        col(COL_TRANSACTION_ID)?,
        col(COL_AMOUNT)?,
        col(COL_REFUND_ID)?,
        col(COL_REFUND_AMOUNT)?,
    );
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.starts_with(SUMMARY_HEADER) {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split(',')
            .map(|f| f.trim().trim_start_matches('`'))
            .collect();
        let field = |i: usize| {
            fields
                .get(i)
                .copied()
                .ok_or_else(|| bad(format!("row {} is short", n + 1)))
        };
        let (kind, reference, value) = match field(state)? {
            "SUCCESS" => (
                StatementKind::Payment,
                field(transaction_id)?,
                field(amount)?,
            ),
            "REFUND" => (
                StatementKind::Refund,
                field(refund_id)?,
                field(refund_amount)?,
            ),
            // Other states (e.g. REVOKED) moved no money.
            _ => continue,
        };
        out.push(StatementLine {
            kind,
            out_trade_no: field(out_trade_no)?.to_owned(),
            provider_ref: reference.to_owned(),
            amount: Money::parse_with_code(value, field(currency)?)
                .map_err(|e| bad(format!("row {}: {e}", n + 1)))?,
        });
    }
    Ok(out)
}

fn money(minor: i64, currency: &str) -> Result<Money, AdapterError> {
    Currency::from_code(currency)
        .and_then(|c| Money::from_minor(minor, c))
        .map_err(|e| AdapterError::BadAnswer(format!("amount: {e}")))
}

fn cny() -> Result<Currency, AdapterError> {
    Currency::from_code("CNY").map_err(|e| AdapterError::BadAnswer(e.to_string()))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn random_nonce() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(NONCE_LEN)
        .map(char::from)
        .collect()
}

/// Percent-encodes a path segment or query value (anything but unreserved characters).
fn encode_path(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// WeChat Pay's own `ALL` bill layout: 27 columns, a BOM, backquoted fields, a summary.
    const REAL_LAYOUT: &str = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
`2026-12-04 09:00:01,`wx1,`19,`0,`,`4200001,`KF-A-000001,`o1,`MWEB,`SUCCESS,`OTHERS,`CNY,`100.00,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea,`,`0.60,`0.60%,`100.00,`0.00,`
`2026-12-04 10:00:01,`wx1,`19,`0,`,`4200001,`KF-A-000001,`o1,`MWEB,`REFUND,`OTHERS,`CNY,`100.00,`0.00,`5030001,`RF-1,`0.01,`0.00,`ORIGINAL,`SUCCESS,`Tea,`,`0.00,`0.60%,`100.00,`0.01,`
`2026-12-04 11:00:01,`wx1,`19,`0,`,`4200002,`KF-B-000002,`o2,`MWEB,`REVOKED,`OTHERS,`CNY,`5.00,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea,`,`0.00,`0.60%,`5.00,`0.00,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`3,`100.00,`0.01,`0.00,`0.60,`100.00,`0.01
";

    #[test]
    fn wechat_layout_bill_parses_payments_and_refunds_to_the_fen() {
        let cny = |fen| Money::from_minor(fen, Currency::from_code("CNY").unwrap()).unwrap();
        let lines = parse_bill(REAL_LAYOUT).unwrap();
        assert_eq!(
            lines,
            vec![
                StatementLine {
                    kind: StatementKind::Payment,
                    out_trade_no: "KF-A-000001".into(),
                    provider_ref: "4200001".into(),
                    amount: cny(10_000),
                },
                StatementLine {
                    kind: StatementKind::Refund,
                    out_trade_no: "KF-A-000001".into(),
                    provider_ref: "5030001".into(),
                    amount: cny(1),
                },
            ]
        );
    }

    #[test]
    fn malformed_bills_are_refused_not_guessed() {
        let no_column = "交易时间,商户订单号\n`x,`y\n";
        assert!(
            matches!(parse_bill(no_column), Err(AdapterError::BadAnswer(m)) if m.contains("交易状态"))
        );
        let header = REAL_LAYOUT.lines().next().unwrap();
        let short = format!("{header}\n`2026-12-04,`wx1,`19\n");
        assert!(parse_bill(&short).is_err());
        let float = REAL_LAYOUT.replace("`100.00,`0.00,`0,`0", "`100.005,`0.00,`0,`0");
        assert!(parse_bill(&float).is_err());
        assert!(parse_bill("").is_err());
    }

    #[test]
    fn dates_are_checked_before_any_request() {
        assert!(is_date("2026-12-04"));
        for bad in ["2026-12-4", "2026/12/04", "20261204", "2026-12-04&x=1", ""] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
