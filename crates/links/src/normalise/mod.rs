//! Normalisation: WHATWG parsing, a canonical key without tracking parameters, the registrable
//! domain, and flags for what a client must not show as-is.

mod fast;
mod script;
mod suffix;
mod tracking;

use std::sync::Arc;

use url::{Host, Url};

pub use suffix::SuffixList;

use crate::Error;
use crate::extract::is_bidi_control;

/// Settings of [`normalise`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NormaliseConfig {
    /// Scheme given to scheme-less URLs such as `jd.com/123.html`. Default `"https"`: what browsers
    /// try first today, and twitter-text's own default protocol. Only `http` and `https` make sense.
    pub default_scheme: String,
    /// Query parameters dropped from the canonical key, ASCII case-insensitive; a trailing `*` matches
    /// any suffix. Default: `utm_*`, `spm`, `scm`, `from`, `share_*`, `fbclid`, `gclid`, … (see docs/links.md).
    pub tracking_params: Vec<String>,
    /// Inputs longer than this many bytes are refused with [`Error::TooLong`]. Default 8192.
    pub max_input_len: usize,
    /// Public Suffix List for [`NormalisedUrl::registrable_domain`]. Default: compiled in.
    pub suffix_list: Arc<SuffixList>,
}

impl Default for NormaliseConfig {
    fn default() -> Self {
        NormaliseConfig {
            default_scheme: "https".to_owned(),
            tracking_params: tracking::DEFAULT_TRACKING
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            max_input_len: 8192,
            suffix_list: Arc::new(SuffixList::Builtin),
        }
    }
}

/// What a client must know before showing or opening a URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlFlags {
    /// The input contains bidi control characters (e.g. U+202E RIGHT-TO-LEFT OVERRIDE): make it inert.
    pub bidi_controls: bool,
    /// A host label mixes scripts or is a whole-script lookalike: show [`NormalisedUrl::display_host`]
    /// (punycode) rather than the Unicode form.
    pub homograph: bool,
    /// The URL carried a user name or password (`http://bank.com@evil.com`); dropped from the key.
    pub userinfo: bool,
    /// The URL was written without a scheme and got [`NormaliseConfig::default_scheme`].
    pub scheme_added: bool,
}

/// A parsed, canonical URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NormalisedUrl {
    /// The canonical key: lower-case scheme and host (punycode), no default port, no user info,
    /// no fragment, no tracking parameters, other parameters in their original order.
    pub canonical: String,
    /// `http` or `https`.
    pub scheme: String,
    /// The host in lower-case ASCII (punycode for IDNs; `[…]` for IPv6), without a trailing dot.
    pub host: String,
    /// The host to show people: Unicode, unless [`UrlFlags::homograph`] (then punycode).
    pub display_host: String,
    /// A non-default port, if any.
    pub port: Option<u16>,
    /// The registrable domain ("eTLD+1") per the Public Suffix List; `None` for IP addresses and bare suffixes.
    pub registrable_domain: Option<String>,
    /// Whether the host is an IPv4 or IPv6 literal.
    pub is_ip: bool,
    /// Warnings for the caller.
    pub flags: UrlFlags,
}

/// A URL's canonical key, holding its host as a slice of the key when it can: what deciding a link
/// needs, for one allocation in the common case (a [`NormalisedUrl`] costs five). [`normalise`] is
/// [`canonicalise`] then [`CanonicalUrl::into_normalised`], so the two always agree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CanonicalUrl {
    /// As [`NormalisedUrl::canonical`].
    pub canonical: String,
    host: HostText,
    /// As [`NormalisedUrl::port`].
    pub port: Option<u16>,
    /// As [`NormalisedUrl::is_ip`].
    pub is_ip: bool,
    /// As [`NormalisedUrl::flags`].
    pub flags: UrlFlags,
}

/// Where a [`CanonicalUrl`]'s host is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostText {
    /// `canonical[start..end]`, shown as it is (the fast path's plain ASCII hosts).
    InKey { start: usize, end: usize },
    /// Held apart, with its display form (the WHATWG parser's path: IDNs, IP literals).
    Owned { host: String, display: String },
}

impl CanonicalUrl {
    /// As [`NormalisedUrl::host`].
    pub fn host(&self) -> &str {
        match &self.host {
            HostText::InKey { start, end } => self.canonical.get(*start..*end).unwrap_or_default(),
            HostText::Owned { host, .. } => host,
        }
    }

    /// As [`NormalisedUrl::display_host`].
    pub fn display_host(&self) -> &str {
        match &self.host {
            HostText::InKey { .. } => self.host(),
            HostText::Owned { display, .. } => display,
        }
    }

