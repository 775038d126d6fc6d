//! The order in which the checkout's wallet picker lists the wallets offered.
//!
//! The first wallet in a list is the one most buyers take, so the default order must not favour
//! anyone, least of all the operator's own wallet. [`PickerOrder::Neutral`] (the default) puts the
//! buyer's own last choice first, then rotates the rest per buyer: over many buyers every wallet is
//! first equally often, and no wallet, the house's included, is first for everyone. The order is
//! a setting so that the transparency report can show which one is in force.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How the picker orders the wallets offered. Spelled `neutral`, `alphabetical` or `registry` in
/// settings and reports ([`PickerOrder::as_str`]); default `neutral`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PickerOrder {
    /// The buyer's last choice first (if it is offered), then the others by wallet id, rotated by
    /// a stable hash of the buyer id: each buyer always sees the same order, and across buyers
    /// each wallet leads equally often.
    #[default]
    Neutral,
    /// By wallet id, the same for every buyer (the last choice is not remembered). Favours
    /// whichever wallet sorts first.
    Alphabetical,
    /// In the order given (the merchant's `accepts` list in `data/wallets.toml`, which the file
    /// says carries no preference). Favours whichever wallet the file lists first.
    Registry,
}

impl PickerOrder {
    /// Every order, the default first.
    pub const ALL: [Self; 3] = [Self::Neutral, Self::Alphabetical, Self::Registry];

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Neutral => "neutral",
            Self::Alphabetical => "alphabetical",
            Self::Registry => "registry",
        }
    }
}

/// A picker order name that is not one of [`PickerOrder::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown wallet picker order {0:?}: known are neutral (the default), alphabetical, registry"
)]
pub struct UnknownPickerOrder(pub String);

impl FromStr for PickerOrder {
    type Err = UnknownPickerOrder;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownPickerOrder(s.to_owned()))
    }
}

impl fmt::Display for PickerOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PickerOrder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PickerOrder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The wallets `offered` (ids, as the policy let them through, in the merchant's order) as the
/// picker lists them to `buyer`, whose previous wallet was `last_choice`. A last choice that is
/// not offered now is ignored. Duplicates in `offered` are listed once.
pub fn picker_order<'a>(
    order: PickerOrder,
    buyer: &str,
    last_choice: Option<&str>,
    offered: &[&'a str],
) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::new();
    let mut list: Vec<&'a str> = offered
        .iter()
        .copied()
        .filter(|w| seen.insert(*w))
        .collect();
    match order {
        PickerOrder::Registry => list,
        PickerOrder::Alphabetical => {
            list.sort_unstable();
            list
        }
        PickerOrder::Neutral => {
            list.sort_unstable();
            if !list.is_empty() {
                // Rotating the sorted list, rather than shuffling it, keeps the order stable when
                // the merchant adds or drops a wallet elsewhere in the list.
                let start = bucket(stable_hash(buyer), list.len());
                list.rotate_left(start);
            }
            if let Some(pos) = last_choice.and_then(|c| list.iter().position(|w| *w == c)) {
                let chosen = list.remove(pos);
                list.insert(0, chosen);
            }
            list
        }
    }
}

