//! `POST /gateway.do`: the server calls (query, refund, bill download URL).

use super::notify::sign_bytes;
use super::*;

/// `POST /gateway.do`: parameters in the query string and/or the form body.
pub(super) async fn api(
    State(sim): State<Arc<Sim>>,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
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
