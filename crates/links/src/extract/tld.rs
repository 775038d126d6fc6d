//! The compiled-in list of top-level domains (`data/tlds.txt`) and the TLD matcher of the scanner.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::chars::{Ch, is_domain_char, may_follow_tld};
use crate::hash::FastBuild;

/// IANA's root zone as twitter-text lists it; see the header of the file.
const TLDS: &str = include_str!("../../data/tlds.txt");

struct TldSet {
    /// Names of at most eight bytes, packed into a (mixed) `u64`: no pointer to follow, no `memcmp`.
    short: HashSet<u64, FastBuild>,
    /// Longer names.
    long: HashSet<Box<str>, FastBuild>,
    /// Longest TLD in characters: bounds the work per candidate position.
    max_chars: usize,
}

impl TldSet {
    fn contains(&self, name: &str) -> bool {
        match pack(name.as_bytes()) {
            Some(key) => self.short.contains(&key),
            None => self.long.contains(name),
        }
    }
}

/// A name of one to eight bytes as a well-mixed `u64` (a bijection of the zero-padded bytes: TLDs
/// hold no NUL, so distinct names give distinct keys).
fn pack(name: &[u8]) -> Option<u64> {
    if name.is_empty() || name.len() > 8 {
        return None;
    }
    let mut w = [0u8; 8];
    w[..name.len()].copy_from_slice(name);
    let x = u64::from_le_bytes(w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Some(x ^ (x >> 32))
}

fn tlds() -> &'static TldSet {
    static SET: OnceLock<TldSet> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set = TldSet {
            short: HashSet::default(),
            long: HashSet::default(),
            max_chars: 0,
        };
        for line in TLDS.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name = line.to_lowercase();
            set.max_chars = set.max_chars.max(name.chars().count());
            match pack(name.as_bytes()) {
                Some(key) => {
                    set.short.insert(key);
                }
                None => {
                    set.long.insert(name.into_boxed_str());
                }
            }
        }
        set
    })
}

/// Is `name` (any case) a known top-level domain?
pub fn is_known_tld(name: &str) -> bool {
    is_listed_tld(&name.to_lowercase())
}

/// Is the lower-case `name` a known top-level domain?
pub(crate) fn is_listed_tld(name: &str) -> bool {
    tlds().contains(name)
}

/// Where a TLD starting at `q` ends (exclusive), looking no further than `limit` (the look-ahead treats
/// `limit` as end of text). Mirrors `(?:validGTLD|validCCTLD|validPunycode)`: the longest listed TLD
/// followed by a character that may follow one, else `xn--` plus a run of `[-0-9a-z]`.
pub(crate) fn tld_end<T: Ch>(chars: &[T], q: usize, limit: usize) -> Option<usize> {
    let set = tlds();
    // Lower-cased candidate on the stack: TLDs are short (`max_chars` characters, 4 bytes each).
    let mut buf = [0u8; 128];
    let mut len = 0usize;
    let mut best = None;
    let stop = limit.min(q.saturating_add(set.max_chars));
    let mut k = q;
    while k < stop {
        let c = chars[k].ch();
        if !is_domain_char(c) {
            break;
        }
        if c.is_ascii() {
            // The common case, without `to_lowercase`'s iterator.
            if len + 1 > buf.len() {
                return best;
            }
            buf[len] = c.to_ascii_lowercase() as u8;
            len += 1;
        } else {
            for lc in c.to_lowercase() {
                if len + 4 > buf.len() {
                    return best;
                }
                len += lc.encode_utf8(&mut buf[len..]).len();
            }
        }
        k += 1;
        let next = if k < limit { Some(chars[k].ch()) } else { None };
        if may_follow_tld(next)
            && let Ok(name) = std::str::from_utf8(&buf[..len])
            && set.contains(name)
        {
            best = Some(k);
        }
    }
    if best.is_some() {
        return best;
    }
    punycode_tld_end(chars, q, limit)
}

fn punycode_tld_end<T: Ch>(chars: &[T], q: usize, limit: usize) -> Option<usize> {
    let prefix = ['x', 'n', '-', '-'];
    if q + 4 > limit {
        return None;
    }
    let has_prefix = prefix
        .iter()
        .zip(&chars[q..q + 4])
        .all(|(p, c)| c.ch().to_ascii_lowercase() == *p);
    if !has_prefix {
        return None;
    }
    let mut k = q + 4;
    while k < limit && (chars[k].ch().is_ascii_alphanumeric() || chars[k].ch() == '-') {
        k += 1;
    }
    (k > q + 4).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(s: &str) -> Option<usize> {
        let c: Vec<char> = s.chars().collect();
        tld_end(&c, 0, c.len())
    }

    #[test]
    fn matches_listed_tlds_with_lookahead() {
        assert_eq!(end("com"), Some(3));
        assert_eq!(end("COM/x"), Some(3));
        assert_eq!(end("comm"), None);
        assert_eq!(end("com-x"), None);
        assert_eq!(end("comだよね"), Some(3));
        assert_eq!(end("みんなです"), Some(3));
        assert_eq!(end("xn--p1ai/"), Some(8));
        assert_eq!(end("bz2"), None);
        assert!(is_known_tld("中国"));
        assert!(!is_known_tld("baz"));
    }
}
