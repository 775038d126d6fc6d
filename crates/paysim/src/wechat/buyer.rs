//! The buyer's page: Pay or Cancel, then back to the merchant.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::{Sim, yuan};
use crate::now_unix;

/// The page's routes.
pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/pay/{token}", get(page).post(pay))
}

#[derive(Deserialize)]
struct PageQuery {
    redirect_url: Option<String>,
}

/// `GET /pay/{token}`: the buyer's page, a form with Pay and Cancel.
async fn page(
    State(sim): State<Arc<Sim>>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let store = sim.lock();
    let Some(&i) = store.by_token.get(&token) else {
        return (StatusCode::NOT_FOUND, "no such payment").into_response();
    };
    let r = &store.trades[i].request;
    let back = q.redirect_url.unwrap_or_default();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>WeChat Pay (simulator)</title></head><body>\
         <h1>WeChat Pay simulator</h1><p>{}</p><p>{} {}</p>\
         <form method=\"post\" action=\"/pay/{}\">\
         <input type=\"hidden\" name=\"redirect_url\" value=\"{}\">\
         <button type=\"submit\" name=\"action\" value=\"pay\" id=\"sim-pay\">Pay</button> \
         <button type=\"submit\" name=\"action\" value=\"cancel\" id=\"sim-cancel\">Cancel</button>\
         </form></body></html>",
        escape(&r.description),
        escape(&r.amount.currency),
        yuan(r.amount.total),
        escape(&token),
        escape(&back),
    ))
    .into_response()
}

#[derive(Deserialize)]
struct PayForm {
    action: String,
    redirect_url: Option<String>,
}

/// `POST /pay/{token}`: Pay marks the trade paid and notifies; Cancel leaves it `NOTPAY` (as a
/// buyer closing WeChat's page does). Both send the browser back to `redirect_url` (303).
async fn pay(
    State(sim): State<Arc<Sim>>,
    Path(token): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    {
        let mut store = sim.lock();
        let Some(&i) = store.by_token.get(&token) else {
            return (StatusCode::NOT_FOUND, "no such payment").into_response();
        };
        if form.action == "pay" && store.trades[i].paid_at.is_none() {
            let serial = store.next_serial();
            let trade = &mut store.trades[i];
            trade.transaction_id = Some(format!("42000{serial:023}"));
            trade.paid_at = Some(now_unix());
            let out = sim.notification(
                &trade.request.notify_url,
                "TRANSACTION.SUCCESS",
                "transaction",
                "payment succeeded",
                &trade.transaction(),
            );
            sim.deliver(&mut store, out);
        }
    }
    match form.redirect_url.filter(|u| !u.is_empty()) {
        Some(url) => match HeaderValue::from_str(&url) {
            Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
            Err(_) => (StatusCode::BAD_REQUEST, "bad redirect_url").into_response(),
        },
        None => Html("<p>Done. You may close this page.</p>").into_response(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
