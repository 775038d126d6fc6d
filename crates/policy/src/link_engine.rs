//! The whole link pipeline for one message: extract → normalise → classify →
//! threat lists → decide.
//!
//! Cached decisions are keyed by the facts (platform, owner, lists, …), never
//! by URL or host, so a new registry or new threat lists need no cache flush:
//! build a new [`LinkEngine`] around the same `Arc<PolicyEngine>`. A new policy
//! is a new `PolicyEngine`, and its cache starts empty.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, PoisonError, RwLock};

use kaifang_links::{
    Blocklists, CanonicalUrl, ExtractConfig, FoundCode, FoundPayment, FoundUrl, NormaliseConfig,
    Platform, Registry, canonicalise, extract_with,
};
use serde::{Deserialize, Serialize};

use crate::fairness::ContestedCategories;
use crate::model::{Context, Decision, FactsRef, LinkKind, Penalty, Treatment, UNKNOWN};
use crate::penalties::PenaltyBook;
use crate::policy_engine::PolicyEngine;
use crate::shared::SharedStr;

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
///
/// The names and hosts are [`SharedStr`]s, one per platform or host held by the engine's caches,
/// so deciding a link copies no name; they serialise as plain strings.
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
    pub platform: SharedStr,
    /// Platform owner, or `unknown`.
    pub owner: SharedStr,
    /// Platform category, or `unknown`.
    pub category: SharedStr,
    /// Registrable domain (or the host, for IP literals); empty when undecided.
    pub domain: SharedStr,
    /// The host to show people: punycode for look-alike hosts.
    pub display_host: SharedStr,
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
    /// The penalty in force on the domain when the link was decided; left out
    /// of the JSON when there is none.
    #[serde(default, skip_serializing_if = "Penalty::is_none")]
    pub penalty: Penalty,
}

/// The [`LinkDecision::flags`] entry for bidi controls near the link.
pub const FLAG_BIDI: &str = "bidi";
/// The [`LinkDecision::flags`] entry for a mixed-script host.
pub const FLAG_HOMOGRAPH: &str = "homograph";
/// The [`LinkDecision::flags`] entry for a domain one edit from a registered one.
pub const FLAG_LOOKALIKE: &str = "lookalike";

/// A link found in text that is not a URL: a share code, or a wallet deep link or payment payload.
struct NonUrl<'a> {
    kind: LinkKind,
    /// As written (what a live chip copies).
    text: &'a str,
    /// Its platform in the registry; `None` for a payment payload of an unlisted provider.
    platform: Option<usize>,
    /// Start and end in code points, then in UTF-16 code units.
    span: [usize; 4],
}

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
    /// Each registered platform's names, by platform id.
    names: HashMap<String, Names, foldhash::fast::RandomState>,
    /// The names of the `unknown` platform.
    unknown: Names,
    hosts: HostCache,
    /// Not cached with the host: penalties change while the engine lives.
    penalties: Arc<PenaltyBook>,
    settings: LinkEngineSettings,
}

/// A platform's names as shared strings, made once per engine: a decision names its platform
/// without copying a string.
#[derive(Debug, Clone)]
struct Names {
    platform: SharedStr,
    owner: SharedStr,
    category: SharedStr,
    /// Its first domain, which a share code's decision names; empty when it has none.
    first_domain: SharedStr,
    category_contested: bool,
}

impl Names {
    fn of(platform: &Platform, contested: &ContestedCategories) -> Self {
        Self {
            platform: SharedStr::from(platform.id.as_str()),
            owner: SharedStr::from(platform.owner.as_str()),
            category: SharedStr::from(platform.category.as_str()),
            first_domain: SharedStr::from(platform.domains.first().map_or("", String::as_str)),
            category_contested: contested.contains(&platform.category),
        }
    }
}

