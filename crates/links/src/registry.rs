//! The platform registry (`data/platforms.toml`): which platform, owner and category a host belongs to.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::RegistryError;
use crate::hash::FastBuild;
use crate::payment::{FoundPayment, PaymentLinkFormat, PaymentMatcher};
use crate::share::{FoundCode, ShareCodeFormat, ShareMatcher};

/// The compiled-in registry shipped with Kaifang.
const BUILTIN: &str = include_str!("../../../data/platforms.toml");

/// A platform: a service with its own domains, run by an owner (company).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Platform {
    /// Stable id used in policies, e.g. `taobao`.
    pub id: String,
    /// Display name, e.g. `Taobao`.
    pub name: String,
    /// Chinese display name, e.g. `淘宝`, when the registry gives one.
    pub name_zh: Option<String>,
    /// Owner id, e.g. `alibaba`.
    pub owner: String,
    /// Category, e.g. `commerce`, `video`, `social`.
    pub category: String,
    /// Its domains (lower-case ASCII); subdomains belong to the platform too.
    pub domains: Vec<String>,
    /// The share codes it uses instead of URLs (passphrases, share texts); may be empty.
    pub share_codes: Vec<ShareCodeFormat>,
    /// For a wallet provider: the forms of its payment links and codes; may be empty.
    pub payment_links: Vec<PaymentLinkFormat>,
}

/// A company that owns platforms.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Owner {
    /// Stable id used in policies, e.g. `alibaba`.
    pub id: String,
    /// Display name, e.g. `Alibaba Group`.
    pub name: String,
}

/// The answer of [`Registry::classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Classification<'a> {
    /// The platform, or the `unknown` platform (id, owner and category `unknown`).
    pub platform: &'a Platform,
    /// The owner's display name (`Unknown` for the unknown platform).
    pub owner_name: &'a str,
    /// The registry domain that matched (the longest suffix of the host), if any.
    pub matched_domain: Option<&'a str>,
}

/// Platforms by domain. Classification is one hash lookup per label of the host.
#[derive(Debug, Clone)]
pub struct Registry {
    platforms: Vec<Platform>,
    owners: HashMap<String, Owner>,
    by_domain: HashMap<String, usize, FastBuild>,
    unknown: Platform,
    unknown_owner: Owner,
    /// Every platform's share-code formats, compiled; rebuilt when platforms change.
    share: Option<ShareMatcher>,
    /// Every platform's payment-link forms, compiled; rebuilt when platforms change.
    payment: Option<PaymentMatcher>,
    /// Each registry domain, and each with one character deleted, → the domain: finds hosts one
    /// edit away from a registered domain with a few lookups (symmetric deletion).
    near: HashMap<String, usize, FastBuild>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    owners: BTreeMap<String, RawOwner>,
    #[serde(default)]
    platforms: Vec<RawPlatform>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    id: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    name_zh: Option<Spanned<String>>,
    owner: Spanned<String>,
    category: Spanned<String>,
    domains: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    share_codes: Vec<Spanned<RawShareCode>>,
    #[serde(default)]
    payment_links: Vec<Spanned<RawPaymentLink>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaymentLink {
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    code: Option<(usize, usize)>,
    #[serde(default = "one")]
    min_classes: u8,
    #[serde(default)]
    emvco_ids: Vec<String>,
    #[serde(default)]
    emvco_tags: Vec<u8>,
}

fn one() -> u8 {
    1
}

/// Longest code a payment-link form may declare.
const MAX_PAYMENT_CODE_LEN: usize = 256;

/// A payment-link form's problem, if any.
fn payment_link_problem(raw: &RawPaymentLink) -> Option<String> {
    if raw.prefixes.is_empty() && raw.emvco_ids.is_empty() && raw.emvco_tags.is_empty() {
        return Some("a payment link form needs prefixes, emvco_ids or emvco_tags".to_owned());
    }
    for p in &raw.prefixes {
        let Some((scheme, rest)) = p.split_once("://") else {
            return Some(format!("prefix {p:?} must start with a scheme and `://`"));
        };
        if scheme.is_empty()
            || !scheme.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
            })
            || !rest.is_ascii()
            || rest.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_uppercase())
        {
            return Some(format!(
                "prefix {p:?}: lower-case ASCII without spaces, starting `scheme://`"
            ));
        }
    }
    if let Some((min, max)) = raw.code
        && (min == 0 || min > max || max > MAX_PAYMENT_CODE_LEN)
    {
        return Some(format!(
            "code [{min}, {max}]: need 1 <= shortest <= longest <= {MAX_PAYMENT_CODE_LEN}"
        ));
    }
    if !(1..=3).contains(&raw.min_classes) {
        return Some("min_classes is 1, 2 or 3".to_owned());
    }
    if let Some(id) = raw.emvco_ids.iter().find(|id| {
        id.is_empty() || id.len() > 32 || !id.is_ascii() || id.contains(char::is_whitespace)
    }) {
        return Some(format!(
            "emvco_ids: {id:?} is not a GUID or AID (1-32 ASCII characters)"
        ));
    }
    if let Some(tag) = raw.emvco_tags.iter().find(|t| !(2..=25).contains(*t)) {
        return Some(format!(
            "emvco_tags: {tag} is not a primitive merchant account tag (02-25)"
        ));
    }
    None
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShareCode {
    delimiters: Vec<(String, String)>,
    length: (usize, usize),
    #[serde(default = "two")]
    min_classes: u8,
    #[serde(default)]
    cues: Vec<String>,
    #[serde(default)]
    cue_required: bool,
}

