//! Per-policy truth tables for the complete check.
//!
//! Asking Cedar for every link in every case costs the whole policy set per
//! case; a 200-rule policy over tens of thousands of cases would take
//! minutes. But each policy reads only a few facts and names only a few
//! constants, so whether it applies is a function of a small key: the facts
//! it reads, each reduced to the class the policy can tell apart (a member
//! count to its side of each constant the policy names, a domain to itself or
//! "unnamed"). Each table asks Cedar once per key, per policy alone, and the
//! check combines the policies as Cedar does: a forbid beats a permit, and
//! nothing permitted is denied. Counterexamples are decided again by the
//! whole engine before they are reported.

use std::collections::HashMap;

use cedar_policy::{Policy, PolicySet};

use super::literals::{self, Literals};
use crate::model::{Context, LinkFacts, LinkKind, Treatment};
use crate::policy_engine::PolicyEngine;
use crate::reads::{Reads, reads_of};

/// Most entries a table holds densely (one byte each); larger tables fall
/// back to a map holding only the entries met.
const DENSE_MAX: usize = 1 << 23;

/// The case being decided, as indices into the check's candidate lists.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Idx {
    pub(crate) kind: usize,
    pub(crate) ctx: usize,
    pub(crate) lists: usize,
    pub(crate) bidi: usize,
    pub(crate) mixed: usize,
    pub(crate) lookalike: usize,
    pub(crate) penalty: usize,
    /// Index into every identity of every kind.
    pub(crate) identity: usize,
    /// Index into every group of every kind.
    pub(crate) group: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Kind,
    Ctx,
    Lists,
    Bidi,
    Mixed,
    Lookalike,
    Penalty,
    Identity,
    Group,
}

impl Dim {
    fn of(self, idx: &Idx) -> usize {
        match self {
            Dim::Kind => idx.kind,
            Dim::Ctx => idx.ctx,
            Dim::Lists => idx.lists,
            Dim::Bidi => idx.bidi,
            Dim::Mixed => idx.mixed,
            Dim::Lookalike => idx.lookalike,
            Dim::Penalty => idx.penalty,
            Dim::Identity => idx.identity,
            Dim::Group => idx.group,
        }
    }
}

/// How many candidates each dimension has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) ctx: usize,
    pub(crate) lists: usize,
    pub(crate) bidi: usize,
    pub(crate) mixed: usize,
    pub(crate) lookalike: usize,
    pub(crate) penalty: usize,
    pub(crate) identities: usize,
    pub(crate) groups: usize,
}

impl Sizes {
    fn of(&self, dim: Dim) -> usize {
        match dim {
            Dim::Kind => LinkKind::ALL.len(),
            Dim::Ctx => self.ctx,
            Dim::Lists => self.lists,
            Dim::Bidi => self.bidi,
            Dim::Mixed => self.mixed,
            Dim::Lookalike => self.lookalike,
            Dim::Penalty => self.penalty,
            Dim::Identity => self.identities,
            Dim::Group => self.groups,
        }
    }
}

/// What a table depends on besides the shared case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Reads nothing about the link's category or identity.
    Case,
    /// Reads the category, not the identity.
    Category,
    /// Reads who the link belongs to.
    Identity,
}

enum Store {
    Dense(Vec<u8>),
    Sparse(HashMap<usize, u8>),
}

const UNKNOWN_BITS: u8 = 0xFF;

/// One policy's applicability per action, by case.
pub(crate) struct Table {
    set: PolicySet,
    permit: bool,
    pub(crate) scope: Scope,
    reads: Reads,
    lits: Literals,
    dims: Vec<(Dim, usize)>,
    store: Store,
    memo: HashMap<String, u8>,
}

