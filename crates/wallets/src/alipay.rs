//! Alipay OpenAPI (`gateway.do`, RSA2) adapter.
//!
//! Requests are the common parameters (`app_id`, `method`, `format`, `charset`, `sign_type`,
//! `timestamp` in Beijing time, `version`, `biz_content`) signed with the application's key by
//! [`kaifang_pay::alipay::AppSigner`]. `alipay.trade.page.pay` is not a server call: its signed
//! gateway URL is the buyer's page. The other methods are POSTed as a form; their answers are
//! `{"<method>_response": {...}, "sign": "..."}`, and the `sign` covers the exact bytes of the
//! `_response` object, so it is checked on the raw text before anything is parsed.

use std::collections::BTreeMap;
use std::time::Duration;

use kaifang_pay::alipay::{AppSigner, NotificationVerifier};
use kaifang_pay::keys::{PrivateKey, PublicKey};
use kaifang_pay::{Currency, Money};
use serde::Deserialize;
use serde_json::value::RawValue;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::common::{http_client, read_capped, transport};
use crate::{
    AdapterError, Notification, PaymentRequest, PaymentStart, ProviderTrade, RefundRequest,
    RefundResult, StatementKind, StatementLine, TradeStatus,
};

/// What the server answers (HTTP 200, this body) once it has handled a notification; anything else
/// makes Alipay send it again.
pub const NOTIFICATION_ACK: &str = kaifang_pay::alipay::NOTIFICATION_ACK;

/// How far `notify_time` may be from now before a notification is refused: 5 minutes.
pub const DEFAULT_NOTIFY_WINDOW: Duration = Duration::from_secs(300);

/// The most bytes read from an answer or a statement: 8 MiB, far above a day's CSV of a small shop.
pub const MAX_ANSWER_BYTES: usize = 8 << 20;

/// Alipay's `code` for a call that succeeded.
const SUCCESS: &str = "10000";

/// Alipay's clock for `timestamp`, `notify_time` and the statement: Beijing time, UTC+8.
const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

const TIME_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// How to reach Alipay and who we are to it.
#[derive(Debug, Clone)]
pub struct AlipayConfig {
    /// The gateway's origin, e.g. `https://openapi.alipay.com`; `/gateway.do` is appended.
    pub base_url: String,
    /// The application's `app_id`.
    pub app_id: String,
    /// The application's private key: signs requests.
    pub app_key: PrivateKey,
    /// Alipay's public key: verifies answers and notifications.
    pub alipay_key: PublicKey,
    /// How long a server call may take before [`AdapterError::Timeout`].
    pub timeout: Duration,
    /// How far a notification's `notify_time` may be from now ([`DEFAULT_NOTIFY_WINDOW`]).
    pub notify_window: Duration,
}

/// The Alipay client.
#[derive(Debug, Clone)]
pub struct Alipay {
    gateway: String,
    app_id: String,
    signer: AppSigner,
    alipay_key: PublicKey,
    verifier: NotificationVerifier,
    notify_window: Duration,
    http: reqwest::Client,
}

