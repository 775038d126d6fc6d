//! Payment links: wallet deep links and payment URLs (`alipays://…`, `weixin://wxpay/…`,
//! `https://qr.alipay.com/fkx…`, `wxp://…`, `upwallet://…`, `https://qr.95516.com/…`, `jdpay://…`)
//! and EMVCo merchant-presented QR payloads pasted as text (`000201…6304XXXX`). The link forms are
//! registry data (`payment_links` of a wallet's platform in `data/platforms.toml`); this module
//! compiles them, with the payload's start `000201`, into one Aho-Corasick matcher.
//!
//! A link runs from its prefix over URL characters; a code form (`code = [min, max]`) must be one
//! code that ends the path, so `https://qr.alipay.com/help.htm` is not a payment. A payload counts
//! only when its TLV structure parses to a tag 63 whose CRC-16/CCITT-FALSE matches: a number that
//! merely starts `000201` is not a payment code. The automaton is asked, anchored, only at each
//! `://` (from its scheme) and each `000201`; each match is parsed at most once and the scan
//! resumes after it, and a payload is at most [`EMVCO_MAX`] characters, so the work is linear.

use std::ops::Range;

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

use crate::share::{Counter, classes};

/// The longest EMVCo payload: the spec caps the QR payload at 512 characters.
pub const EMVCO_MAX: usize = 512;

/// One payment-link form of a wallet, as written in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaymentLinkFormat {
    /// How the link starts, lower case (`alipays://`, `https://qr.alipay.com/`); an `https://`
    /// prefix also matches `http://`.
    pub prefixes: Vec<String>,
    /// When set, the rest must be one code of ASCII letters, digits, `-`, `_` and `/` of this many
    /// bytes, ending the path (a query or fragment may follow).
    pub code: Option<(usize, usize)>,
    /// How many of upper case, lower case and digit the code mixes at least.
    pub min_classes: u8,
    /// GUIDs or AIDs (upper case) in sub-tag 00 of an EMVCo merchant account template (tags 26-51).
    pub emvco_ids: Vec<String>,
    /// Primitive EMVCo merchant account tags (02-25) reserved to this provider.
    pub emvco_tags: Vec<u8>,
}

/// What kind of payment a [`FoundPayment`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentForm {
    /// A wallet deep link or payment URL.
    Link,
    /// An EMVCo merchant-presented QR payload with a valid CRC.
    Emvco,
}

/// A payment link or code found in a text. Spans are half-open, in bytes, Unicode code points and
/// UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FoundPayment<'a> {
    /// The link or payload as written.
    pub text: &'a str,
    /// Index of its wallet's platform in [`Registry::platforms`](crate::Registry::platforms);
    /// `None` for an EMVCo payload of a provider the registry does not know (see
    /// [`Registry::payment_wallet`](crate::Registry::payment_wallet)).
    pub platform: Option<usize>,
    /// Link or EMVCo payload.
    pub form: PaymentForm,
    /// Start offset in bytes.
    pub byte_start: usize,
    /// End offset in bytes (exclusive).
    pub byte_end: usize,
    /// Start offset in Unicode code points.
    pub start: usize,
    /// End offset in Unicode code points (exclusive).
    pub end: usize,
    /// Start offset in UTF-16 code units.
    pub start_utf16: usize,
    /// End offset in UTF-16 code units (exclusive).
    pub end_utf16: usize,
}

/// What a matcher pattern stands for.
#[derive(Debug, Clone)]
enum Pattern {
    /// `(platform, format index)`.
    Link(usize, usize),
    /// `000201`, the start of an EMVCo payload.
    Emvco,
}

/// Every wallet's forms, compiled.
#[derive(Debug, Clone)]
pub(crate) struct PaymentMatcher {
    starts: AhoCorasick,
    patterns: Vec<Pattern>,
    formats: Vec<PaymentLinkFormat>,
    /// Upper-case GUID/AID → platform.
    ids: Vec<(String, usize)>,
    /// Primitive merchant account tag → platform.
    tags: Vec<(u8, usize)>,
}

