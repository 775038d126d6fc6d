//! Kaifang's link engine, without I/O: find every URL in a message ([`extract`]), turn one into a
//! canonical key ([`normalise`]), name its platform and owner ([`Registry`]), find share codes ([`Registry::find_share_codes`]) and payment links
//! ([`Registry::find_payment_links`]) and the threat lists it is
//! on ([`Blocklists`]), and whether the operator's per-domain rules let it have a preview
//! ([`PreviewRules`]). Policy decisions live in `kaifang-policy`.
//!
//! ```
//! use kaifang_links::{extract, normalise, NormaliseConfig, Registry};
//!
//! let registry = Registry::builtin()?;
//! let text = "快来看 https://item.taobao.com/item.htm?id=678&spm=a21 超便宜";
//! let found = extract(text);
//! let url = normalise(found[0].url, &NormaliseConfig::default())?;
//! assert_eq!(url.canonical, "https://item.taobao.com/item.htm?id=678");
//! let platform = registry.classify(&url.host).platform;
//! assert_eq!((platform.id.as_str(), platform.owner.as_str()), ("taobao", "alibaba"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod blocklist;
mod error;
mod extract;
mod hash;
mod normalise;
mod payment;
mod preview_rules;
mod registry;
mod share;

pub use blocklist::{Blocklists, ListStats};
pub use error::{Error, RegistryError};
pub use extract::{ExtractConfig, FoundUrl, extract, extract_with, is_known_tld};
pub use normalise::{
    CanonicalUrl, NormaliseConfig, NormalisedUrl, SuffixList, UrlFlags, canonicalise, normalise,
};
pub use payment::{EMVCO_MAX, FoundPayment, PaymentForm, PaymentLinkFormat, crc16_ccitt_false};
pub use preview_rules::{DomainPattern, PatternKind, PreviewRules, RuleError};
pub use registry::{Classification, Owner, Platform, Registry};
pub use share::{FoundCode, ShareCodeFormat};
