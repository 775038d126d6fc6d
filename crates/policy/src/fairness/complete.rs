//! The complete non-discrimination check: every value that can change a
//! decision, not a sample.
//!
//! The question: in some context, with some non-identity facts (threat lists,
//! bidi, mixed script, lookalike, penalty), can a rival's link get a worse
//! treatment — or lose its preview — where a house link of the same category
//! and kind does not? Identity facts are what differ between the two links:
//! platform, owner, registrable domain, `operator_owned`.
//!
//! Completeness comes from the policy text. A Cedar condition over a fact can
//! only change its value where the fact crosses a constant the text names, so
//! each fact is tried at the values the policy mentions plus one value on
//! every side of them ([`super::literals`]); facts no policy reads are tried
//! once ([`crate::reads`]). Links that read alike are tried once.

use std::cell::Cell;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::candidates::{Group, Identity, Shared, contexts, identities, list_options};
use super::literals;
use super::tables::{Idx, Scope, Sizes, State, Table};
use super::{FairnessSettings, PlatformFacts};
use crate::model::{Context, ConversationKind, LinkFacts, LinkKind, Penalty, Role, Treatment};
use crate::policy_engine::PolicyEngine;
use crate::reads::Reads;

/// How the verdict was reached. Only enumeration is built: the symbolic proof
/// (Cedar's SymCC with cvc5) is not, see docs/governance.md.
pub const METHOD_ENUMERATED: &str = "enumerated";

/// A list name no policy mentions: stands for every such list.
pub const UNNAMED_LIST: &str = "kaifang:unnamed-list";

/// One proof of self-preferencing: two links of one category, alike in every
/// fact but who they belong to, in one context, the rival's treated worse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The shared category.
    pub category: String,
    /// Where both are sent.
    pub context: Context,
    /// The rival's link, as the policy sees it.
    pub rival: LinkFacts,
    /// The house link, as the policy sees it.
    pub house: LinkFacts,
    /// The rival's treatment.
    pub rival_treatment: Treatment,
    /// The house link's treatment.
    pub house_treatment: Treatment,
    /// The rival's preview.
    pub rival_preview: bool,
    /// The house link's preview.
    pub house_preview: bool,
    /// Policies that decided the rival's worse outcome (its treatment, or its
    /// preview when only the preview differs); empty when nothing permitted it.
    pub policies: Vec<String>,
    /// Policies that decided the house link's better outcome.
    pub house_policies: Vec<String>,
}

/// The complete check's verdict and what it covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteCheck {
    /// [`METHOD_ENUMERATED`]: the verdict comes from trying every case, not
    /// from a solver's proof.
    pub method: String,
    /// Rival/house pairs compared (after links that read alike were merged).
    pub cases: u64,
    /// Cedar evaluations: one policy asked alone about one class of case, or
    /// the whole engine confirming a counterexample.
    pub decisions: u64,
    /// True when every value that can change a decision was tried; false when
    /// a fact had too many values and was sampled (see `notes`).
    pub exhaustive: bool,
    /// What was enumerated, one line per fact.
    pub notes: Vec<String>,
    /// At most one per category; empty when the policy is fair.
    pub counterexamples: Vec<Counterexample>,
}

/// Run the complete check.
pub(crate) fn check(
    engine: &PolicyEngine,
    platforms: &[PlatformFacts],
    operator_owner: &str,
    contested: &super::ContestedCategories,
    settings: &FairnessSettings,
) -> CompleteCheck {
    run(engine, platforms, operator_owner, contested, settings, None)
}

