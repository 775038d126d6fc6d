//! The transparency report's payments section (issue 10, item 6): orders
//! created in the range by merchant, wallet and outcome, each wallet's
//! totals beside the others', and the wallet picker's order in force. A
//! wallet that buyers start with but rarely finish in, or one that only the
//! house's merchants get, shows here in figures.
use std::collections::BTreeMap;

use kaifang_pay::{OrderState, PickerOrder};
use kaifang_store::PaymentCount;
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::error::{Error, Result};

/// Orders created in the range for one merchant × wallet × outcome × currency.
#[derive(Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentRow {
    /// The merchant (a commerce platform id of `data/wallets.toml`).
    pub merchant: String,
    /// The wallet the buyer chose (a wallet id of `data/wallets.toml`).
    pub wallet: String,
    /// The orders' state now: `created`, `pending`, `paid`, `partially_refunded`, `refunded`,
    /// `failed`, `cancelled` or `expired`.
    pub outcome: String,
    /// How many orders.
    pub orders: i64,
    /// The sum of their prices, in minor units of `currency` (fen, cents; yen for JPY).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// One wallet's orders created in the range, in one currency: all of them,
/// and those the provider confirmed paid.
#[derive(Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct WalletTotal {
    /// The wallet id.
    pub wallet: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Orders of every outcome.
    pub orders: i64,
    /// The sum of their prices, in minor units.
    pub amount_minor: i64,
    /// Of those, orders the provider confirmed paid (`paid`, `partially_refunded` or
    /// `refunded`: the money reached the merchant, whatever came back later).
    pub paid_orders: i64,
    /// The sum of the paid orders' prices, in minor units (refunds not deducted).
    pub paid_amount_minor: i64,
}

/// Payments in the transparency report.
#[derive(Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentsSection {
    /// The wallet picker's order in force (`payments.picker_order`): `neutral`, `alphabetical`
    /// or `registry`.
    pub picker_order: String,
    /// Orders created in the range, by merchant × wallet × outcome × currency.
    pub rows: Vec<PaymentRow>,
    /// Per wallet and currency, sorted by wallet then currency: every wallet with orders in the
    /// range, side by side.
    pub wallets: Vec<WalletTotal>,
}

/// Whether an order in `state` was paid: the provider confirmed the money.
fn was_paid(state: &str) -> bool {
    matches!(
        OrderState::parse(state),
        Some(OrderState::Paid | OrderState::PartiallyRefunded | OrderState::Refunded)
    )
}

fn add(a: i64, b: i64) -> Result<i64> {
    a.checked_add(b)
        .ok_or_else(|| Error::internal("a payment total is past i64"))
}

/// Builds the section from the store's counts (already sorted by merchant,
/// wallet, state and currency). A total past `i64` is an error rather than a
/// wrong figure.
pub(super) fn payments_section(
    picker: PickerOrder,
    counts: Vec<PaymentCount>,
) -> Result<PaymentsSection> {
    let mut totals: BTreeMap<(String, String), WalletTotal> = BTreeMap::new();
    for c in &counts {
        let t = totals
            .entry((c.wallet.clone(), c.currency.clone()))
            .or_insert_with(|| WalletTotal {
                wallet: c.wallet.clone(),
                currency: c.currency.clone(),
                orders: 0,
                amount_minor: 0,
                paid_orders: 0,
                paid_amount_minor: 0,
            });
        t.orders = add(t.orders, c.orders)?;
        t.amount_minor = add(t.amount_minor, c.amount_minor)?;
        if was_paid(&c.state) {
            t.paid_orders = add(t.paid_orders, c.orders)?;
            t.paid_amount_minor = add(t.paid_amount_minor, c.amount_minor)?;
        }
    }
    let rows = counts
        .into_iter()
        .map(|c| PaymentRow {
            merchant: c.merchant,
            wallet: c.wallet,
            outcome: c.state,
            orders: c.orders,
            amount_minor: c.amount_minor,
            currency: c.currency,
        })
        .collect();
    Ok(PaymentsSection {
        picker_order: picker.as_str().to_owned(),
        rows,
        wallets: totals.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(merchant: &str, wallet: &str, state: &str, orders: i64, amount: i64) -> PaymentCount {
        PaymentCount {
            merchant: merchant.into(),
            wallet: wallet.into(),
            state: state.into(),
            currency: "CNY".into(),
            orders,
            amount_minor: amount,
        }
    }

    /// Both wallets side by side: every outcome counts in `orders`, only
    /// confirmed payments (refunded ones included) in `paid_*`, and the
    /// rows keep the store's detail with the state named `outcome`.
    #[test]
    fn each_wallet_totals_beside_the_other_with_paid_apart() {
        let counts = vec![
            count("jd", "alipay", "failed", 2, 600),
            count("jd", "wechat-pay", "paid", 1, 300),
            count("taobao", "alipay", "paid", 3, 38_400),
            count("taobao", "alipay", "refunded", 1, 500),
            count("taobao", "wechat-pay", "expired", 4, 2_000),
            count("taobao", "wechat-pay", "partially_refunded", 1, 1_000),
            PaymentCount {
                currency: "HKD".into(),
                ..count("taobao", "wechat-pay", "paid", 1, 700)
            },
        ];
        let s = payments_section(PickerOrder::Alphabetical, counts).unwrap();
        assert_eq!(s.picker_order, "alphabetical");
        assert_eq!(s.rows.len(), 7);
        assert_eq!(
            s.rows[0],
            PaymentRow {
                merchant: "jd".into(),
                wallet: "alipay".into(),
                outcome: "failed".into(),
                orders: 2,
                amount_minor: 600,
                currency: "CNY".into(),
            }
        );
        let total = |wallet: &str, currency: &str, o, a, po, pa| WalletTotal {
            wallet: wallet.into(),
            currency: currency.into(),
            orders: o,
            amount_minor: a,
            paid_orders: po,
            paid_amount_minor: pa,
        };
        assert_eq!(
            s.wallets,
            vec![
                total("alipay", "CNY", 6, 39_500, 4, 38_900),
                total("wechat-pay", "CNY", 6, 3_300, 2, 1_300),
                total("wechat-pay", "HKD", 1, 700, 1, 700),
            ]
        );
    }

    #[test]
    fn no_orders_give_empty_lists_and_the_picker_still_shown() {
        let s = payments_section(PickerOrder::default(), Vec::new()).unwrap();
        assert_eq!(s.picker_order, "neutral");
        assert!(s.rows.is_empty() && s.wallets.is_empty());
    }

    #[test]
    fn a_total_past_i64_is_an_error_not_a_wrapped_figure() {
        let counts = vec![
            count("jd", "alipay", "paid", 1, i64::MAX),
            count("taobao", "alipay", "paid", 1, 1),
        ];
        assert!(payments_section(PickerOrder::Neutral, counts).is_err());
    }
}