/// Where a payment link or payload may start in `bytes`, in order: the scheme before each `://`,
/// which every link form holds (the registry refuses a prefix without one), and each `000201`,
/// which starts every EMVCo payload. One vectorised pass for `:` and `0` finds them; most messages
/// hold neither mark, and the ≤ 100 ns budget of a message without links depends on skipping the
/// automaton then.
fn candidates(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr2_iter(b':', b'0', bytes).filter_map(|at| match bytes.get(at) {
        Some(b':') if bytes.get(at + 1..at + 3) == Some(b"//".as_slice()) => {
            Some(scheme_start(bytes, at))
        }
        Some(b'0') if bytes.get(at..at + 6) == Some(b"000201".as_slice()) => Some(at),
        _ => None,
    })
}

/// Where the scheme ending at the `:` at `colon` starts: the run of scheme characters (RFC 3986:
/// letters, digits, `+`, `-`, `.`) before it. A prefix found anywhere later in that run would follow
/// a scheme character, so it is some other scheme (`xalipays://`) and not a payment link.
fn scheme_start(bytes: &[u8], colon: usize) -> usize {
    let mut start = colon;
    while start > 0
        && bytes
            .get(start - 1)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        start -= 1;
    }
    start
}

/// Bytes a link may contain (RFC 3986 unreserved, reserved and `%`).
fn is_url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// Bytes of a code form's code.
fn is_code_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/')
}

impl PaymentMatcher {
    /// `None` when the registry has no payment forms.
    pub(crate) fn new<'a>(
        formats: impl IntoIterator<Item = (usize, &'a PaymentLinkFormat)>,
    ) -> Option<Self> {
        let mut texts: Vec<String> = vec!["000201".to_owned()];
        let mut patterns = vec![Pattern::Emvco];
        let mut all = Vec::new();
        let mut ids = Vec::new();
        let mut tags = Vec::new();
        for (platform, format) in formats {
            let fi = all.len();
            all.push(format.clone());
            for prefix in &format.prefixes {
                let mut variants = vec![prefix.clone()];
                if let Some(rest) = prefix.strip_prefix("https://") {
                    variants.push(format!("http://{rest}"));
                }
                for v in variants {
                    texts.push(v);
                    patterns.push(Pattern::Link(platform, fi));
                }
            }
            ids.extend(format.emvco_ids.iter().map(|id| (id.clone(), platform)));
            tags.extend(format.emvco_tags.iter().map(|&t| (t, platform)));
        }
        if all.is_empty() {
            return None;
        }
        let starts = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .start_kind(StartKind::Anchored)
            .build(&texts)
            .ok()?;
        Some(Self {
            starts,
            patterns,
            formats: all,
            ids,
            tags,
        })
    }

