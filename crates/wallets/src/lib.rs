//! Wallet adapters: the HTTP clients through which Kaifang asks a wallet provider for a payment, a
//! refund, the state of a trade or a daily statement, and through which it reads the provider's
//! signed notifications. The signatures themselves are `kaifang-pay`'s; this crate adds the wire
//! formats and the I/O.
//!
//! Every adapter offers the same operations with the types below, so the server's order service
//! does not know which provider it speaks to:
//!
//! | operation | WeChat Pay API v3 | Alipay OpenAPI |
//! |---|---|---|
//! | `create` | `POST /v3/pay/transactions/h5` | `alipay.trade.page.pay` (a signed redirect) |
//! | `query` | `GET /v3/pay/transactions/out-trade-no/{no}` | `alipay.trade.query` |
//! | `refund` | `POST /v3/refund/domestic/refunds` | `alipay.trade.refund` |
//! | `statement` | `GET /v3/bill/tradebill` | `alipay.data.dataservice.bill.downloadurl.query` |
//! | `verify_notification` | `Wechatpay-*` headers, AES-256-GCM resource | form body with `sign` |
//!
//! See docs/payments.md.
#![deny(missing_docs)]

pub mod alipay;
mod common;
pub mod reconcile;
pub mod wechat;

use kaifang_pay::Money;

/// What Kaifang asks a provider to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// Kaifang's reference for the trade (`out_trade_no`): unique per order and attempt.
    pub out_trade_no: String,
    /// What the buyer sees on the provider's page.
    pub description: String,
    /// The amount, in minor units with its currency.
    pub amount: Money,
    /// Where the provider sends its signed notification.
    pub notify_url: String,
    /// Where the provider's page sends the buyer back when done.
    pub return_url: String,
}

/// How the buyer completes a payment: the provider's page to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStart {
    /// The provider's page (WeChat Pay's `h5_url`, Alipay's signed gateway URL).
    pub pay_url: String,
}

/// A trade's state as the provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeStatus {
    /// Created, not paid yet (WeChat `NOTPAY`/`USERPAYING`, Alipay `WAIT_BUYER_PAY`).
    Pending,
    /// Paid (WeChat `SUCCESS`, Alipay `TRADE_SUCCESS`/`TRADE_FINISHED`).
    Paid,
    /// Closed before payment (WeChat `CLOSED`/`REVOKED`, Alipay `TRADE_CLOSED` without a payment).
    Closed,
    /// The payment failed (WeChat `PAYERROR`).
    Failed,
    /// The provider does not know the trade.
    Unknown,
}

/// A trade as the provider reports it, by query or by notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTrade {
    /// Kaifang's reference.
    pub out_trade_no: String,
    /// The provider's own reference (`transaction_id`, `trade_no`), once it has one.
    pub provider_ref: Option<String>,
    /// The state.
    pub status: TradeStatus,
    /// The amount the provider collected or will collect.
    pub amount: Money,
}

/// A refund Kaifang asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The trade refunded.
    pub out_trade_no: String,
    /// Kaifang's reference for this refund (`out_refund_no`, `out_request_no`): a retry with the
    /// same reference is the same refund.
    pub out_refund_no: String,
    /// How much to give back.
    pub amount: Money,
    /// What the trade collected in all (WeChat Pay requires it).
    pub total: Money,
}

/// A refund the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundResult {
    /// Kaifang's reference for the refund.
    pub out_refund_no: String,
    /// The provider's reference for the refund.
    pub provider_ref: String,
    /// The amount refunded.
    pub amount: Money,
}

/// What a provider's statement says happened on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// Money collected.
    Payment,
    /// Money given back.
    Refund,
}

/// One line of a provider's daily statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Payment or refund.
    pub kind: StatementKind,
    /// Kaifang's trade reference.
    pub out_trade_no: String,
    /// The provider's reference of the payment or refund (the ledger's provider reference).
    pub provider_ref: String,
    /// The amount.
    pub amount: Money,
}

/// A verified notification: the provider says a trade changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The trade as the notification reports it.
    pub trade: ProviderTrade,
    /// The notification's nonce or id, for the replay store (`Payments::remember_nonce`).
    pub nonce: String,
}

/// Why an adapter call failed. Texts never carry key material or the provider's address.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The provider did not answer in time; the trade's state is unknown until queried.
    #[error("the wallet provider did not answer in time")]
    Timeout,
    /// The provider could not be reached.
    #[error("the wallet provider could not be reached")]
    Unreachable,
    /// The provider answered with an error.
    #[error("the wallet provider refused: {code}")]
    Refused {
        /// The provider's error code (`ORDER_NOT_EXIST`, `ACQ.TRADE_NOT_EXIST`, …).
        code: String,
    },
    /// The provider's answer did not verify or did not parse.
    #[error("the wallet provider's answer is invalid: {0}")]
    BadAnswer(String),
    /// A notification did not verify (signature, serial, time window, app id) or did not parse.
    #[error("notification refused: {0}")]
    BadNotification(String),
    /// The request cannot be sent as given (a currency the provider does not collect, a zero
    /// amount, a malformed date, an unusable configuration).
    #[error("invalid request to the wallet provider: {0}")]
    InvalidRequest(String),
}

/// The trade reference Kaifang gives a provider for order `order_id`: `kaifang-` and the id on at
/// least 8 digits, so it fits both providers' rules (WeChat Pay: 6–32 of `[0-9A-Za-z_-]`; Alipay:
/// up to 64) and a statement line leads back to its order.
#[must_use]
pub fn out_trade_no(order_id: i64) -> String {
    format!("kaifang-{order_id:08}")
}

/// The order a trade reference of [`out_trade_no`] names; `None` for any other reference.
#[must_use]
pub fn order_id_of(out_trade_no: &str) -> Option<i64> {
    let digits = out_trade_no.strip_prefix("kaifang-")?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&id: &i64| id >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_references_lead_back_to_their_order() {
        for id in [0, 7, 12_345_678, 123_456_789_012, i64::MAX] {
            let no = out_trade_no(id);
            assert!((6..=32).contains(&no.len()), "{no}");
            assert_eq!(order_id_of(&no), Some(id), "{no}");
        }
        assert_eq!(out_trade_no(42), "kaifang-00000042");
        for other in [
            "kaifang-42",
            "kaifang-0000004x",
            "other-00000042",
            "kaifang--0000042",
            "",
        ] {
            assert_eq!(order_id_of(other), None, "{other}");
        }
    }
}
