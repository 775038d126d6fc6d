//! The policy engine: a validated Cedar policy set, the operator's owner id,
//! and a cache of decisions. Immutable: a new policy is a new engine, and the
//! old engine's cache goes with it.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context as CedarContext, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicyId, PolicySet, Request, Response, RestrictedExpression, Schema, ValidationMode,
    Validator,
};

use crate::cache::{DecisionCache, KeyRef};
use crate::diagnostics::render;
use crate::error::PolicyError;
use crate::limits;
use crate::model::{Context, Decision, FactsRef, LinkFacts, Treatment};
use crate::offers::{Merchant, WalletFacts};
use crate::reads::{Reads, reads_of};

/// The Cedar schema policies are validated against (compiled in).
pub const SCHEMA: &str = include_str!("kaifang.cedarschema");

/// Policy id reported when the code's bidi floor, not a policy, made a link inert.
pub const BIDI_FLOOR_ID: &str = "kaifang:bidi-floor";

/// Policy id reported when Cedar could not be asked at all (a bug: the code
/// builds entities the schema refuses). The link is then made inert.
pub const EVALUATION_ERROR_ID: &str = "kaifang:evaluation-error";

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Most decisions cached; 0 turns the cache off. Default 65,536.
    pub cache_capacity: usize,
    /// Longest policy text accepted, in bytes. Default 256 KiB (the default
    /// policy is about 3 KiB).
    pub max_policy_bytes: usize,
    /// Deepest nesting of parentheses, brackets and braces accepted. Default 64.
    pub max_nesting: usize,
    /// Stack of the thread that parses and validates a policy: Cedar recurses
    /// over the syntax tree. Default 256 MiB (address space; only what is
    /// touched is committed).
    pub load_stack_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            cache_capacity: 65_536,
            max_policy_bytes: 256 * 1024,
            max_nesting: 64,
            load_stack_bytes: 256 << 20,
        }
    }
}

/// Decides links from a validated Cedar policy set. `Send + Sync`: share it
/// behind an `Arc` and swap the `Arc` to change policy.
pub struct PolicyEngine {
    policies: PolicySet,
    schema: Schema,
    authorizer: Authorizer,
    operator: String,
    /// Cedar id → reported id (`@id` when present).
    ids: HashMap<PolicyId, String>,
    uids: Uids,
    reads: Reads,
    warnings: Vec<String>,
    cache: DecisionCache,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("operator", &self.operator)
            .field("policies", &self.ids.len())
            .field("reads", &self.reads.names())
            .finish_non_exhaustive()
    }
}

struct Uids {
    sender: EntityUid,
    link: EntityUid,
    deliver: EntityUid,
    linkify: EntityUid,
    open_directly: EntityUid,
    preview: EntityUid,
    buyer: EntityUid,
    wallet: EntityUid,
    offer_wallet: EntityUid,
}

/// A decision with what the non-discrimination check also wants to know.
pub(crate) struct Detailed {
    pub(crate) decision: Decision,
    /// Policies that decided `preview` (empty when it was not asked).
    pub(crate) preview_policies: Vec<String>,
}

impl PolicyEngine {
    /// Parse and strictly validate `policy_text`; `operator_owner` is the
    /// operator's own owner id (e.g. `"tencent"`). Default settings.
    pub fn new(policy_text: &str, operator_owner: &str) -> Result<Self, PolicyError> {
        Self::with_settings(policy_text, operator_owner, EngineSettings::default())
    }

    /// As [`PolicyEngine::new`], with explicit settings.
    pub fn with_settings(
        policy_text: &str,
        operator_owner: &str,
        settings: EngineSettings,
    ) -> Result<Self, PolicyError> {
        limits::check(policy_text, settings.max_policy_bytes, settings.max_nesting)?;
        let text = policy_text.to_owned();
        let operator = operator_owner.to_owned();
        std::thread::Builder::new()
            .name("kaifang-policy-load".to_owned())
            .stack_size(settings.load_stack_bytes)
            .spawn(move || Self::load(&text, operator, settings))
            .map_err(|e| PolicyError::Load(e.to_string()))?
            .join()
            .map_err(|_| PolicyError::Load("the loading thread panicked".to_owned()))?
    }

