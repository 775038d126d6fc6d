//! Reconciliation: the ledger's transactions of a wallet over some days against the provider's
//! statement of the same days. Pure: the server reads both sides (the store's
//! `ledger_transactions`, an adapter's `statement`) and converts the ledger's rows to
//! [`LedgerLine`]s, so this crate does not depend on the store.
//!
//! Lines are matched by the provider's reference, which the ledger records from the provider's
//! own answers and notifications and the statement prints. A reference matched on both sides is
//! then compared field by field. Every difference names the reference and what each side says.
//!
//! Fees: a provider's trade statement lists payments and refunds, not fees (WeChat Pay prints a
//! fee column beside a payment, Alipay a separate fee bill), and the ledger records a fee under
//! the reference of the payment it was taken from. Fee lines of the ledger are therefore left out
//! of the comparison, so they are never "missing from the statement" nor a duplicate of their
//! payment.
use std::collections::BTreeMap;

use kaifang_pay::Money;

use crate::{StatementKind, StatementLine, out_trade_no};

/// What a ledger transaction records, as the reconciliation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    /// The buyer's payment.
    Payment,
    /// Money given back.
    Refund,
    /// A provider's fee: not on a trade statement, left out (see the module's docs).
    Fee,
}

/// One ledger transaction, the wallets-side view of the store's `LedgerTransaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// Payment, refund or fee.
    pub kind: LedgerKind,
    /// The trade reference of the transaction's order ([`out_trade_no`]).
    pub out_trade_no: String,
    /// The provider's reference of the payment or refund.
    pub provider_ref: String,
    /// The amount moved.
    pub amount: Money,
}

impl LedgerLine {
    /// The line of a transaction of order `order_id`, its trade reference made as the adapters
    /// make it.
    #[must_use]
    pub fn new(kind: LedgerKind, order_id: i64, provider_ref: &str, amount: Money) -> Self {
        Self {
            kind,
            out_trade_no: out_trade_no(order_id),
            provider_ref: provider_ref.to_owned(),
            amount,
        }
    }
}

/// How the two sides disagree about one provider reference. The order of the variants is the
/// order in which differences of the same reference are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mismatch {
    /// The ledger has it, the statement does not.
    MissingFromStatement,
    /// The statement has it, the ledger does not.
    MissingFromLedger,
    /// One is a payment, the other a refund.
    KindDiffers,
    /// They name different trades (`out_trade_no`).
    OrderDiffers,
    /// Different currencies; the amounts are then not compared.
    CurrencyDiffers,
    /// Same currency, different amounts.
    AmountDiffers,
    /// The ledger has the reference more than once: one difference per extra line.
    DuplicateInLedger,
    /// The statement has the reference more than once: one difference per extra line.
    DuplicateInStatement,
}

/// What one side says about a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Payment or refund.
    pub kind: StatementKind,
    /// The trade it belongs to.
    pub out_trade_no: String,
    /// The amount.
    pub amount: Money,
}

/// One disagreement between the ledger and the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// What disagrees.
    pub mismatch: Mismatch,
    /// The provider's reference both sides are matched by.
    pub provider_ref: String,
    /// What the ledger says (for a duplicate in the ledger, the extra line); `None` when the
    /// ledger lacks the reference.
    pub ledger: Option<Seen>,
    /// What the statement says (for a duplicate in the statement, the extra line); `None` when
    /// the statement lacks the reference.
    pub statement: Option<Seen>,
}

impl Mismatch {
    /// What it says, in words.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingFromStatement => "missing from the statement",
            Self::MissingFromLedger => "missing from the ledger",
            Self::KindDiffers => "kind differs",
            Self::OrderDiffers => "order differs",
            Self::CurrencyDiffers => "currency differs",
            Self::AmountDiffers => "amount differs",
            Self::DuplicateInLedger => "duplicate in the ledger",
            Self::DuplicateInStatement => "duplicate in the statement",
        }
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            StatementKind::Payment => "payment",
            StatementKind::Refund => "refund",
        };
        write!(f, "{kind} {} of {}", self.amount, self.out_trade_no)
    }
}

/// One line for an operator's report: `T1: amount differs: ledger payment 128.00 CNY of
/// kaifang-00000001, statement payment 128.01 CNY of kaifang-00000001`.
impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: ledger ",
            self.provider_ref,
            self.mismatch.as_str()
        )?;
        match &self.ledger {
            Some(seen) => write!(f, "{seen}")?,
            None => f.write_str("none")?,
        }
        f.write_str(", statement ")?;
        match &self.statement {
            Some(seen) => write!(f, "{seen}"),
            None => f.write_str("none"),
        }
    }
}

