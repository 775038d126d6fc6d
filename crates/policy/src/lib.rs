//! Link decisions from Cedar policies.
//!
//! An operator writes its link rules as Cedar policies over a fixed schema
//! ([`SCHEMA`]): the sender (`Kaifang::User`, attribute `role`), the link
//! (`Kaifang::Link`: `kind` (`url`, `share_code` or `payment`), `platform`, `owner`, `category`, `domain`, `lists`,
//! `bidi`, `mixed_script`, `lookalike`, `operator_owned`, `category_contested`, `penalty`) and the
//! request context (`context.conversation.kind`, `.member_count`,
//! `context.operator`). Four actions decide a link's [`Treatment`]:
//! `deliver` denied → blocked, `linkify` denied → inert, `open_directly`
//! denied → warn, otherwise live; `preview` is decided on its own but only
//! live and warn links get one.
//!
//! A fifth action, `offer_wallet` (principal the buyer, resource a
//! `Kaifang::Wallet`: `id`, `owner`, `operator_owned`; context the conversation,
//! the operator, `merchant`, `merchant_owner`, `merchant_operator_owned`),
//! decides which of the wallets a merchant accepts are offered at checkout
//! ([`PolicyEngine::offer_wallets`]).
//!
//! [`PolicyEngine`] parses and strictly validates a policy set (refusing it
//! with Cedar's full diagnostics), then decides links through a bounded,
//! thread-safe cache keyed by exactly the attributes the policies read.
//! [`check_non_discrimination`] answers whether a rival's link can be treated
//! worse than a house link of the same category in the same context: by
//! enumerating every value of every fact the policy can tell apart
//! ([`check_complete`]), with a concrete [`Counterexample`] when it can, and a
//! sampled matrix for display; and whether the operator's wallet can be offered
//! where a rival's is refused ([`check_wallets`]).
//!
//! ```
//! use kaifang_policy::{Context, ConversationKind, LinkFacts, PolicyEngine, Role, Treatment, DEFAULT_POLICY};
//!
//! let engine = PolicyEngine::new(DEFAULT_POLICY, "tencent")?;
//! let taobao = LinkFacts {
//!     platform: "taobao".into(),
//!     owner: "alibaba".into(),
//!     category: "commerce".into(),
//!     domain: "taobao.com".into(),
//!     ..LinkFacts::default()
//! };
//! let group = Context {
//!     conversation_kind: ConversationKind::Group,
//!     member_count: 12,
//!     sender_role: Role::Member,
//! };
//! let decision = engine.decide(&group, &taobao);
//! assert_eq!(decision.treatment, Treatment::Inert);
//! assert_eq!(&decision.policies[..], ["groups-rival-platforms-inert"]);
//! # Ok::<(), kaifang_policy::PolicyError>(())
//! ```
#![deny(missing_docs)]

mod cache;
mod diagnostics;
mod error;
mod fairness;
mod limits;
mod link_engine;
mod model;
mod offers;
mod penalties;
mod policy_engine;
mod reads;
mod shared;

pub use error::PolicyError;
pub use fairness::{
    CaseContext, Cell, CompleteCheck, ContestedCategories, Counterexample, FairnessReport,
    FairnessSettings, METHOD_ENUMERATED, MatrixRow, Offence, PlatformFacts, UNNAMED_LIST,
    WalletCheck, WalletOffence, check_complete, check_non_discrimination,
    check_non_discrimination_with, check_wallets,
};
/// The checkout picker's order setting, re-exported for the report.
pub use kaifang_pay::PickerOrder;
pub use link_engine::{LINK_CAP_ID, LinkDecision, LinkEngine, LinkEngineSettings, MALFORMED_ID};
pub use model::{
    Context, ConversationKind, Decision, LinkFacts, LinkKind, Penalty, Role, Treatment, UNKNOWN,
};
pub use offers::{MerchantFacts, NOT_ACCEPTED_ID, WalletFacts, WalletOffer};
pub use penalties::PenaltyBook;
pub use policy_engine::{BIDI_FLOOR_ID, EVALUATION_ERROR_ID, EngineSettings, PolicyEngine, SCHEMA};
pub use shared::SharedStr;

/// The default policy (`policies/default.cedar`): WeChat, September 2021,
/// made neutral between the operator's platforms and its rivals'.
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/default.cedar");