    /// As [`NormalisedUrl::scheme`]: `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.canonical.starts_with("https:") {
            "https"
        } else {
            "http"
        }
    }

    /// As [`NormalisedUrl::registrable_domain`], from `cfg`'s suffix list. A function of the host
    /// alone.
    pub fn registrable_domain<'a>(&'a self, cfg: &NormaliseConfig) -> Option<&'a str> {
        if self.is_ip {
            None
        } else {
            cfg.suffix_list.registrable_domain(self.host())
        }
    }

    /// The full [`NormalisedUrl`]; `cfg` must be the one the URL was canonicalised with.
    pub fn into_normalised(self, cfg: &NormaliseConfig) -> NormalisedUrl {
        let registrable_domain = self.registrable_domain(cfg).map(str::to_owned);
        let scheme = self.scheme().to_owned();
        let (host, display_host) = match &self.host {
            HostText::InKey { .. } => (self.host().to_owned(), self.host().to_owned()),
            HostText::Owned { host, display } => (host.clone(), display.clone()),
        };
        NormalisedUrl {
            canonical: self.canonical,
            scheme,
            host,
            display_host,
            port: self.port,
            registrable_domain,
            is_ip: self.is_ip,
            flags: self.flags,
        }
    }
}

/// Split off a scheme the parser would see, or `None` for scheme-less input (`jd.com:8080/x`).
fn explicit_scheme(raw: &str) -> Option<&str> {
    let colon = raw.find(':')?;
    let (scheme, rest) = raw.split_at(colon);
    let mut chars = scheme.chars();
    let starts_alpha = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let valid =
        starts_alpha && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    // `host:port` is not a scheme.
    let port_follows = rest[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
    (valid && !port_follows).then_some(scheme)
}

/// Normalise one URL (as found by [`extract`](crate::extract), or any http(s) URL).
///
/// ```
/// use kaifang_links::{normalise, NormaliseConfig};
/// let n = normalise("HTTP://WWW.Example.COM:80/a?utm_source=x&b=1#top", &NormaliseConfig::default())?;
/// assert_eq!(n.canonical, "http://www.example.com/a?b=1");
/// assert_eq!(n.registrable_domain.as_deref(), Some("example.com"));
/// # Ok::<(), kaifang_links::Error>(())
/// ```
pub fn normalise(raw: &str, cfg: &NormaliseConfig) -> Result<NormalisedUrl, Error> {
    canonicalise(raw, cfg).map(|url| url.into_normalised(cfg))
}

/// [`normalise`]'s canonical key and host without the other strings: one allocation for a
/// common-case URL, where [`normalise`] makes five.
///
/// ```
/// use kaifang_links::{canonicalise, NormaliseConfig};
/// let cfg = NormaliseConfig::default();
/// let u = canonicalise("https://Item.Taobao.com/item.htm?id=678&spm=a21", &cfg)?;
/// assert_eq!(u.canonical, "https://item.taobao.com/item.htm?id=678");
/// assert_eq!((u.host(), u.registrable_domain(&cfg)), ("item.taobao.com", Some("taobao.com")));
/// # Ok::<(), kaifang_links::Error>(())
/// ```
pub fn canonicalise(raw: &str, cfg: &NormaliseConfig) -> Result<CanonicalUrl, Error> {
    match fast::canonicalise_fast(raw, cfg) {
        Some(url) => Ok(url),
        None => canonicalise_full(raw, cfg),
    }
}

/// [`normalise`] through the WHATWG parser.
#[cfg(test)]
fn normalise_full(raw: &str, cfg: &NormaliseConfig) -> Result<NormalisedUrl, Error> {
    canonicalise_full(raw, cfg).map(|url| url.into_normalised(cfg))
}

/// [`canonicalise`] through the WHATWG parser, for every URL the fast path declines.
fn canonicalise_full(raw: &str, cfg: &NormaliseConfig) -> Result<CanonicalUrl, Error> {
    if raw.len() > cfg.max_input_len {
        return Err(Error::TooLong {
            len: raw.len(),
            max: cfg.max_input_len,
        });
    }
    let raw = raw.trim();
    let mut flags = UrlFlags {
        bidi_controls: raw.chars().any(is_bidi_control),
        ..UrlFlags::default()
    };
    let mut url = match explicit_scheme(raw) {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            Url::parse(raw)?
        }
        Some(s) => return Err(Error::UnsupportedScheme(s.to_ascii_lowercase())),
        None => {
            flags.scheme_added = true;
            Url::parse(&format!("{}://{raw}", cfg.default_scheme))?
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::UnsupportedScheme(url.scheme().to_owned()));
    }
    flags.userinfo = !url.username().is_empty() || url.password().is_some();
    // Both setters fail only for URLs that cannot have credentials, which http(s) URLs always can.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if let Some(q) = url.query() {
        let kept = tracking::strip_tracking(q, &cfg.tracking_params);
        url.set_query(kept.as_deref());
    }
    let (host, is_ip) = match url.host() {
        Some(Host::Domain(d)) => (d.trim_end_matches('.').to_owned(), false),
        Some(Host::Ipv4(a)) => (a.to_string(), true),
        Some(Host::Ipv6(a)) => (format!("[{a}]"), true),
        None => return Err(Error::NoHost),
    };
    if host.is_empty() {
        return Err(Error::NoHost);
    }
    if !is_ip && url.host_str().is_some_and(|h| h.ends_with('.')) {
        url.set_host(Some(&host))?;
    }
    let display = if is_ip {
        host.clone()
    } else {
        display_host(&host, &mut flags)
    };
    let port = url.port();
    Ok(CanonicalUrl {
        canonical: url.into(),
        host: HostText::Owned { host, display },
        port,
        is_ip,
        flags,
    })
}

