//! The non-discrimination check for wallets: at some merchant, in some conversation, is the
//! operator's own wallet offered where a rival wallet that merchant accepts is refused?
//!
//! Complete in the same sense as the link check. The wallets and merchants are the registry's
//! own (a handful each), so every one is tried as it is. The conversation is the only fact
//! that varies, and it is enumerated as the link check enumerates it
//! ([`super::candidates::contexts`]): both kinds when a policy reads the kind, member counts
//! either side of every integer the policy names, every role when a policy reads the role.
//! Each (merchant, wallet, conversation) is decided by the whole engine, so there are no
//! tables to trust.

use kaifang_pay::{PickerOrder, WalletRegistry};
use serde::{Deserialize, Serialize};

use super::candidates::contexts;
use super::literals;
use super::{FairnessSettings, PlatformFacts};
use crate::model::{Context, UNKNOWN};
use crate::offers::{Merchant, WalletFacts};
use crate::policy_engine::{EVALUATION_ERROR_ID, PolicyEngine};

/// The house's wallet offered at a merchant where a rival wallet the merchant accepts is
/// refused, in the same conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletOffence {
    /// The merchant's platform id (`"taobao"`).
    pub merchant: String,
    /// Its owner.
    pub merchant_owner: String,
    /// The rival wallet refused.
    pub rival: String,
    /// Its owner.
    pub rival_owner: String,
    /// The operator's wallet offered.
    pub house: String,
    /// The first conversation (in enumeration order) where it happens.
    pub context: Context,
    /// In how many of the enumerated conversations it happens.
    pub contexts: u64,
    /// Policies that refused the rival wallet there (the forbids); empty when nothing permitted it.
    pub policies: Vec<String>,
    /// Policies that offered the house wallet there.
    pub house_policies: Vec<String>,
}

/// The wallet check's verdict and what it covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletCheck {
    /// The picker order in force (a setting, shown here so the report says how the offered
    /// wallets are listed, not only which).
    pub picker: PickerOrder,
    /// Merchants checked (those accepting both a house wallet and a rival one are compared).
    pub merchants: usize,
    /// House/rival wallet pairs compared, summed over merchants and conversations.
    pub cases: u64,
    /// Cedar evaluations.
    pub decisions: u64,
    /// True when every enumerated conversation was tried; false when there were more than
    /// [`FairnessSettings::max_wallet_decisions`] decisions to make and they were sampled.
    pub exhaustive: bool,
    /// What was enumerated.
    pub notes: Vec<String>,
    /// Set when the check could not run (the wallet registry did not parse): the verdict then
    /// fails, since nothing was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One per (merchant, rival wallet, house wallet); empty when the policy is fair.
    pub offences: Vec<WalletOffence>,
}

impl WalletCheck {
    /// No offence, and the check ran.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.offences.is_empty()
    }
}

/// The wallet check alone: the wallets and merchants of `settings.wallets` (the built-in
/// `data/wallets.toml` when `None`), merchant owners from `platforms`.
pub fn check_wallets(
    engine: &PolicyEngine,
    platforms: &[PlatformFacts],
    operator_owner: &str,
    settings: &FairnessSettings,
) -> WalletCheck {
    let mut out = WalletCheck {
        picker: settings.picker,
        exhaustive: true,
        ..WalletCheck::default()
    };
    let builtin;
    let registry = match &settings.wallets {
        Some(r) => r,
        None => match WalletRegistry::builtin() {
            Ok(r) => {
                builtin = r;
                &builtin
            }
            Err(e) => {
                out.exhaustive = false;
                out.error = Some(format!("the built-in wallet registry does not load: {e}"));
                return out;
            }
        },
    };
    let wallet = |id: &str| {
        registry.wallet(id).map(|w| WalletFacts {
            id: w.id.clone(),
            owner: w.owner.clone(),
        })
    };
    let lits = literals::of(engine.policy_set());
    let mut all = contexts(engine.reads(), &lits, settings, &mut out.notes);
    // Per merchant: its owner, and the accepted wallets split into the house's and the rivals'.
    let merchants: Vec<(&str, &str, Vec<WalletFacts>, Vec<WalletFacts>)> = registry
        .merchants
        .iter()
        .map(|m| {
            let owner = platforms
                .iter()
                .find(|p| p.id == m.platform)
                .map_or(UNKNOWN, |p| p.owner.as_str());
            let accepted = m.accepts.iter().filter_map(|id| wallet(id));
            let (house, rivals) = accepted.partition(|w| w.owner == operator_owner);
            (m.platform.as_str(), owner, house, rivals)
        })
        .collect();
    out.merchants = merchants.len();
    let compared: Vec<_> = merchants
        .into_iter()
        .filter(|(_, _, house, rivals)| !house.is_empty() && !rivals.is_empty())
        .collect();
    out.notes.push(format!(
        "wallets: {} merchant(s), {} accepting both the operator's wallet and a rival's",
        out.merchants,
        compared.len()
    ));
    let per_context: u64 = compared
        .iter()
        .map(|(_, _, h, r)| (h.len() + r.len()) as u64)
        .sum();
    let needed = per_context.saturating_mul(all.len() as u64);
    if needed > settings.max_wallet_decisions && per_context > 0 {
        // Keep every step-th conversation, spread over the whole range, so that at most
        // the budget's worth is decided (at least one conversation is always tried).
        let fits = usize::try_from(settings.max_wallet_decisions / per_context)
            .unwrap_or(usize::MAX)
            .max(1);
        let step = all.len().div_ceil(fits);
        all = all.into_iter().step_by(step).collect();
        out.exhaustive = false;
        out.notes.push(format!(
            "wallets: {needed} decisions needed, more than {}: every {step}th conversation tried",
            settings.max_wallet_decisions
        ));
    }
    for (platform, owner, house, rivals) in &compared {
        let who = Merchant { platform, owner };
        for ctx in &all {
            let mut ask = |w: &WalletFacts| {
                out.decisions += 1;
                engine
                    .ask_offer(ctx, &who, w)
                    .unwrap_or_else(|| (false, vec![EVALUATION_ERROR_ID.to_owned()]))
            };
            let h: Vec<_> = house.iter().map(|w| (w, ask(w))).collect();
            let r: Vec<_> = rivals.iter().map(|w| (w, ask(w))).collect();
            out.cases += (h.len() * r.len()) as u64;
            for (rw, (r_offered, r_policies)) in &r {
                if *r_offered {
                    continue;
                }
                for (hw, (h_offered, h_policies)) in &h {
                    if !h_offered {
                        continue;
                    }
                    let known = out
                        .offences
                        .iter_mut()
                        .find(|o| o.merchant == *platform && o.rival == rw.id && o.house == hw.id);
                    match known {
                        Some(o) => o.contexts += 1,
                        None => out.offences.push(WalletOffence {
                            merchant: (*platform).to_owned(),
                            merchant_owner: (*owner).to_owned(),
                            rival: rw.id.clone(),
                            rival_owner: rw.owner.clone(),
                            house: hw.id.clone(),
                            context: *ctx,
                            contexts: 1,
                            policies: r_policies.clone(),
                            house_policies: h_policies.clone(),
                        }),
                    }
                }
            }
        }
    }
    out
}
