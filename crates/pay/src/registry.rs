//! The wallet registry (`data/wallets.toml`): wallet providers with their adapter kind, and the
//! merchants (the platform registry's commerce platforms) with the wallets each accepts.
//! Owners of wallets are the platform registry's owner ids; owners it lacks (UnionPay) are
//! declared in the wallet file itself.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::Error;

/// The text of `data/wallets.toml`.
const BUILTIN: &str = include_str!("../../../data/wallets.toml");

/// How Kaifang talks to a wallet provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// WeChat Pay API v3 ([`crate::wechat`]).
    WechatpayV3,
    /// Alipay OpenAPI ([`crate::alipay`]).
    AlipayOpenapi,
    /// No adapter is built: the wallet is listed (for the policy and the report) but cannot be
    /// offered at checkout.
    None,
}

impl AdapterKind {
    fn parse(s: &str) -> Option<AdapterKind> {
        match s {
            "wechatpay_v3" => Some(AdapterKind::WechatpayV3),
            "alipay_openapi" => Some(AdapterKind::AlipayOpenapi),
            "none" => Some(AdapterKind::None),
            _ => None,
        }
    }
}

/// A wallet provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// Lower-case id, as in Cedar policies (`wechat-pay`, `alipay`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The owner id (`tencent`, `ant`), as in `data/platforms.toml`.
    pub owner: String,
    /// How Kaifang reaches it.
    pub adapter: AdapterKind,
}

/// A merchant: a commerce platform and the wallets it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    /// The platform id in `data/platforms.toml` (`taobao`, `jd`).
    pub platform: String,
    /// Wallet ids, in the file's order.
    pub accepts: Vec<String>,
}

/// An owner declared in the wallet file (one the platform registry does not list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Display name.
    pub name: String,
}

/// The parsed, validated registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletRegistry {
    /// Owners declared in the wallet file, by id.
    pub owners: BTreeMap<String, Owner>,
    /// Wallets in the file's order.
    pub wallets: Vec<Wallet>,
    /// Merchants in the file's order.
    pub merchants: Vec<Merchant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    owners: BTreeMap<String, RawOwner>,
    #[serde(default)]
    wallets: Vec<RawWallet>,
    #[serde(default)]
    merchants: Vec<RawMerchant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWallet {
    id: String,
    name: String,
    owner: String,
    adapter: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerchant {
    platform: String,
    accepts: Vec<String>,
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl WalletRegistry {
    /// Parses and validates the file's text. Refused, naming the entry: a malformed id, a
    /// duplicate wallet or merchant, an unknown adapter kind, a merchant accepting an unknown
    /// wallet (or the same wallet twice).
    pub fn parse(text: &str) -> Result<WalletRegistry, Error> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| Error::RegistrySyntax(e.to_string()))?;
        let entry_err = |entry: String, reason: String| Error::RegistryEntry { entry, reason };

        let mut wallets = Vec::with_capacity(raw.wallets.len());
        let mut wallet_ids = BTreeSet::new();
        for (i, w) in raw.wallets.into_iter().enumerate() {
            let entry = format!("wallets[{i}] {:?}", w.id);
            if !is_identifier(&w.id) {
                return Err(entry_err(
                    entry,
                    "id must be lower-case letters, digits, - or _".into(),
                ));
            }
            if !wallet_ids.insert(w.id.clone()) {
                return Err(entry_err(entry, "duplicate wallet id".into()));
            }
            if !is_identifier(&w.owner) {
                return Err(entry_err(
                    entry,
                    format!("owner {:?} is not an owner id", w.owner),
                ));
            }
            let adapter = AdapterKind::parse(&w.adapter).ok_or_else(|| {
                entry_err(
                    entry.clone(),
                    format!(
                        "unknown adapter kind {:?} (known: wechatpay_v3, alipay_openapi, none)",
                        w.adapter
                    ),
                )
            })?;
            wallets.push(Wallet {
                id: w.id,
                name: w.name,
                owner: w.owner,
                adapter,
            });
        }

        let mut merchants = Vec::with_capacity(raw.merchants.len());
        let mut platforms = BTreeSet::new();
        for (i, m) in raw.merchants.into_iter().enumerate() {
            let entry = format!("merchants[{i}] {:?}", m.platform);
            if !is_identifier(&m.platform) {
                return Err(entry_err(entry, "platform must be a platform id".into()));
            }
            if !platforms.insert(m.platform.clone()) {
                return Err(entry_err(entry, "duplicate merchant".into()));
            }
            let mut seen = BTreeSet::new();
            for wallet in &m.accepts {
                if !wallet_ids.contains(wallet) {
                    return Err(entry_err(
                        entry,
                        format!("accepts unknown wallet {wallet:?}"),
                    ));
                }
                if !seen.insert(wallet) {
                    return Err(entry_err(entry, format!("accepts {wallet:?} twice")));
                }
            }
            merchants.push(Merchant {
                platform: m.platform,
                accepts: m.accepts,
            });
        }

        let owners = raw
            .owners
            .into_iter()
            .map(|(id, o)| (id, Owner { name: o.name }))
            .collect();
        Ok(WalletRegistry {
            owners,
            wallets,
            merchants,
        })
    }

    /// The registry shipped with Kaifang (`data/wallets.toml`, compiled in): what the
    /// non-discrimination check uses when it is given no other.
    pub fn builtin() -> Result<WalletRegistry, Error> {
        Self::parse(BUILTIN)
    }

    /// The wallet with this id.
    pub fn wallet(&self, id: &str) -> Option<&Wallet> {
        self.wallets.iter().find(|w| w.id == id)
    }

    /// The merchant for this platform id.
    pub fn merchant(&self, platform: &str) -> Option<&Merchant> {
        self.merchants.iter().find(|m| m.platform == platform)
    }
}
