//! The whole link pipeline for one message: extract → normalise → classify →
//! threat lists → decide.
//!
//! Cached decisions are keyed by the facts (platform, owner, lists, …), never
//! by URL or host, so a new registry or new threat lists need no cache flush:
//! build a new [`LinkEngine`] around the same `Arc<PolicyEngine>`. A new policy
//! is a new `PolicyEngine`, and its cache starts empty.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use kaifang_links::{
    Blocklists, ExtractConfig, FoundCode, FoundUrl, NormaliseConfig, NormalisedUrl, Registry,
    extract_with, normalise,
};
use serde::{Deserialize, Serialize};

use crate::fairness::ContestedCategories;
use crate::model::{Context, Decision, LinkFacts, LinkKind, Treatment, UNKNOWN};
use crate::policy_engine::PolicyEngine;

/// Policy id reported for links past [`LinkEngineSettings::max_decided_links`].
pub const LINK_CAP_ID: &str = "kaifang:link-cap";

/// Policy id reported for text that looked like a link but does not parse as
/// an http(s) URL; it stays plain text.
pub const MALFORMED_ID: &str = "kaifang:malformed";

/// Settings of a [`LinkEngine`].
#[derive(Debug, Clone)]
pub struct LinkEngineSettings {
    /// Extraction limits; `max_urls` bounds the URLs, and separately the
    /// share codes, reported per message (later ones are left as plain text
    /// and not reported). Default: 1,000 URLs, 4,096 units per URL.
    pub extract: ExtractConfig,
    /// Normalisation settings (tracking parameters, Public Suffix List).
    pub normalise: NormaliseConfig,
    /// Links (URLs and share codes together) fully decided per message, in
    /// order. Later links are reported
    /// inert ([`LINK_CAP_ID`]) without being normalised — unless their host is
    /// on a threat list, in which case they are decided too, so a blocked link
    /// cannot hide behind the cap. Default 50.
    pub max_decided_links: usize,
    /// Hosts whose platform and threat-list names are remembered, so a
    /// repeated host skips the registry and the lists. Bounded, keeping the
    /// hosts in use (a flood of distinct hosts costs misses, never memory).
    /// 0 turns it off. Default 65,536 (about 13 MiB when full: see
    /// `benches/stream.rs`).
    pub host_cache_capacity: usize,
}

impl Default for LinkEngineSettings {
    fn default() -> Self {
        Self {
            extract: ExtractConfig::with_max_urls(1_000),
            normalise: NormaliseConfig::default(),
            max_decided_links: 50,
            host_cache_capacity: 65_536,
        }
    }
}

/// One link of a message and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDecision {
    /// `url`, or `share_code` for a platform's share code.
    #[serde(default)]
    pub kind: LinkKind,
    /// The URL as written; for a share code, the code as written, delimiters
    /// included (what a live chip copies).
    pub url: String,
    /// Canonical key (no tracking parameters); `None` when not normalised
    /// (malformed, or past the cap).
    pub canonical: Option<String>,
    /// Start, in Unicode code points.
    pub start: usize,
    /// End (exclusive), in Unicode code points.
    pub end: usize,
    /// Start, in UTF-16 code units.
    pub start_utf16: usize,
    /// End (exclusive), in UTF-16 code units.
    pub end_utf16: usize,
    /// Platform id, or `unknown`.
    pub platform: String,
    /// Platform owner, or `unknown`.
    pub owner: String,
    /// Platform category, or `unknown`.
    pub category: String,
    /// Registrable domain (or the host, for IP literals); empty when undecided.
    pub domain: String,
    /// The host to show people: punycode for look-alike hosts.
    pub display_host: String,
    /// Threat lists the host is on.
    pub lists: Vec<String>,
    /// Warnings for the client: `bidi` (direction controls near the link),
    /// `homograph` (a mixed-script host, shown in punycode).
    pub flags: Vec<String>,
    /// How the link is delivered.
    pub treatment: Treatment,
    /// Whether a preview may be fetched and shown.
    pub preview: bool,
    /// Policies that decided the treatment.
    pub policies: Arc<[String]>,
}

/// The [`LinkDecision::flags`] entry for bidi controls near the link.
pub const FLAG_BIDI: &str = "bidi";
/// The [`LinkDecision::flags`] entry for a mixed-script host.
pub const FLAG_HOMOGRAPH: &str = "homograph";
/// The [`LinkDecision::flags`] entry for a domain one edit from a registered one.
pub const FLAG_LOOKALIKE: &str = "lookalike";