/// Every difference between `ledger` and `statement`, sorted by provider reference, then by
/// [`Mismatch`], then by what each side says: the same inputs in any order give the same list.
/// Identical sides give an empty list. Fee lines of the ledger are left out (see the module's
/// docs).
#[must_use]
pub fn reconcile(ledger: &[LedgerLine], statement: &[StatementLine]) -> Vec<Difference> {
    let mut sides: BTreeMap<&str, (Vec<Seen>, Vec<Seen>)> = BTreeMap::new();
    for l in ledger {
        let kind = match l.kind {
            LedgerKind::Payment => StatementKind::Payment,
            LedgerKind::Refund => StatementKind::Refund,
            LedgerKind::Fee => continue,
        };
        sides
            .entry(&l.provider_ref)
            .or_default()
            .0
            .push(seen(kind, &l.out_trade_no, l.amount));
    }
    for s in statement {
        sides
            .entry(&s.provider_ref)
            .or_default()
            .1
            .push(seen(s.kind, &s.out_trade_no, s.amount));
    }
    let mut out = Vec::new();
    for (reference, (mut ours, mut theirs)) in sides {
        // Which copy is "the" line and which the duplicate must not depend on the input's order:
        // sorted, then a copy that agrees with the other side goes first, so that a duplicate
        // names the copy that disagrees.
        ours.sort_by_key(sort_key);
        theirs.sort_by_key(sort_key);
        agreeing_first(&mut ours, theirs.first());
        agreeing_first(&mut theirs, ours.first());
        let mut push = |mismatch, ledger: Option<&Seen>, statement: Option<&Seen>| {
            out.push(Difference {
                mismatch,
                provider_ref: reference.to_owned(),
                ledger: ledger.cloned(),
                statement: statement.cloned(),
            });
        };
        let (first_ours, first_theirs) = (ours.first(), theirs.first());
        match (first_ours, first_theirs) {
            (Some(l), None) => push(Mismatch::MissingFromStatement, Some(l), None),
            (None, Some(s)) => push(Mismatch::MissingFromLedger, None, Some(s)),
            (Some(l), Some(s)) => {
                if l.kind != s.kind {
                    push(Mismatch::KindDiffers, Some(l), Some(s));
                }
                if l.out_trade_no != s.out_trade_no {
                    push(Mismatch::OrderDiffers, Some(l), Some(s));
                }
                if l.amount.currency() != s.amount.currency() {
                    push(Mismatch::CurrencyDiffers, Some(l), Some(s));
                } else if l.amount.minor() != s.amount.minor() {
                    push(Mismatch::AmountDiffers, Some(l), Some(s));
                }
            }
            (None, None) => {}
        }
        for extra in ours.iter().skip(1) {
            push(Mismatch::DuplicateInLedger, Some(extra), first_theirs);
        }
        for extra in theirs.iter().skip(1) {
            push(Mismatch::DuplicateInStatement, first_ours, Some(extra));
        }
    }
    out
}

fn seen(kind: StatementKind, out_trade_no: &str, amount: Money) -> Seen {
    Seen {
        kind,
        out_trade_no: out_trade_no.to_owned(),
        amount,
    }
}

fn agreeing_first(copies: &mut [Seen], other: Option<&Seen>) {
    if let Some(at) = other.and_then(|o| copies.iter().position(|c| c == o)) {
        copies[..=at].rotate_right(1);
    }
}

fn sort_key(s: &Seen) -> (bool, String, &'static str, i64) {
    (
        s.kind == StatementKind::Refund,
        s.out_trade_no.clone(),
        s.amount.currency().code(),
        s.amount.minor(),
    )
}

#[cfg(test)]
mod tests {
    use kaifang_pay::Currency;

    use super::*;

    fn cny(minor: i64) -> Money {
        Money::from_minor(minor, Currency::CNY).unwrap()
    }

    /// A day: two payments, a refund of one, and the fee taken from the other.
    fn ledger() -> Vec<LedgerLine> {
        vec![
            LedgerLine::new(LedgerKind::Payment, 1, "T1", cny(12_800)),
            LedgerLine::new(LedgerKind::Payment, 2, "T2", cny(5_000)),
            LedgerLine::new(LedgerKind::Refund, 1, "R1", cny(3_000)),
            LedgerLine::new(LedgerKind::Fee, 2, "T2", cny(30)),
        ]
    }

