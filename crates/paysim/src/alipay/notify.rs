//! Notifications: signed `trade_status_sync` forms, POSTed to loopback `notify_url`s only, with
//! the duplicate, out-of-order and bad-signature faults.

use super::*;
use crate::notify::{is_loopback_url, release};

/// A signed notification waiting to be sent.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    url: String,
    body: String,
}

/// Signs the trade's `trade_status_sync` notification and sends it, honouring the faults.
pub(super) fn notify(sim: &Arc<Sim>, trade: &SimTrade) {
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
    let batch = release(&mut sim.book().held, notice, faults);
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

pub(super) fn sign_bytes(sim: &Sim, content: &[u8], faults: Faults) -> String {
    let mut content = content.to_vec();
    if faults.bad_signature {
        content.extend_from_slice(b"&tampered=1");
    }
    sim.config
        .alipay_key
        .sign_base64(&content)
        .unwrap_or_default()
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
