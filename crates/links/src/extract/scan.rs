//! The scanner: twitter-text's `extractUrl` regular expression and `extractUrlsWithIndices` post-processing,
//! rewritten as a single left-to-right pass over precomputed per-character tables, so that hostile input
//! (long runs of dots, colons, slashes, labels) costs linear time instead of regex backtracking.
//!
//! All positions here are indices into the word's characters: `char`s, or bytes when the word is
//! ASCII (the same code serves both, through [`Ch`]).

use super::chars::may_follow_tld;
use super::chars::{
    Ch, is_ascii_domain_char, is_domain_char, is_label_char, is_path_char, is_path_ending_char,
    is_query_char, is_query_ending_char, is_valid_preceding,
};
use super::tld::{is_listed_tld, tld_end};

const NONE: u32 = u32::MAX;
/// twitter-text `MAX_TCO_SLUG_LENGTH`.
const MAX_TCO_SLUG: usize = 40;
/// DNS label limit used by twitter-text's `idna.toAscii`.
const MAX_LABEL_LEN: usize = 63;

/// One URL found by the scanner, as char indices `[start, end)`, with its host `[host_start, host_end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub host_start: usize,
    pub host_end: usize,
    pub has_scheme: bool,
}

/// Per-character facts, filled right to left, lazily: only for the run of label characters and dots
/// a candidate host starts in (the tables are built only around dots, never over paths).
#[derive(Clone, Copy)]
pub(crate) struct Cell {
    /// For a label character: end of its run of label characters.
    run_end: u32,
    /// For a domain character: end of `validDomain` when matched from here, or `NONE`.
    domain_end: u32,
    /// Right after a dot: end of the TLD starting here, or `NONE`.
    tld: u32,
    /// For a label character: does the rest of its run contain `_`?
    underscore: bool,
    /// Filled in. Within a run of label characters and dots, the filled cells are always a suffix
    /// of the run, so each cell is filled at most once per word.
    done: bool,
}

const EMPTY: Cell = Cell {
    run_end: NONE,
    domain_end: NONE,
    tld: NONE,
    underscore: false,
    done: false,
};

fn to_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NONE)
}

fn is_run_char(ch: char) -> bool {
    ch == '.' || is_label_char(ch)
}

/// End of `validDomain` matched from `d`, or `NONE`, filling the cells it depends on (all to its
/// right, up to the end of its run of label characters and dots) first.
fn domain_end_at<T: Ch>(c: &[T], t: &mut [Cell], d: usize) -> u32 {
    let n = c.len().min(t.len());
    if d >= n {
        return NONE;
    }
    if !t[d].done {
        let mut k = d;
        while k < n && !t[k].done && is_run_char(c[k].ch()) {
            k += 1;
        }
        for p in (d..k).rev() {
            fill_cell(c, t, p);
        }
    }
    t[d].domain_end
}

/// Fill `t[p]`; the cells of its run to the right are filled, and cells outside any run are empty
/// (which is also what filling them would give: a TLD starts with a label character).
fn fill_cell<T: Ch>(c: &[T], t: &mut [Cell], p: usize) {
    let n = c.len();
    t[p].done = true;
    let ch = c[p].ch();
    if p > 0 && c[p - 1].ch() == '.' {
        // Computed once per dot, not once per label start.
        t[p].tld = tld_end(c, p, n).map_or(NONE, to_u32);
    }
    if !is_label_char(ch) {
        return;
    }
    let next_in_run = p + 1 < n && is_label_char(c[p + 1].ch());
    t[p].run_end = if next_in_run {
        t[p + 1].run_end
    } else {
        to_u32(p + 1)
    };
    t[p].underscore = ch == '_' || (next_in_run && t[p + 1].underscore);
    if !is_domain_char(ch) {
        return;
    }
    let e = t[p].run_end as usize;
    if e + 1 >= n || c[e].ch() != '.' {
        return;
    }
    // `validSubdomain` / `validDomainName`: start and end with a domain char; a name has no `_`.
    let sub_ok = is_domain_char(c[e - 1].ch());
    let name_ok = sub_ok && !t[p].underscore;
    let q = e + 1;
    // Greedy `validSubdomain*`: prefer using this label as a subdomain of a longer domain.
    if sub_ok && t[q].domain_end != NONE {
        t[p].domain_end = t[q].domain_end;
    } else if name_ok {
        t[p].domain_end = t[q].tld;
    }
}