    fn line(kind: StatementKind, order_id: i64, reference: &str, amount: Money) -> StatementLine {
        StatementLine {
            kind,
            out_trade_no: out_trade_no(order_id),
            provider_ref: reference.to_owned(),
            amount,
        }
    }

    /// The provider's statement of the same day, in its own order.
    fn statement() -> Vec<StatementLine> {
        vec![
            line(StatementKind::Refund, 1, "R1", cny(3_000)),
            line(StatementKind::Payment, 2, "T2", cny(5_000)),
            line(StatementKind::Payment, 1, "T1", cny(12_800)),
        ]
    }

    fn seen_of(kind: StatementKind, order_id: i64, amount: Money) -> Option<Seen> {
        Some(seen(kind, &out_trade_no(order_id), amount))
    }

    /// Exactly one difference, and it is the one expected.
    fn only(ledger: &[LedgerLine], statement: &[StatementLine]) -> Difference {
        let d = reconcile(ledger, statement);
        assert_eq!(d.len(), 1, "{d:#?}");
        d.into_iter().next().unwrap()
    }

    #[test]
    fn identical_sides_have_no_difference() {
        assert_eq!(reconcile(&ledger(), &statement()), vec![]);
        assert_eq!(reconcile(&[], &[]), vec![]);
        // The order of either side does not matter.
        let mut l = ledger();
        l.reverse();
        let mut s = statement();
        s.rotate_left(1);
        assert_eq!(reconcile(&l, &s), vec![]);
    }

    #[test]
    fn fees_are_left_out() {
        // A fee alone is not missing from the statement, and a fee beside its payment is not a
        // duplicate of it.
        let fee = LedgerLine::new(LedgerKind::Fee, 9, "T9", cny(1));
        assert_eq!(reconcile(std::slice::from_ref(&fee), &[]), vec![]);
        let mut l = ledger();
        l.push(LedgerLine::new(LedgerKind::Fee, 1, "T1", cny(77)));
        assert_eq!(reconcile(&l, &statement()), vec![]);
    }

    #[test]
    fn a_line_missing_from_the_statement() {
        let mut s = statement();
        s.retain(|l| l.provider_ref != "T2");
        let d = only(&ledger(), &s);
        assert_eq!(
            d.to_string(),
            "T2: missing from the statement: ledger payment 50.00 CNY of kaifang-00000002, \
             statement none"
        );
        assert_eq!(
            d,
            Difference {
                mismatch: Mismatch::MissingFromStatement,
                provider_ref: "T2".into(),
                ledger: seen_of(StatementKind::Payment, 2, cny(5_000)),
                statement: None,
            }
        );
    }

    #[test]
    fn a_line_missing_from_the_ledger() {
        let mut l = ledger();
        l.retain(|l| l.provider_ref != "R1");
        let d = only(&l, &statement());
        assert_eq!(
            d,
            Difference {
                mismatch: Mismatch::MissingFromLedger,
                provider_ref: "R1".into(),
                ledger: None,
                statement: seen_of(StatementKind::Refund, 1, cny(3_000)),
            }
        );
    }

    #[test]
    fn an_amount_differs() {
        let mut s = statement();
        s[2].amount = cny(12_801);
        let d = only(&ledger(), &s);
        assert_eq!(
            d.to_string(),
            "T1: amount differs: ledger payment 128.00 CNY of kaifang-00000001, \
             statement payment 128.01 CNY of kaifang-00000001"
        );
        assert_eq!(d.mismatch, Mismatch::AmountDiffers);
        assert_eq!(d.provider_ref, "T1");
        assert_eq!(d.ledger.unwrap().amount, cny(12_800));
        assert_eq!(d.statement.unwrap().amount, cny(12_801));
    }

    #[test]
    fn a_currency_differs_and_its_amount_is_not_compared() {
        let mut s = statement();
        s[1].amount = Money::from_minor(5_000, Currency::USD).unwrap();
        let d = only(&ledger(), &s);
        assert_eq!(d.mismatch, Mismatch::CurrencyDiffers);
        assert_eq!(d.provider_ref, "T2");
        assert_eq!(d.ledger.unwrap().amount, cny(5_000));
        assert_eq!(d.statement.unwrap().amount.currency(), Currency::USD);
        // Another currency and another number: still the one difference.
        s[1].amount = Money::from_minor(50, Currency::JPY).unwrap();
        assert_eq!(only(&ledger(), &s).mismatch, Mismatch::CurrencyDiffers);
    }

