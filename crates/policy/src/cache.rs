//! A bounded, sharded, thread-safe decision cache keyed by exactly the facts
//! the policy reads.
//!
//! A lookup hashes the borrowed facts (no allocation), takes a shard's read
//! lock and compares the stored key field by field, so a 64-bit hash
//! collision can never return another link's decision. When a shard is full
//! it is emptied: crude, but bounded, lock-cheap, and a hostile flood of
//! distinct links can only cost misses, never memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use foldhash::fast::RandomState;
use std::sync::{PoisonError, RwLock};

use crate::model::{Context, Decision, FactsRef, LinkFacts};
use crate::reads::Reads;

/// Shards, so concurrent senders rarely wait on the same lock.
const SHARDS: usize = 16;

/// The inputs of one decision, borrowed.
#[derive(Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) facts: FactsRef<'a>,
    pub(crate) operator_owned: bool,
}

/// The stored key: the facts with every field the policy does not read blanked.
struct OwnedKey {
    ctx: Context,
    facts: LinkFacts,
    operator_owned: bool,
}

struct Entry {
    key: OwnedKey,
    decision: Decision,
}

/// The map key is already a hash; hashing it again would waste the hot path.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard = HashMap<u64, Entry, BuildHasherDefault<IdentityHasher>>;

pub(crate) struct DecisionCache {
    reads: Reads,
    per_shard: usize,
    hasher: RandomState,
    shards: Vec<RwLock<Shard>>,
}

impl DecisionCache {
    /// A cache of at most about `capacity` entries (0 disables it).
    pub(crate) fn new(capacity: usize, reads: Reads) -> Self {
        let shards = if capacity == 0 {
            0
        } else {
            SHARDS.min(capacity)
        };
        let per_shard = if shards == 0 {
            0
        } else {
            capacity.div_ceil(shards)
        };
        Self {
            reads,
            per_shard,
            hasher: RandomState::default(),
            shards: (0..shards).map(|_| RwLock::new(Shard::default())).collect(),
        }
    }

    pub(crate) fn get(&self, key: KeyRef<'_>) -> Option<Decision> {
        let hash = self.hash(key);
        let shard = self.shard(hash)?;
        let guard = shard.read().unwrap_or_else(PoisonError::into_inner);
        let entry = guard.get(&hash)?;
        self.matches(&entry.key, key)
            .then(|| entry.decision.clone())
    }

    pub(crate) fn insert(&self, key: KeyRef<'_>, decision: Decision) {
        let hash = self.hash(key);
        let Some(shard) = self.shard(hash) else {
            return;
        };
        let owned = self.own(key);
        let mut guard = shard.write().unwrap_or_else(PoisonError::into_inner);
        if guard.len() >= self.per_shard && !guard.contains_key(&hash) {
            guard.clear();
        }
        guard.insert(
            hash,
            Entry {
                key: owned,
                decision,
            },
        );
    }

    /// Entries held, over all shards.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    fn shard(&self, hash: u64) -> Option<&RwLock<Shard>> {
        if self.shards.is_empty() {
            return None;
        }
        // High bits pick the shard; the map uses the whole hash.
        let index = usize::try_from(hash >> 32).unwrap_or(0) % self.shards.len();
        self.shards.get(index)
    }

    fn hash(&self, key: KeyRef<'_>) -> u64 {
        let r = self.reads;
        let (c, f) = (key.ctx, &key.facts);
        let mut h = self.hasher.build_hasher();
        // Each field is hashed with its length prefix (str's Hash impl), so
        // adjacent fields cannot run into each other.
        if r.has(Reads::PLATFORM) {
            f.platform.hash(&mut h);
        }
        if r.has(Reads::OWNER) {
            f.owner.hash(&mut h);
        }
        if r.has(Reads::CATEGORY) {
            f.category.hash(&mut h);
        }
        if r.has(Reads::DOMAIN) {
            f.domain.hash(&mut h);
        }
        if r.has(Reads::LISTS) {
            f.lists.hash(&mut h);
        }
        // The link's kind is always part of the key: `kind` names both it and
        // the conversation's kind, so the reads cannot tell them apart.
        f.kind.hash(&mut h);
        let flags = [
            r.has(Reads::BIDI) && f.bidi,
            r.has(Reads::MIXED_SCRIPT) && f.mixed_script,
            r.has(Reads::LOOKALIKE) && f.lookalike,
            r.has(Reads::CATEGORY_CONTESTED) && f.category_contested,
            r.has(Reads::OPERATOR_OWNED) && key.operator_owned,
        ];
        flags.hash(&mut h);
        if r.has(Reads::PENALTY) {
            f.penalty.hash(&mut h);
        }
        if r.has(Reads::KIND) {
            c.conversation_kind.hash(&mut h);
        }
        if r.has(Reads::MEMBER_COUNT) {
            c.member_count.hash(&mut h);
        }
        if r.has(Reads::ROLE) {
            c.sender_role.hash(&mut h);
        }
        h.finish()
    }

    fn matches(&self, stored: &OwnedKey, key: KeyRef<'_>) -> bool {
        let r = self.reads;
        let (s, f) = (&stored.facts, &key.facts);
        let (sc, c) = (&stored.ctx, key.ctx);
        s.kind == f.kind
            && (!r.has(Reads::PLATFORM) || s.platform == f.platform)
            && (!r.has(Reads::OWNER) || s.owner == f.owner)
            && (!r.has(Reads::CATEGORY) || s.category == f.category)
            && (!r.has(Reads::DOMAIN) || s.domain == f.domain)
            && (!r.has(Reads::LISTS) || s.lists == f.lists)
            && (!r.has(Reads::BIDI) || s.bidi == f.bidi)
            && (!r.has(Reads::MIXED_SCRIPT) || s.mixed_script == f.mixed_script)
            && (!r.has(Reads::LOOKALIKE) || s.lookalike == f.lookalike)
            && (!r.has(Reads::CATEGORY_CONTESTED) || s.category_contested == f.category_contested)
            && (!r.has(Reads::PENALTY) || s.penalty == f.penalty)
            && (!r.has(Reads::OPERATOR_OWNED) || stored.operator_owned == key.operator_owned)
            && (!r.has(Reads::KIND) || sc.conversation_kind == c.conversation_kind)
            && (!r.has(Reads::MEMBER_COUNT) || sc.member_count == c.member_count)
            && (!r.has(Reads::ROLE) || sc.sender_role == c.sender_role)
    }

    /// Copy only the fields that take part in the key.
    fn own(&self, key: KeyRef<'_>) -> OwnedKey {
        let r = self.reads;
        let f = key.facts;
        let text = |bit: Reads, s: &str| {
            if r.has(bit) {
                s.to_owned()
            } else {
                String::new()
            }
        };
        OwnedKey {
            ctx: *key.ctx,
            facts: LinkFacts {
                kind: f.kind,
                platform: text(Reads::PLATFORM, f.platform),
                owner: text(Reads::OWNER, f.owner),
                category: text(Reads::CATEGORY, f.category),
                domain: text(Reads::DOMAIN, f.domain),
                lists: if r.has(Reads::LISTS) {
                    f.lists.to_vec()
                } else {
                    Vec::new()
                },
                bidi: f.bidi,
                mixed_script: f.mixed_script,
                lookalike: f.lookalike,
                category_contested: f.category_contested,
                penalty: f.penalty,
            },
            operator_owned: key.operator_owned,
        }
    }
}