fn protocol_len<T: Ch>(c: &[T], i: usize) -> Option<usize> {
    if !matches!(c[i].ch(), 'h' | 'H') {
        return None;
    }
    let lower = |k: usize| c.get(i + k).map(|x| x.ch().to_ascii_lowercase());
    let http = (0..4).all(|k| lower(k) == "http".chars().nth(k));
    if !http {
        return None;
    }
    let mut k = 4;
    if lower(k) == Some('s') {
        k += 1;
    }
    (lower(k) == Some(':') && lower(k + 1) == Some('/') && lower(k + 2) == Some('/'))
        .then_some(k + 3)
}

/// `validUrlBalancedParens` at `k` (where `c[k] == '('`): one nesting level, non-empty contents.
fn balanced_parens<T: Ch>(c: &[T], k: usize) -> Option<usize> {
    let n = c.len();
    let at = |j: usize| c.get(j).map(|x| x.ch());
    let run = |mut j: usize| {
        while j < n && is_path_char(c[j].ch()) {
            j += 1;
        }
        j
    };
    let j = run(k + 1);
    match at(j) {
        Some(')') if j > k + 1 => Some(j + 1),
        Some('(') => {
            let inner = run(j + 1);
            if inner == j + 1 || at(inner) != Some(')') {
                return None;
            }
            let after = run(inner + 1);
            (at(after) == Some(')')).then_some(after + 1)
        }
        _ => None,
    }
}

/// `validUrlPath*` after the `/` at `p - 1`: the longest run of path characters and balanced
/// parentheses that ends in an ending character or a balanced group.
fn path_end<T: Ch>(c: &[T], p: usize) -> usize {
    let mut good = p;
    let mut k = p;
    while k < c.len() {
        let ch = c[k].ch();
        if is_path_char(ch) {
            k += 1;
            if is_path_ending_char(ch) {
                good = k;
            }
        } else if ch == '(' {
            match balanced_parens(c, k) {
                Some(e) => {
                    k = e;
                    good = k;
                }
                None => break,
            }
        } else {
            break;
        }
    }
    good
}

/// `\?validUrlQueryChars*validUrlQueryEndingChars` after the `?` at `p - 1`.
fn query_end<T: Ch>(c: &[T], p: usize) -> Option<usize> {
    let mut good = None;
    let mut k = p;
    while k < c.len() && is_query_char(c[k].ch()) {
        k += 1;
        if is_query_ending_char(c[k - 1].ch()) {
            good = Some(k);
        }
    }
    good
}

/// `validAsciiDomain` matched globally over the domain `[d, e)` (look-ahead sees `e` as end of text).
fn ascii_domains<T: Ch>(c: &[T], d: usize, e: usize) -> Vec<(usize, usize)> {
    let len = e - d;
    // ends[k]: end of a match starting at d + k, computed right to left like `Tables`.
    let mut ends = vec![NONE; len];
    let mut run_end = vec![NONE; len];
    for k in (0..len).rev() {
        let p = d + k;
        if !is_ascii_domain_char(c[p].ch()) {
            continue;
        }
        let re = if k + 1 < len && is_ascii_domain_char(c[p + 1].ch()) {
            run_end[k + 1]
        } else {
            to_u32(p + 1)
        };
        run_end[k] = re;
        let re = re as usize;
        if re >= e || c[re].ch() != '.' || re + 1 >= e {
            continue;
        }
        let next = re + 1 - d;
        ends[k] = if ends[next] != NONE {
            ends[next]
        } else {
            tld_end(c, re + 1, e).map_or(NONE, to_u32)
        };
    }
    let mut out = Vec::new();
    let mut k = 0;
    while k < len {
        if ends[k] != NONE {
            let end = ends[k] as usize;
            out.push((d + k, end));
            k = end - d;
        } else {
            k += 1;
        }
    }
    out
}

/// twitter-text `idna.toAscii` + `isValidUrl`: label lengths after punycode and the overall length cap.
fn valid_url<T: Ch>(
    c: &[T],
    url: (usize, usize),
    domain: (usize, usize),
    proto: usize,
    max_len: usize,
) -> bool {
    let dom = &c[domain.0..domain.1];
    let xn = dom.len() >= 4 && dom[..4].iter().map(|x| x.ch()).eq(['x', 'n', '-', '-']);
    if xn && ascii_domains(c, domain.0, domain.1).is_empty() {
        return false;
    }
    let mut puny_len = 0usize;
    for (i, label) in dom.split(|x| x.ch() == '.').enumerate() {
        // punycode.js also treats ideographic and full-width full stops as separators.
        let mut label_len = 0usize;
        for (j, part) in label
            .split(|x| matches!(x.ch(), '\u{3002}' | '\u{FF0E}' | '\u{FF61}'))
            .enumerate()
        {
            label_len += usize::from(j > 0);
            if part.iter().all(|x| x.ch().is_ascii()) {
                label_len += part.len();
            } else if part.len() > MAX_LABEL_LEN {
                return false; // punycode output is longer than its input: no need to encode.
            } else {
                let s: String = part.iter().map(|x| x.ch()).collect();
                match idna::punycode::encode_str(&s) {
                    Some(p) => label_len += 4 + p.len(),
                    None => return false,
                }
            }
        }
        if label_len == 0 || label_len > MAX_LABEL_LEN {
            return false;
        }
        puny_len += label_len + usize::from(i > 0);
    }
    let url_len = utf16_len(&c[url.0..url.1]);
    let total = proto + url_len + puny_len;
    total.saturating_sub(utf16_len(dom)) <= max_len
}