/// [`check`]; with `disagreements`, every outcome the tables give is also
/// decided by the whole engine and each difference counted (tests only: it
/// costs what the tables save).
fn run(
    engine: &PolicyEngine,
    platforms: &[PlatformFacts],
    operator_owner: &str,
    contested: &super::ContestedCategories,
    settings: &FairnessSettings,
    disagreements: Option<&Cell<u64>>,
) -> CompleteCheck {
    let reads = engine.reads();
    let lits = literals::of(engine.policy_set());
    let mut notes = Vec::new();
    let mut exhaustive = true;
    let contexts = contexts(reads, &lits, settings, &mut notes);
    let lists = list_options(reads, &lits, settings, &mut notes, &mut exhaustive);
    let flags = |bit: Reads| {
        if reads.has(bit) {
            vec![false, true]
        } else {
            vec![false]
        }
    };
    let penalties = if reads.has(Reads::PENALTY) {
        Penalty::ALL.to_vec()
    } else {
        vec![Penalty::None]
    };
    notes.push(format!(
        "bidi {:?}, mixed_script {:?}, lookalike {:?}, penalty {:?}",
        flags(Reads::BIDI),
        flags(Reads::MIXED_SCRIPT),
        flags(Reads::LOOKALIKE),
        penalties.iter().map(|p| p.as_str()).collect::<Vec<_>>()
    ));

    let mut out = CompleteCheck {
        method: METHOD_ENUMERATED.to_owned(),
        exhaustive,
        notes,
        ..CompleteCheck::default()
    };
    let bidi = flags(Reads::BIDI);
    let mixed = flags(Reads::MIXED_SCRIPT);
    let lookalike = flags(Reads::LOOKALIKE);
    let mut ids: Vec<Identity<'_>> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for kind in LinkKind::ALL {
        identities(
            platforms,
            operator_owner,
            contested,
            kind,
            reads,
            &lits,
            &mut ids,
            &mut groups,
        );
    }
    let sizes = Sizes {
        ctx: contexts.len(),
        lists: lists.len(),
        bidi: bidi.len(),
        mixed: mixed.len(),
        lookalike: lookalike.len(),
        penalty: penalties.len(),
        identities: ids.len(),
        groups: groups.len(),
    };
    let Some(tables) = engine
        .policy_set()
        .policies()
        .map(|p| Table::new(p, &sizes))
        .collect::<Option<Vec<Table>>>()
    else {
        out.notes
            .push("a policy could not be examined alone".to_owned());
        out.exhaustive = false;
        return out;
    };
    let space = Space {
        contexts,
        lists,
        bidi,
        mixed,
        lookalike,
        penalties,
        ids,
    };
    let kinds: Vec<KindParts> = LinkKind::ALL
        .into_iter()
        .map(|kind| {
            let ids: Vec<usize> = (0..space.ids.len())
                .filter(|&i| space.ids.get(i).is_some_and(|x| x.kind == kind))
                .collect();
            KindParts {
                kind,
                groups: (0..groups.len())
                    .filter(|&g| groups.get(g).is_some_and(|g| g.kind == kind))
                    .collect(),
                any: ids.first().copied(),
                ids,
            }
        })
        .collect();
    let mut levels: Vec<Vec<usize>> = vec![Vec::new(); LEVELS + 1];
    for (i, t) in tables.iter().enumerate() {
        if let Some(l) = levels.get_mut(t.level()) {
            l.push(i);
        }
    }
    let mut search = Search {
        engine,
        space: &space,
        tables,
        levels,
        groups: &groups,
        kinds,
        categories: groups
            .iter()
            .map(|g| g.category.as_str())
            .collect::<HashSet<_>>()
            .len(),
        settled: HashSet::new(),
        out,
        disagreements,
    };
    let mut start = Partial {
        case: State::default(),
        groups: vec![State::default(); groups.len()],
        ids: vec![State::default(); space.ids.len()],
    };
    let mut idx = Idx::default();
    // Policies that read no fact of the case at all, once.
    search.apply(0, &mut idx, &mut start);
    search.descend(1, &mut idx, &start);
    search.out
}

/// Loop levels, outermost first: link kind, context, lists, bidi, mixed
/// script, lookalike, penalty. A policy's table is consulted at the level of
/// the innermost fact it reads, and its verdict carried inwards, so a rule
/// on a domain alone is looked up once per link, not once per case.
const LEVELS: usize = 7;

/// The candidate values of every fact, and every identity.
struct Space<'a> {
    contexts: Vec<Context>,
    lists: Vec<Vec<String>>,
    bidi: Vec<bool>,
    mixed: Vec<bool>,
    lookalike: Vec<bool>,
    penalties: Vec<Penalty>,
    ids: Vec<Identity<'a>>,
}

impl Space<'_> {
    fn size(&self, level: usize) -> usize {
        match level {
            1 => LinkKind::ALL.len(),
            2 => self.contexts.len(),
            3 => self.lists.len(),
            4 => self.bidi.len(),
            5 => self.mixed.len(),
            6 => self.lookalike.len(),
            7 => self.penalties.len(),
            _ => 0,
        }
    }

    /// The case `idx` for the link of identity `who`.
    fn input(&self, idx: &Idx, who: usize) -> (Context, LinkFacts) {
        let shared = Shared {
            lists: self.lists.get(idx.lists).map_or(&[][..], Vec::as_slice),
            bidi: self.bidi.get(idx.bidi).copied().unwrap_or(false),
            mixed_script: self.mixed.get(idx.mixed).copied().unwrap_or(false),
            lookalike: self.lookalike.get(idx.lookalike).copied().unwrap_or(false),
            penalty: self.penalties.get(idx.penalty).copied().unwrap_or_default(),
        };
        let ctx = self
            .contexts
            .get(idx.ctx)
            .copied()
            .unwrap_or(FALLBACK_CONTEXT);
        let facts = self
            .ids
            .get(who)
            .map_or_else(LinkFacts::default, |i| i.facts(&shared));
        (ctx, facts)
    }
}

