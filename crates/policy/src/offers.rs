//! Wallet offers at checkout: which of the wallets a merchant accepts the policy lets the
//! buyer pay with (action `offer_wallet`).
//!
//! Two sources decide, in this order: the wallet registry (a wallet the merchant does not
//! accept is never offered, whatever the policy says: the policy cannot make a merchant take
//! a wallet it has no contract with), then the policy. Nothing is cached: a checkout asks
//! once per accepted wallet (a handful), far rarer than a message's links.

use serde::{Deserialize, Serialize};

use crate::model::Context;
use crate::policy_engine::{EVALUATION_ERROR_ID, PolicyEngine};

/// Policy id reported for a wallet the merchant does not accept (registry data, not policy).
pub const NOT_ACCEPTED_ID: &str = "kaifang:not-accepted";

/// A wallet, in the words the policy uses (`Kaifang::Wallet`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WalletFacts {
    /// Wallet id from the wallet registry (`"wechat-pay"`).
    pub id: String,
    /// Its owner (`"tencent"`). `resource.operator_owned` is computed from it.
    pub owner: String,
}

/// A merchant at checkout: its platform, the platform's owner, and the wallets it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantFacts {
    /// Platform id in the platform registry (`"taobao"`).
    pub platform: String,
    /// The platform's owner (`"alibaba"`), or `"unknown"`.
    pub owner: String,
    /// Wallet ids the merchant accepts (data/wallets.toml).
    pub accepts: Vec<String>,
}

/// The borrowed merchant identity Cedar is asked about.
pub(crate) struct Merchant<'a> {
    pub(crate) platform: &'a str,
    pub(crate) owner: &'a str,
}

/// Whether one wallet is offered, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletOffer {
    /// The wallet id.
    pub wallet: String,
    /// Offered at checkout.
    pub offered: bool,
    /// Reported ids of the policies that determined it, sorted: the permits when offered, the
    /// forbids when refused (empty when nothing permitted it); [`NOT_ACCEPTED_ID`] when the
    /// merchant does not accept the wallet; [`EVALUATION_ERROR_ID`] when Cedar could not be asked.
    pub policies: Vec<String>,
}

impl PolicyEngine {
    /// Decide, for each of `wallets` (in the order given), whether a buyer in `ctx` (the
    /// conversation the product card was shared in, and the buyer's role there) is offered it
    /// at `merchant`'s checkout. A wallet not in `merchant.accepts` is never offered; a wallet
    /// Cedar cannot be asked about is refused (a bug: reported as [`EVALUATION_ERROR_ID`]).
    ///
    /// ```
    /// use kaifang_policy::{Context, ConversationKind, MerchantFacts, PolicyEngine, Role, WalletFacts, DEFAULT_POLICY};
    ///
    /// let engine = PolicyEngine::new(DEFAULT_POLICY, "tencent")?;
    /// let taobao = MerchantFacts {
    ///     platform: "taobao".into(),
    ///     owner: "alibaba".into(),
    ///     accepts: vec!["alipay".into(), "wechat-pay".into()],
    /// };
    /// let wallet = |id: &str, owner: &str| WalletFacts { id: id.into(), owner: owner.into() };
    /// let wallets = [wallet("wechat-pay", "tencent"), wallet("alipay", "ant"), wallet("jd-pay", "jd")];
    /// let ctx = Context { conversation_kind: ConversationKind::Group, member_count: 30, sender_role: Role::Member };
    /// let offers = engine.offer_wallets(&ctx, &taobao, &wallets);
    /// let offered: Vec<&str> = offers.iter().filter(|o| o.offered).map(|o| o.wallet.as_str()).collect();
    /// assert_eq!(offered, ["wechat-pay", "alipay"]); // Taobao does not take JD Pay
    /// assert_eq!(offers[0].policies, ["wallets-offered"]);
    /// # Ok::<(), kaifang_policy::PolicyError>(())
    /// ```
    pub fn offer_wallets(
        &self,
        ctx: &Context,
        merchant: &MerchantFacts,
        wallets: &[WalletFacts],
    ) -> Vec<WalletOffer> {
        let who = Merchant {
            platform: &merchant.platform,
            owner: &merchant.owner,
        };
        wallets
            .iter()
            .map(|w| {
                let (offered, policies) = if !merchant.accepts.contains(&w.id) {
                    (false, vec![NOT_ACCEPTED_ID.to_owned()])
                } else {
                    self.ask_offer(ctx, &who, w)
                        .unwrap_or_else(|| (false, vec![EVALUATION_ERROR_ID.to_owned()]))
                };
                WalletOffer {
                    wallet: w.id.clone(),
                    offered,
                    policies,
                }
            })
            .collect()
    }
}