/// The Unicode form of an ASCII host, or the ASCII form when a label looks like a homograph.
fn display_host(host: &str, flags: &mut UrlFlags) -> String {
    if !host
        .split('.')
        .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case("xn--"))
    {
        return host.to_owned();
    }
    let (unicode, result) = idna::domain_to_unicode(host);
    let ascii_tld = host
        .rsplit('.')
        .next()
        .is_some_and(|t| !t.starts_with("xn--"));
    if result.is_err()
        || unicode
            .split('.')
            .any(|l| script::suspicious_label(l, ascii_tld))
    {
        flags.homograph = true;
        return host.to_owned();
    }
    unicode
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> NormalisedUrl {
        normalise(raw, &NormaliseConfig::default()).unwrap()
    }

    #[test]
    fn canonical_keys() {
        assert_eq!(n("jd.com/123.html").canonical, "https://jd.com/123.html");
        assert!(n("jd.com/123.html").flags.scheme_added);
        assert_eq!(n("www.taobao.com").canonical, "https://www.taobao.com/");
        assert_eq!(
            n("https://Example.com:443/").canonical,
            "https://example.com/"
        );
        assert_eq!(n("https://example.com:8443/").port, Some(8443));
        assert_eq!(
            n("example.com:8080/x").canonical,
            "https://example.com:8080/x"
        );
        assert_eq!(
            n("http://a.com/?x=1&utm_x=2&y=3#f").canonical,
            "http://a.com/?x=1&y=3"
        );
        assert_eq!(n("http://a.com/?spm=1").canonical, "http://a.com/");
        assert_eq!(n("http://example.com./").host, "example.com");
    }

    #[test]
    fn idn_and_ip_hosts() {
        let u = n("http://淘宝.COM/x");
        assert_eq!(u.host, "xn--pbt173b.com");
        assert_eq!(u.display_host, "淘宝.com");
        assert!(!u.flags.homograph);
        let h = n("https://pаypal.com/");
        assert!(h.flags.homograph);
        assert_eq!(h.display_host, h.host);
        assert!(h.host.starts_with("xn--"));
        let ip = n("http://192.168.0.1:8080/a");
        assert!(ip.is_ip);
        assert_eq!(ip.registrable_domain, None);
        assert_eq!(n("http://[::1]/").host, "[::1]");
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(
            n("https://item.taobao.com/").registrable_domain.as_deref(),
            Some("taobao.com")
        );
        assert_eq!(
            n("https://www.bbc.co.uk/").registrable_domain.as_deref(),
            Some("bbc.co.uk")
        );
        assert_eq!(
            n("https://m.tb.cn/h.x").registrable_domain.as_deref(),
            Some("tb.cn")
        );
    }

    #[test]
    fn refusals_and_flags() {
        let cfg = NormaliseConfig::default();
        assert!(matches!(
            normalise("javascript:alert(1)", &cfg),
            Err(Error::UnsupportedScheme(_))
        ));
        assert!(matches!(
            normalise("ftp://x.com/", &cfg),
            Err(Error::UnsupportedScheme(_))
        ));
        assert!(matches!(
            normalise("http://exa mple.com/", &cfg),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            normalise(&"a".repeat(9000), &cfg),
            Err(Error::TooLong { .. })
        ));
        let u = n("http://google.com@evil.com/");
        assert!(u.flags.userinfo);
        assert_eq!(u.canonical, "http://evil.com/");
        assert!(n("http://example.com/\u{202E}fdp.exe").flags.bidi_controls);
    }
}