    fn load(
        policy_text: &str,
        operator: String,
        settings: EngineSettings,
    ) -> Result<Self, PolicyError> {
        let schema = load_schema()?;
        let policies = PolicySet::from_str(policy_text).map_err(|e| {
            let mut text = String::new();
            render(&mut text, &e, policy_text);
            PolicyError::Parse(text)
        })?;
        if let Some(template) = policies.templates().next() {
            return Err(PolicyError::Template(template.id().to_string()));
        }
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let mut text = String::new();
            for error in result.validation_errors() {
                render(&mut text, error, policy_text);
            }
            return Err(PolicyError::Validation(text));
        }
        let warnings = result
            .validation_warnings()
            .map(|w| {
                let mut text = String::new();
                render(&mut text, w, policy_text);
                text
            })
            .collect();
        let ids = reported_ids(&policies)?;
        // The bidi floor reads `bidi` whatever the policies do.
        let reads = reads_of(&policies).with(Reads::BIDI);
        Ok(Self {
            authorizer: Authorizer::new(),
            operator,
            uids: uids()?,
            cache: DecisionCache::new(settings.cache_capacity, reads),
            ids,
            reads,
            warnings,
            policies,
            schema,
        })
    }

    /// Decide one link. Cached: a repeated (facts, context) — as far as the
    /// policy reads them — costs a hash and a lookup, no allocation.
    pub fn decide(&self, ctx: &Context, facts: &LinkFacts) -> Decision {
        self.decide_ref(ctx, facts.into())
    }

    /// [`PolicyEngine::decide`] on borrowed facts: the link engine's path, which copies the
    /// facts only when Cedar has to be asked.
    pub(crate) fn decide_ref(&self, ctx: &Context, facts: FactsRef<'_>) -> Decision {
        let key = KeyRef {
            ctx,
            facts,
            operator_owned: facts.owner == self.operator,
        };
        if let Some(decision) = self.cache.get(key) {
            return decision;
        }
        let decision = self.decide_uncached(ctx, &facts.to_facts()).decision;
        self.cache.insert(key, decision.clone());
        decision
    }

    /// The operator's own owner id this engine was built with.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// Reported ids of every policy, sorted.
    pub fn policy_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.ids.values().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// Schema attribute names the cache keys on: what the policies read, plus `bidi`.
    pub fn cache_key_fields(&self) -> Vec<&'static str> {
        self.reads.names()
    }

    /// The facts the policies read, plus `bidi` (the floor reads it).
    pub(crate) fn reads(&self) -> Reads {
        self.reads
    }

    /// The validated policy set.
    pub(crate) fn policy_set(&self) -> &PolicySet {
        &self.policies
    }

    /// Decisions currently cached.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Cedar's validation warnings (not errors: the policy was accepted).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Ask Cedar, bypassing the cache.
    pub(crate) fn decide_uncached(&self, ctx: &Context, facts: &LinkFacts) -> Detailed {
        match self.ask(ctx, facts) {
            Some(detailed) => floor(detailed, facts),
            None => Detailed {
                decision: Decision {
                    treatment: Treatment::Inert,
                    preview: false,
                    policies: Arc::from(vec![EVALUATION_ERROR_ID.to_owned()]),
                },
                preview_policies: Vec::new(),
            },
        }
    }

    /// `None` only if Cedar refuses the entities or request the code built.
    fn ask(&self, ctx: &Context, facts: &LinkFacts) -> Option<Detailed> {
        let entities = self.entities(ctx, facts)?;
        let context = self.context(ctx)?;
        let authorize = |action: &EntityUid| -> Option<Response> {
            let request = Request::new(
                self.uids.sender.clone(),
                action.clone(),
                self.uids.link.clone(),
                context.clone(),
                Some(&self.schema),
            )
            .ok()?;
            Some(
                self.authorizer
                    .is_authorized(&request, &self.policies, &entities),
            )
        };
        // deliver, then linkify: a denial ends the decision (no link, no preview).
        for (action, denied_as) in [
            (&self.uids.deliver, Treatment::Blocked),
            (&self.uids.linkify, Treatment::Inert),
        ] {
            let response = authorize(action)?;
            if response.decision() == cedar_policy::Decision::Deny {
                return Some(Detailed {
                    decision: Decision {
                        treatment: denied_as,
                        preview: false,
                        policies: self.reported(&response).into(),
                    },
                    preview_policies: Vec::new(),
                });
            }
        }
        // A link: live or warn, and either may have a preview.
        let open = authorize(&self.uids.open_directly)?;
        let treatment = match open.decision() {
            cedar_policy::Decision::Allow => Treatment::Live,
            cedar_policy::Decision::Deny => Treatment::Warn,
        };
        let preview = authorize(&self.uids.preview)?;
        Some(Detailed {
            decision: Decision {
                treatment,
                preview: preview.decision() == cedar_policy::Decision::Allow,
                policies: self.reported(&open).into(),
            },
            preview_policies: self.reported(&preview),
        })
    }

    /// For each action (bit 0 deliver, 1 linkify, 2 open_directly, 3 preview):
    /// is a policy of `set` satisfied? With a one-policy `set`, that is
    /// whether the policy applies: the complete fairness check combines
    /// policies itself. `None` only if Cedar refuses the entities.
    pub(crate) fn satisfied(
        &self,
        set: &PolicySet,
        ctx: &Context,
        facts: &LinkFacts,
    ) -> Option<u8> {
        let entities = self.entities(ctx, facts)?;
        let context = self.context(ctx)?;
        let mut bits = 0;
        for (i, action) in [
            &self.uids.deliver,
            &self.uids.linkify,
            &self.uids.open_directly,
            &self.uids.preview,
        ]
        .into_iter()
        .enumerate()
        {
            let request = Request::new(
                self.uids.sender.clone(),
                action.clone(),
                self.uids.link.clone(),
                context.clone(),
                Some(&self.schema),
            )
            .ok()?;
            let response = self.authorizer.is_authorized(&request, set, &entities);
            if response.diagnostics().reason().next().is_some() {
                bits |= 1 << i;
            }
        }
        Some(bits)
    }

    /// Reported ids of the policies that determined a response, sorted.
    fn reported(&self, response: &Response) -> Vec<String> {
        let mut ids: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| self.ids.get(id).cloned().unwrap_or_else(|| id.to_string()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn entities(&self, ctx: &Context, facts: &LinkFacts) -> Option<Entities> {
        let text = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let sender = Entity::new(
            self.uids.sender.clone(),
            HashMap::from([("role".to_owned(), text(ctx.sender_role.as_str()))]),
            Default::default(),
        )
        .ok()?;
        let lists = RestrictedExpression::new_set(facts.lists.iter().map(|l| text(l)));
        let link = Entity::new(
            self.uids.link.clone(),
            HashMap::from([
                ("kind".to_owned(), text(facts.kind.as_str())),
                ("platform".to_owned(), text(&facts.platform)),
                ("owner".to_owned(), text(&facts.owner)),
                ("category".to_owned(), text(&facts.category)),
                ("domain".to_owned(), text(&facts.domain)),
                ("lists".to_owned(), lists),
                (
                    "bidi".to_owned(),
                    RestrictedExpression::new_bool(facts.bidi),
                ),
                (
                    "mixed_script".to_owned(),
                    RestrictedExpression::new_bool(facts.mixed_script),
                ),
                (
                    "lookalike".to_owned(),
                    RestrictedExpression::new_bool(facts.lookalike),
                ),
                (
                    "operator_owned".to_owned(),
                    RestrictedExpression::new_bool(facts.owner == self.operator),
                ),
                (
                    "category_contested".to_owned(),
                    RestrictedExpression::new_bool(facts.category_contested),
                ),
                ("penalty".to_owned(), text(facts.penalty.as_str())),
            ]),
            Default::default(),
        )
        .ok()?;
        Entities::from_entities([sender, link], Some(&self.schema)).ok()
    }

    fn context(&self, ctx: &Context) -> Option<CedarContext> {
        CedarContext::from_pairs([
            ("conversation".to_owned(), conversation(ctx)?),
            (
                "operator".to_owned(),
                RestrictedExpression::new_string(self.operator.clone()),
            ),
        ])
        .ok()
    }
}

impl PolicyEngine {
    /// Ask Cedar whether `wallet` is offered at `merchant` in `ctx`: the decision and the
    /// reported ids of the policies that determined it (the permits when offered, the
    /// forbids when refused; none when nothing permitted it). `None` only if Cedar refuses
    /// the entities or request the code built.
    pub(crate) fn ask_offer(
        &self,
        ctx: &Context,
        merchant: &Merchant<'_>,
        wallet: &WalletFacts,
    ) -> Option<(bool, Vec<String>)> {
        let text = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let buyer = Entity::new(
            self.uids.buyer.clone(),
            HashMap::from([("role".to_owned(), text(ctx.sender_role.as_str()))]),
            Default::default(),
        )
        .ok()?;
        let resource = Entity::new(
            self.uids.wallet.clone(),
            HashMap::from([
                ("id".to_owned(), text(&wallet.id)),
                ("owner".to_owned(), text(&wallet.owner)),
                (
                    "operator_owned".to_owned(),
                    RestrictedExpression::new_bool(wallet.owner == self.operator),
                ),
            ]),
            Default::default(),
        )
        .ok()?;
        let entities = Entities::from_entities([buyer, resource], Some(&self.schema)).ok()?;
        let context = CedarContext::from_pairs([
            ("conversation".to_owned(), conversation(ctx)?),
            ("operator".to_owned(), text(&self.operator)),
            ("merchant".to_owned(), text(merchant.platform)),
            ("merchant_owner".to_owned(), text(merchant.owner)),
            (
                "merchant_operator_owned".to_owned(),
                RestrictedExpression::new_bool(merchant.owner == self.operator),
            ),
        ])
        .ok()?;
        let request = Request::new(
            self.uids.buyer.clone(),
            self.uids.offer_wallet.clone(),
            self.uids.wallet.clone(),
            context,
            Some(&self.schema),
        )
        .ok()?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        Some((
            response.decision() == cedar_policy::Decision::Allow,
            self.reported(&response),
        ))
    }
}

fn conversation(ctx: &Context) -> Option<RestrictedExpression> {
    RestrictedExpression::new_record([
        (
            "kind".to_owned(),
            RestrictedExpression::new_string(ctx.conversation_kind.as_str().to_owned()),
        ),
        (
            "member_count".to_owned(),
            RestrictedExpression::new_long(i64::from(ctx.member_count)),
        ),
    ])
    .ok()
}

/// The code's floor: a link with bidi controls is never more than inert.
fn floor(mut detailed: Detailed, facts: &LinkFacts) -> Detailed {
    if facts.bidi && detailed.decision.treatment > Treatment::Inert {
        detailed.decision = Decision {
            treatment: Treatment::Inert,
            preview: false,
            policies: Arc::from(vec![BIDI_FLOOR_ID.to_owned()]),
        };
        detailed.preview_policies = Vec::new();
    }
    detailed
}

fn load_schema() -> Result<Schema, PolicyError> {
    Schema::from_cedarschema_str(SCHEMA)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| {
            let mut text = String::new();
            render(&mut text, &e, SCHEMA);
            PolicyError::Schema(text)
        })
}

