//! The statement: `GET /bill/trade/{date}`, a simplified UTF-8 trade bill (docs/payments.md).

use super::*;

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `GET /bill/trade/{date}`: payments and refunds whose time falls on that UTC day.
pub(super) async fn bill(State(sim): State<Arc<Sim>>, Path(date): Path<String>) -> Response {
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
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