    /// Payment links and codes in `text`, in order, at most `max`. `urls` are the text's URL spans
    /// (sorted, as [`extract`](crate::extract) gives them): a payment URL that starts one takes the
    /// URL's extent, so the two agree; anything starting inside a URL is part of it, not counted.
    pub(crate) fn find<'a>(
        &self,
        text: &'a str,
        urls: &[Range<usize>],
        max: usize,
    ) -> Vec<FoundPayment<'a>> {
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        let bytes = text.as_bytes();
        let mut last_end = 0;
        let mut url_at = 0;
        let mut counter = Counter::default();
        // The automaton is asked only where a link or payload may start, anchored there, instead
        // of over the whole text: a case-insensitive automaton has no fast prefilter.
        for start in candidates(bytes) {
            if start < last_end {
                continue;
            }
            let input = Input::new(text).range(start..).anchored(Anchored::Yes);
            let Ok(Some(m)) = self.starts.try_find(input) else {
                continue;
            };
            while urls.get(url_at).is_some_and(|r| r.end <= start) {
                url_at += 1;
            }
            let url = urls.get(url_at).filter(|r| r.start <= start);
            if url.is_some_and(|r| r.start < start) {
                continue;
            }
            let found = match self.patterns.get(m.pattern().as_usize()) {
                Some(Pattern::Link(platform, fi)) => self
                    .link(bytes, start, m.end(), *fi, url.map(|r| r.end))
                    .map(|end| (end, Some(*platform), PaymentForm::Link)),
                Some(Pattern::Emvco) => self
                    .emvco(text, start)
                    .map(|(end, platform)| (end, platform, PaymentForm::Emvco)),
                None => None,
            };
            let Some((end, platform, form)) = found else {
                continue;
            };
            let Some(matched) = text.get(start..end) else {
                continue;
            };
            let (cp_start, u16_start) = counter.advance(text, start);
            let (cp_end, u16_end) = counter.advance(text, end);
            out.push(FoundPayment {
                text: matched,
                platform,
                form,
                byte_start: start,
                byte_end: end,
                start: cp_start,
                end: cp_end,
                start_utf16: u16_start,
                end_utf16: u16_end,
            });
            last_end = end;
            if out.len() >= max {
                break;
            }
        }
        out
    }

    /// The end of the link whose prefix is `start..prefix_end`, if it is one of format `fi`.
    fn link(
        &self,
        bytes: &[u8],
        start: usize,
        prefix_end: usize,
        fi: usize,
        url_end: Option<usize>,
    ) -> Option<usize> {
        let format = self.formats.get(fi)?;
        // `xalipays://` or `1wxp://` is some other scheme.
        if start > 0
            && bytes
                .get(start - 1)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return None;
        }
        let end = match url_end {
            Some(end) => end,
            None => link_end(bytes, prefix_end),
        };
        let rest = bytes.get(prefix_end..end)?;
        match format.code {
            None => (!rest.is_empty()).then_some(end),
            Some((min, max)) => {
                let mut len = rest.iter().take_while(|&&b| is_code_byte(b)).count();
                let follows = rest.get(len).copied();
                if !matches!(follows, None | Some(b'?' | b'#')) {
                    return None;
                }
                while len > 0 && rest.get(len - 1) == Some(&b'/') {
                    len -= 1;
                }
                let code = rest.get(..len)?;
                (len >= min && len <= max && classes(code) >= format.min_classes).then_some(end)
            }
        }
    }

    /// The end and provider of the EMVCo payload starting at `start`, if it is one.
    fn emvco(&self, text: &str, start: usize) -> Option<(usize, Option<usize>)> {
        let bytes = text.as_bytes();
        if start > 0 && bytes.get(start - 1).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        let payload = parse_emvco(text.get(start..)?)?;
        let end = start + payload.len;
        if bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        let by_tag = payload.merchant_tags.iter().find_map(|t| {
            self.tags
                .iter()
                .find(|(tag, _)| tag == t)
                .map(|&(_, platform)| platform)
        });
        let by_id = payload.merchant_ids.iter().find_map(|id| {
            self.ids
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(id))
                .map(|&(_, platform)| platform)
        });
        Some((end, by_id.or(by_tag)))
    }
}

/// Where a link starting before `from` ends: the run of URL bytes, less trailing punctuation that
/// ends a sentence, and a `)` that closes nothing in the link.
fn link_end(bytes: &[u8], from: usize) -> usize {
    let mut end = from;
    while bytes.get(end).copied().is_some_and(is_url_byte) {
        end += 1;
    }
    loop {
        match bytes.get(end.wrapping_sub(1)) {
            Some(b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' | b'"') if end > from => end -= 1,
            Some(b')') if end > from => {
                let link = bytes.get(from..end).unwrap_or_default();
                let open = link.iter().filter(|&&b| b == b'(').count();
                let close = link.iter().filter(|&&b| b == b')').count();
                if close > open {
                    end -= 1;
                } else {
                    break;
                }
            }
            _ => break,
        }
    }
    end
}

/// What the scan needs of a payload.
#[derive(Debug, Default)]
pub(crate) struct Emvco {
    /// Length in bytes, through the CRC.
    pub(crate) len: usize,
    /// Sub-tag 00 of each merchant account template (26-51).
    pub(crate) merchant_ids: Vec<String>,
    /// The primitive merchant account tags present (02-25).
    pub(crate) merchant_tags: Vec<u8>,
}

/// Two ASCII digits as a number.
fn two_digits(b: &[u8]) -> Option<usize> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            Some(usize::from(a - b'0') * 10 + usize::from(c - b'0'))
        }
        _ => None,
    }
}

