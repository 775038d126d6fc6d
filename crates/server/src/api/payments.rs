//! Checkout: `/api/v1/orders` (quote, place, read, query, refund) and
//! `/api/v1/payments/notify/{wallet}`, where providers send their signed notifications.
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kaifang_store::Order;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::error::Error;
use crate::service::payments::{OrderRequest, PaymentService};

/// Which product card.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CardQuery {
    /// The conversation.
    pub conversation_id: i64,
    /// The message's sequence number in it.
    pub seq: i64,
    /// Which of the message's links, from 0.
    pub link_index: usize,
}

/// A price: integer minor units and an ISO 4217 currency, and how to show it.
#[derive(Serialize, ToSchema)]
pub struct Price {
    /// Minor units (fen, cents).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The amount with its decimals and code, e.g. `128.00 CNY`.
    pub display: String,
}

impl From<kaifang_pay::Money> for Price {
    fn from(m: kaifang_pay::Money) -> Self {
        Self {
            amount_minor: m.minor(),
            currency: m.currency().code().to_owned(),
            display: m.to_string(),
        }
    }
}

/// A wallet the buyer may pick.
#[derive(Serialize, ToSchema)]
pub struct WalletChoice {
    /// Wallet id (`data/wallets.toml`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its owner id.
    pub owner: String,
}

/// A product card's price and the wallets offered for it, in the picker's order.
#[derive(Serialize, ToSchema)]
pub struct QuoteView {
    /// The merchant (the link's platform).
    pub merchant: String,
    /// The card's title.
    pub title: String,
    /// The price of one.
    pub unit_price: Price,
    /// The wallets offered, in the picker's order (`payments.picker_order`).
    pub wallets: Vec<WalletChoice>,
    /// The picker's order.
    pub picker_order: String,
}

/// An order to place.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The conversation holding the card.
    pub conversation_id: i64,
    /// The message's sequence number.
    pub seq: i64,
    /// Which of its links.
    pub link_index: usize,
    /// How many (1 to `payments.max_quantity`).
    pub quantity: u32,
    /// The wallet picked, among those offered.
    pub wallet: String,
}

/// An order.
#[derive(Serialize, ToSchema)]
pub struct OrderView {
    /// Order id.
    pub id: i64,
    /// The merchant.
    pub merchant: String,
    /// The wallet.
    pub wallet: String,
    /// What it costs.
    pub amount: Price,
    /// `created`, `pending`, `paid`, `partially_refunded`, `refunded`, `failed`, `cancelled`
    /// or `expired`.
    pub state: String,
    /// The conversation it was bought from.
    pub conversation_id: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

impl TryFrom<Order> for OrderView {
    type Error = Error;

    fn try_from(o: Order) -> Result<Self, Error> {
        let amount = kaifang_pay::Money::parse_with_code("0", &o.currency)
            .and_then(|zero| kaifang_pay::Money::from_minor(o.amount_minor, zero.currency()))
            .map_err(|e| Error::internal(format!("order {}: {e}", o.id)))?;
        Ok(Self {
            id: o.id,
            merchant: o.merchant,
            wallet: o.wallet,
            amount: amount.into(),
            state: o.state,
            conversation_id: o.conversation_id,
            created_at: o.created_at,
            updated_at: o.updated_at,
        })
    }
}

/// An order placed, and where the buyer pays.
#[derive(Serialize, ToSchema)]
pub struct Placed {
    /// The order.
    pub order: OrderView,
    /// The provider's page to open; null when the provider did not answer in time (the order
    /// stays pending: `POST /api/v1/orders/{id}/query` asks what happened).
    pub pay_url: Option<String>,
}

/// A refund to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// How much, in the order's minor units.
    pub amount_minor: i64,
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, Error> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid("the Idempotency-Key header is required"))
}

/// The card's price and the wallets offered for it.
#[utoipa::path(get, path = "/api/v1/orders/quote", tag = "payments", params(CardQuery),
    responses((status = 200, body = QuoteView),
              (status = 400, description = "no link at that index"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such message for the caller, or payments are off (problem type turned-off)"),
              (status = 422, description = "not a shop, or no price on the card")),
    security(("bearer" = [])))]