/// The groups and identities of one link kind.
struct KindParts {
    kind: LinkKind,
    groups: Vec<usize>,
    ids: Vec<usize>,
    any: Option<usize>,
}

/// The verdicts of the policies consulted so far.
#[derive(Clone)]
struct Partial {
    case: State,
    groups: Vec<State>,
    ids: Vec<State>,
}

struct Search<'s, 'a> {
    engine: &'s PolicyEngine,
    space: &'s Space<'a>,
    tables: Vec<Table>,
    levels: Vec<Vec<usize>>,
    groups: &'s [Group],
    kinds: Vec<KindParts>,
    /// Categories compared, and those with a counterexample already.
    categories: usize,
    settled: HashSet<String>,
    out: CompleteCheck,
    disagreements: Option<&'s Cell<u64>>,
}

impl Search<'_, '_> {
    fn descend(&mut self, level: usize, idx: &mut Idx, partial: &Partial) {
        for v in 0..self.space.size(level) {
            match level {
                1 => idx.kind = v,
                2 => idx.ctx = v,
                3 => idx.lists = v,
                4 => idx.bidi = v,
                5 => idx.mixed = v,
                6 => idx.lookalike = v,
                _ => idx.penalty = v,
            }
            let mut p = partial.clone();
            self.apply(level, idx, &mut p);
            if level == LEVELS {
                self.compare(idx, &p);
            } else {
                self.descend(level + 1, idx, &p);
            }
            if self.settled.len() == self.categories {
                return; // every category has its counterexample
            }
        }
    }

    /// Consult the tables of `level` for the case `idx` (level 0: before the
    /// kind is chosen, so for every group and identity).
    fn apply(&mut self, level: usize, idx: &mut Idx, p: &mut Partial) {
        let Some(at) = self.levels.get(level) else {
            return;
        };
        let kind = (level > 0).then(|| self.kinds.get(idx.kind)).flatten();
        let all_groups: Vec<usize> = (0..self.groups.len()).collect();
        let all_ids: Vec<usize> = (0..self.space.ids.len()).collect();
        let (groups, ids, any) = match kind {
            Some(k) => (&k.groups, &k.ids, k.any),
            None => (&all_groups, &all_ids, Some(0)),
        };
        let space = self.space;
        for &t in at {
            let Some(table) = self.tables.get_mut(t) else {
                continue;
            };
            let asked = &mut self.out.decisions;
            match table.scope {
                Scope::Case => {
                    let who = any.unwrap_or(0);
                    let bits = table.bits(self.engine, idx, || space.input(idx, who), asked);
                    table.apply(bits, &mut p.case);
                }
                Scope::Category => {
                    for &g in groups {
                        idx.group = g;
                        let who = self
                            .groups
                            .get(g)
                            .and_then(|g| g.house.first().copied())
                            .unwrap_or(0);
                        let bits = table.bits(self.engine, idx, || space.input(idx, who), asked);
                        if let Some(s) = p.groups.get_mut(g) {
                            table.apply(bits, s);
                        }
                    }
                }
                Scope::Identity => {
                    for &who in ids {
                        idx.identity = who;
                        let bits = table.bits(self.engine, idx, || space.input(idx, who), asked);
                        if let Some(s) = p.ids.get_mut(who) {
                            table.apply(bits, s);
                        }
                    }
                }
            }
        }
    }

