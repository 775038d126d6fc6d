//! The common case without the WHATWG parser: a printable-ASCII http(s) URL with a plain domain
//! (letters, digits, `-`, dots), an optional numeric port, and a path and query made only of
//! characters the parser copies unchanged. Anything else — IDN or punycode labels, IP addresses,
//! user info, percent-escapes of dots, dot segments, backslashes, characters the parser would
//! percent-encode, a trailing dot — returns `None` and goes through the `url` crate. The unit tests
//! check the two paths agree.

use std::fmt::Write;

use super::{CanonicalUrl, HostText, NormaliseConfig, UrlFlags, explicit_scheme, tracking};

/// [`super::canonicalise`]'s answer for a common-case URL, or `None` to take the full parser. One
/// pass over the bytes, one allocation (the key, which holds the host).
pub(super) fn canonicalise_fast(raw: &str, cfg: &NormaliseConfig) -> Option<CanonicalUrl> {
    let b = raw.as_bytes();
    if b.len() > cfg.max_input_len {
        return None;
    }
    let (scheme, mut i, scheme_added) = if starts_with_ci(b, b"https://") {
        ("https", 8, false)
    } else if starts_with_ci(b, b"http://") {
        ("http", 7, false)
    } else {
        if explicit_scheme(raw).is_some() {
            return None;
        }
        match cfg.default_scheme.as_str() {
            s @ ("http" | "https") => (s, 0, true),
            _ => return None,
        }
    };
    // Host: plain labels; the last must start with a letter (never an IPv4 number form).
    let host_start = i;
    let mut label = i;
    let mut upper = false;
    loop {
        match b.get(i) {
            Some(b'a'..=b'z' | b'0'..=b'9' | b'-') => {}
            Some(b'A'..=b'Z') => upper = true,
            Some(b'.') => {
                if !plain_label(&b[label..i]) {
                    return None;
                }
                label = i + 1;
            }
            None | Some(b':' | b'/' | b'?' | b'#') => {
                if !plain_label(&b[label..i]) || !b[label].is_ascii_alphabetic() {
                    return None;
                }
                break;
            }
            Some(_) => return None,
        }
        i += 1;
    }
    let host_end = i;
    let mut port = None;
    if b.get(i) == Some(&b':') {
        let digits = i + 1;
        i = digits;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        port = Some(parse_port(&b[digits..i])?);
        if !matches!(b.get(i), None | Some(b'/' | b'?' | b'#')) {
            return None;
        }
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    let port = port.filter(|&p| p != default_port);
    let path_start = i;
    i = plain_path_end(b, i)?;
    let path = raw.get(path_start..i)?;
    let query = if b.get(i) == Some(&b'?') {
        let query_start = i + 1;
        i = plain_query_end(b, query_start)?;
        Some(raw.get(query_start..i)?)
    } else {
        None
    };
    // The fragment is dropped, but must not hide what the parser would strip or reject.
    if !b[i..].iter().all(|&c| (0x21..0x7F).contains(&c)) {
        return None;
    }
    let mut canonical = String::with_capacity(scheme.len() + 3 + (i - host_start) + 7);
    canonical.push_str(scheme);
    canonical.push_str("://");
    let key_host_start = canonical.len();
    canonical.push_str(raw.get(host_start..host_end)?);
    let key_host_end = canonical.len();
    if upper {
        canonical
            .get_mut(key_host_start..key_host_end)?
            .make_ascii_lowercase();
    }
    if let Some(p) = port {
        let _ = write!(canonical, ":{p}");
    }
    canonical.push_str(if path.is_empty() { "/" } else { path });
    if let Some(q) = query {
        let mark = canonical.len();
        canonical.push('?');
        if !tracking::strip_tracking_into(q, &cfg.tracking_params, &mut canonical) {
            canonical.truncate(mark);
        }
    }
    Some(CanonicalUrl {
        canonical,
        host: HostText::InKey {
            start: key_host_start,
            end: key_host_end,
        },
        port,
        is_ip: false,
        flags: UrlFlags {
            scheme_added,
            ..UrlFlags::default()
        },
    })
}

fn starts_with_ci(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A port of 1–5 digits without a leading zero, at most 65535.
fn parse_port(digits: &[u8]) -> Option<u16> {
    if !(1..=5).contains(&digits.len()) || digits[0] == b'0' {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).ok()
}

/// A label of letters, digits and inner hyphens, not empty and not hyphenated at positions 3–4
/// (so never punycode, `xn--`).
fn plain_label(b: &[u8]) -> bool {
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => first != b'-' && last != b'-' && b.get(2..4) != Some(b"--"),
        _ => false,
    }
}

/// Characters the parser copies unchanged into both paths and queries.
const fn common_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
                | b'%'
        )
}

const PATH: u8 = 1;
const QUERY: u8 = 2;

/// `PATH`: copied unchanged in a path (`'` too); `QUERY`: in a query (`?` too, but not `'`).
const CLASSES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if common_char(b) || b == b'\'' {
            t[c] |= PATH;
        }
        if common_char(b) || b == b'?' {
            t[c] |= QUERY;
        }
        c += 1;
    }
    t
};