impl LinkDecision {
    /// The [`LinkFacts::bidi`] fact the decision was made with.
    pub fn bidi(&self) -> bool {
        self.flags.iter().any(|f| f == FLAG_BIDI)
    }

    /// The [`LinkFacts::mixed_script`] fact the decision was made with.
    pub fn mixed_script(&self) -> bool {
        self.flags.iter().any(|f| f == FLAG_HOMOGRAPH)
    }

    /// The [`LinkFacts::lookalike`] fact the decision was made with.
    pub fn lookalike(&self) -> bool {
        self.flags.iter().any(|f| f == FLAG_LOOKALIKE)
    }
}

/// Decides every link in a message. Immutable and `Send + Sync`.
#[derive(Debug)]
pub struct LinkEngine {
    policy: Arc<PolicyEngine>,
    registry: Arc<Registry>,
    blocklists: Arc<Blocklists>,
    contested: ContestedCategories,
    hosts: HostCache,
    settings: LinkEngineSettings,
}

/// What a host alone decides: its platform and the threat lists it is on.
#[derive(Debug)]
struct HostFacts {
    platform: String,
    owner: String,
    category: String,
    lists: Vec<String>,
    category_contested: bool,
    lookalike: bool,
}

/// Per-host [`HostFacts`], bounded. Lives and dies with its [`LinkEngine`],
/// whose registry and lists never change, so it never needs flushing.
///
/// Two generations: new hosts go into `young`; when it holds half the
/// capacity, it becomes `old` and the previous `old` is dropped. A hit in
/// `old` moves the host back into `young`. So the hosts in use survive a
/// flood of one-off hosts (a single map emptied when full would forget the
/// popular hosts with the rest), and memory stays at most `capacity` entries.
#[derive(Debug)]
struct HostCache {
    capacity: usize,
    generations: RwLock<Generations>,
}

/// Hosts come from senders, so the hash is seeded per process; foldhash
/// rather than SipHash because this lookup runs for every link.
type HostMap = HashMap<Box<str>, Arc<HostFacts>, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct Generations {
    young: HostMap,
    old: HostMap,
}

impl Generations {
    fn insert(&mut self, host: &str, facts: &Arc<HostFacts>, capacity: usize) {
        if self.young.len() >= capacity.div_ceil(2) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(host.into(), Arc::clone(facts));
    }
}

impl HostCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            generations: RwLock::new(Generations::default()),
        }
    }

    fn get_or_insert(&self, host: &str, make: impl FnOnce() -> HostFacts) -> Arc<HostFacts> {
        if self.capacity == 0 {
            return Arc::new(make());
        }
        let old_hit = {
            let g = self
                .generations
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(hit) = g.young.get(host) {
                return Arc::clone(hit);
            }
            g.old.get(host).map(Arc::clone)
        };
        let facts = old_hit.unwrap_or_else(|| Arc::new(make()));
        self.generations
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host, &facts, self.capacity);
        facts
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let g = self
            .generations
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        g.young.len() + g.old.len()
    }
}

impl LinkEngine {
    /// Combine a policy engine, a platform registry and threat lists.
    pub fn new(
        policy: Arc<PolicyEngine>,
        registry: Arc<Registry>,
        blocklists: Arc<Blocklists>,
        settings: LinkEngineSettings,
    ) -> Self {
        let contested = ContestedCategories::new(
            registry
                .platforms()
                .iter()
                .map(|p| (p.owner.as_str(), p.category.as_str())),
            policy.operator(),
        );
        Self {
            policy,
            registry,
            blocklists,
            contested,
            hosts: HostCache::new(settings.host_cache_capacity),
            settings,
        }
    }

