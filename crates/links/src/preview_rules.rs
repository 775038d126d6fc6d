//! The operator's per-domain preview rules: an allowlist and a denylist of
//! domain patterns, and the one question the server asks of them, "may a
//! link to this host get a preview?". Pure: the rules come in as text, the
//! host as text.
//!
//! Three forms of pattern, written as an operator would write them:
//! - `example.com`: that host only (not `www.example.com`);
//! - `*.example.com`: any host under it (`a.example.com`, `a.b.example.com`),
//!   not `example.com` itself;
//! - `domain:example.com`: every host whose registrable domain (per the
//!   Public Suffix List) is `example.com`, the apex included.
//!
//! Deny wins over allow. An empty allowlist lets every host through (the
//! denylist aside); a non-empty one lets through only the hosts it names.
use std::collections::HashSet;
use std::fmt;
use std::net::Ipv6Addr;

use crate::SuffixList;
use crate::registry::ascii_domain;

/// The longest domain name DNS can carry.
const MAX_NAME: usize = 253;
/// The longest label DNS can carry.
const MAX_LABEL: usize = 63;

/// How a [`DomainPattern`] matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// Exactly this host.
    Exact,
    /// Any host under this domain, not the domain itself.
    Subdomains,
    /// Any host whose registrable domain is this one.
    Registrable,
}

/// One parsed preview rule, its domain in lower-case ASCII (IDNs as
/// punycode), so that two spellings of one rule are one rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainPattern {
    kind: PatternKind,
    domain: String,
}

/// Why a text is not a preview rule; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{rule}` is not a domain rule: {reason}")]
pub struct RuleError {
    /// The text as given (cut to 100 characters).
    pub rule: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl DomainPattern {
    /// Parses `example.com`, `*.example.com` or `domain:example.com`
    /// (surrounding spaces, upper case, a trailing dot and Unicode labels
    /// are accepted and normalised). A URL, an IP address, a bare suffix
    /// after `domain:`, or anything with spaces or stray wildcards is refused.
    pub fn parse(text: &str) -> Result<DomainPattern, RuleError> {
        let refuse = |reason| RuleError {
            rule: text.chars().take(100).collect(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(refuse("it is empty"));
        }
        let (kind, rest) = if let Some(rest) = trimmed.strip_prefix("domain:") {
            (PatternKind::Registrable, rest)
        } else if let Some(rest) = trimmed.strip_prefix("*.") {
            (PatternKind::Subdomains, rest)
        } else {
            (PatternKind::Exact, trimmed)
        };
        if rest.contains("://") || rest.contains('/') {
            return Err(refuse("write the host alone, without a scheme or a path"));
        }
        if rest.contains('*') {
            return Err(refuse("a wildcard may only start a rule, as `*.`"));
        }
        if rest.chars().any(char::is_whitespace) {
            return Err(refuse("a domain has no spaces"));
        }
        if rest.is_empty() || rest.trim_end_matches('.').is_empty() {
            return Err(refuse("it names no domain"));
        }
        if is_ip(rest) {
            return Err(refuse(
                "an IP address is not a domain; previews of addresses follow preview.allow_addresses",
            ));
        }
        let domain = checked_name(rest).ok_or_else(|| refuse("it is not a valid domain name"))?;
        if is_ip(&domain) {
            return Err(refuse("a name ending in a number reads as an IP address"));
        }
        if kind == PatternKind::Registrable {
            match SuffixList::Builtin.registrable_domain(&domain) {
                Some(d) if d == domain => {}
                Some(_) => {
                    return Err(refuse(
                        "`domain:` takes a registrable domain (such as example.com), not a subdomain",
                    ));
                }
                None => {
                    return Err(refuse(
                        "`domain:` takes a registrable domain, not a public suffix",
                    ));
                }
            }
        }
        Ok(DomainPattern { kind, domain })
    }

    /// How it matches.
    pub fn kind(&self) -> PatternKind {
        self.kind
    }

    /// Its domain, lower-case ASCII.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The rule with its domain in Unicode (`*.例子.中国`), for people.
    pub fn display(&self) -> String {
        let (unicode, _) = idna::domain_to_unicode(&self.domain);
        self.with_domain(&unicode)
    }

    fn with_domain(&self, domain: &str) -> String {
        match self.kind {
            PatternKind::Exact => domain.to_owned(),
            PatternKind::Subdomains => format!("*.{domain}"),
            PatternKind::Registrable => format!("domain:{domain}"),
        }
    }
}

/// The canonical text: what is stored and compared.
impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_domain(&self.domain))
    }
}

