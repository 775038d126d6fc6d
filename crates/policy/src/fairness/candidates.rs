//! The candidate values of the complete check: which links are compared
//! (every registered platform of a contested category, by registrable
//! domain), in which conversations, with which threat lists. Each list holds
//! every value the policy can tell apart, read off its text
//! ([`super::literals`]), and no two values it cannot.

use std::collections::{BTreeSet, HashSet};

use super::literals::Literals;
use super::{FairnessSettings, PlatformFacts, UNNAMED_LIST};
use crate::model::{Context, ConversationKind, LinkFacts, LinkKind, Penalty, Role};
use crate::reads::Reads;

/// Facts both links of a comparison share.
pub(super) struct Shared<'a> {
    pub(super) lists: &'a [String],
    pub(super) bidi: bool,
    pub(super) mixed_script: bool,
    pub(super) lookalike: bool,
    pub(super) penalty: Penalty,
}

/// One link's identity: which platform, which kind, which registrable domain.
pub(super) struct Identity<'a> {
    pub(super) platform: &'a PlatformFacts,
    pub(super) kind: LinkKind,
    pub(super) domain: String,
}

impl Identity<'_> {
    pub(super) fn facts(&self, shared: &Shared<'_>) -> LinkFacts {
        LinkFacts {
            kind: self.kind,
            platform: self.platform.id.clone(),
            owner: self.platform.owner.clone(),
            category: self.platform.category.clone(),
            domain: self.domain.clone(),
            lists: shared.lists.to_vec(),
            bidi: shared.bidi,
            mixed_script: shared.mixed_script,
            lookalike: shared.lookalike,
            // Only contested categories are compared.
            category_contested: true,
            penalty: shared.penalty,
        }
    }
}

/// The house's and the rivals' links of one contested category and kind,
/// as indices into the identities.
pub(super) struct Group {
    pub(super) kind: LinkKind,
    pub(super) category: String,
    pub(super) house: Vec<usize>,
    pub(super) rivals: Vec<usize>,
}

