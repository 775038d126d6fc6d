//! One error type for the crate. No variant carries key material, signatures or decrypted text: an
//! error may be logged or shown to a client.

use crate::order::OrderState;

/// Everything that can go wrong in `kaifang-pay`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An amount string that is not a plain decimal number (`128`, `128.00`, `0.5`).
    #[error("invalid amount {0:?}: expected digits with an optional decimal point, like 128.00")]
    InvalidAmount(String),
    /// An amount with a minus sign; amounts are never negative (refunds are their own records).
    #[error("negative amount {0:?}: amounts are never negative")]
    NegativeAmount(String),
    /// More decimal places than the currency's exponent allows (e.g. `1.5` JPY, `0.505` CNY).
    #[error("amount {amount:?} has more than {max} decimal places, the most {currency} allows")]
    TooManyDecimals {
        /// The amount as given.
        amount: String,
        /// The currency code.
        currency: &'static str,
        /// The currency's exponent.
        max: u8,
    },
    /// An amount or a sum that does not fit in 64-bit minor units.
    #[error("amount overflow: the result does not fit in 64-bit minor units")]
    Overflow,
    /// A subtraction whose result would be below zero.
    #[error("amount underflow: the result would be negative")]
    Underflow,
    /// A currency code that is not in the crate's ISO 4217 table.
    #[error("unknown currency {0:?}: known are CNY, HKD, USD, EUR, GBP, JPY, KRW")]
    UnknownCurrency(String),
    /// Arithmetic or a comparison between two currencies.
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(&'static str, &'static str),
    /// An order event not allowed from the order's state.
    #[error("order in state {from} does not accept {event}")]
    InvalidTransition {
        /// The state the order is in.
        from: OrderState,
        /// The event's name.
        event: &'static str,
    },
    /// A refund of zero, or one that would take refunds past what was paid.
    #[error("refund of {amount} refused: paid {paid}, already refunded {refunded}")]
    RefundTooLarge {
        /// The refund asked for.
        amount: String,
        /// What was paid.
        paid: String,
        /// What was refunded before.
        refunded: String,
    },
    /// A refund of zero.
    #[error("a refund must be more than zero")]
    ZeroRefund,
    /// A key that could not be read (bad PEM, not RSA, wrong length). Never includes the key.
    #[error("invalid {what}: {reason}")]
    InvalidKey {
        /// Which key (e.g. "merchant private key", "APIv3 key").
        what: &'static str,
        /// Why, without any of the key's material.
        reason: String,
    },
    /// Signing failed inside the RSA implementation.
    #[error("signing failed")]
    Signing,
    /// A header value that would break the `Authorization` header (a quote, a comma, a control
    /// character) or is empty.
    #[error("invalid value for {0}: empty, or contains a quote, comma or control character")]
    InvalidHeaderValue(&'static str),
    /// A signature that does not verify (or is not valid base64).
    #[error("bad signature")]
    BadSignature,
    /// A notification signed with a certificate other than the configured one.
    #[error("unknown certificate serial {0:?}")]
    UnknownSerial(String),
    /// A notification whose timestamp is outside the accepted window around "now".
    #[error("timestamp {timestamp} is outside the {window_secs} s window around {now}")]
    StaleTimestamp {
        /// The notification's timestamp (Unix seconds).
        timestamp: i64,
        /// The verifier's "now" (Unix seconds).
        now: i64,
        /// The window, in seconds.
        window_secs: i64,
    },
    /// A timestamp header that is not a decimal Unix time.
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    /// A WeChat Pay resource that does not decrypt: wrong key, tampered ciphertext, tampered
    /// associated data or nonce.
    #[error("resource decryption failed: wrong key or tampered data")]
    Decryption,
    /// A WeChat Pay resource nonce that is not 12 bytes.
    #[error("resource nonce must be 12 bytes, got {0}")]
    InvalidNonce(usize),
    /// A required field missing from a notification.
    #[error("missing field {0:?}")]
    MissingField(&'static str),
    /// A field given twice in a notification.
    #[error("duplicate field {0:?}")]
    DuplicateField(String),
    /// A notification addressed to another application.
    #[error("notification for app_id {got:?}, expected {expected:?}")]
    WrongAppId {
        /// The app_id in the notification.
        got: String,
        /// The configured app_id.
        expected: String,
    },
    /// `data/wallets.toml` that is not valid TOML or does not have the expected shape.
    #[error("wallet registry: {0}")]
    RegistrySyntax(String),
    /// `data/wallets.toml` with an entry that breaks a rule; names the entry.
    #[error("wallet registry: {entry}: {reason}")]
    RegistryEntry {
        /// The offending entry (e.g. `wallets[2] "jd-pay"`).
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}