impl Table {
    pub(crate) fn new(policy: &Policy, sizes: &Sizes) -> Option<Self> {
        let set = PolicySet::from_policies([policy.clone()]).ok()?;
        let reads = reads_of(&set);
        let lits = literals::of(&set);
        let scope = if reads.has(Reads::PLATFORM)
            || reads.has(Reads::OWNER)
            || reads.has(Reads::DOMAIN)
            || reads.has(Reads::OPERATOR_OWNED)
        {
            Scope::Identity
        } else if reads.has(Reads::CATEGORY) || reads.has(Reads::CATEGORY_CONTESTED) {
            Scope::Category
        } else {
            Scope::Case
        };
        let mut wanted = Vec::new();
        // `kind` names both the link's kind and the conversation's.
        if reads.has(Reads::KIND) {
            wanted.push(Dim::Kind);
        }
        if reads.has(Reads::KIND) || reads.has(Reads::MEMBER_COUNT) || reads.has(Reads::ROLE) {
            wanted.push(Dim::Ctx);
        }
        for (bit, dim) in [
            (Reads::LISTS, Dim::Lists),
            (Reads::BIDI, Dim::Bidi),
            (Reads::MIXED_SCRIPT, Dim::Mixed),
            (Reads::LOOKALIKE, Dim::Lookalike),
            (Reads::PENALTY, Dim::Penalty),
        ] {
            if reads.has(bit) {
                wanted.push(dim);
            }
        }
        match scope {
            // An identity is of one kind: it stands for the kind too.
            Scope::Identity => {
                wanted.retain(|d| *d != Dim::Kind);
                wanted.push(Dim::Identity);
            }
            Scope::Category => {
                wanted.retain(|d| *d != Dim::Kind);
                wanted.push(Dim::Group);
            }
            Scope::Case => {}
        }
        let mut stride = 1usize;
        let mut dims = Vec::new();
        for dim in wanted {
            dims.push((dim, stride));
            stride = stride.saturating_mul(sizes.of(dim).max(1));
        }
        let store = if stride <= DENSE_MAX {
            Store::Dense(vec![UNKNOWN_BITS; stride])
        } else {
            Store::Sparse(HashMap::new())
        };
        Some(Self {
            permit: policy.effect() == cedar_policy::Effect::Permit,
            set,
            scope,
            reads,
            lits,
            dims,
            store,
            memo: HashMap::new(),
        })
    }