/// Every link identity of every contested category, merged where the policy
/// cannot tell them apart (it reads neither their platform nor their domain, …).
#[allow(clippy::too_many_arguments)]
pub(super) fn identities<'a>(
    platforms: &'a [PlatformFacts],
    operator_owner: &str,
    contested: &super::ContestedCategories,
    kind: LinkKind,
    reads: Reads,
    lits: &Literals,
    ids: &mut Vec<Identity<'a>>,
    all_groups: &mut Vec<Group>,
) {
    let mut groups: Vec<Group> = Vec::new();
    let mut seen = HashSet::new();
    for p in platforms {
        if !contested.contains(&p.category) {
            continue;
        }
        let house = p.owner == operator_owner;
        for domain in domains(p, kind, reads, lits) {
            // What the policy can tell apart: a value it never names (with
            // `==`, `contains`, …) behaves like every other unnamed value.
            let class = |bit: Reads, attr: &str, value: &str| {
                reads.has(bit).then(|| {
                    lits.class_of(attr, value, operator_owner)
                        .map(str::to_owned)
                })
            };
            let key = (
                p.category.clone(),
                house,
                class(Reads::PLATFORM, "platform", &p.id),
                class(Reads::OWNER, "owner", &p.owner),
                class(Reads::DOMAIN, "domain", &domain),
            );
            if !seen.insert(key) {
                continue;
            }
            let at = match groups.iter().position(|g| g.category == p.category) {
                Some(i) => i,
                None => {
                    groups.push(Group {
                        kind,
                        category: p.category.clone(),
                        house: Vec::new(),
                        rivals: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            ids.push(Identity {
                platform: p,
                kind,
                domain,
            });
            let at_id = ids.len() - 1;
            if let Some(g) = groups.get_mut(at) {
                if house {
                    g.house.push(at_id);
                } else {
                    g.rivals.push(at_id);
                }
            }
        }
    }
    groups.retain(|g| !g.house.is_empty() && !g.rivals.is_empty());
    all_groups.extend(groups);
}

/// The registrable domains a platform's links can carry: share codes carry
/// the platform's first registry domain; URLs the registrable domain of a
/// registry domain, or, under a registry domain that is itself a public
/// suffix, any domain — each literal the policy compares `domain` with, and
/// one it does not name.
fn domains(p: &PlatformFacts, kind: LinkKind, reads: Reads, lits: &Literals) -> Vec<String> {
    if kind == LinkKind::ShareCode {
        return vec![p.domain.clone()];
    }
    let mut out: Vec<String> = p.url_domains.clone();
    if out.is_empty() {
        out.push(p.domain.clone());
    }
    if !reads.has(Reads::DOMAIN) {
        out.truncate(1);
        return out;
    }
    let named: Vec<&String> = if lits.opaque.contains("domain") {
        lits.strings.iter().collect()
    } else {
        lits.compared("domain").collect()
    };
    for suffix in &p.open_suffixes {
        let tail = format!(".{suffix}");
        out.extend(
            named
                .iter()
                .filter(|l| l.ends_with(&tail))
                .map(|l| (*l).clone()),
        );
        out.push(format!("kaifang-unnamed{tail}"));
    }
    let mut seen = HashSet::new();
    out.retain(|d| seen.insert(d.clone()));
    out
}

/// Conversations: both kinds when the policy reads the kind; member counts at
/// 1, 2, the largest group, and either side of every integer the policy
/// names — or every count when it does arithmetic on the count.
pub(super) fn contexts(
    reads: Reads,
    lits: &Literals,
    settings: &FairnessSettings,
    notes: &mut Vec<String>,
) -> Vec<Context> {
    let max = settings.max_group_members.max(2);
    let group: Vec<u32> = if !reads.has(Reads::MEMBER_COUNT) {
        vec![3.min(max)]
    } else if lits.member_count_arithmetic {
        (1..=max).collect()
    } else {
        let mut counts: BTreeSet<u32> = [1, 2, max].into();
        for &c in &lits.longs {
            for n in [c.saturating_sub(1), c, c.saturating_add(1)] {
                if let Ok(n) = u32::try_from(n)
                    && (1..=max).contains(&n)
                {
                    counts.insert(n);
                }
            }
        }
        counts.into_iter().collect()
    };
    let mut kinds = vec![(ConversationKind::Group, group.clone())];
    if reads.has(Reads::KIND) {
        let direct = if reads.has(Reads::MEMBER_COUNT) {
            vec![1, 2]
        } else {
            vec![2]
        };
        kinds.insert(0, (ConversationKind::Direct, direct));
    }
    let roles = if reads.has(Reads::ROLE) {
        vec![Role::Owner, Role::Admin, Role::Member]
    } else {
        vec![Role::Member]
    };
    notes.push(format!(
        "member counts in groups: {} value(s) from 1 to {max}{}; roles: {}",
        group.len(),
        if lits.member_count_arithmetic {
            " (every count: the policy does arithmetic on it)"
        } else {
            ""
        },
        roles.len()
    ));
    kinds
        .into_iter()
        .flat_map(|(kind, counts)| {
            let roles = roles.clone();
            counts.into_iter().flat_map(move |member_count| {
                roles.clone().into_iter().map(move |sender_role| Context {
                    conversation_kind: kind,
                    member_count,
                    sender_role,
                })
            })
        })
        .collect()
}

/// Threat-list memberships: none, and every combination of the list names the
/// policy compares with, each with and without a list it does not name. Past
/// [`FairnessSettings::max_named_lists`] names: each alone, each pair, and all.
pub(super) fn list_options(
    reads: Reads,
    lits: &Literals,
    settings: &FairnessSettings,
    notes: &mut Vec<String>,
    exhaustive: &mut bool,
) -> Vec<Vec<String>> {
    if !reads.has(Reads::LISTS) {
        return vec![Vec::new()];
    }
    let names: Vec<String> = if lits.opaque.contains("lists") {
        lits.strings.iter().cloned().collect()
    } else {
        lits.compared("lists").cloned().collect()
    };
    let mut sets: Vec<Vec<String>> = if names.len() <= settings.max_named_lists {
        (0u32..1 << names.len())
            .map(|mask| {
                names
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, n)| n.clone())
                    .collect()
            })
            .collect()
    } else {
        *exhaustive = false;
        let mut sets = vec![Vec::new(), names.clone()];
        for (i, a) in names.iter().enumerate() {
            sets.push(vec![a.clone()]);
            for b in names.iter().skip(i + 1) {
                sets.push(vec![a.clone(), b.clone()]);
            }
        }
        sets
    };
    let with_unnamed: Vec<Vec<String>> = sets
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.push(UNNAMED_LIST.to_owned());
            s
        })
        .collect();
    sets.extend(with_unnamed);
    notes.push(format!(
        "threat lists: {} membership(s) over {} named list(s){}",
        sets.len(),
        names.len(),
        if *exhaustive {
            ""
        } else {
            " (not every combination: too many names)"
        }
    ));
    sets
}