fn utf16_len<T: Ch>(s: &[T]) -> usize {
    s.iter().map(|x| x.ch().len_utf16()).sum()
}

/// The common host, decided without the tables: at `d` (right after `http://` or `https://`), two
/// or more plain labels (ASCII letters, digits and inner hyphens, 1–63 characters, none hyphenated
/// at positions 3–4, so never `xn--`), the last a listed TLD of letters and digits, followed by the
/// end of the word or by an ASCII character that ends a label run and may follow a TLD (`/`, `?`,
/// `:`, `#`, `,`…). Returns the host's end, or `None` to ask the tables.
///
/// Why the tables would give the same end: within a plain label only its end can satisfy the TLD
/// look-ahead, so the last label is a TLD exactly when it is listed; the label before it is then a
/// `validDomainName` ending there (its own run does not reach a dot after the host); and each
/// label before that is a `validSubdomain` whose greedy match takes the rest. `valid_url`'s label
/// checks are the ones made here, and a plain host is its own punycode.
fn plain_host_end<T: Ch>(c: &[T], d: usize) -> Option<usize> {
    let mut k = d;
    let mut label = d;
    let mut labels = 0usize;
    let end = loop {
        match c.get(k).map(|x| x.ch()) {
            Some('a'..='z' | 'A'..='Z' | '0'..='9' | '-') => {}
            Some('.') => {
                plain_label(c, label, k)?;
                labels += 1;
                label = k + 1;
            }
            next => {
                if let Some(x) = next
                    && !(x.is_ascii() && !is_label_char(x) && may_follow_tld(next))
                {
                    return None;
                }
                break k;
            }
        }
        k += 1;
    };
    plain_label(c, label, end)?;
    let tld = &c[label..end];
    if labels == 0 || !tld.iter().all(|x| x.ch().is_ascii_alphanumeric()) {
        return None;
    }
    let mut buf = [0u8; 64];
    for (b, x) in buf.iter_mut().zip(tld) {
        *b = x.ch().to_ascii_lowercase() as u8;
    }
    let name = std::str::from_utf8(buf.get(..tld.len())?).ok()?;
    is_listed_tld(name).then_some(end)
}

/// No match starts before this index, so the positions before it need no look. A match's host
/// holds a dot, or is a bracketed IPv6 literal, and every character from the host's start to the
/// first mark (`.` or `[`) after it is a label character. Every host therefore starts after the
/// last other character before the word's first mark, and a match at most a scheme (`https://`,
/// eight characters) earlier. In a word such as `看看：https://…` this skips the text glued before
/// the URL, which would otherwise fill the tables one character at a time.
fn first_possible_start<T: Ch>(c: &[T]) -> usize {
    let Some(mark) = c.iter().position(|x| matches!(x.ch(), '.' | '[')) else {
        return c.len();
    };
    let host = c[..mark]
        .iter()
        .rposition(|x| !is_label_char(x.ch()))
        .map_or(0, |b| b + 1);
    host.saturating_sub(8)
}

/// `c[from..to]` is a plain label: 1–63 characters, not starting or ending with `-`, no `--` at
/// positions 3–4. (Its characters were checked by the caller.)
fn plain_label<T: Ch>(c: &[T], from: usize, to: usize) -> Option<()> {
    let l = c.get(from..to)?;
    let ok = (1..=MAX_LABEL_LEN).contains(&l.len())
        && l.first().is_some_and(|x| x.ch() != '-')
        && l.last().is_some_and(|x| x.ch() != '-')
        && !(l.len() >= 4 && l[2].ch() == '-' && l[3].ch() == '-');
    ok.then_some(())
}

