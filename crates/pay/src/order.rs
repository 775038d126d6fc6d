//! The order state machine: the only allowed changes of an order's state, as a pure function.
//! The table is in docs/payments.md; every edge not listed there is refused.

use std::fmt;

use crate::{Error, Money};

/// Where an order is; the allowed changes are [`transition`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Priced from the card; no wallet asked yet.
    Created,
    /// A wallet provider was asked for a payment; waiting for its signed notification (or a query).
    Pending,
    /// The provider confirmed the payment.
    Paid,
    /// Paid, and part of it refunded.
    PartiallyRefunded,
    /// Paid, and all of it refunded.
    Refunded,
    /// The provider reported the payment failed; the buyer may try again.
    Failed,
    /// Closed by the buyer or operator before payment; the provider's trade was closed.
    Cancelled,
    /// Nobody paid within the order's lifetime.
    Expired,
}

impl OrderState {
    /// The lower-case name used in the API and the store.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderState::Created => "created",
            OrderState::Pending => "pending",
            OrderState::Paid => "paid",
            OrderState::PartiallyRefunded => "partially_refunded",
            OrderState::Refunded => "refunded",
            OrderState::Failed => "failed",
            OrderState::Cancelled => "cancelled",
            OrderState::Expired => "expired",
        }
    }

    /// Every state, in the order an order usually meets them.
    pub const ALL: [OrderState; 8] = [
        OrderState::Created,
        OrderState::Pending,
        OrderState::Paid,
        OrderState::PartiallyRefunded,
        OrderState::Refunded,
        OrderState::Failed,
        OrderState::Cancelled,
        OrderState::Expired,
    ];

    /// The state named `name` (as [`OrderState::as_str`] writes it), if any.
    pub fn parse(name: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// No event changes a terminal state any more (a duplicate `paid` on `refunded` is still
    /// answered idempotently, without a change).
    pub fn is_terminal(&self) -> bool {
        matches!(self, OrderState::Refunded | OrderState::Cancelled)
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Kaifang asked a wallet provider for a payment (again, after a failure).
    RequestPayment,
    /// A verified notification (or a query answer) says the payment succeeded.
    Paid,
    /// A verified notification (or a query answer) says the payment failed.
    PaymentFailed,
    /// The buyer or the operator cancels before payment.
    Cancel,
    /// The order's lifetime ran out unpaid.
    Expire,
    /// A refund of `amount`, with what was `paid` and what was refunded before.
    Refund {
        /// What the buyer paid.
        paid: Money,
        /// Refunds already made.
        refunded_so_far: Money,
        /// This refund.
        amount: Money,
    },
}

impl Event {
    /// The event's name, for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Event::RequestPayment => "request_payment",
            Event::Paid => "paid",
            Event::PaymentFailed => "payment_failed",
            Event::Cancel => "cancel",
            Event::Expire => "expire",
            Event::Refund { .. } => "refund",
        }
    }
}

/// The state after `event`, or an error when the edge is not allowed.
///
/// Why the less obvious edges:
/// - a `paid` on an order already paid, partially or fully refunded is idempotent: providers
///   deliver notifications at least once, and the second one must change nothing;
/// - `expired` → `paid`: expiry is Kaifang's own clock, the provider's signed notice is what
///   happened; the money moved, so the order is paid (and may then be refunded);
/// - `failed` → `pending`: the buyer may try again, perhaps with another wallet;
/// - `cancelled` is final: a trade is only cancelled once the provider closed it, so a later
///   `paid` is an anomaly for the operator, not something to record silently.
pub fn transition(from: OrderState, event: Event) -> Result<OrderState, Error> {
    use OrderState as S;
    let next = match (from, event) {
        (S::Created | S::Failed, Event::RequestPayment) => Some(S::Pending),
        (S::Pending, Event::RequestPayment) => Some(S::Pending),
        (S::Pending | S::Expired, Event::Paid) => Some(S::Paid),
        (S::Paid | S::PartiallyRefunded | S::Refunded, Event::Paid) => Some(from),
        (S::Pending, Event::PaymentFailed) => Some(S::Failed),
        (S::Failed, Event::PaymentFailed) => Some(S::Failed),
        (S::Created | S::Pending | S::Failed, Event::Cancel) => Some(S::Cancelled),
        (S::Created | S::Pending, Event::Expire) => Some(S::Expired),
        (
            S::Paid | S::PartiallyRefunded,
            Event::Refund {
                paid,
                refunded_so_far,
                amount,
            },
        ) => {
            let total = refundable(paid, refunded_so_far, amount)?;
            Some(if total == paid {
                S::Refunded
            } else {
                S::PartiallyRefunded
            })
        }
        _ => None,
    };
    next.ok_or(Error::InvalidTransition {
        from,
        event: event.name(),
    })
}

