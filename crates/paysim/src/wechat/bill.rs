//! The daily trade bill, in WeChat Pay's `ALL` layout (simplified, see docs/payments.md).

use super::{Trade, datetime, day, yuan};

/// The bill's header, as in WeChat Pay's `ALL` trade bill (its first 24 columns).
const BILL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率";
const BILL_SUMMARY: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/// The bill of `date` (UTC): a row per payment and per refund made that day, every field
/// prefixed with a backquote, then the summary. `None` when nothing happened that day.
pub(super) fn bill(trades: &[Trade], date: &str) -> Option<String> {
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
