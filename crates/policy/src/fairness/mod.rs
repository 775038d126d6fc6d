//! The non-discrimination check (issue 5): does the policy treat a rival's
//! platform worse than one of the operator's own platforms of the same
//! category, in the same context?
//!
//! Two parts: a matrix of sampled contexts for display ([`FairnessReport::rows`],
//! [`FairnessReport::offences`]), and the complete check the verdict comes
//! from ([`FairnessReport::check`], module `complete`). Wallet offers at checkout
//! are checked alongside ([`FairnessReport::wallets`], module `wallets`): the
//! house's wallet offered where a rival's is refused.

mod candidates;
mod complete;
mod literals;
mod tables;
mod wallets;

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::{Context, ConversationKind, LinkFacts, LinkKind, Role, Treatment, UNKNOWN};
use crate::policy_engine::PolicyEngine;

pub use complete::{CompleteCheck, Counterexample, METHOD_ENUMERATED, UNNAMED_LIST};
pub use wallets::{WalletCheck, WalletOffence, check_wallets};

/// One registry platform, as the check needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformFacts {
    /// Platform id (`"taobao"`).
    pub id: String,
    /// Display name (`"Taobao"`).
    pub name: String,
    /// Owner (`"alibaba"`).
    pub owner: String,
    /// Category (`"commerce"`).
    pub category: String,
    /// The platform's first registry domain (`"taobao.com"`): what its share
    /// codes carry as `domain`.
    pub domain: String,
    /// Every registrable domain its URLs can carry, as the link engine
    /// computes it (`v.qq.com` → `qq.com`). Empty: `domain` alone.
    #[serde(default)]
    pub url_domains: Vec<String>,
    /// Registry domains that are public suffixes themselves (`github.io`):
    /// under them a URL's registrable domain can be anything.
    #[serde(default)]
    pub open_suffixes: Vec<String>,
}

impl PlatformFacts {
    /// Every platform of a registry, with domains as the built-in Public
    /// Suffix List makes them registrable.
    pub fn from_registry(registry: &kaifang_links::Registry) -> Vec<PlatformFacts> {
        Self::from_registry_with(registry, &kaifang_links::SuffixList::Builtin)
    }

    /// As [`PlatformFacts::from_registry`], with the suffix list the link engine uses.
    pub fn from_registry_with(
        registry: &kaifang_links::Registry,
        suffixes: &kaifang_links::SuffixList,
    ) -> Vec<PlatformFacts> {
        registry
            .platforms()
            .iter()
            .map(|p| {
                // In registry order, so the first is the platform's main domain.
                let mut url_domains: Vec<String> = Vec::new();
                let mut open_suffixes = Vec::new();
                for d in &p.domains {
                    let r = match suffixes.registrable_domain(d) {
                        Some(r) => r.to_owned(),
                        // A bare suffix: the engine uses the host itself, and
                        // any host under it is registrable.
                        None => {
                            open_suffixes.push(d.clone());
                            d.clone()
                        }
                    };
                    if !url_domains.contains(&r) {
                        url_domains.push(r);
                    }
                }
                PlatformFacts {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    owner: p.owner.clone(),
                    category: p.category.clone(),
                    domain: p.domains.first().cloned().unwrap_or_default(),
                    url_domains,
                    open_suffixes,
                }
            })
            .collect()
    }
}

/// Categories in which the operator owns a registered platform and at least
/// one other owner does too — where self-preferencing is possible. Feeds
/// [`LinkFacts::category_contested`]; build it from the same registry the
/// links are classified with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContestedCategories {
    categories: HashSet<String>,
}