fn two() -> u8 {
    2
}

/// Longest code body a format may declare: bounds the matcher's walk back.
const MAX_CODE_LEN: usize = 64;

/// A format's problem, if any.
fn share_code_problem(raw: &RawShareCode) -> Option<String> {
    let (min, max) = raw.length;
    if raw.delimiters.is_empty() {
        return Some("a share code needs at least one pair of delimiters".to_owned());
    }
    for (open, close) in &raw.delimiters {
        if close.is_empty()
            || close.starts_with(|c: char| c.is_ascii_alphanumeric())
            || open.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Some(format!(
                "delimiters [{open:?}, {close:?}]: the closing one must not be empty, and neither may touch the code with a letter or digit"
            ));
        }
    }
    if min == 0 || min > max || max > MAX_CODE_LEN {
        return Some(format!(
            "length [{min}, {max}]: need 1 <= shortest <= longest <= {MAX_CODE_LEN}"
        ));
    }
    if !(1..=3).contains(&raw.min_classes) {
        return Some("min_classes is 1, 2 or 3".to_owned());
    }
    if raw.cue_required && raw.cues.iter().all(|c| c.trim().is_empty()) {
        return Some("cue_required needs at least one cue".to_owned());
    }
    None
}

const UNKNOWN: &str = "unknown";

fn line_of(text: &str, span: Range<usize>) -> usize {
    let end = span.start.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Lower-case ASCII (punycode) form of a registry or host name, or `None` if it is not a domain.
pub(crate) fn ascii_domain(raw: &str) -> Option<String> {
    let raw = raw.trim().trim_end_matches('.');
    if raw.is_empty()
        || raw.contains(|c: char| c.is_whitespace() || matches!(c, '/' | ':' | '@' | '?' | '#'))
    {
        return None;
    }
    let ascii = idna::domain_to_ascii(raw).ok()?;
    (!ascii.is_empty() && ascii.split('.').all(|l| !l.is_empty())).then_some(ascii)
}

/// `s` with one byte deleted, each position (domains are ASCII).
fn deletions(s: &str) -> impl Iterator<Item = String> + '_ {
    (0..s.len()).filter_map(move |i| {
        let (a, b) = (s.get(..i)?, s.get(i + 1..)?);
        Some(format!("{a}{b}"))
    })
}