/// What a host alone decides: its platform, domain, display form and the threat lists it is on.
/// Each is a function of the host (the registrable domain and the display form come from the
/// host alone), so it may be cached by host.
#[derive(Debug)]
struct HostFacts {
    names: Names,
    domain: SharedStr,
    display_host: SharedStr,
    lists: Vec<String>,
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
        let names = registry
            .platforms()
            .iter()
            .map(|p| (p.id.clone(), Names::of(p, &contested)))
            .collect();
        let unknown_name: SharedStr = SharedStr::from(UNKNOWN);
        let unknown = Names {
            platform: unknown_name.clone(),
            owner: unknown_name.clone(),
            category: unknown_name,
            first_domain: SharedStr::from(""),
            category_contested: contested.contains(UNKNOWN),
        };
        Self {
            policy,
            registry,
            blocklists,
            names,
            unknown,
            hosts: HostCache::new(settings.host_cache_capacity),
            penalties: Arc::new(PenaltyBook::new()),
            settings,
        }
    }

    /// Read penalties from `book` (shared, so that the server's later
    /// changes to the book reach this engine).
    #[must_use]
    pub fn with_penalties(mut self, book: Arc<PenaltyBook>) -> Self {
        self.penalties = book;
        self
    }

    /// The shared names of a platform of the registry (or of `unknown`).
    fn names_of(&self, platform: &Platform) -> Names {
        self.names
            .get(&platform.id)
            .unwrap_or(&self.unknown)
            .clone()
    }

    /// Every link in `text` — URLs, payment links and share codes, in order of appearance — with its
    /// decision in context `ctx`.
    pub fn evaluate(&self, text: &str, ctx: &Context) -> Vec<LinkDecision> {
        let found = extract_with(text, &self.settings.extract);
        // Most messages hold a URL or two: their spans go on the stack.
        const INLINE: usize = 4;
        let span = |f: &FoundUrl<'_>| f.byte_start..f.byte_end;
        let (payments, codes) = if found.len() <= INLINE {
            let urls: [Range<usize>; INLINE] =
                std::array::from_fn(|i| found.get(i).map_or(0..0, span));
            self.find_non_urls(text, urls.get(..found.len()).unwrap_or_default())
        } else {
            let urls: Vec<_> = found.iter().map(span).collect();
            self.find_non_urls(text, &urls)
        };
        let mut out = Vec::with_capacity(found.len() + payments.len() + codes.len());
        let mut urls = found.iter().peekable();
        let mut pays = payments.iter().peekable();
        let mut codes = codes.iter().peekable();
        // The end of the last payment link that is not a URL: a URL written inside a deep link
        // (`alipays://…?url=https://…`) is part of it, not a second link.
        let mut covered = 0;
        loop {
            while urls.peek().is_some_and(|f| f.byte_start < covered) {
                urls.next();
            }
            let u = urls.peek().map_or(usize::MAX, |f| f.byte_start);
            let p = pays.peek().map_or(usize::MAX, |f| f.byte_start);
            let c = codes.peek().map_or(usize::MAX, |f| f.byte_start);
            let decide = out.len() < self.settings.max_decided_links;
            if u < usize::MAX && u <= p && u <= c {
                let Some(f) = urls.next() else { break };
                // A payment URL (`https://qr.alipay.com/…`) is found both ways, with one extent: it
                // is a URL whose kind is `payment`.
                let kind = if p == u {
                    pays.next();
                    LinkKind::Payment
                } else {
                    LinkKind::Url
                };
                if decide || self.blocklists.mask_for(f.host) != 0 {
                    out.push(self.decide_one(f, kind, ctx));
                } else {
                    out.push(self.undecided(f, kind, LINK_CAP_ID));
                }
            } else if p < usize::MAX && p <= c {
                let Some(pay) = pays.next() else { break };
                covered = pay.byte_end;
                let found = NonUrl {
                    kind: LinkKind::Payment,
                    text: pay.text,
                    platform: pay.platform,
                    span: [pay.start, pay.end, pay.start_utf16, pay.end_utf16],
                };
                out.push(self.decide_non_url(&found, decide.then_some(ctx)));
            } else if c < usize::MAX {
                let Some(code) = codes.next() else { break };
                let found = NonUrl {
                    kind: LinkKind::ShareCode,
                    text: code.code,
                    platform: Some(code.platform),
                    span: [code.start, code.end, code.start_utf16, code.end_utf16],
                };
                out.push(self.decide_non_url(&found, decide.then_some(ctx)));
            } else {
                break;
            }
        }
        out
    }

    /// The payment links and the share codes of `text`, given its URL spans (sorted). A payment
    /// URL has a URL's span; nothing inside a URL is counted again, and no share code is counted
    /// inside a payment link or payload.
    fn find_non_urls<'a>(
        &self,
        text: &'a str,
        urls: &[Range<usize>],
    ) -> (Vec<FoundPayment<'a>>, Vec<FoundCode<'a>>) {
        let max = self.settings.extract.max_urls;
        let payments = self.registry.find_payment_links(text, urls, max);
        let is_url = |p: &FoundPayment<'_>| urls.iter().any(|u| u.start == p.byte_start);
        if payments.iter().all(is_url) {
            return (payments, self.registry.find_share_codes(text, urls, max));
        }
        let mut skip: Vec<Range<usize>> = urls.to_vec();
        skip.extend(
            payments
                .iter()
                .filter(|p| !is_url(p))
                .map(|p| p.byte_start..p.byte_end),
        );
        skip.sort_by_key(|r| r.start);
        let codes = self.registry.find_share_codes(text, &skip, max);
        (payments, codes)
    }

    /// A share code or a payment link that is not a URL (a wallet deep link, an EMVCo payload):
    /// its platform's facts, decided by the same policy; `ctx` is `None` past the cap, where it
    /// stays plain text with its platform still named.
    fn decide_non_url(&self, found: &NonUrl<'_>, ctx: Option<&Context>) -> LinkDecision {
        let platform = found
            .platform
            .and_then(|i| self.registry.platforms().get(i));
        let names = platform.map_or_else(|| self.unknown.clone(), |p| self.names_of(p));
        let (treatment, policies, penalty, domain) = match ctx {
            Some(ctx) => {
                let penalty = self.penalties.get(&names.first_domain);
                let facts = FactsRef {
                    kind: found.kind,
                    platform: &names.platform,
                    owner: &names.owner,
                    category: &names.category,
                    domain: &names.first_domain,
                    lists: &[],
                    bidi: false,
                    mixed_script: false,
                    lookalike: false,
                    category_contested: names.category_contested,
                    penalty,
                };
                let d = self.policy.decide_ref(ctx, facts);
                (d.treatment, d.policies, penalty, names.first_domain.clone())
            }
            None => (
                Treatment::Inert,
                Arc::from(vec![LINK_CAP_ID.to_owned()]),
                Penalty::None,
                self.unknown.first_domain.clone(),
            ),
        };
        let [start, end, start_utf16, end_utf16] = found.span;
        LinkDecision {
            kind: found.kind,
            url: found.text.to_owned(),
            canonical: None,
            start,
            end,
            start_utf16,
            end_utf16,
            platform: names.platform,
            owner: names.owner,
            category: names.category,
            display_host: domain.clone(),
            domain,
            lists: Vec::new(),
            flags: Vec::new(),
            treatment,
            // Nothing to fetch: a code or a deep link opens in its platform's app.
            preview: false,
            policies,
            penalty,
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

    fn decide_one(&self, found: &FoundUrl<'_>, kind: LinkKind, ctx: &Context) -> LinkDecision {
        let Ok(url) = canonicalise(found.url, &self.settings.normalise) else {
            return self.undecided(found, kind, MALFORMED_ID);
        };
        let host = self
            .hosts
            .get_or_insert(url.host(), || self.host_facts(&url));
        let facts = FactsRef {
            kind,
            platform: &host.names.platform,
            owner: &host.names.owner,
            category: &host.names.category,
            domain: &host.domain,
            lists: &host.lists,
            bidi: found.bidi_nearby || url.flags.bidi_controls,
            mixed_script: url.flags.homograph,
            lookalike: host.lookalike,
            category_contested: host.names.category_contested,
            penalty: self.penalties.get(&host.domain),
        };
        let Decision {
            treatment,
            preview,
            policies,
        } = self.policy.decide_ref(ctx, facts);
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
            kind,
            url: found.url.to_owned(),
            canonical: Some(url.canonical),
            start: found.start,
            end: found.end,
            start_utf16: found.start_utf16,
            end_utf16: found.end_utf16,
            platform: host.names.platform.clone(),
            owner: host.names.owner.clone(),
            category: host.names.category.clone(),
            domain: host.domain.clone(),
            display_host: host.display_host.clone(),
            lists: host.lists.clone(),
            flags,
            treatment,
            // A payment page is the buyer's to open, not the server's to fetch.
            preview: preview && kind == LinkKind::Url,
            policies,
            penalty: facts.penalty,
        }
    }

    /// The facts of `url`'s host; each is a function of the host alone.
    fn host_facts(&self, url: &CanonicalUrl) -> HostFacts {
        let host = url.host();
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
        let registrable = url.registrable_domain(&self.settings.normalise);
        // The registrable domain, or the host for IP literals and bare suffixes.
        let domain: SharedStr = SharedStr::from(registrable.unwrap_or(host));
        let display_host = if url.display_host() == domain.as_str() {
            domain.clone()
        } else {
            SharedStr::from(url.display_host())
        };
        HostFacts {
            names: self.names_of(platform),
            domain,
            display_host,
            lists,
            // Only unregistered hosts can imitate a registered one.
            lookalike: platform.id == UNKNOWN
                && registrable.is_some_and(|d| self.registry.lookalike_of(d).is_some()),
        }
    }

    /// A link reported as plain text without a policy decision.
    fn undecided(&self, found: &FoundUrl<'_>, kind: LinkKind, reason: &str) -> LinkDecision {
        let unknown = &self.unknown;
        LinkDecision {
            kind,
            url: found.url.to_owned(),
            canonical: None,
            start: found.start,
            end: found.end,
            start_utf16: found.start_utf16,
            end_utf16: found.end_utf16,
            platform: unknown.platform.clone(),
            owner: unknown.owner.clone(),
            category: unknown.category.clone(),
            domain: unknown.first_domain.clone(),
            display_host: SharedStr::from(found.host),
            lists: Vec::new(),
            flags: if found.bidi_nearby {
                vec![FLAG_BIDI.to_owned()]
            } else {
                Vec::new()
            },
            treatment: Treatment::Inert,
            preview: false,
            policies: Arc::from(vec![reason.to_owned()]),
            penalty: Penalty::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(platform: &str) -> HostFacts {
        let unknown: SharedStr = SharedStr::from(UNKNOWN);
        HostFacts {
            names: Names {
                platform: SharedStr::from(platform),
                owner: unknown.clone(),
                category: unknown,
                first_domain: SharedStr::from(""),
                category_contested: false,
            },
            domain: SharedStr::from(""),
            display_host: SharedStr::from(""),
            lists: Vec::new(),
            lookalike: false,
        }
    }

    #[test]
    fn host_cache_is_bounded_and_remembers() {
        let cache = HostCache::new(4);
        for i in 0..10 {
            let host = format!("h{i}.example");
            assert_eq!(
                cache.get_or_insert(&host, || facts(&host)).names.platform,
                *host
            );
            assert!((1..=4).contains(&cache.len()), "{}", cache.len());
        }
        // A hit does not call `make`.
        let hit = cache.get_or_insert("h9.example", || facts("other"));
        assert_eq!(&*hit.names.platform, "h9.example");
        let off = HostCache::new(0);
        assert_eq!(
            &*off.get_or_insert("a.com", || facts("x")).names.platform,
            "x"
        );
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