    /// Every group of the case's kind: is a rival worse off than a house link?
    fn compare(&mut self, idx: &Idx, p: &Partial) {
        let Some(parts) = self.kinds.get(idx.kind) else {
            return;
        };
        let kind = parts.kind;
        let bidi = self.space.bidi.get(idx.bidi).copied().unwrap_or(false);
        for &g in &parts.groups {
            let Some(group) = self.groups.get(g) else {
                continue;
            };
            if self.settled.contains(&group.category) {
                continue;
            }
            let in_group = p.case.with(p.groups.get(g).copied().unwrap_or_default());
            let outcome = |who: usize| {
                let o = in_group
                    .with(p.ids.get(who).copied().unwrap_or_default())
                    .outcome(kind, bidi);
                if let Some(count) = self.disagreements {
                    let (ctx, facts) = self.space.input(idx, who);
                    let d = self.engine.decide_uncached(&ctx, &facts).decision;
                    if (d.treatment, d.preview && kind == LinkKind::Url) != o {
                        count.set(count.get() + 1);
                    }
                }
                o
            };
            let house: Vec<(usize, (Treatment, bool))> =
                group.house.iter().map(|&h| (h, outcome(h))).collect();
            self.out.cases += (group.house.len() * group.rivals.len()) as u64;
            let Some(&(best, (best_t, _))) = house.iter().max_by_key(|(_, o)| *o) else {
                continue;
            };
            let previewed = house.iter().find(|(_, (_, p))| *p).map(|(h, _)| *h);
            for &r in &group.rivals {
                let (rt, rp) = outcome(r);
                let witness = if rt < best_t {
                    best
                } else if let (false, Some(h)) = (rp, previewed) {
                    h
                } else {
                    continue;
                };
                let (ctx, rival) = self.space.input(idx, r);
                let (_, house) = self.space.input(idx, witness);
                if let Some(c) = confirm(
                    self.engine,
                    &group.category,
                    ctx,
                    rival,
                    house,
                    &mut self.out,
                ) {
                    self.settled.insert(c.category.clone());
                    self.out.counterexamples.push(c);
                    break;
                }
            }
        }
    }
}

/// Stands in for a context index out of range (never met: indices come from the list).
const FALLBACK_CONTEXT: Context = Context {
    conversation_kind: ConversationKind::Group,
    member_count: 3,
    sender_role: Role::Member,
};

/// Decide both links with the whole engine: the tables' verdict confirmed,
/// with the ids of the deciding policies. `None` if the engine disagrees.
fn confirm(
    engine: &PolicyEngine,
    category: &str,
    context: Context,
    rival: LinkFacts,
    house: LinkFacts,
    out: &mut CompleteCheck,
) -> Option<Counterexample> {
    let r = decide(engine, &context, &rival, out);
    let h = decide(engine, &context, &house, out);
    let worse_treatment = r.treatment < h.treatment;
    if !worse_treatment && (r.preview || !h.preview) {
        return None;
    }
    let (policies, house_policies) = if worse_treatment {
        (r.policies, h.policies)
    } else {
        (r.preview_policies, h.preview_policies)
    };
    Some(Counterexample {
        category: category.to_owned(),
        context,
        rival,
        house,
        rival_treatment: r.treatment,
        house_treatment: h.treatment,
        rival_preview: r.preview,
        house_preview: h.preview,
        policies,
        house_policies,
    })
}

struct Outcome {
    treatment: Treatment,
    preview: bool,
    policies: Vec<String>,
    preview_policies: Vec<String>,
}

fn decide(
    engine: &PolicyEngine,
    ctx: &Context,
    facts: &LinkFacts,
    out: &mut CompleteCheck,
) -> Outcome {
    out.decisions += 1;
    let d = engine.decide_uncached(ctx, facts);
    Outcome {
        treatment: d.decision.treatment,
        // The link engine never previews a code.
        preview: d.decision.preview && facts.kind == LinkKind::Url,
        policies: d.decision.policies.to_vec(),
        preview_policies: d.preview_policies,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::cell::Cell;

    use super::{PlatformFacts, run};
    use crate::fairness::{ContestedCategories, FairnessSettings};
    use crate::{DEFAULT_POLICY, PolicyEngine};

    /// The tables must decide every case exactly as the whole engine does,
    /// over every policy of the corpus and the default policy: a difference
    /// could hide a counterexample.
    #[test]
    fn the_tables_agree_with_the_engine_on_every_case() {
        let registry = kaifang_links::Registry::builtin().unwrap();
        let platforms = PlatformFacts::from_registry(&registry);
        let contested = ContestedCategories::new(
            platforms
                .iter()
                .map(|p| (p.owner.as_str(), p.category.as_str())),
            "tencent",
        );
        let mut texts = vec![DEFAULT_POLICY.to_owned()];
        for kind in ["planted", "fair"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fairness_corpus")
                .join(kind);
            for entry in std::fs::read_dir(dir).unwrap() {
                texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        // Small groups keep the member-count candidates few; the tables are
        // the same code whatever the maximum.
        let settings = FairnessSettings {
            max_group_members: 5000,
            ..FairnessSettings::default()
        };
        for text in &texts {
            let engine = PolicyEngine::new(text, "tencent").unwrap();
            let count = Cell::new(0);
            let out = run(
                &engine,
                &platforms,
                "tencent",
                &contested,
                &settings,
                Some(&count),
            );
            assert!(out.cases > 0);
            assert_eq!(count.get(), 0, "{text}");
        }
    }
}
