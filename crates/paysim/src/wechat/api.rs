//! The API endpoints: each checks the request's signature and answers signed.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sha1::{Digest, Sha1};

use super::{CreateRequest, MAX_BILLS, MAX_TRADES, Refund, Sim, Trade, bill::bill};
use crate::{now_unix, random};

/// The API's routes.
pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/v3/pay/transactions/h5", post(create))
        .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
        .route("/v3/refund/domestic/refunds", post(refund))
        .route("/v3/bill/tradebill", get(tradebill))
        .route("/v3/billdownload/file", get(billdownload))
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
                at: now_unix(),
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