impl ContestedCategories {
    /// From `(owner, category)` pairs of every registered platform.
    pub fn new<'a>(
        platforms: impl IntoIterator<Item = (&'a str, &'a str)>,
        operator_owner: &str,
    ) -> Self {
        let mut house = HashSet::new();
        let mut rival = HashSet::new();
        for (owner, category) in platforms {
            if category == UNKNOWN || owner == UNKNOWN {
                continue;
            }
            if owner == operator_owner {
                house.insert(category.to_owned());
            } else {
                rival.insert(category.to_owned());
            }
        }
        Self {
            categories: house.intersection(&rival).cloned().collect(),
        }
    }

    /// Is `category` contested?
    pub fn contains(&self, category: &str) -> bool {
        self.categories.contains(category)
    }
}

/// Which contexts the check evaluates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairnessSettings {
    /// Member counts shown in the matrix for group conversations (display
    /// only: the verdict comes from the complete check). Default 3, 50 and 500.
    pub group_sizes: Vec<u32>,
    /// The largest group the complete check considers: the server's
    /// `limits.max_group_members`. Default 10,000.
    pub max_group_members: u32,
    /// Threat-list names (those the policy compares `lists` with) up to which
    /// the complete check tries every combination; past it, each name alone,
    /// each pair and all together, and the check says it was not exhaustive.
    /// Default 6 (128 memberships with the unnamed list).
    pub max_named_lists: usize,
    /// The wallets and merchants the wallet check compares; `None` (the default): the
    /// built-in `data/wallets.toml`.
    pub wallets: Option<kaifang_pay::WalletRegistry>,
    /// The checkout picker's order, echoed in the report. Default `neutral`.
    pub picker: kaifang_pay::PickerOrder,
    /// Most Cedar decisions the wallet check makes; past it, conversations are sampled
    /// and the check says it was not exhaustive. Default 250,000 (the default
    /// policy needs 26 for operator `tencent`).
    pub max_wallet_decisions: u64,
}

impl Default for FairnessSettings {
    fn default() -> Self {
        Self {
            group_sizes: vec![3, 50, 500],
            max_group_members: 10_000,
            max_named_lists: 6,
            wallets: None,
            picker: kaifang_pay::PickerOrder::default(),
            max_wallet_decisions: 250_000,
        }
    }
}

/// One column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseContext {
    /// Direct or group.
    pub kind: ConversationKind,
    /// Members, the sender included (2 for direct conversations).
    pub member_count: u32,
    /// The sender's role.
    pub role: Role,
    /// The kind of link compared: a URL or a share code of each platform.
    #[serde(default)]
    pub link: LinkKind,
}

impl CaseContext {
    /// A short label, e.g. `group/50/member`, or `group/50/member/share_code`
    /// for share codes.
    pub fn label(&self) -> String {
        let mut label = format!(
            "{}/{}/{}",
            self.kind.as_str(),
            self.member_count,
            self.role.as_str()
        );
        if self.link != LinkKind::Url {
            label.push('/');
            label.push_str(self.link.as_str());
        }
        label
    }

    fn to_context(self) -> Context {
        Context {
            conversation_kind: self.kind,
            member_count: self.member_count,
            sender_role: self.role,
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Treatment of the platform's links in that context.
    pub treatment: Treatment,
    /// Whether previews are shown.
    pub preview: bool,
}

/// One row of the matrix: a platform in every context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRow {
    /// Platform id.
    pub platform: String,
    /// Display name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Category.
    pub category: String,
    /// Owned by the operator.
    pub house: bool,
    /// One cell per [`FairnessReport::contexts`] entry, same order.
    pub cells: Vec<Cell>,
}

/// A rival's platform treated worse than the operator's own in one context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offence {
    /// The rival's platform id.
    pub rival: String,
    /// Its owner.
    pub rival_owner: String,
    /// The operator's platform id it is compared with.
    pub house: String,
    /// The shared category.
    pub category: String,
    /// Where.
    pub context: CaseContext,
    /// The rival's treatment.
    pub rival_treatment: Treatment,
    /// The house platform's treatment.
    pub house_treatment: Treatment,
    /// The rival's preview.
    pub rival_preview: bool,
    /// The house platform's preview.
    pub house_preview: bool,
    /// Policies that decided the rival's worse outcome (its treatment, or its
    /// preview when only the preview differs). Empty when nothing permitted it.
    pub policies: Vec<String>,
    /// Policies that decided the house platform's better outcome.
    pub house_policies: Vec<String>,
}