/// Map Cedar ids to `@id` annotations, refusing duplicates.
fn reported_ids(policies: &PolicySet) -> Result<HashMap<PolicyId, String>, PolicyError> {
    let mut ids = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for policy in policies.policies() {
        let id = policy
            .annotation("id")
            .map_or_else(|| policy.id().to_string(), str::to_owned);
        if !seen.insert(id.clone()) {
            return Err(PolicyError::DuplicateId(id));
        }
        ids.insert(policy.id().clone(), id);
    }
    Ok(ids)
}

fn uids() -> Result<Uids, PolicyError> {
    let uid = |ty: &str, id: &str| -> Result<EntityUid, PolicyError> {
        let ty = EntityTypeName::from_str(ty).map_err(|e| PolicyError::Schema(e.to_string()))?;
        Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(id)))
    };
    Ok(Uids {
        sender: uid("Kaifang::User", "sender")?,
        link: uid("Kaifang::Link", "link")?,
        deliver: uid("Kaifang::Action", "deliver")?,
        linkify: uid("Kaifang::Action", "linkify")?,
        open_directly: uid("Kaifang::Action", "open_directly")?,
        preview: uid("Kaifang::Action", "preview")?,
        buyer: uid("Kaifang::User", "buyer")?,
        wallet: uid("Kaifang::Wallet", "wallet")?,
        offer_wallet: uid("Kaifang::Action", "offer_wallet")?,
    })
}