/// FNV-1a over the bytes, then a SplitMix64 finaliser: FNV alone leaves its low bits poorly mixed
/// (ids differing only in their last digit would rotate alike). Written out rather than taken from
/// `std` because the picker must give a buyer the same order after an upgrade, and `std`'s hashers
/// promise no stability across releases.
fn stable_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `hash` mapped onto `0..n` by its high bits (multiply and shift: no modulo bias worth naming).
fn bucket(hash: u64, n: usize) -> usize {
    let n = n as u128;
    ((u128::from(hash) * n) >> 64) as usize
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const WALLETS: [&str; 4] = ["wechat-pay", "alipay", "unionpay", "jd-pay"];

    /// Fair over buyers: with 4 wallets and 1,000 buyers, each wallet leads about 250 times. The
    /// bound is 5 standard deviations of a fair draw (sd = sqrt(1000 * 1/4 * 3/4) ≈ 13.7), so a
    /// hash that favoured one wallet by even a fifth would fail.
    #[test]
    fn over_buyers_every_wallet_is_first_equally_often() {
        let mut first = std::collections::BTreeMap::new();
        for i in 0..1_000 {
            let buyer = format!("@buyer{i}:kaifang.example");
            let list = picker_order(PickerOrder::Neutral, &buyer, None, &WALLETS);
            *first.entry(list[0]).or_insert(0u32) += 1;
        }
        assert_eq!(first.len(), 4, "{first:?}");
        for (wallet, n) in &first {
            assert!(
                (250 - 69..=250 + 69).contains(n),
                "{wallet} first {n} times: {first:?}"
            );
        }
        // Numeric ids, differing only in their last digits, too.
        let mut house_first = 0;
        for i in 0..1_000 {
            let list = picker_order(PickerOrder::Neutral, &i.to_string(), None, &WALLETS);
            house_first += u32::from(list[0] == "wechat-pay");
        }
        assert!((181..=319).contains(&house_first), "{house_first}");
    }

    #[test]
    fn the_last_choice_comes_first_and_the_rest_keep_their_rotation() {
        for i in 0..50 {
            let buyer = format!("buyer-{i}");
            let plain = picker_order(PickerOrder::Neutral, &buyer, None, &WALLETS);
            for chosen in WALLETS {
                let list = picker_order(PickerOrder::Neutral, &buyer, Some(chosen), &WALLETS);
                assert_eq!(list[0], chosen);
                let rest: Vec<&str> = plain.iter().copied().filter(|w| *w != chosen).collect();
                assert_eq!(list[1..], rest[..]);
            }
        }
    }

    #[test]
    fn a_last_choice_not_offered_is_ignored() {
        let offered = ["alipay", "unionpay"];
        for i in 0..50 {
            let buyer = format!("buyer-{i}");
            let list = picker_order(PickerOrder::Neutral, &buyer, Some("wechat-pay"), &offered);
            assert_eq!(
                list,
                picker_order(PickerOrder::Neutral, &buyer, None, &offered)
            );
            assert!(!list.contains(&"wechat-pay"));
            assert_eq!(list.len(), 2);
        }
    }

    #[test]
    fn one_buyer_always_sees_the_same_order_whatever_the_input_order() {
        let reversed: Vec<&str> = WALLETS.iter().rev().copied().collect();
        for i in 0..50 {
            let buyer = format!("buyer-{i}");
            let a = picker_order(PickerOrder::Neutral, &buyer, None, &WALLETS);
            let b = picker_order(PickerOrder::Neutral, &buyer, None, &reversed);
            assert_eq!(a, b);
            assert_eq!(
                a,
                picker_order(PickerOrder::Neutral, &buyer, None, &WALLETS)
            );
        }
        // Pinned: an upgrade must not reshuffle every buyer's picker.
        // (Computed once from the hash's definition, independently of this code.)
        let pinned = [
            (
                "@bob:kaifang.example",
                ["jd-pay", "unionpay", "wechat-pay", "alipay"],
            ),
            (
                "@dave:kaifang.example",
                ["wechat-pay", "alipay", "jd-pay", "unionpay"],
            ),
        ];
        for (buyer, want) in pinned {
            assert_eq!(
                picker_order(PickerOrder::Neutral, buyer, None, &WALLETS),
                want
            );
        }
    }

    #[test]
    fn fixed_orders_ignore_the_buyer() {
        let offered = ["wechat-pay", "alipay", "alipay", "unionpay"];
        for buyer in ["a", "b", "c"] {
            assert_eq!(
                picker_order(
                    PickerOrder::Alphabetical,
                    buyer,
                    Some("wechat-pay"),
                    &offered
                ),
                ["alipay", "unionpay", "wechat-pay"]
            );
            assert_eq!(
                picker_order(PickerOrder::Registry, buyer, Some("unionpay"), &offered),
                ["wechat-pay", "alipay", "unionpay"]
            );
        }
        assert!(picker_order(PickerOrder::Neutral, "a", Some("alipay"), &[]).is_empty());
    }

    #[test]
    fn the_setting_parses_and_prints_one_spelling_and_defaults_to_neutral() {
        assert_eq!(PickerOrder::default(), PickerOrder::Neutral);
        for o in PickerOrder::ALL {
            assert_eq!(o.as_str().parse::<PickerOrder>(), Ok(o));
            assert_eq!(o.to_string(), o.as_str());
        }
        let err = "house-first".parse::<PickerOrder>().unwrap_err();
        assert!(err.to_string().contains("house-first"), "{err}");
        assert!(err.to_string().contains("neutral"), "{err}");
        assert!("Neutral".parse::<PickerOrder>().is_err());
    }
}