/// Exactly one insertion, deletion, substitution or adjacent swap apart (ASCII).
fn one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match ra.len().cmp(&rb.len()) {
        std::cmp::Ordering::Equal => {
            ra.get(1..) == rb.get(1..)
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra.get(2..) == rb.get(2..))
        }
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
    }
}

impl Registry {
    /// A registry with no platforms: everything classifies as `unknown`.
    pub fn empty() -> Registry {
        Registry {
            platforms: Vec::new(),
            owners: HashMap::new(),
            by_domain: HashMap::default(),
            unknown: Platform {
                id: UNKNOWN.to_owned(),
                name: "Unknown".to_owned(),
                name_zh: Some("未知".to_owned()),
                owner: UNKNOWN.to_owned(),
                category: UNKNOWN.to_owned(),
                domains: Vec::new(),
                share_codes: Vec::new(),
                payment_links: Vec::new(),
            },
            unknown_owner: Owner {
                id: UNKNOWN.to_owned(),
                name: "Unknown".to_owned(),
            },
            share: None,
            payment: None,
            near: HashMap::default(),
        }
    }

    fn compile_near(&mut self) {
        self.near.clear();
        for (i, p) in self.platforms.iter().enumerate() {
            for d in &p.domains {
                for variant in deletions(d) {
                    self.near.entry(variant).or_insert(i);
                }
                self.near.insert(d.clone(), i);
            }
        }
    }

