//! The buyer's page: `alipay.trade.page.pay` opened in a browser, and its Pay and Cancel buttons.

use super::notify::notify;
use super::*;

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
pub(super) async fn page_pay(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
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
pub(super) async fn show_page(
    State(sim): State<Arc<Sim>>,
    Path(trade_no): Path<String>,
) -> Response {
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
pub(super) struct BuyerAction {
    action: String,
}

/// `POST /pay/{trade_no}`: the buyer pays or cancels.
pub(super) async fn buyer_action(
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