/// Whether `amount` may be refunded after `refunded_so_far` of `paid`; returns the new refunded
/// total. Refused: zero, mixed currencies, and anything past what was paid.
pub fn refundable(paid: Money, refunded_so_far: Money, amount: Money) -> Result<Money, Error> {
    paid.same_currency(&refunded_so_far)?;
    paid.same_currency(&amount)?;
    if amount.is_zero() {
        return Err(Error::ZeroRefund);
    }
    let too_large = || Error::RefundTooLarge {
        amount: amount.to_string(),
        paid: paid.to_string(),
        refunded: refunded_so_far.to_string(),
    };
    let total = refunded_so_far
        .checked_add(amount)
        .map_err(|_| too_large())?;
    if total.minor() > paid.minor() {
        return Err(too_large());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    const ALL: [OrderState; 8] = OrderState::ALL;

    #[test]
    fn all_lists_every_state_once() {
        // Exhaustive: a new state does not compile here until it has a place in `ALL`.
        let place = |s: OrderState| match s {
            OrderState::Created => 0,
            OrderState::Pending => 1,
            OrderState::Paid => 2,
            OrderState::PartiallyRefunded => 3,
            OrderState::Refunded => 4,
            OrderState::Failed => 5,
            OrderState::Cancelled => 6,
            OrderState::Expired => 7,
        };
        for (i, s) in ALL.into_iter().enumerate() {
            assert_eq!(place(s), i, "{s}");
        }
    }

    #[test]
    fn states_parse_back_from_their_names() {
        for s in ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
        for bad in ["", "Paid", "paid ", "refund"] {
            assert_eq!(OrderState::parse(bad), None, "{bad:?}");
        }
    }

    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::CNY).unwrap()
    }

    fn refund(paid: &str, so_far: &str, amount: &str) -> Event {
        Event::Refund {
            paid: cny(paid),
            refunded_so_far: cny(so_far),
            amount: cny(amount),
        }
    }

    #[test]
    fn the_happy_path_and_a_full_refund_in_two_parts() {
        let mut s = OrderState::Created;
        s = transition(s, Event::RequestPayment).unwrap();
        assert_eq!(s, OrderState::Pending);
        s = transition(s, Event::Paid).unwrap();
        assert_eq!(s, OrderState::Paid);
        s = transition(s, refund("128.00", "0", "28.00")).unwrap();
        assert_eq!(s, OrderState::PartiallyRefunded);
        s = transition(s, refund("128.00", "28.00", "100.00")).unwrap();
        assert_eq!(s, OrderState::Refunded);
        assert!(s.is_terminal());
    }

    #[test]
    fn a_duplicate_paid_notification_changes_nothing() {
        for s in [
            OrderState::Paid,
            OrderState::PartiallyRefunded,
            OrderState::Refunded,
        ] {
            assert_eq!(transition(s, Event::Paid), Ok(s));
        }
    }

    #[test]
    fn a_refund_larger_than_what_was_paid_is_refused() {
        assert!(matches!(
            transition(OrderState::Paid, refund("128.00", "0", "128.01")),
            Err(Error::RefundTooLarge { .. })
        ));
        assert!(matches!(
            refundable(cny("128.00"), cny("100.00"), cny("28.01")),
            Err(Error::RefundTooLarge { .. })
        ));
        assert_eq!(
            refundable(cny("128.00"), cny("100.00"), cny("28.00")),
            Ok(cny("128.00"))
        );
        assert_eq!(
            refundable(cny("1"), cny("0"), cny("0")),
            Err(Error::ZeroRefund)
        );
        let usd = Money::parse("1.00", Currency::USD).unwrap();
        assert_eq!(
            refundable(cny("5"), cny("0"), usd),
            Err(Error::CurrencyMismatch("CNY", "USD"))
        );
        // Nothing left to refund on a refunded order.
        assert!(matches!(
            transition(OrderState::Refunded, refund("1", "1", "0.01")),
            Err(Error::InvalidTransition {
                from: OrderState::Refunded,
                event: "refund"
            })
        ));
    }

    #[test]
    fn only_the_documented_edges_are_allowed() {
        use OrderState as S;
        // The complete table of docs/payments.md, (from, event) -> to, excluding refunds.
        let allowed: &[(S, Event, S)] = &[
            (S::Created, Event::RequestPayment, S::Pending),
            (S::Failed, Event::RequestPayment, S::Pending),
            (S::Pending, Event::RequestPayment, S::Pending),
            (S::Pending, Event::Paid, S::Paid),
            (S::Expired, Event::Paid, S::Paid),
            (S::Paid, Event::Paid, S::Paid),
            (S::PartiallyRefunded, Event::Paid, S::PartiallyRefunded),
            (S::Refunded, Event::Paid, S::Refunded),
            (S::Pending, Event::PaymentFailed, S::Failed),
            (S::Failed, Event::PaymentFailed, S::Failed),
            (S::Created, Event::Cancel, S::Cancelled),
            (S::Pending, Event::Cancel, S::Cancelled),
            (S::Failed, Event::Cancel, S::Cancelled),
            (S::Created, Event::Expire, S::Expired),
            (S::Pending, Event::Expire, S::Expired),
        ];
        let events = [
            Event::RequestPayment,
            Event::Paid,
            Event::PaymentFailed,
            Event::Cancel,
            Event::Expire,
        ];
        for from in ALL {
            for event in events {
                let expected = allowed
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(transition(from, event), Ok(to), "{from} {event:?}"),
                    None => assert_eq!(
                        transition(from, event),
                        Err(Error::InvalidTransition {
                            from,
                            event: event.name()
                        }),
                        "{from} {event:?}"
                    ),
                }
            }
            let r = transition(from, refund("10", "0", "1"));
            let refundable_state = matches!(from, S::Paid | S::PartiallyRefunded);
            assert_eq!(r.is_ok(), refundable_state, "{from} refund");
        }
    }

    #[test]
    fn cancelled_orders_do_not_silently_become_paid() {
        assert!(transition(OrderState::Cancelled, Event::Paid).is_err());
        assert!(transition(OrderState::Created, Event::Paid).is_err());
        assert!(transition(OrderState::Paid, Event::Cancel).is_err());
        assert!(transition(OrderState::Paid, Event::Expire).is_err());
    }
}