/// The result of [`check_non_discrimination`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FairnessReport {
    /// The operator's owner id the check was made for.
    pub operator: String,
    /// The verdict: true when the complete check found no counterexample
    /// (and the matrix no offence), and the wallet check no offence.
    pub passed: bool,
    /// The complete check: how it ran, what it covered, its counterexamples.
    #[serde(default)]
    pub check: CompleteCheck,
    /// Matrix columns.
    pub contexts: Vec<CaseContext>,
    /// Matrix rows, in the order the platforms were given.
    pub rows: Vec<MatrixRow>,
    /// Every offence the matrix shows, by context, then rival, then house platform.
    pub offences: Vec<Offence>,
    /// Wallet offers at checkout: the house's wallet offered where a rival's is refused.
    #[serde(default)]
    pub wallets: WalletCheck,
    /// Union of the offences' and counterexamples' `policies` (or
    /// `house_policies` when a rival's outcome came from no policy at all), and
    /// the wallet offences' likewise, sorted.
    pub offending_policies: Vec<String>,
}

/// Check with default settings.
pub fn check_non_discrimination(
    engine: &PolicyEngine,
    platforms: &[PlatformFacts],
    operator_owner: &str,
) -> FairnessReport {
    check_non_discrimination_with(
        engine,
        platforms,
        operator_owner,
        &FairnessSettings::default(),
    )
}

/// The matrix: every platform × sampled context (direct, and groups of each
/// configured size, × every sender role, × URL and share code), with each
/// cell where a platform whose owner is not `operator_owner` gets a worse
/// treatment — or no preview where the house platform has one — than a
/// platform of `operator_owner` in the same category. The verdict: the
/// complete check over every value that can change a decision. Pure: the
/// engine's cache is neither read nor filled.
pub fn check_non_discrimination_with(
    engine: &PolicyEngine,
    platforms: &[PlatformFacts],
    operator_owner: &str,
    settings: &FairnessSettings,
) -> FairnessReport {
    let contested = ContestedCategories::new(
        platforms
            .iter()
            .map(|p| (p.owner.as_str(), p.category.as_str())),
        operator_owner,
    );
    let contexts = contexts(settings);
    // Per platform, per context: the outcome with its deciding policies.
    let outcomes: Vec<Vec<Outcome>> = platforms
        .iter()
        .map(|p| {
            let facts = LinkFacts {
                kind: LinkKind::Url,
                platform: p.id.clone(),
                owner: p.owner.clone(),
                category: p.category.clone(),
                domain: p.domain.clone(),
                category_contested: contested.contains(&p.category),
                ..LinkFacts::default()
            };
            contexts
                .iter()
                .map(|c| {
                    let facts = LinkFacts {
                        kind: c.link,
                        ..facts.clone()
                    };
                    let d = engine.decide_uncached(&c.to_context(), &facts);
                    Outcome {
                        cell: Cell {
                            treatment: d.decision.treatment,
                            // The link engine never previews a code.
                            preview: d.decision.preview && c.link == LinkKind::Url,
                        },
                        policies: d.decision.policies.to_vec(),
                        preview_policies: d.preview_policies,
                    }
                })
                .collect()
        })
        .collect();

    let mut offences = Vec::new();
    for (ci, context) in contexts.iter().enumerate() {
        for (ri, rival) in platforms.iter().enumerate() {
            if rival.owner == operator_owner {
                continue;
            }
            for (hi, house) in platforms.iter().enumerate() {
                if house.owner != operator_owner || house.category != rival.category {
                    continue;
                }
                let (Some(r), Some(h)) = (
                    outcomes.get(ri).and_then(|o| o.get(ci)),
                    outcomes.get(hi).and_then(|o| o.get(ci)),
                ) else {
                    continue;
                };
                if let Some(offence) = compare(rival, house, *context, r, h) {
                    offences.push(offence);
                }
            }
        }
    }

    let check = complete::check(engine, platforms, operator_owner, &contested, settings);
    let wallets = check_wallets(engine, platforms, operator_owner, settings);
    let blamed = |policies: &[String], house: &[String]| -> Vec<String> {
        if policies.is_empty() { house } else { policies }.to_vec()
    };
    let offending: BTreeSet<String> = offences
        .iter()
        .flat_map(|o| blamed(&o.policies, &o.house_policies))
        .chain(
            check
                .counterexamples
                .iter()
                .flat_map(|c| blamed(&c.policies, &c.house_policies)),
        )
        .chain(
            wallets
                .offences
                .iter()
                .flat_map(|o| blamed(&o.policies, &o.house_policies)),
        )
        .collect();
    let rows = platforms
        .iter()
        .zip(&outcomes)
        .map(|(p, row)| MatrixRow {
            platform: p.id.clone(),
            name: p.name.clone(),
            owner: p.owner.clone(),
            category: p.category.clone(),
            house: p.owner == operator_owner,
            cells: row.iter().map(|o| o.cell).collect(),
        })
        .collect();
    FairnessReport {
        operator: operator_owner.to_owned(),
        passed: offences.is_empty() && check.counterexamples.is_empty() && wallets.passed(),
        check,
        wallets,
        contexts,
        rows,
        offences,
        offending_policies: offending.into_iter().collect(),
    }
}