/// `validTcoUrl` applied to a schemed URL: `Some(None)` = not t.co, `Some(Some(end))` = cut at `end`,
/// `None` = a t.co slug too long (no URL at all).
fn tco_cut<T: Ch>(c: &[T], start: usize, proto: usize, end: usize) -> Option<Option<usize>> {
    let host = start + proto;
    let is_tco = end >= host + 5
        && c[host..host + 5]
            .iter()
            .map(|x| x.ch().to_ascii_lowercase())
            .eq("t.co/".chars());
    if !is_tco {
        return Some(None);
    }
    let slug_start = host + 5;
    let mut k = slug_start;
    while k < end && c[k].ch().is_ascii_alphanumeric() {
        k += 1;
    }
    if k == slug_start {
        return Some(None);
    }
    if k - slug_start > MAX_TCO_SLUG {
        return None;
    }
    if k < end
        && c[k].ch() == '?'
        && let Some(q) = query_end(&c[..end], k + 1)
    {
        k = q;
    }
    Some(Some(k))
}

/// End of an IPv4 (`192.0.2.1`) or bracketed IPv6 (`[2001:db8::1]`) literal starting at `d`.
fn ip_literal_end<T: Ch>(c: &[T], d: usize) -> Option<usize> {
    const MAX_IP_CHARS: usize = 47;
    if c.get(d).map(|x| x.ch()) == Some('[') {
        let close = (d + 1..c.len().min(d + MAX_IP_CHARS)).find(|&k| c[k].ch() == ']')?;
        let inner: String = c[d + 1..close].iter().map(|x| x.ch()).collect();
        return inner
            .parse::<std::net::Ipv6Addr>()
            .is_ok()
            .then_some(close + 1);
    }
    let mut k = d;
    while k < c.len() && k - d < MAX_IP_CHARS && (c[k].ch().is_ascii_digit() || c[k].ch() == '.') {
        k += 1;
    }
    while k > d && c[k - 1].ch() == '.' {
        k -= 1;
    }
    if c.get(k).is_some_and(|x| is_label_char(x.ch())) {
        return None;
    }
    let ip: String = c[d..k].iter().map(|x| x.ch()).collect();
    ip.parse::<std::net::Ipv4Addr>().is_ok().then_some(k)
}

/// Find URLs in `c`, at most `max_urls`, each at most `max_url_len` UTF-16 units long.
/// Spans are appended to `out`; `tables` is scratch space reused between calls.
pub(crate) fn scan<T: Ch>(
    c: &[T],
    max_urls: usize,
    max_url_len: usize,
    tables: &mut Vec<Cell>,
    out: &mut Vec<Span>,
) {
    scan_with(c, max_urls, max_url_len, tables, out, Shortcut::Plain);
}

/// Whether [`scan`] may decide a plain host without the tables ([`plain_host_end`]). Only the
/// tests turn it off, to check the shortcut against the tables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shortcut {
    Plain,
    #[cfg(test)]
    Off,
}