fn has_class(c: u8, class: u8) -> bool {
    CLASSES.get(usize::from(c)).is_some_and(|t| t & class != 0)
}

/// `%` followed by two hex digits.
fn escape_at(b: &[u8], i: usize) -> bool {
    b.get(i + 1..i + 3)
        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
}

/// End of a path of plain characters from `i` (at `?`, `#` or the end), or `None` if it holds
/// anything the parser would change: a dot segment (`.`, `..`, or an escaped dot anywhere), a
/// character it would percent-encode, or a `%` that starts no escape.
fn plain_path_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut segment = i;
    loop {
        match b.get(i) {
            None | Some(b'?' | b'#' | b'/') => {
                if matches!(&b[segment..i], b"." | b".." | b"/." | b"/..") {
                    return None;
                }
                match b.get(i) {
                    Some(b'/') => segment = i,
                    _ => return Some(i),
                }
            }
            Some(b'%') => {
                let dot = b.get(i + 1) == Some(&b'2') && matches!(b.get(i + 2), Some(b'e' | b'E'));
                if dot || !escape_at(b, i) {
                    return None;
                }
            }
            Some(&c) if has_class(c, PATH) => {}
            Some(_) => return None,
        }
        i += 1;
    }
}

/// End of a query of plain characters from `i` (at `#` or the end).
fn plain_query_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match b.get(i) {
            None | Some(b'#') => return Some(i),
            Some(b'%') if !escape_at(b, i) => return None,
            Some(&c) if has_class(c, QUERY) => {}
            Some(_) => return None,
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{normalise, normalise_full};
    use super::*;

    fn cfg() -> NormaliseConfig {
        NormaliseConfig::default()
    }

    /// The fast path either declines or agrees with the full parser.
    fn agrees(raw: &str) -> bool {
        match canonicalise_fast(raw, &cfg()) {
            None => false,
            Some(fast) => {
                let fast = fast.into_normalised(&cfg());
                let full = normalise_full(raw, &cfg()).map_err(|e| e.to_string());
                assert_eq!(Ok(fast), full, "{raw:?}");
                true
            }
        }
    }

    #[test]
    fn takes_the_common_case() {
        for raw in [
            "https://item.taobao.com/item.htm?id=678&spm=a21.123",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "HTTP://WWW.Example.COM:80/a?utm_source=x&b=1#top",
            "jd.com/100012043978.html",
            "www.taobao.com",
            "example.com:8080/x",
            "http://a.com?",
            "http://a.com/?spm=1",
            "https://m.tb.cn/h.x",
            "https://example.com:8443/",
        ] {
            assert!(agrees(raw), "declined {raw:?}");
        }
        let jd = normalise("jd.com/1.html", &cfg()).unwrap();
        assert_eq!(jd.canonical, "https://jd.com/1.html");
    }

    #[test]
    fn declines_the_unusual() {
        for raw in [
            "http://淘宝.com/",
            "http://xn--pbt173b.com/",
            "http://192.168.0.1/",
            "http://0x7f.1/",
            "http://[::1]/",
            "http://user@a.com/",
            "http://a.com./",
            "http://a.com/%2e%2e/b",
            "http://a.com/a/../b",
            "http://a.com\\b",
            "http://a.com/b c",
            "http://a.com/?q='",
            "http://a.com/%zz",
            "http://a.com:080/",
            "http://a.com:/",
            "ftp://a.com/",
            "http:/a.com/",
            "a.com:80x/",
            "http://a.com:99999/",
        ] {
            assert!(canonicalise_fast(raw, &cfg()).is_none(), "took {raw:?}");
        }
    }

    fn url_strategy() -> impl Strategy<Value = String> {
        let scheme = prop::sample::select(vec![
            "http://", "https://", "HTTPS://", "hTtP://", "", "", "ftp://", "http:", "a.b:",
        ]);
        let label = "[a-zA-Z0-9_-]{0,6}|xn--[a-z0-9]{1,4}|[0-9]{1,3}|0x[0-9a-f]{1,2}";
        let host = prop::collection::vec(label, 1..4).prop_map(|l| l.join("."));
        let tld = prop::sample::select(vec!["com", "cn", "COM", "co.uk", "1", "a1", "", "com."]);
        let port = "(:[0-9]{0,6})?";
        let path = "(/[a-zA-Z0-9._~!$&'()*+,;=:@%/?#\\\\ \"<>`{}|^\\[\\]-]{0,12})?";
        (scheme, host, tld, port, path).prop_map(|(s, h, t, p, rest)| {
            let dot = if t.is_empty() { "" } else { "." };
            format!("{s}{h}{dot}{t}{p}{rest}")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn fast_path_agrees_with_the_parser(raw in url_strategy()) {
            agrees(&raw);
        }

        #[test]
        fn fast_path_agrees_on_queries(q in "[a-zA-Z0-9_=&%?/.:@!$()*+,;~-]{0,24}") {
            agrees(&format!("https://item.taobao.com/item.htm?{q}"));
        }
    }
}