/// The complete check alone, without the matrix: the verdict's source, for
/// callers that need no display.
pub fn check_complete(
    engine: &PolicyEngine,
    platforms: &[PlatformFacts],
    operator_owner: &str,
    settings: &FairnessSettings,
) -> CompleteCheck {
    let contested = ContestedCategories::new(
        platforms
            .iter()
            .map(|p| (p.owner.as_str(), p.category.as_str())),
        operator_owner,
    );
    complete::check(engine, platforms, operator_owner, &contested, settings)
}

struct Outcome {
    cell: Cell,
    policies: Vec<String>,
    preview_policies: Vec<String>,
}

fn contexts(settings: &FairnessSettings) -> Vec<CaseContext> {
    let mut kinds = vec![(ConversationKind::Direct, 2)];
    kinds.extend(
        settings
            .group_sizes
            .iter()
            .map(|&n| (ConversationKind::Group, n)),
    );
    // Every context once for URLs, then once for share codes: a policy that
    // treats a rival's codes worse than the house's is self-preferencing too.
    LinkKind::ALL
        .into_iter()
        .flat_map(|link| {
            kinds.iter().flat_map(move |&(kind, member_count)| {
                [Role::Owner, Role::Admin, Role::Member].map(|role| CaseContext {
                    kind,
                    member_count,
                    role,
                    link,
                })
            })
        })
        .collect()
}

fn compare(
    rival: &PlatformFacts,
    house: &PlatformFacts,
    context: CaseContext,
    r: &Outcome,
    h: &Outcome,
) -> Option<Offence> {
    let worse_treatment = r.cell.treatment < h.cell.treatment;
    let worse_preview = !r.cell.preview && h.cell.preview;
    if !worse_treatment && !worse_preview {
        return None;
    }
    let (policies, house_policies) = if worse_treatment {
        (&r.policies, &h.policies)
    } else {
        (&r.preview_policies, &h.preview_policies)
    };
    Some(Offence {
        rival: rival.id.clone(),
        rival_owner: rival.owner.clone(),
        house: house.id.clone(),
        category: rival.category.clone(),
        context,
        rival_treatment: r.cell.treatment,
        house_treatment: h.cell.treatment,
        rival_preview: r.cell.preview,
        house_preview: h.cell.preview,
        policies: policies.clone(),
        house_policies: house_policies.clone(),
    })
}