fn scan_with<T: Ch>(
    c: &[T],
    max_urls: usize,
    max_url_len: usize,
    tables: &mut Vec<Cell>,
    out: &mut Vec<Span>,
    shortcut: Shortcut,
) {
    let n = c.len();
    if out.len() >= max_urls {
        return;
    }
    // Filled on first use: a word whose only URL has a plain host never needs them.
    tables.clear();
    // `validUrlPrecedingChars` consumes one character, so a match cannot start right after the previous one.
    let mut avail = 0usize;
    let mut i = match shortcut {
        // A word that starts with its scheme (the common case) has nothing to skip.
        Shortcut::Plain if !c.is_empty() && protocol_len(c, 0).is_none() => first_possible_start(c),
        _ => 0,
    };
    while i < n && out.len() < max_urls {
        if i > 0 && (i - 1 < avail || !is_valid_preceding(c[i - 1].ch())) {
            i += 1;
            continue;
        }
        let proto = protocol_len(c, i);
        let d = i + proto.unwrap_or(0);
        let plain = match proto {
            Some(_) if shortcut == Shortcut::Plain => plain_host_end(c, d),
            _ => None,
        };
        let host_end = plain.or_else(|| {
            if tables.len() != n {
                tables.resize(n, EMPTY);
            }
            match domain_end_at(c, tables, d) {
                NONE => None,
                end => Some(end as usize),
            }
        });
        let host_end = match host_end {
            Some(end) => Some(end),
            // Beyond twitter-text: IP literals, only after an explicit scheme (so `1.2.3.4` and
            // version numbers stay text).
            _ if proto.is_some() => ip_literal_end(c, d),
            _ => None,
        };
        let Some(dend) = host_end else {
            i += 1;
            continue;
        };
        let mut m = dend;
        if m + 1 < n && c[m].ch() == ':' && c[m + 1].ch().is_ascii_digit() {
            m += 1;
            while m < n && c[m].ch().is_ascii_digit() {
                m += 1;
            }
        }
        let has_path = m < n && c[m].ch() == '/';
        if has_path {
            m = path_end(c, m + 1);
        }
        if m < n
            && c[m].ch() == '?'
            && let Some(q) = query_end(c, m + 1)
        {
            m = q;
        }
        let start = i;
        avail = m;
        i = m;
        // twitter-text counts the default protocol ("https://") for scheme-less URLs.
        let valid = match (plain, proto) {
            // A plain host is its own punycode, with labels already checked: only the length is left.
            (Some(_), Some(p)) => p + utf16_len(&c[start..m]) <= max_url_len,
            _ => valid_url(c, (start, m), (d, dend), proto.unwrap_or(8), max_url_len),
        };
        if !valid {
            continue;
        }
        match proto {
            Some(p) => match tco_cut(c, start, p, m) {
                None => {}
                Some(cut) => out.push(Span {
                    start,
                    end: cut.unwrap_or(m),
                    host_start: d,
                    host_end: dend,
                    has_scheme: true,
                }),
            },
            None => {
                if start > 0 && matches!(c[start - 1].ch(), '-' | '_' | '.' | '/') {
                    continue;
                }
                let found = ascii_domains(c, d, dend);
                let last = found.len().saturating_sub(1);
                for (k, (a, b)) in found.into_iter().enumerate() {
                    if out.len() >= max_urls {
                        break;
                    }
                    let end = if k == last && has_path { m } else { b };
                    out.push(Span {
                        start: a,
                        end,
                        host_start: a,
                        host_end: b,
                        has_scheme: false,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn spans<T: Ch>(c: &[T], shortcut: Shortcut) -> Vec<Span> {
        let mut out = Vec::new();
        scan_with(c, 100, 4096, &mut Vec::new(), &mut out, shortcut);
        out
    }

    /// The shortcut and the tables agree on `word`, scanned as bytes (when ASCII) and as chars.
    fn agree(word: &str) -> Result<(), TestCaseError> {
        let chars: Vec<char> = word.chars().collect();
        prop_assert_eq!(
            spans(&chars, Shortcut::Plain),
            spans(&chars, Shortcut::Off),
            "{}",
            word
        );
        if word.is_ascii() {
            let plain = spans(word.as_bytes(), Shortcut::Plain);
            prop_assert_eq!(&plain, &spans(word.as_bytes(), Shortcut::Off), "{}", word);
            prop_assert_eq!(plain, spans(&chars, Shortcut::Off), "{}", word);
        }
        Ok(())
    }

    #[test]
    fn the_shortcut_takes_common_hosts_and_agrees_on_them() {
        for word in [
            "https://item.taobao.com/item.htm?id=123&spm=a21",
            "HTTP://WWW.JD.COM",
            "https://m.shop12.com.cn:8443/x",
            "https://a-b.example.org#frag",
            "https://t.co/abc123?x=1",
            "看看https://b23.tv/abc，好",
        ] {
            let chars: Vec<char> = word.chars().collect();
            let at = word.find("://").map(|p| word[..p + 3].chars().count());
            assert!(
                at.and_then(|d| plain_host_end(&chars, d)).is_some(),
                "{word}"
            );
            agree(word).unwrap();
        }
        // What the shortcut leaves to the tables.
        for host in [
            "localhost/",
            "a.notatld/",
            "xn--80ak6aa92e.com/",
            "a_b.com/",
            "-a.com/",
            "a..com/",
            "a.com./",
            "a.com_x",
            "a.com@b",
            "a.com+",
            "a.com中",
            "a.c-om/",
        ] {
            assert_eq!(plain_host_end(host.as_bytes(), 0), None, "{host}");
        }
        let long = format!("https://{}.com/", "a".repeat(64));
        agree(&long).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn the_shortcut_agrees_with_the_tables(
            words in prop::collection::vec(
                "[a-z中(@.]{0,2}(https?://|HTTPS://|)([a-zA-Z0-9_-]{0,4}\\.){0,3}(com|cn|Com|co|zz|xn--p1ai|中国|bz2|[a-z]{0,3})[/?:#.@+,)\"`_中-]?[a-z0-9/?=&.:()-]{0,8}",
                1..4,
            )
        ) {
            agree(&words.concat())?;
        }
    }
}