    /// Every link in `text` — URLs and share codes, in order of appearance —
    /// with its decision in context `ctx`.
    pub fn evaluate(&self, text: &str, ctx: &Context) -> Vec<LinkDecision> {
        let found = extract_with(text, &self.settings.extract);
        // A code inside a URL is part of that URL, not a second link.
        let urls: Vec<std::ops::Range<usize>> =
            found.iter().map(|f| f.byte_start..f.byte_end).collect();
        let codes = self
            .registry
            .find_share_codes(text, &urls, self.settings.extract.max_urls);
        let mut out = Vec::with_capacity(found.len() + codes.len());
        let (mut urls, mut codes) = (found.iter().peekable(), codes.iter().peekable());
        loop {
            let next_is_url = match (urls.peek(), codes.peek()) {
                (Some(u), Some(c)) => u.byte_start < c.byte_start,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let decide = out.len() < self.settings.max_decided_links;
            if next_is_url {
                let Some(f) = urls.next() else { break };
                if decide || self.blocklists.mask_for(f.host) != 0 {
                    out.push(self.decide_one(f, ctx));
                } else {
                    out.push(undecided(f, LINK_CAP_ID));
                }
            } else {
                let Some(c) = codes.next() else { break };
                out.push(if decide {
                    self.decide_code(c, ctx)
                } else {
                    self.undecided_code(c)
                });
            }
        }
        out
    }

    /// A share code: its platform's facts, decided by the same policy.
    fn decide_code(&self, code: &FoundCode<'_>, ctx: &Context) -> LinkDecision {
        let Some(platform) = self.registry.platforms().get(code.platform) else {
            return self.undecided_code(code);
        };
        let domain = platform.domains.first().cloned().unwrap_or_default();
        let facts = LinkFacts {
            kind: LinkKind::ShareCode,
            platform: platform.id.clone(),
            owner: platform.owner.clone(),
            category: platform.category.clone(),
            domain: domain.clone(),
            lists: Vec::new(),
            bidi: false,
            mixed_script: false,
            lookalike: false,
            category_contested: self.contested.contains(&platform.category),
        };
        let Decision {
            treatment,
            policies,
            ..
        } = self.policy.decide(ctx, &facts);
        LinkDecision {
            kind: LinkKind::ShareCode,
            url: code.code.to_owned(),
            canonical: None,
            start: code.start,
            end: code.end,
            start_utf16: code.start_utf16,
            end_utf16: code.end_utf16,
            platform: facts.platform,
            owner: facts.owner,
            category: facts.category,
            display_host: domain,
            domain: facts.domain,
            lists: Vec::new(),
            flags: Vec::new(),
            treatment,
            // Nothing to fetch: a code opens in its platform's app.
            preview: false,
            policies,
        }
    }

    /// A share code past the cap: plain text, its platform still named.
    fn undecided_code(&self, code: &FoundCode<'_>) -> LinkDecision {
        let platform = self.registry.platforms().get(code.platform);
        let name = |f: fn(&kaifang_links::Platform) -> &String| {
            platform.map_or_else(|| UNKNOWN.to_owned(), |p| f(p).clone())
        };
        LinkDecision {
            kind: LinkKind::ShareCode,
            url: code.code.to_owned(),
            canonical: None,
            start: code.start,
            end: code.end,
            start_utf16: code.start_utf16,
            end_utf16: code.end_utf16,
            platform: name(|p| &p.id),
            owner: name(|p| &p.owner),
            category: name(|p| &p.category),
            domain: String::new(),
            display_host: String::new(),
            lists: Vec::new(),
            flags: Vec::new(),
            treatment: Treatment::Inert,
            preview: false,
            policies: Arc::from(vec![LINK_CAP_ID.to_owned()]),
        }
    }

    /// The policy engine in use.
    pub fn policy(&self) -> &Arc<PolicyEngine> {
        &self.policy
    }

    /// The registry in use.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    fn decide_one(&self, found: &FoundUrl<'_>, ctx: &Context) -> LinkDecision {
        let Ok(mut url) = normalise(found.url, &self.settings.normalise) else {
            return undecided(found, MALFORMED_ID);
        };
        let facts = self.facts(found, &mut url);
        let Decision {
            treatment,
            preview,
            policies,
        } = self.policy.decide(ctx, &facts);
        let mut flags = Vec::new();
        if facts.bidi {
            flags.push(FLAG_BIDI.to_owned());
        }
        if facts.mixed_script {
            flags.push(FLAG_HOMOGRAPH.to_owned());
        }
        if facts.lookalike {
            flags.push(FLAG_LOOKALIKE.to_owned());
        }
        LinkDecision {
            kind: LinkKind::Url,
            url: found.url.to_owned(),
            canonical: Some(url.canonical),
            start: found.start,
            end: found.end,
            start_utf16: found.start_utf16,
            end_utf16: found.end_utf16,
            platform: facts.platform,
            owner: facts.owner,
            category: facts.category,
            domain: facts.domain,
            display_host: url.display_host,
            lists: facts.lists,
            flags,
            treatment,
            preview,
            policies,
        }
    }