pub async fn quote(
    State(payments): State<Arc<PaymentService>>,
    caller: Caller,
    Query(q): Query<CardQuery>,
) -> ApiResult<axum::Json<QuoteView>> {
    let quote = payments
        .quote(&caller, q.conversation_id, q.seq, q.link_index)
        .await?;
    let registry = payments.wallets();
    let wallets = quote
        .wallets
        .iter()
        .filter_map(|id| registry.wallet(id))
        .map(|w| WalletChoice {
            id: w.id.clone(),
            name: w.name.clone(),
            owner: w.owner.clone(),
        })
        .collect();
    Ok(axum::Json(QuoteView {
        merchant: quote.merchant,
        title: quote.title,
        unit_price: quote.unit_price.into(),
        wallets,
        picker_order: payments.settings().picker_order.clone(),
    }))
}

/// Places an order priced from the card and asks the wallet's provider for a payment. The same
/// `Idempotency-Key` with the same parameters answers the first order again (200); with other
/// parameters it is refused (422).
#[utoipa::path(post, path = "/api/v1/orders", tag = "payments", request_body = NewOrder,
    params(("Idempotency-Key" = String, Header, description = "1 to 255 printable characters, kept payments.idempotency_window_secs")),
    responses((status = 201, body = Placed), (status = 200, body = Placed, description = "the same key and parameters again"),
              (status = 202, body = Placed, description = "the provider did not answer in time: pending"),
              (status = 400, description = "no key, bad quantity, no link at that index"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such message for the caller, or payments are off (problem type turned-off)"),
              (status = 422, description = "key reused with other parameters, not a shop, no price, wallet not offered, provider refused"),
              (status = 503, description = "the provider is unreachable")),
    security(("bearer" = [])))]
pub async fn place(
    State(payments): State<Arc<PaymentService>>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<NewOrder>,
) -> ApiResult<(StatusCode, axum::Json<Placed>)> {
    let key = idempotency_key(&headers)?;
    let placed = payments
        .place(
            &caller,
            &key,
            OrderRequest {
                conversation_id: req.conversation_id,
                seq: req.seq,
                link_index: req.link_index,
                quantity: req.quantity,
                wallet: req.wallet,
            },
        )
        .await?;
    let status = match (placed.replay, &placed.pay_url) {
        (true, _) => StatusCode::OK,
        (false, None) => StatusCode::ACCEPTED,
        (false, Some(_)) => StatusCode::CREATED,
    };
    Ok((
        status,
        axum::Json(Placed {
            order: placed.order.try_into()?,
            pay_url: placed.pay_url,
        }),
    ))
}

/// An order, for its buyer or an administrator.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "payments",
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 401, description = "no valid token"),
              (status = 404, description = "no such order for the caller")),
    security(("bearer" = [])))]
pub async fn order(
    State(payments): State<Arc<PaymentService>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<OrderView>> {
    Ok(axum::Json(payments.order(&caller, id).await?.try_into()?))
}

/// Asks the provider what became of the order's trade, when no notification came.
#[utoipa::path(post, path = "/api/v1/orders/{id}/query", tag = "payments",
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 401, description = "no valid token"),
              (status = 404, description = "no such order for the caller"),
              (status = 409, description = "the provider's answer does not fit the order's state"),
              (status = 422, description = "the provider refused, or its amount does not match"),
              (status = 503, description = "the provider did not answer")),
    security(("bearer" = [])))]
pub async fn query(
    State(payments): State<Arc<PaymentService>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<OrderView>> {
    Ok(axum::Json(payments.query(&caller, id).await?.try_into()?))
}

/// Refunds part or all of a paid order (administrators). The `Idempotency-Key` makes a retry the
/// same refund.
#[utoipa::path(post, path = "/api/v1/orders/{id}/refunds", tag = "payments", request_body = NewRefund,
    params(("id" = i64, Path, description = "order id"),
           ("Idempotency-Key" = String, Header, description = "1 to 64 letters, digits, - or _")),
    responses((status = 200, body = OrderView), (status = 400, description = "no key, bad amount"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such order, or not an administrator"),
              (status = 409, description = "refused by the ledger"),
              (status = 422, description = "more than was paid, not paid, or the provider refused"),
              (status = 503, description = "the provider did not answer")),
    security(("bearer" = [])))]
pub async fn refund(
    State(payments): State<Arc<PaymentService>>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(req): Json<NewRefund>,
) -> ApiResult<axum::Json<OrderView>> {
    let key = idempotency_key(&headers)?;
    let order = payments.refund(&caller, id, req.amount_minor, &key).await?;
    Ok(axum::Json(order.try_into()?))
}

