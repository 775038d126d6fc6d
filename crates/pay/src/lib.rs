//! Kaifang payments, the pure part: no I/O, no network, no clock. Time ("now") and randomness (nonces)
//! are parameters, so every rule here is tested without a provider.
//!
//! - [`Money`]: integer minor units with an ISO 4217 currency; never a float.
//! - [`OrderState`] and [`transition`]: the only allowed order state changes; [`refundable`].
//! - [`wechat`]: WeChat Pay API v3 request signing, notification verification, resource decryption.
//! - [`alipay`]: Alipay OpenAPI RSA2 signing content, signing, notification verification.
//! - [`WalletRegistry`]: `data/wallets.toml`, the wallet providers and the merchants accepting them.
//! - [`picker_order`] and [`PickerOrder`]: the checkout's wallet order, neutral by default.
//! - [`keys`]: key holders that never print their material.
//!
//! See docs/payments.md.
#![deny(missing_docs)]

pub mod alipay;
mod error;
pub mod keys;
mod money;
mod order;
mod picker;
mod registry;
pub mod wechat;

pub use error::Error;
pub use money::{Currency, Money};
pub use order::{Event, OrderState, refundable, transition};
pub use picker::{PickerOrder, UnknownPickerOrder, picker_order};
pub use registry::{AdapterKind, Merchant, Owner, Wallet, WalletRegistry};