    /// Facts of one link; takes the registrable domain out of `url`.
    fn facts(&self, found: &FoundUrl<'_>, url: &mut NormalisedUrl) -> LinkFacts {
        let host = self.hosts.get_or_insert(&url.host, || {
            self.host_facts(&url.host, url.registrable_domain.as_deref())
        });
        LinkFacts {
            kind: LinkKind::Url,
            platform: host.platform.clone(),
            owner: host.owner.clone(),
            category: host.category.clone(),
            domain: url
                .registrable_domain
                .take()
                .unwrap_or_else(|| url.host.clone()),
            lists: host.lists.clone(),
            bidi: found.bidi_nearby || url.flags.bidi_controls,
            mixed_script: url.flags.homograph,
            lookalike: host.lookalike,
            category_contested: host.category_contested,
        }
    }

    /// `domain` is the host's registrable domain (a function of the host, so
    /// the result may be cached by host).
    fn host_facts(&self, host: &str, domain: Option<&str>) -> HostFacts {
        let platform = self.registry.classify(host).platform;
        let mask = self.blocklists.mask_for(host);
        let lists = if mask == 0 {
            Vec::new()
        } else {
            let names = self.blocklists.names();
            (0..names.len().min(32))
                .filter(|i| mask & (1u32 << i) != 0)
                .filter_map(|i| names.get(i).cloned())
                .collect()
        };
        HostFacts {
            platform: platform.id.clone(),
            owner: platform.owner.clone(),
            category: platform.category.clone(),
            lists,
            category_contested: self.contested.contains(&platform.category),
            // Only unregistered hosts can imitate a registered one.
            lookalike: platform.id == UNKNOWN
                && domain.is_some_and(|d| self.registry.lookalike_of(d).is_some()),
        }
    }
}

/// A link reported as plain text without a policy decision.
fn undecided(found: &FoundUrl<'_>, reason: &str) -> LinkDecision {
    LinkDecision {
        kind: LinkKind::Url,
        url: found.url.to_owned(),
        canonical: None,
        start: found.start,
        end: found.end,
        start_utf16: found.start_utf16,
        end_utf16: found.end_utf16,
        platform: UNKNOWN.to_owned(),
        owner: UNKNOWN.to_owned(),
        category: UNKNOWN.to_owned(),
        domain: String::new(),
        display_host: found.host.to_owned(),
        lists: Vec::new(),
        flags: if found.bidi_nearby {
            vec![FLAG_BIDI.to_owned()]
        } else {
            Vec::new()
        },
        treatment: Treatment::Inert,
        preview: false,
        policies: Arc::from(vec![reason.to_owned()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(platform: &str) -> HostFacts {
        HostFacts {
            platform: platform.to_owned(),
            owner: UNKNOWN.to_owned(),
            category: UNKNOWN.to_owned(),
            lists: Vec::new(),
            category_contested: false,
            lookalike: false,
        }
    }

    #[test]
    fn host_cache_is_bounded_and_remembers() {
        let cache = HostCache::new(4);
        for i in 0..10 {
            let host = format!("h{i}.example");
            assert_eq!(cache.get_or_insert(&host, || facts(&host)).platform, host);
            assert!((1..=4).contains(&cache.len()), "{}", cache.len());
        }
        // A hit does not call `make`.
        let hit = cache.get_or_insert("h9.example", || facts("other"));
        assert_eq!(hit.platform, "h9.example");
        let off = HostCache::new(0);
        assert_eq!(off.get_or_insert("a.com", || facts("x")).platform, "x");
        assert_eq!(off.len(), 0);
    }

    #[test]
    fn a_host_in_use_survives_a_flood_of_new_hosts() {
        let cache = HostCache::new(8);
        let made = std::cell::Cell::new(0);
        let popular = |cache: &HostCache| {
            cache.get_or_insert("popular.example", || {
                made.set(made.get() + 1);
                facts("popular")
            })
        };
        popular(&cache);
        for i in 0..1_000 {
            let host = format!("once{i}.example");
            cache.get_or_insert(&host, || facts(&host));
            // Used once every three new hosts: always in one generation or the other.
            if i % 3 == 0 {
                popular(&cache);
            }
        }
        assert_eq!(made.get(), 1, "the popular host was forgotten");
        assert!(cache.len() <= 8);
    }
}
