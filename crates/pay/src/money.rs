//! Amounts as integer minor units (fen, cents, yen) with an ISO 4217 currency. There is no float
//! anywhere: a decimal string is parsed digit by digit, and shown back the same way.

use std::fmt;

use crate::Error;

/// An ISO 4217 currency the crate knows, with its exponent (decimal places of the minor unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// The currencies of the registry's wallets and merchants. Exponents per ISO 4217.
const CURRENCIES: &[Currency] = &[
    Currency {
        code: "CNY",
        exponent: 2,
    },
    Currency {
        code: "HKD",
        exponent: 2,
    },
    Currency {
        code: "USD",
        exponent: 2,
    },
    Currency {
        code: "EUR",
        exponent: 2,
    },
    Currency {
        code: "GBP",
        exponent: 2,
    },
    Currency {
        code: "JPY",
        exponent: 0,
    },
    Currency {
        code: "KRW",
        exponent: 0,
    },
];

impl Currency {
    /// Chinese yuan renminbi (2 decimals: fen).
    pub const CNY: Currency = Currency {
        code: "CNY",
        exponent: 2,
    };
    /// Japanese yen (no decimals).
    pub const JPY: Currency = Currency {
        code: "JPY",
        exponent: 0,
    };
    /// US dollar (2 decimals: cents).
    pub const USD: Currency = Currency {
        code: "USD",
        exponent: 2,
    };

    /// The currency with this ISO 4217 alphabetic code (upper case, exact).
    pub fn from_code(code: &str) -> Result<Currency, Error> {
        CURRENCIES
            .iter()
            .find(|c| c.code == code)
            .copied()
            .ok_or_else(|| Error::UnknownCurrency(code.to_owned()))
    }

    /// The ISO 4217 alphabetic code, e.g. `CNY`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Decimal places of the minor unit: 2 for CNY, 0 for JPY.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

/// A non-negative amount of one currency, in integer minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount of `minor` minor units (fen for CNY); refused when negative.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, Error> {
        if minor < 0 {
            return Err(Error::NegativeAmount(minor.to_string()));
        }
        Ok(Money { minor, currency })
    }

    /// Zero of a currency.
    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses a plain decimal amount: `128`, `128.00`, `0.5` (50 fen in CNY). Refused: a sign, an
    /// exponent, spaces, separators, a bare `.`, `.5`, `5.`, more decimals than the currency has
    /// (even zeros: `100.0` JPY is refused, so no digit is silently dropped), and overflow.
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, Error> {
        if amount.starts_with('-') {
            return Err(Error::NegativeAmount(amount.to_owned()));
        }
        let (whole, frac) = match amount.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (amount, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(Error::InvalidAmount(amount.to_owned()));
        }
        let frac = frac.unwrap_or("");
        let exponent = usize::from(currency.exponent);
        if frac.len() > exponent {
            return Err(Error::TooManyDecimals {
                amount: amount.to_owned(),
                currency: currency.code,
                max: currency.exponent,
            });
        }
        // Every digit of the whole part, then the fraction padded with zeros to the exponent.
        let padding = std::iter::repeat_n(b'0', exponent - frac.len());
        let mut minor: i64 = 0;
        for digit in whole.bytes().chain(frac.bytes()).chain(padding) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or(Error::Overflow)?;
        }
        Ok(Money { minor, currency })
    }

    /// Parses an amount given with its currency code, e.g. (`"128.00"`, `"CNY"`).
    pub fn parse_with_code(amount: &str, code: &str) -> Result<Money, Error> {
        Money::parse(amount, Currency::from_code(code)?)
    }

    /// The amount in minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as a decimal string with exactly the currency's decimals: `128.00`, `0.50`, `500`.
    /// This is what Alipay's `total_amount` carries; [`Money::parse`] reads it back unchanged.
    pub fn to_decimal(&self) -> String {
        let exponent = usize::from(self.currency.exponent);
        if exponent == 0 {
            return self.minor.to_string();
        }
        let digits = format!("{:0>width$}", self.minor, width = exponent + 1);
        let (whole, frac) = digits.split_at(digits.len() - exponent);
        format!("{whole}.{frac}")
    }

    /// The sum, refused across currencies or on overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, Error> {
        self.same_currency(&other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(Error::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// The difference, refused across currencies or when below zero.
    pub fn checked_sub(self, other: Money) -> Result<Money, Error> {
        self.same_currency(&other)?;
        match self.minor.checked_sub(other.minor) {
            Some(minor) if minor >= 0 => Ok(Money { minor, ..self }),
            _ => Err(Error::Underflow),
        }
    }

    /// `self` times a quantity (an order of `n` items), refused on overflow.
    pub fn checked_mul(self, quantity: u32) -> Result<Money, Error> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(Error::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub(crate) fn same_currency(&self, other: &Money) -> Result<(), Error> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(Error::CurrencyMismatch(
                self.currency.code,
                other.currency.code,
            ))
        }
    }
}