    #[test]
    fn an_order_differs() {
        let mut s = statement();
        s[1].out_trade_no = out_trade_no(3);
        let d = only(&ledger(), &s);
        assert_eq!(d.mismatch, Mismatch::OrderDiffers);
        assert_eq!(d.provider_ref, "T2");
        assert_eq!(d.ledger.unwrap().out_trade_no, "kaifang-00000002");
        assert_eq!(d.statement.unwrap().out_trade_no, "kaifang-00000003");
    }

    #[test]
    fn a_kind_differs() {
        let mut s = statement();
        s[0].kind = StatementKind::Payment;
        let d = only(&ledger(), &s);
        assert_eq!(d.mismatch, Mismatch::KindDiffers);
        assert_eq!(d.provider_ref, "R1");
        assert_eq!(d.ledger.unwrap().kind, StatementKind::Refund);
        assert_eq!(d.statement.unwrap().kind, StatementKind::Payment);
    }

    #[test]
    fn a_duplicate_in_the_ledger() {
        let mut l = ledger();
        l.push(LedgerLine::new(LedgerKind::Payment, 1, "T1", cny(12_800)));
        let d = only(&l, &statement());
        assert_eq!(
            d,
            Difference {
                mismatch: Mismatch::DuplicateInLedger,
                provider_ref: "T1".into(),
                ledger: seen_of(StatementKind::Payment, 1, cny(12_800)),
                statement: seen_of(StatementKind::Payment, 1, cny(12_800)),
            }
        );
    }

    #[test]
    fn a_duplicate_in_the_statement() {
        let mut s = statement();
        s.push(line(StatementKind::Refund, 1, "R1", cny(3_000)));
        let d = only(&ledger(), &s);
        assert_eq!(d.mismatch, Mismatch::DuplicateInStatement);
        assert_eq!(d.provider_ref, "R1");
        assert_eq!(d.ledger, seen_of(StatementKind::Refund, 1, cny(3_000)));
        assert_eq!(d.statement, seen_of(StatementKind::Refund, 1, cny(3_000)));
    }

    #[test]
    fn several_differences_are_sorted_the_same_whatever_the_input_order() {
        let mut l = ledger();
        l.push(LedgerLine::new(LedgerKind::Refund, 2, "R2", cny(100)));
        let mut s = statement();
        s[2].amount = cny(1);
        s[2].out_trade_no = out_trade_no(7);
        s.push(line(StatementKind::Payment, 4, "A0", cny(10)));
        let d = reconcile(&l, &s);
        let got: Vec<_> = d
            .iter()
            .map(|d| (d.provider_ref.as_str(), d.mismatch))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A0", Mismatch::MissingFromLedger),
                ("R2", Mismatch::MissingFromStatement),
                ("T1", Mismatch::OrderDiffers),
                ("T1", Mismatch::AmountDiffers),
            ]
        );
        l.reverse();
        s.reverse();
        assert_eq!(reconcile(&l, &s), d);
    }

    #[test]
    fn a_duplicate_names_the_copy_that_disagrees_whatever_the_order() {
        // Two ledger lines for T1, one as the statement says and one not: the other is the
        // duplicate, in either input order, and the agreeing one is not reported.
        let mut l = ledger();
        l.push(LedgerLine::new(LedgerKind::Payment, 1, "T1", cny(99)));
        let d = only(&l, &statement());
        assert_eq!(
            d,
            Difference {
                mismatch: Mismatch::DuplicateInLedger,
                provider_ref: "T1".into(),
                ledger: seen_of(StatementKind::Payment, 1, cny(99)),
                statement: seen_of(StatementKind::Payment, 1, cny(12_800)),
            }
        );
        l.swap(0, 4);
        assert_eq!(only(&l, &statement()), d);
        // The same on the statement's side.
        let mut s = statement();
        s.insert(0, line(StatementKind::Payment, 2, "T2", cny(1_000_000)));
        let d = only(&ledger(), &s);
        assert_eq!(d.mismatch, Mismatch::DuplicateInStatement);
        assert_eq!(
            d.statement,
            seen_of(StatementKind::Payment, 2, cny(1_000_000))
        );
        s.swap(0, 2);
        assert_eq!(only(&ledger(), &s), d);
    }
}