/// The byte length of the first `n` characters of `s`, if it has that many.
fn chars_len(s: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(0);
    }
    s.char_indices().nth(n - 1).map(|(i, c)| i + c.len_utf8())
}

/// Parses an EMVCo merchant-presented payload at the start of `s` (which may go on after it): the
/// TLV data objects from `00 02 01` to the CRC in tag 63, lengths in characters. `None` unless the
/// structure holds and the CRC-16/CCITT-FALSE over everything before the CRC value matches.
pub(crate) fn parse_emvco(s: &str) -> Option<Emvco> {
    let bytes = s.as_bytes();
    if !bytes.starts_with(b"000201") {
        return None;
    }
    let mut out = Emvco::default();
    let mut at = 0;
    let mut chars = 0;
    loop {
        let tag = two_digits(bytes.get(at..at + 2)?)?;
        let len = two_digits(bytes.get(at + 2..at + 4)?)?;
        let value_start = at + 4;
        let value_len = chars_len(s.get(value_start..)?, len)?;
        let value = s.get(value_start..value_start + value_len)?;
        chars += 4 + len;
        if chars > EMVCO_MAX || len == 0 {
            return None;
        }
        if tag == 63 {
            if len != 4 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let crc = u16::from_str_radix(value, 16).ok()?;
            if crc16_ccitt_false(bytes.get(..value_start)?) != crc {
                return None;
            }
            out.len = value_start + 4;
            return Some(out);
        }
        match tag {
            2..=25 => out.merchant_tags.push(tag as u8),
            26..=51 => {
                if let Some(id) = sub_tag_00(value) {
                    out.merchant_ids.push(id.to_owned());
                }
            }
            _ => {}
        }
        at = value_start + value_len;
    }
}

/// Sub-tag 00 (the GUID or AID) of a template value, if it has one.
fn sub_tag_00(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let tag = two_digits(bytes.get(at..at + 2)?)?;
        let len = two_digits(bytes.get(at + 2..at + 4)?)?;
        let n = chars_len(value.get(at + 4..)?, len)?;
        if tag == 0 {
            return value.get(at + 4..at + 4 + n);
        }
        at += 4 + n;
    }
    None
}

/// CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR), the
/// checksum of EMVCo QR payloads.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::candidates;

    fn starts(text: &str) -> Vec<usize> {
        candidates(text.as_bytes()).collect()
    }

    #[test]
    fn a_link_may_start_at_each_scheme_and_a_payload_at_each_000201() {
        assert_eq!(starts("://"), [0]);
        assert_eq!(starts("alipays://platformapi"), [0]);
        assert_eq!(starts("付款 wxp://f2f0abc"), [7]);
        assert_eq!(starts("000201"), [0]);
        assert_eq!(starts("码 0000201010212"), [5]);
        assert_eq!(starts("10:30, 1000, then 000201"), [18]);
        // The scheme runs back over letters, digits, `+`, `-` and `.`, and no further.
        assert_eq!(starts("(x-y+z.1://a) https://b"), [1, 14]);
        assert_eq!(starts("a://b://c"), [0, 4]);
    }

    #[test]
    fn texts_with_neither_mark_have_no_candidate() {
        for text in [
            "",
            "明天下午三点见：带上合同",
            "meet at 10:30, room 200, code 00020",
            "http:/ not a link, and 0002 01 apart",
            "ends with a colon:",
            "ends with :/",
            "00020",
        ] {
            assert_eq!(starts(text), Vec::<usize>::new(), "{text}");
        }
    }
}