/// `128.00 CNY`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::CNY).unwrap_or_else(|e| unreachable!("{s}: {e}"))
    }

    #[test]
    fn decimal_strings_become_exact_minor_units() {
        assert_eq!(cny("128.00").minor(), 12800);
        assert_eq!(cny("128").minor(), 12800);
        assert_eq!(cny("0.5").minor(), 50);
        assert_eq!(cny("0.01").minor(), 1);
        assert_eq!(cny("0").minor(), 0);
        // 0.1 + 0.2 is exactly 0.3 here, as a payer expects.
        let sum = cny("0.1").checked_add(cny("0.2"));
        assert_eq!(sum, Ok(cny("0.3")));
        let yen = Money::parse("500", Currency::JPY);
        assert_eq!(yen.map(|m| m.minor()), Ok(500));
    }

    #[test]
    fn display_round_trips_with_the_currency_decimals() {
        assert_eq!(cny("128").to_string(), "128.00 CNY");
        assert_eq!(cny("0.5").to_decimal(), "0.50");
        assert_eq!(cny("0.01").to_decimal(), "0.01");
        assert_eq!(cny("0").to_decimal(), "0.00");
        let yen = Money::from_minor(500, Currency::JPY).map(|m| m.to_string());
        assert_eq!(yen, Ok("500 JPY".to_owned()));
        for s in ["128.00", "0.50", "12345678.90", "92233720368547758.07"] {
            assert_eq!(cny(s).to_decimal(), s);
        }
    }

    #[test]
    fn malformed_amounts_are_refused_with_the_reason() {
        for bad in [
            "", ".", ".5", "5.", "1,000", "1 000", "+5", "1e3", "1.2.3", "１２", "0x10",
        ] {
            assert_eq!(
                Money::parse(bad, Currency::CNY),
                Err(Error::InvalidAmount(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(
            Money::parse("-1.00", Currency::CNY),
            Err(Error::NegativeAmount("-1.00".to_owned()))
        );
        assert!(matches!(
            Money::parse("0.505", Currency::CNY),
            Err(Error::TooManyDecimals { max: 2, .. })
        ));
        assert!(matches!(
            Money::parse("100.0", Currency::JPY),
            Err(Error::TooManyDecimals {
                max: 0,
                currency: "JPY",
                ..
            })
        ));
        assert_eq!(
            Money::parse("92233720368547758.08", Currency::CNY),
            Err(Error::Overflow)
        );
        assert_eq!(
            Money::parse_with_code("1.00", "XBT"),
            Err(Error::UnknownCurrency("XBT".to_owned()))
        );
        assert_eq!(
            Money::parse_with_code("1.00", "cny"),
            Err(Error::UnknownCurrency("cny".to_owned()))
        );
        assert_eq!(
            Money::from_minor(-1, Currency::CNY),
            Err(Error::NegativeAmount("-1".into()))
        );
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_overflow_and_negatives() {
        let usd = Money::parse("1.00", Currency::USD);
        assert_eq!(
            usd.and_then(|u| cny("1.00").checked_add(u)),
            Err(Error::CurrencyMismatch("CNY", "USD"))
        );
        let max = Money::from_minor(i64::MAX, Currency::CNY).unwrap();
        assert_eq!(max.checked_add(cny("0.01")), Err(Error::Overflow));
        assert_eq!(cny("1.00").checked_sub(cny("1.01")), Err(Error::Underflow));
        assert_eq!(cny("1.00").checked_sub(cny("0.25")), Ok(cny("0.75")));
        assert_eq!(cny("19.99").checked_mul(3), Ok(cny("59.97")));
        assert_eq!(max.checked_mul(2), Err(Error::Overflow));
    }

    #[test]
    fn currency_codes_carry_their_exponent() {
        let exp = |c: &str| Currency::from_code(c).map(|c| c.exponent());
        assert_eq!(exp("CNY"), Ok(2));
        assert_eq!(exp("JPY"), Ok(0));
        assert_eq!(exp("USD"), Ok(2));
        assert_eq!(exp("KRW"), Ok(0));
    }
}