/// An IPv4 or IPv6 address, bracketed or not, or a name the URL parser
/// would read as IPv4 (its last label is a number).
fn is_ip(text: &str) -> bool {
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if bare.contains(':') {
        return bare.parse::<Ipv6Addr>().is_ok() || text.starts_with('[');
    }
    let last = text.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// The name in lower-case ASCII if every label is letters, digits and
/// inner hyphens, within DNS's lengths.
fn checked_name(text: &str) -> Option<String> {
    let ascii = ascii_domain(text)?;
    let labels_ok = ascii.split('.').all(|l| {
        l.len() <= MAX_LABEL
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    (labels_ok && ascii.len() <= MAX_NAME).then_some(ascii)
}

/// One list's patterns, indexed so that a host is checked in a few hash
/// look-ups whatever the number of rules.
#[derive(Debug, Default, Clone)]
struct PatternSet {
    exact: HashSet<String>,
    subdomains: HashSet<String>,
    registrable: HashSet<String>,
}

impl PatternSet {
    fn insert(&mut self, p: &DomainPattern) {
        let set = match p.kind {
            PatternKind::Exact => &mut self.exact,
            PatternKind::Subdomains => &mut self.subdomains,
            PatternKind::Registrable => &mut self.registrable,
        };
        set.insert(p.domain.clone());
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.subdomains.is_empty() && self.registrable.is_empty()
    }

    fn matches(&self, host: &str, registrable: Option<&str>) -> bool {
        if self.exact.contains(host) {
            return true;
        }
        if registrable.is_some_and(|d| self.registrable.contains(d)) {
            return true;
        }
        // Every proper parent of the host: `a.b.example.com` has
        // `b.example.com`, `example.com` and `com`.
        let mut rest = host;
        while let Some((_, parent)) = rest.split_once('.') {
            if self.subdomains.contains(parent) {
                return true;
            }
            rest = parent;
        }
        false
    }
}

/// The operator's allowlist and denylist, ready to be asked.
#[derive(Debug, Default, Clone)]
pub struct PreviewRules {
    allow: PatternSet,
    deny: PatternSet,
}

impl PreviewRules {
    /// Rules from parsed patterns.
    pub fn new<'a>(
        allow: impl IntoIterator<Item = &'a DomainPattern>,
        deny: impl IntoIterator<Item = &'a DomainPattern>,
    ) -> PreviewRules {
        let mut rules = PreviewRules::default();
        for p in allow {
            rules.allow.insert(p);
        }
        for p in deny {
            rules.deny.insert(p);
        }
        rules
    }

    /// Whether a link to `host` may get a preview. The host is normalised
    /// as a rule is (case, trailing dot, Unicode labels); an IP address or a
    /// host that is not a domain is let through only when there is no
    /// allowlist, as no rule can name it.
    pub fn permits(&self, host: &str) -> bool {
        let Some(host) = ascii_domain(host.trim_start_matches('[').trim_end_matches(']')) else {
            return self.allow.is_empty();
        };
        let registrable = SuffixList::Builtin.registrable_domain(&host);
        if self.deny.matches(&host, registrable) {
            return false;
        }
        self.allow.is_empty() || self.allow.matches(&host, registrable)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn p(text: &str) -> DomainPattern {
        DomainPattern::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rules(allow: &[&str], deny: &[&str]) -> PreviewRules {
        let allow: Vec<_> = allow.iter().map(|t| p(t)).collect();
        let deny: Vec<_> = deny.iter().map(|t| p(t)).collect();
        PreviewRules::new(&allow, &deny)
    }

    #[test]
    fn rules_are_normalised_to_one_spelling() {
        assert_eq!(p(" Example.COM. ").to_string(), "example.com");
        assert_eq!(p("*.Example.com").to_string(), "*.example.com");
        assert_eq!(
            p("domain:EXAMPLE.co.uk").to_string(),
            "domain:example.co.uk"
        );
        assert_eq!(p("例子.中国").to_string(), "xn--fsqu00a.xn--fiqs8s");
        assert_eq!(p("*.例子.中国").display(), "*.例子.中国");
        assert_eq!(p("domain:例子.中国").kind(), PatternKind::Registrable);
    }

    #[test]
    fn what_is_not_a_domain_is_refused_with_a_reason() {
        for bad in [
            "",
            "   ",
            "http://x/",
            "https://example.com",
            "example.com/path",
            "*.",
            "*",
            "a b",
            "a.*.com",
            "**.example.com",
            "127.0.0.1",
            "[::1]",
            "::1",
            "2001:db8::1",
            "10.0.0.1.",
            "example.123",
            "exa_mple.com",
            "-example.com",
            "example-.com",
            "a..b",
            "user@example.com",
            "example.com:8080",
            "domain:",
            "domain:com",
            "domain:co.uk",
            "domain:www.example.com",
            "domain:*.example.com",
        ] {
            let e = DomainPattern::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("is not a domain rule"), "{e}");
            assert_eq!(e.rule, bad, "the error names the rule");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(DomainPattern::parse(&long).is_err());
    }

    #[test]
    fn an_exact_rule_matches_its_host_only() {
        let r = rules(&[], &["example.com"]);
        assert!(!r.permits("example.com"));
        assert!(!r.permits("EXAMPLE.com."));
        assert!(r.permits("www.example.com"));
        assert!(r.permits("example.org"));
        assert!(r.permits("notexample.com"));
    }

    #[test]
    fn a_wildcard_matches_subdomains_not_the_apex() {
        let r = rules(&[], &["*.example.com"]);
        assert!(r.permits("example.com"));
        assert!(!r.permits("www.example.com"));
        assert!(!r.permits("A.B.Example.Com."));
        assert!(r.permits("badexample.com"));
        assert!(r.permits("www.example.com.cn"));
    }

    #[test]
    fn a_registrable_rule_matches_the_apex_and_every_subdomain() {
        let r = rules(&[], &["domain:example.co.uk"]);
        assert!(!r.permits("example.co.uk"));
        assert!(!r.permits("www.example.co.uk"));
        assert!(!r.permits("a.b.EXAMPLE.co.uk."));
        assert!(r.permits("other.co.uk"));
        assert!(r.permits("co.uk"));
        // A private suffix of the list is a suffix too: each user's site
        // under it is a registrable domain of its own.
        assert!(DomainPattern::parse("domain:github.io").is_err());
        let gh = rules(&[], &["domain:someone.github.io"]);
        assert!(!gh.permits("www.someone.github.io"));
        assert!(gh.permits("other.github.io"));
    }

    #[test]
    fn idn_hosts_match_in_either_spelling() {
        let r = rules(&[], &["domain:例子.中国"]);
        assert!(!r.permits("www.例子.中国"));
        assert!(!r.permits("WWW.xn--fsqu00a.xn--fiqs8s."));
        assert!(r.permits("别的.中国"));
        let upper = rules(&[], &["MÜNCHEN.de"]);
        assert!(!upper.permits("münchen.de"));
        assert!(!upper.permits("xn--mnchen-3ya.de"));
    }

    #[test]
    fn deny_wins_and_an_allowlist_admits_only_what_it_names() {
        let none = rules(&[], &[]);
        assert!(none.permits("anything.example"));
        assert!(none.permits("127.0.0.1"));
        let allow = rules(
            &["domain:example.com", "news.example.org"],
            &["ads.example.com"],
        );
        assert!(allow.permits("example.com"));
        assert!(allow.permits("www.example.com"));
        assert!(!allow.permits("ads.example.com"), "deny wins over allow");
        assert!(allow.permits("news.example.org"));
        assert!(!allow.permits("example.org"));
        assert!(!allow.permits("other.test"));
        assert!(!allow.permits("127.0.0.1"), "no rule can name an address");
        assert!(!allow.permits("[::1]"));
    }
}