/// One account's balance in one currency.
#[derive(Serialize, ToSchema)]
pub struct AccountBalance {
    /// `provider:<wallet>`, `merchant:<platform>` or `fees`.
    pub account: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units: negative for a provider (money that came in through it), never for the
    /// others.
    pub balance_minor: i64,
}

/// The ledger's balances, and whether they sum to zero in every currency, as double entry
/// requires.
#[derive(Serialize, ToSchema)]
pub struct Ledger {
    /// Non-zero balances.
    pub accounts: Vec<AccountBalance>,
    /// Every currency's balances sum to zero.
    pub balanced: bool,
}

/// The ledger's balances (administrators).
#[utoipa::path(get, path = "/api/v1/admin/payments/ledger", tag = "payments",
    responses((status = 200, body = Ledger), (status = 401, description = "no valid token"),
              (status = 404, description = "not an administrator")),
    security(("bearer" = [])))]
pub async fn ledger(
    State(payments): State<Arc<PaymentService>>,
    caller: Caller,
) -> ApiResult<axum::Json<Ledger>> {
    let accounts: Vec<AccountBalance> = payments
        .ledger(&caller)
        .await?
        .into_iter()
        .map(|(account, b)| AccountBalance {
            account,
            currency: b.currency,
            balance_minor: b.balance_minor,
        })
        .collect();
    let mut sums = std::collections::BTreeMap::<&str, i128>::new();
    for a in &accounts {
        *sums.entry(a.currency.as_str()).or_default() += i128::from(a.balance_minor);
    }
    let balanced = sums.values().all(|&s| s == 0);
    Ok(axum::Json(Ledger { accounts, balanced }))
}

/// Which day.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// A UTC day, `YYYY-MM-DD`.
    pub date: String,
}

/// One wallet's ledger against its provider's statement.
#[derive(Serialize, ToSchema)]
pub struct WalletReconciliation {
    /// The wallet.
    pub wallet: String,
    /// Ledger transactions that day.
    pub ledger_lines: usize,
    /// Statement lines that day.
    pub statement_lines: usize,
    /// Every difference, one line each (`missing from the ledger: … `); empty when they agree.
    pub differences: Vec<String>,
}

/// The reconciliation of a day.
#[derive(Serialize, ToSchema)]
pub struct Reconciled {
    /// The day.
    pub date: String,
    /// Per configured wallet.
    pub wallets: Vec<WalletReconciliation>,
}

/// Compares the ledger with each provider's daily statement (administrators).
#[utoipa::path(get, path = "/api/v1/admin/payments/reconcile", tag = "payments", params(DayQuery),
    responses((status = 200, body = Reconciled), (status = 400, description = "not a date"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "not an administrator"),
              (status = 422, description = "a provider refused"),
              (status = 503, description = "a provider did not answer")),
    security(("bearer" = [])))]
pub async fn reconcile(
    State(payments): State<Arc<PaymentService>>,
    caller: Caller,
    Query(q): Query<DayQuery>,
) -> ApiResult<axum::Json<Reconciled>> {
    let wallets = payments
        .reconcile(&caller, &q.date)
        .await?
        .into_iter()
        .map(|r| WalletReconciliation {
            wallet: r.wallet,
            ledger_lines: r.ledger_lines,
            statement_lines: r.statement_lines,
            differences: r.differences.iter().map(ToString::to_string).collect(),
        })
        .collect();
    Ok(axum::Json(Reconciled {
        date: q.date,
        wallets,
    }))
}

/// A wallet provider's signed notification. Public: the signature, the key serial, the time
/// window and the nonce store decide, not a token.
#[utoipa::path(post, path = "/api/v1/payments/notify/{wallet}", tag = "payments",
    request_body(content = String, description = "as the provider sends it: JSON (WeChat Pay) or a form (Alipay)", content_type = "text/plain"),
    params(("wallet" = String, Path, description = "wallet id")),
    responses((status = 200, description = "handled: the provider's acknowledgement"),
              (status = 404, description = "no such wallet or order"),
              (status = 409, description = "does not fit the order's state"),
              (status = 422, description = "refused: signature, serial, time window, replay, amount")))]
pub async fn notify(
    State(payments): State<Arc<PaymentService>>,
    Path(wallet): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let (status, ack) = payments.notify(&wallet, &headers, &body).await?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    Ok((status, ack).into_response())
}