    /// The registered platform whose domain `domain` imitates: `domain` (a registrable domain, ASCII)
    /// is not registered itself but is one edit (a character inserted, deleted or replaced, or two
    /// neighbours swapped) away from a registry domain, like `taobaoo.com` or `jb.com`.
    ///
    /// ```
    /// let r = kaifang_links::Registry::builtin()?;
    /// assert_eq!(r.lookalike_of("taob4o.com").map(|p| p.id.as_str()), Some("taobao"));
    /// assert!(r.lookalike_of("taobao.com").is_none());
    /// assert!(r.lookalike_of("example.org").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookalike_of(&self, domain: &str) -> Option<&Platform> {
        let domain = domain.trim_end_matches('.');
        // Short names are one edit from too much (`qq.com` and `jd.com` from most 2-letter .coms).
        if domain.len() < 7 || self.classify(domain).matched_domain.is_some() {
            return None;
        }
        let check = |variant: &str| {
            self.near
                .get(variant)
                .and_then(|&i| self.platforms.get(i))
                .filter(|p| {
                    p.domains
                        .iter()
                        .any(|d| d.len() >= 7 && one_edit(d, domain))
                })
        };
        // One buffer for every deletion: this runs for each new unregistered host.
        let mut variant = String::with_capacity(domain.len());
        check(domain).or_else(|| {
            (0..domain.len()).find_map(|i| {
                let (a, b) = (domain.get(..i)?, domain.get(i + 1..)?);
                variant.clear();
                variant.push_str(a);
                variant.push_str(b);
                check(&variant)
            })
        })
    }

    fn compile_share_codes(&mut self) {
        self.share = ShareMatcher::new(
            self.platforms
                .iter()
                .enumerate()
                .flat_map(|(i, p)| p.share_codes.iter().map(move |f| (i, f))),
        );
        self.payment = PaymentMatcher::new(
            self.platforms
                .iter()
                .enumerate()
                .flat_map(|(i, p)| p.payment_links.iter().map(move |f| (i, f))),
        );
    }

    /// The payment links and codes in `text` (see `data/platforms.toml`, `payment_links`), in
    /// order, at most `max`: wallet deep links, payment URLs, and EMVCo merchant-presented QR
    /// payloads whose CRC checks. `urls` are the text's URL spans as [`extract`](crate::extract)
    /// found them (sorted): a payment URL starting one takes its extent, and nothing starting
    /// inside a URL is counted. Linear in the length of `text`.
    ///
    /// ```
    /// let registry = kaifang_links::Registry::builtin()?;
    /// let found = registry.find_payment_links("扫码付款 wxp://f2f0Ab3dE5fG7hK9mN2pQ4rS 谢谢", &[], 10);
    /// assert_eq!(found[0].text, "wxp://f2f0Ab3dE5fG7hK9mN2pQ4rS");
    /// let wallet = registry.payment_wallet(&found[0]);
    /// assert_eq!((wallet.id.as_str(), wallet.owner.as_str()), ("wechat-pay", "tencent"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_payment_links<'a>(
        &self,
        text: &'a str,
        urls: &[Range<usize>],
        max: usize,
    ) -> Vec<FoundPayment<'a>> {
        self.payment
            .as_ref()
            .map_or_else(Vec::new, |m| m.find(text, urls, max))
    }

    /// The wallet provider of a found payment: its platform, or the `unknown` platform (id and
    /// owner `unknown`) for an EMVCo payload whose provider the registry does not list.
    pub fn payment_wallet(&self, found: &FoundPayment<'_>) -> &Platform {
        found
            .platform
            .and_then(|i| self.platforms.get(i))
            .unwrap_or(&self.unknown)
    }

    /// The share codes in `text` (see `data/platforms.toml`, `share_codes`), in order, at most
    /// `max`, none overlapping a byte range of `skip` (sorted; pass the text's URLs so that a code
    /// inside a URL is not counted twice). Linear in the length of `text`.
    ///
    /// ```
    /// let registry = kaifang_links::Registry::builtin()?;
    /// let codes = registry.find_share_codes("复制这段描述￥Ab3dE5fG7hK￥后到👉淘宝👈", &[], 10);
    /// assert_eq!(codes[0].code, "￥Ab3dE5fG7hK￥");
    /// assert_eq!(registry.platforms()[codes[0].platform].id, "taobao");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_share_codes<'a>(
        &self,
        text: &'a str,
        skip: &[Range<usize>],
        max: usize,
    ) -> Vec<FoundCode<'a>> {
        self.share
            .as_ref()
            .map_or_else(Vec::new, |m| m.find(text, skip, max))
    }

    /// The registry shipped in `data/platforms.toml`, compiled in.
    pub fn builtin() -> Result<Registry, RegistryError> {
        Registry::from_toml_str(BUILTIN)
    }

    /// Read a registry file; errors name the file or the line and field.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Registry, RegistryError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Io {
            path: path.to_owned(),
            source,
        })?;
        Registry::from_toml_str(&text)
    }

    /// Parse a registry in the `platforms.toml` format (see docs/links.md). Owners used by the file's
    /// platforms must be declared in its `[owners]` table.
    pub fn from_toml_str(text: &str) -> Result<Registry, RegistryError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            // "missing field `owner`" names it; "invalid type: integer `3`"
            // names the value, so take the key written before the value.
            let key_before = e.span().and_then(|span| {
                let line_start = text.get(..span.start)?.rfind('\n').map_or(0, |i| i + 1);
                let (key, _) = text.get(line_start..span.start)?.split_once('=')?;
                Some(key.trim().to_owned()).filter(|k| !k.is_empty())
            });
            let field = if message.starts_with("invalid") {
                key_before
            } else {
                None
            }
            .or_else(|| message.split('`').nth(1).map(str::to_owned));
            RegistryError::Syntax {
                line: e.span().map_or(0, |s| line_of(text, s)),
                field,
                message,
            }
        })?;
        let invalid =
            |span: Range<usize>, field: &str, message: String| RegistryError::InvalidValue {
                line: line_of(text, span),
                field: field.to_owned(),
                message,
            };
        let mut reg = Registry::empty();
        for (id, owner) in raw.owners {
            if !is_ident(&id) || id == UNKNOWN {
                return Err(invalid(
                    owner.name.span(),
                    "owners",
                    format!("bad owner id `{id}` (use a-z, 0-9, _ and -)"),
                ));
            }
            if owner.name.get_ref().trim().is_empty() {
                return Err(invalid(
                    owner.name.span(),
                    "name",
                    "owner name is empty".to_owned(),
                ));
            }
            reg.owners.insert(
                id.clone(),
                Owner {
                    id,
                    name: owner.name.into_inner(),
                },
            );
        }
        let mut ids = HashSet::new();
        for p in raw.platforms {
            for (field, value) in [("id", &p.id), ("category", &p.category)] {
                if !is_ident(value.get_ref()) || value.get_ref() == UNKNOWN {
                    let msg = format!(
                        "`{}` is not an identifier (use a-z, 0-9, _ and -; not `unknown`)",
                        value.get_ref()
                    );
                    return Err(invalid(value.span(), field, msg));
                }
            }
            if p.name.get_ref().trim().is_empty() {
                return Err(invalid(
                    p.name.span(),
                    "name",
                    "platform name is empty".to_owned(),
                ));
            }
            if let Some(zh) = &p.name_zh
                && zh.get_ref().trim().is_empty()
            {
                return Err(invalid(
                    zh.span(),
                    "name_zh",
                    "platform name_zh is empty (leave it out instead)".to_owned(),
                ));
            }
            if !reg.owners.contains_key(p.owner.get_ref()) {
                return Err(RegistryError::UnknownOwner {
                    line: line_of(text, p.owner.span()),
                    owner: p.owner.into_inner(),
                });
            }
            if !ids.insert(p.id.get_ref().clone()) {
                return Err(RegistryError::Duplicate {
                    line: line_of(text, p.id.span()),
                    field: "id".to_owned(),
                    value: p.id.get_ref().clone(),
                    other: p.id.get_ref().clone(),
                });
            }
            if p.domains.get_ref().is_empty() {
                return Err(invalid(
                    p.domains.span(),
                    "domains",
                    "a platform needs at least one domain".to_owned(),
                ));
            }
            let index = reg.platforms.len();
            let mut domains = Vec::new();
            for d in p.domains.into_inner() {
                let Some(ascii) = ascii_domain(d.get_ref()) else {
                    return Err(invalid(
                        d.span(),
                        "domains",
                        format!("`{}` is not a domain name", d.get_ref()),
                    ));
                };
                if let Some(&other) = reg.by_domain.get(&ascii) {
                    let other = reg
                        .platforms
                        .get(other)
                        .map_or_else(|| p.id.get_ref().clone(), |o| o.id.clone());
                    return Err(RegistryError::Duplicate {
                        line: line_of(text, d.span()),
                        field: "domains".to_owned(),
                        value: ascii,
                        other,
                    });
                }
                reg.by_domain.insert(ascii.clone(), index);
                domains.push(ascii);
            }
            let mut share_codes = Vec::new();
            for raw in p.share_codes {
                let span = raw.span();
                let raw = raw.into_inner();
                if let Some(problem) = share_code_problem(&raw) {
                    return Err(invalid(span, "share_codes", problem));
                }
                share_codes.push(ShareCodeFormat {
                    delimiters: raw.delimiters,
                    min_len: raw.length.0,
                    max_len: raw.length.1,
                    min_classes: raw.min_classes,
                    cues: raw
                        .cues
                        .into_iter()
                        .filter(|c| !c.trim().is_empty())
                        .collect(),
                    cue_required: raw.cue_required,
                });
            }
            let mut payment_links = Vec::new();
            for raw in p.payment_links {
                let span = raw.span();
                let raw = raw.into_inner();
                if let Some(problem) = payment_link_problem(&raw) {
                    return Err(invalid(span, "payment_links", problem));
                }
                payment_links.push(PaymentLinkFormat {
                    prefixes: raw.prefixes,
                    code: raw.code,
                    min_classes: raw.min_classes,
                    emvco_ids: raw
                        .emvco_ids
                        .iter()
                        .map(|id| id.to_ascii_uppercase())
                        .collect(),
                    emvco_tags: raw.emvco_tags,
                });
            }
            reg.platforms.push(Platform {
                id: p.id.into_inner(),
                name: p.name.into_inner(),
                name_zh: p.name_zh.map(Spanned::into_inner),
                owner: p.owner.into_inner(),
                category: p.category.into_inner(),
                domains,
                share_codes,
                payment_links,
            });
        }
        reg.compile_share_codes();
        reg.compile_near();
        Ok(reg)
    }

    /// Add an operator's registry on top of this one: its owners and platforms replace ones with the
    /// same id, and its domains move to its platforms.
    pub fn merge(&mut self, other: Registry) {
        self.owners.extend(other.owners);
        for p in other.platforms {
            let index = match self.platforms.iter().position(|q| q.id == p.id) {
                Some(i) => {
                    for d in &self.platforms[i].domains {
                        self.by_domain.remove(d);
                    }
                    i
                }
                None => self.platforms.len(),
            };
            for d in &p.domains {
                if let Some(old) = self.by_domain.insert(d.clone(), index)
                    && old != index
                {
                    self.platforms[old].domains.retain(|x| x != d);
                }
            }
            if index == self.platforms.len() {
                self.platforms.push(p);
            } else {
                self.platforms[index] = p;
            }
        }
        self.compile_share_codes();
        self.compile_near();
    }

    /// The platform of `host` (ASCII or Unicode, any case, trailing dot allowed): the registry domain
    /// that is the longest suffix of the host on a label boundary wins; otherwise `unknown`.
    pub fn classify(&self, host: &str) -> Classification<'_> {
        let owned;
        let mut host = host.trim_end_matches('.');
        if !host.is_ascii() || host.bytes().any(|b| b.is_ascii_uppercase()) {
            owned = ascii_domain(host).unwrap_or_default();
            host = &owned;
        }
        let mut suffix = host;
        loop {
            if let Some((key, &i)) = self.by_domain.get_key_value(suffix)
                && let Some(platform) = self.platforms.get(i)
            {
                let owner_name = self
                    .owners
                    .get(&platform.owner)
                    .map_or(platform.owner.as_str(), |o| o.name.as_str());
                return Classification {
                    platform,
                    owner_name,
                    matched_domain: Some(key.as_str()),
                };
            }
            match suffix.find('.') {
                Some(dot) => suffix = &suffix[dot + 1..],
                None => break,
            }
        }
        Classification {
            platform: &self.unknown,
            owner_name: &self.unknown_owner.name,
            matched_domain: None,
        }
    }

    /// All platforms, in file order.
    pub fn platforms(&self) -> &[Platform] {
        &self.platforms
    }

    /// An owner by id.
    pub fn owner(&self, id: &str) -> Option<&Owner> {
        self.owners.get(id)
    }

    /// A platform by id.
    pub fn platform(&self, id: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_classifies_by_longest_suffix() {
        let r = Registry::builtin().unwrap();
        let c = r.classify("item.taobao.com");
        assert_eq!(
            (c.platform.id.as_str(), c.platform.owner.as_str()),
            ("taobao", "alibaba")
        );
        assert_eq!(c.owner_name, "Alibaba Group");
        assert_eq!(c.platform.name_zh.as_deref(), Some("淘宝"));
        assert_eq!(r.classify("m.tb.cn").platform.id, "taobao");
        assert_eq!(r.classify("WWW.YouTube.com.").platform.id, "youtube");
        assert_eq!(r.classify("b23.tv").platform.id, "bilibili");
        assert_eq!(r.classify("pay.weixin.qq.com").platform.id, "wechat-pay");
        assert_eq!(r.classify("weixin.qq.com").platform.id, "wechat");
        assert_eq!(r.classify("qq.com").platform.id, "qq");
        let u = r.classify("example.org");
        assert_eq!(
            (
                u.platform.id.as_str(),
                u.platform.owner.as_str(),
                u.platform.category.as_str()
            ),
            ("unknown", "unknown", "unknown")
        );
        assert_eq!(r.classify("nottaobao.com").platform.id, "unknown");
    }

    #[test]
    fn errors_name_line_and_field() {
        let missing = "[owners.a]\nname = \"A\"\n\n[[platforms]]\nid = \"x\"\nname = \"X\"\ncategory = \"video\"\ndomains = [\"x.com\"]\n";
        let e = Registry::from_toml_str(missing).unwrap_err();
        assert!(
            matches!(&e, RegistryError::Syntax { field: Some(f), line: 4, .. } if f == "owner"),
            "{e}"
        );
        let bad_owner = "[[platforms]]\nid = \"x\"\nname = \"X\"\nowner = \"nobody\"\ncategory = \"video\"\ndomains = [\"x.com\"]\n";
        let e = Registry::from_toml_str(bad_owner).unwrap_err();
        assert!(
            matches!(&e, RegistryError::UnknownOwner { line: 4, .. }),
            "{e}"
        );
        let bad_domain = "[owners.a]\nname = \"A\"\n[[platforms]]\nid = \"x\"\nname = \"X\"\nowner = \"a\"\ncategory = \"video\"\ndomains = [\"x.com\",\n \"bad domain\"]\n";
        let e = Registry::from_toml_str(bad_domain).unwrap_err();
        assert!(
            matches!(&e, RegistryError::InvalidValue { line: 9, field, .. } if field == "domains"),
            "{e}"
        );
        assert!(e.to_string().starts_with("line 9: field `domains`"));
        let empty_zh = "[owners.a]\nname = \"A\"\n[[platforms]]\nid = \"x\"\nname = \"X\"\nname_zh = \" \"\nowner = \"a\"\ncategory = \"video\"\ndomains = [\"x.com\"]\n";
        let e = Registry::from_toml_str(empty_zh).unwrap_err();
        assert!(e.to_string().starts_with("line 6: field `name_zh`"), "{e}");
        let wrong_type = "[owners.a]\nname = \"A\"\n[[platforms]]\nid = \"x\"\nname = \"X\"\nname_zh = 3\nowner = \"a\"\ncategory = \"video\"\ndomains = [\"x.com\"]\n";
        let e = Registry::from_toml_str(wrong_type).unwrap_err();
        assert!(
            matches!(&e, RegistryError::Syntax { field: Some(f), line: 6, .. } if f == "name_zh"),
            "{e}"
        );
        let dup = "[owners.a]\nname = \"A\"\n[[platforms]]\nid = \"x\"\nname = \"X\"\nowner = \"a\"\ncategory = \"video\"\ndomains = [\"x.com\"]\n[[platforms]]\nid = \"y\"\nname = \"Y\"\nowner = \"a\"\ncategory = \"video\"\ndomains = [\"X.com\"]\n";
        let e = Registry::from_toml_str(dup).unwrap_err();
        assert!(
            matches!(&e, RegistryError::Duplicate { line: 14, other, .. } if other == "x"),
            "{e}"
        );
        let syntax = "[owners.a]\nname = \"A\n";
        assert!(matches!(
            Registry::from_toml_str(syntax),
            Err(RegistryError::Syntax { line: 2, .. })
        ));
    }

    #[test]
    fn merge_overrides_and_adds() {
        let mut r = Registry::builtin().unwrap();
        let ours = "[owners.acme]\nname = \"Acme\"\n[[platforms]]\nid = \"acme-chat\"\nname = \"Acme Chat\"\nowner = \"acme\"\ncategory = \"messaging\"\ndomains = [\"acme.example\", \"go.taobao.com\"]\n";
        r.merge(Registry::from_toml_str(ours).unwrap());
        assert_eq!(r.classify("www.acme.example").platform.owner, "acme");
        assert_eq!(r.classify("go.taobao.com").platform.id, "acme-chat");
        assert_eq!(r.classify("item.taobao.com").platform.id, "taobao");
    }
}