    /// The loop level of the innermost fact of the case this table reads
    /// (0: none; see `complete::LEVELS`).
    pub(crate) fn level(&self) -> usize {
        self.dims
            .iter()
            .map(|(d, _)| match d {
                Dim::Kind => 1,
                Dim::Ctx => 2,
                Dim::Lists => 3,
                Dim::Bidi => 4,
                Dim::Mixed => 5,
                Dim::Lookalike => 6,
                Dim::Penalty => 7,
                Dim::Identity | Dim::Group => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Bit per action: does this policy apply to the case? `input` builds the
    /// case's facts, asked only the first time a class is met.
    pub(crate) fn bits(
        &mut self,
        engine: &PolicyEngine,
        idx: &Idx,
        input: impl FnOnce() -> (Context, LinkFacts),
        asked: &mut u64,
    ) -> u8 {
        let at: usize = self.dims.iter().map(|(d, s)| d.of(idx) * s).sum();
        let cached = match &self.store {
            Store::Dense(v) => v.get(at).copied().unwrap_or(UNKNOWN_BITS),
            Store::Sparse(m) => m.get(&at).copied().unwrap_or(UNKNOWN_BITS),
        };
        if cached != UNKNOWN_BITS {
            return cached;
        }
        let (ctx, facts) = input();
        let key = self.key(&ctx, &facts, engine.operator());
        let bits = match self.memo.get(&key) {
            Some(&b) => b,
            None => {
                *asked += 1;
                // Cedar refusing the entities is a bug elsewhere; the policy
                // then applies to nothing, as an erroring policy does in Cedar.
                let b = engine.satisfied(&self.set, &ctx, &facts).unwrap_or(0);
                self.memo.insert(key, b);
                b
            }
        };
        match &mut self.store {
            Store::Dense(v) => {
                if let Some(slot) = v.get_mut(at) {
                    *slot = bits;
                }
            }
            Store::Sparse(m) => {
                m.insert(at, bits);
            }
        }
        bits
    }

    /// Add this policy's verdict to `state`.
    pub(crate) fn apply(&self, bits: u8, state: &mut State) {
        if self.permit {
            state.permits |= bits;
        } else {
            state.forbids |= bits;
        }
    }

    /// The case as this policy can tell it apart from others.
    fn key(&self, ctx: &Context, f: &LinkFacts, operator: &str) -> String {
        let r = self.reads;
        let mut k = String::new();
        let mut put = |s: &str| {
            k.push_str(s);
            k.push('\u{1}');
        };
        if r.has(Reads::KIND) {
            put(f.kind.as_str());
            put(ctx.conversation_kind.as_str());
        }
        if r.has(Reads::MEMBER_COUNT) {
            let m = i64::from(ctx.member_count);
            if self.lits.member_count_arithmetic {
                put(&m.to_string());
            } else {
                let sides: String = self
                    .lits
                    .longs
                    .iter()
                    .map(|c| match m.cmp(c) {
                        std::cmp::Ordering::Less => '<',
                        std::cmp::Ordering::Equal => '=',
                        std::cmp::Ordering::Greater => '>',
                    })
                    .collect();
                put(&sides);
            }
        }
        if r.has(Reads::ROLE) {
            put(ctx.sender_role.as_str());
        }
        if r.has(Reads::LISTS) {
            let mut lists: Vec<&str> = if self.lits.opaque.contains("lists") {
                f.lists.iter().map(String::as_str).collect()
            } else {
                let named: Vec<&String> = self.lits.compared("lists").collect();
                let mut l: Vec<&str> = f
                    .lists
                    .iter()
                    .filter(|n| named.contains(n))
                    .map(String::as_str)
                    .collect();
                if f.lists.iter().any(|n| !named.contains(&n)) {
                    l.push("\u{2}other");
                }
                l
            };
            lists.sort_unstable();
            put(&lists.join(","));
        }
        for (bit, value) in [
            (Reads::BIDI, f.bidi),
            (Reads::MIXED_SCRIPT, f.mixed_script),
            (Reads::LOOKALIKE, f.lookalike),
            (Reads::CATEGORY_CONTESTED, f.category_contested),
            (Reads::OPERATOR_OWNED, f.owner == operator),
        ] {
            if r.has(bit) {
                put(if value { "1" } else { "0" });
            }
        }
        if r.has(Reads::PENALTY) {
            put(f.penalty.as_str());
        }
        for (bit, attr, value) in [
            (Reads::PLATFORM, "platform", &f.platform),
            (Reads::OWNER, "owner", &f.owner),
            (Reads::CATEGORY, "category", &f.category),
            (Reads::DOMAIN, "domain", &f.domain),
        ] {
            if r.has(bit) {
                put(self
                    .lits
                    .class_of(attr, value, operator)
                    .unwrap_or("\u{2}unnamed"));
            }
        }
        k
    }
}

/// Which actions some permit, and some forbid, applies to.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct State {
    permits: u8,
    forbids: u8,
}

impl State {
    /// Both states' policies together.
    pub(crate) fn with(self, other: State) -> State {
        State {
            permits: self.permits | other.permits,
            forbids: self.forbids | other.forbids,
        }
    }

    /// The treatment and preview, as the engine decides them from Cedar's
    /// answers: deliver, linkify, open_directly in turn; preview only for a
    /// link; the bidi floor; no preview for share codes.
    pub(crate) fn outcome(self, kind: LinkKind, bidi: bool) -> (Treatment, bool) {
        let allowed = |i: u8| self.permits & (1 << i) != 0 && self.forbids & (1 << i) == 0;
        let treatment = if !allowed(0) {
            Treatment::Blocked
        } else if !allowed(1) {
            Treatment::Inert
        } else if !allowed(2) {
            Treatment::Warn
        } else {
            Treatment::Live
        };
        if bidi && treatment > Treatment::Inert {
            return (Treatment::Inert, false);
        }
        let preview = treatment > Treatment::Inert && allowed(3) && kind == LinkKind::Url;
        (treatment, preview)
    }
}