impl Alipay {
    /// A client for this configuration.
    pub fn new(config: AlipayConfig) -> Result<Self, AdapterError> {
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AdapterError::InvalidRequest(
                "the Alipay base URL must be http:// or https://".into(),
            ));
        }
        let http = http_client(config.timeout)
            .map_err(|_| AdapterError::InvalidRequest("the HTTP client could not start".into()))?;
        Ok(Alipay {
            gateway: format!("{base}/gateway.do"),
            verifier: NotificationVerifier::new(&config.app_id, config.alipay_key.clone()),
            app_id: config.app_id,
            signer: AppSigner::new(config.app_key),
            alipay_key: config.alipay_key,
            notify_window: config.notify_window,
            http,
        })
    }

    /// `alipay.trade.page.pay`: the signed gateway URL the buyer opens.
    pub async fn create(&self, request: &PaymentRequest) -> Result<PaymentStart, AdapterError> {
        let amount = cny(request.amount)?;
        if amount.is_zero() {
            return Err(AdapterError::InvalidRequest(
                "Alipay does not collect zero".into(),
            ));
        }
        let biz = serde_json::json!({
            "out_trade_no": request.out_trade_no,
            "total_amount": amount.to_decimal(),
            "subject": request.description,
            "product_code": "FAST_INSTANT_TRADE_PAY",
        });
        let params = self.signed_params(
            "alipay.trade.page.pay",
            &biz,
            &[
                ("notify_url", &request.notify_url),
                ("return_url", &request.return_url),
            ],
        )?;
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        Ok(PaymentStart {
            pay_url: format!("{}?{query}", self.gateway),
        })
    }

    /// `alipay.trade.query`. A trade Alipay does not know (the buyer never opened the page) is
    /// [`TradeStatus::Unknown`] with a zero amount.
    pub async fn query(&self, out_trade_no: &str) -> Result<ProviderTrade, AdapterError> {
        let biz = serde_json::json!({ "out_trade_no": out_trade_no });
        let answer = match self.call("alipay.trade.query", &biz).await {
            Err(AdapterError::Refused { code }) if code == "ACQ.TRADE_NOT_EXIST" => {
                return Ok(ProviderTrade {
                    out_trade_no: out_trade_no.to_owned(),
                    provider_ref: None,
                    status: TradeStatus::Unknown,
                    amount: Money::zero(yuan()),
                });
            }
            other => other?,
        };
        #[derive(Deserialize)]
        struct Query {
            out_trade_no: String,
            trade_no: Option<String>,
            trade_status: String,
            total_amount: String,
            send_pay_date: Option<String>,
        }
        let q: Query = parse_answer(&answer)?;
        Ok(ProviderTrade {
            status: status_of(&q.trade_status, q.send_pay_date.is_some()),
            amount: parse_amount(&q.total_amount).map_err(AdapterError::BadAnswer)?,
            out_trade_no: q.out_trade_no,
            provider_ref: q.trade_no,
        })
    }

    /// `alipay.trade.refund`, with `out_request_no` = the refund's reference, so a retry is the
    /// same refund. The provider reference is `<trade_no>:<out_request_no>` (Alipay gives a refund
    /// no number of its own; its statement names a refund by these two).
    pub async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, AdapterError> {
        let amount = cny(request.amount)?;
        let biz = serde_json::json!({
            "out_trade_no": request.out_trade_no,
            "refund_amount": amount.to_decimal(),
            "out_request_no": request.out_refund_no,
        });
        let answer = self.call("alipay.trade.refund", &biz).await?;
        #[derive(Deserialize)]
        struct Refund {
            trade_no: String,
        }
        let r: Refund = parse_answer(&answer)?;
        Ok(RefundResult {
            out_refund_no: request.out_refund_no.clone(),
            provider_ref: format!("{}:{}", r.trade_no, request.out_refund_no),
            amount,
        })
    }

    /// `alipay.data.dataservice.bill.downloadurl.query` (`bill_type=trade`) for `date`
    /// (`YYYY-MM-DD`), then the statement at `bill_download_url`: a UTF-8 CSV with Alipay's trade
    /// bill columns (see docs/payments.md).
    pub async fn statement(&self, date: &str) -> Result<Vec<StatementLine>, AdapterError> {
        if time::Date::parse(
            date,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_err()
        {
            return Err(AdapterError::InvalidRequest(
                "a statement date is YYYY-MM-DD".into(),
            ));
        }
        let biz = serde_json::json!({ "bill_type": "trade", "bill_date": date });
        let answer = self
            .call("alipay.data.dataservice.bill.downloadurl.query", &biz)
            .await?;
        #[derive(Deserialize)]
        struct Bill {
            bill_download_url: String,
        }
        let bill: Bill = parse_answer(&answer)?;
        let response = self
            .http
            .get(&bill.bill_download_url)
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(AdapterError::BadAnswer(format!(
                "statement download answered {}",
                response.status().as_u16()
            )));
        }
        let body = read_capped(response, MAX_ANSWER_BYTES).await?;
        let text = String::from_utf8(body)
            .map_err(|_| AdapterError::BadAnswer("the statement is not UTF-8".into()))?;
        parse_statement(&text).map_err(AdapterError::BadAnswer)
    }

    /// Verifies an asynchronous notification (a form body; the headers carry nothing signed) at
    /// `now_unix`: signature by Alipay's key, `app_id`, and `notify_time` within the window.
    pub fn verify_notification(
        &self,
        _headers: &[(String, String)],
        body: &[u8],
        now_unix: i64,
    ) -> Result<Notification, AdapterError> {
        let bad = |why: &str| AdapterError::BadNotification(why.to_owned());
        let body = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
        let fields = self
            .verifier
            .verify_form(body)
            .map_err(|e| AdapterError::BadNotification(e.to_string()))?;
        let field = |name: &'static str| {
            fields
                .get(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| AdapterError::BadNotification(format!("{name} is missing")))
        };
        let sent = parse_beijing(field("notify_time")?).ok_or_else(|| bad("bad notify_time"))?;
        if now_unix.abs_diff(sent) > self.notify_window.as_secs() {
            return Err(bad("notify_time is outside the accepted window"));
        }
        if field("notify_type")? != "trade_status_sync" {
            return Err(bad("not a trade_status_sync notification"));
        }
        Ok(Notification {
            trade: ProviderTrade {
                out_trade_no: field("out_trade_no")?.clone(),
                provider_ref: Some(field("trade_no")?.clone()),
                status: status_of(field("trade_status")?, fields.contains_key("gmt_payment")),
                amount: parse_amount(field("total_amount")?)
                    .map_err(AdapterError::BadNotification)?,
            },
            nonce: field("notify_id")?.clone(),
        })
    }

    /// The common parameters plus `extra` and `biz_content`, with `sign` added.
    fn signed_params(
        &self,
        method: &str,
        biz: &serde_json::Value,
        extra: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, AdapterError> {
        let timestamp = OffsetDateTime::now_utc()
            .to_offset(BEIJING)
            .format(TIME_FORMAT)
            .map_err(|_| AdapterError::InvalidRequest("the clock cannot be formatted".into()))?;
        let mut params: Vec<(String, String)> = [
            ("app_id", self.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", timestamp.as_str()),
            ("version", "1.0"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        params.push(("biz_content".into(), biz.to_string()));
        let sign = self
            .signer
            .sign(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| AdapterError::InvalidRequest(e.to_string()))?;
        params.push(("sign".into(), sign));
        Ok(params)
    }

    /// POSTs a method and returns its verified `_response` object's text when `code` is 10000.
    async fn call(&self, method: &str, biz: &serde_json::Value) -> Result<String, AdapterError> {
        let params = self.signed_params(method, biz, &[])?;
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let response = self
            .http
            .post(&self.gateway)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(form)
            .send()
            .await
            .map_err(transport)?;
        let body = read_capped(response, MAX_ANSWER_BYTES).await?;
        let key = format!("{}_response", method.replace('.', "_"));
        let (object, sign) = split_answer(&body, &key)?;
        let head: Head = serde_json::from_str(&object)
            .map_err(|_| AdapterError::BadAnswer("the answer object does not parse".into()))?;
        match sign {
            Some(sign) => self
                .alipay_key
                .verify_base64(object.as_bytes(), &sign)
                .map_err(|_| AdapterError::BadAnswer("the answer's signature is invalid".into()))?,
            // Alipay leaves some errors unsigned; an unsigned error can only make us refuse.
            None if head.code != SUCCESS => {}
            None => return Err(AdapterError::BadAnswer("the answer is not signed".into())),
        }
        if head.code != SUCCESS {
            return Err(AdapterError::Refused {
                code: head.sub_code.unwrap_or(head.code),
            });
        }
        Ok(object)
    }
}

/// The fields every `_response` object carries.
#[derive(Deserialize)]
struct Head {
    code: String,
    sub_code: Option<String>,
}

/// The raw text of the `key` object (or of `error_response`) and the `sign`, if any.
fn split_answer(body: &[u8], key: &str) -> Result<(String, Option<String>), AdapterError> {
    let top: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
        .map_err(|_| AdapterError::BadAnswer("the answer is not a JSON object".into()))?;
    let object = top
        .get(key)
        .or_else(|| top.get("error_response"))
        .ok_or_else(|| AdapterError::BadAnswer(format!("the answer has no {key}")))?;
    let sign = match top.get("sign") {
        Some(raw) => Some(
            serde_json::from_str::<String>(raw.get())
                .map_err(|_| AdapterError::BadAnswer("the answer's sign is not a string".into()))?,
        ),
        None => None,
    };
    Ok((object.get().to_owned(), sign))
}

fn parse_answer<'a, T: Deserialize<'a>>(object: &'a str) -> Result<T, AdapterError> {
    serde_json::from_str(object)
        .map_err(|e| AdapterError::BadAnswer(format!("unexpected answer fields: {e}")))
}

fn yuan() -> Currency {
    Currency::CNY
}

fn cny(amount: Money) -> Result<Money, AdapterError> {
    if amount.currency() != yuan() {
        return Err(AdapterError::InvalidRequest(format!(
            "Alipay collects CNY, not {}",
            amount.currency().code()
        )));
    }
    Ok(amount)
}

fn parse_amount(text: &str) -> Result<Money, String> {
    Money::parse(text, yuan()).map_err(|e| e.to_string())
}

/// `WAIT_BUYER_PAY` is pending; `TRADE_SUCCESS`/`TRADE_FINISHED` paid; `TRADE_CLOSED` is closed
/// unless the trade was paid first (then it closed because it was refunded in full).
fn status_of(trade_status: &str, was_paid: bool) -> TradeStatus {
    match trade_status {
        "WAIT_BUYER_PAY" => TradeStatus::Pending,
        "TRADE_SUCCESS" | "TRADE_FINISHED" => TradeStatus::Paid,
        "TRADE_CLOSED" if was_paid => TradeStatus::Paid,
        "TRADE_CLOSED" => TradeStatus::Closed,
        _ => TradeStatus::Unknown,
    }
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time, as Unix seconds.
fn parse_beijing(text: &str) -> Option<i64> {
    let local = PrimitiveDateTime::parse(text, TIME_FORMAT).ok()?;
    Some(local.assume_offset(BEIJING).unix_timestamp())
}

/// The statement's lines: one per payment (`交易`) and per refund (`退款`). Columns, by position:
/// 0 `支付宝交易号`, 1 `商户订单号`, 2 `业务类型`, 7 `商家实收（元）` (negative for a refund),
/// 8 `退款批次号/请求号`. Lines starting with `#` and the header are skipped.
fn parse_statement(text: &str) -> Result<Vec<StatementLine>, String> {
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with("支付宝交易号") {
            continue;
        }
        let cells = split_csv(line).ok_or_else(|| format!("statement line {}: bad CSV", n + 1))?;
        let cell = |i: usize| {
            cells
                .get(i)
                .map(String::as_str)
                .ok_or_else(|| format!("statement line {}: {} columns", n + 1, cells.len()))
        };
        let (kind, amount, provider_ref) = match cell(2)? {
            "交易" => (StatementKind::Payment, cell(7)?, cell(0)?.to_owned()),
            "退款" => (
                StatementKind::Refund,
                cell(7)?.trim_start_matches('-'),
                format!("{}:{}", cell(0)?, cell(8)?),
            ),
            other => return Err(format!("statement line {}: type {other:?}", n + 1)),
        };
        lines.push(StatementLine {
            kind,
            out_trade_no: cell(1)?.to_owned(),
            provider_ref,
            amount: parse_amount(amount)?,
        });
    }
    Ok(lines)
}

/// One CSV line (RFC 4180 quoting, no line breaks inside fields); `None` on an unclosed quote.
pub(crate) fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => cells.push(std::mem::take(&mut cell)),
            (_, c) => cell.push(c),
        }
    }
    if quoted {
        return None;
    }
    cells.push(cell);
    Some(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_with_quotes_and_commas() {
        assert_eq!(
            split_csv(r#"a,"b, c","say ""hi""",,"#),
            Some(vec![
                "a".into(),
                "b, c".into(),
                r#"say "hi""#.into(),
                String::new(),
                String::new()
            ])
        );
        assert_eq!(split_csv(r#"a,"b"#), None);
    }

    #[test]
    fn beijing_time_is_utc_plus_8() {
        // 2026-12-05 00:30:00 in Beijing is 2026-12-04 16:30:00 UTC.
        assert_eq!(parse_beijing("2026-12-05 00:30:00"), Some(1_796_401_800));
        assert_eq!(parse_beijing("2026-12-05T00:30:00"), None);
    }

    #[test]
    fn trade_status_mapping() {
        assert_eq!(status_of("WAIT_BUYER_PAY", false), TradeStatus::Pending);
        assert_eq!(status_of("TRADE_SUCCESS", true), TradeStatus::Paid);
        assert_eq!(status_of("TRADE_CLOSED", false), TradeStatus::Closed);
        assert_eq!(status_of("TRADE_CLOSED", true), TradeStatus::Paid);
        assert_eq!(status_of("SOMETHING_NEW", false), TradeStatus::Unknown);
    }
}
