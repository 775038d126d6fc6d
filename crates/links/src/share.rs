//! Share codes: the passphrases and share texts platforms use instead of URLs where URLs are blocked
//! (`￥AbCd1234XyZ￥ 复制这段描述…打开淘宝`). The formats are registry data (`share_codes` of a platform
//! in `data/platforms.toml`); this module compiles them into one matcher.
//!
//! A code is a run of ASCII letters and digits between an opening and a closing delimiter. The scan
//! looks only for closing delimiters (one Aho-Corasick pass), then walks back over at most
//! `max length + 1` bytes, so it is linear in the text. Before it, a byte-level pre-check (an ASCII
//! letter or digit followed by the first byte of some closing delimiter) turns away the common
//! message that cannot hold a code: the closing delimiters include `/`, `)` and the lead byte of
//! all full-width punctuation, which is in nearly every Chinese message, so the Aho-Corasick pass
//! alone costs ~20 times the rest of the pipeline on a message without any link.

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};

/// One share-code format of a platform, as written in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShareCodeFormat {
    /// `(open, close)` pairs around the code, e.g. `("￥", "￥")` or `("(", ")")`. An empty `open`
    /// means "at the start of a word" (e.g. Douyin's `Tlp:/`).
    pub delimiters: Vec<(String, String)>,
    /// Shortest code body, in ASCII letters and digits.
    pub min_len: usize,
    /// Longest code body.
    pub max_len: usize,
    /// How many of the classes upper case, lower case and digit the body mixes at least: random
    /// codes mix them, words and prices do not.
    pub min_classes: u8,
    /// Phrases that name the platform in the message (`打开淘宝`); when one is present this format's
    /// platform wins over a format without a present cue.
    pub cues: Vec<String>,
    /// Only a code in a message containing one of `cues` counts.
    pub cue_required: bool,
}

/// A share code found in a text. Spans are half-open and include the delimiters (what a person
/// copies), in bytes, Unicode code points and UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FoundCode<'a> {
    /// The code as written, delimiters included.
    pub code: &'a str,
    /// Index of its platform in [`Registry::platforms`](crate::Registry::platforms).
    pub platform: usize,
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

/// Every format of every platform, compiled.
#[derive(Debug, Clone)]
pub(crate) struct ShareMatcher {
    /// Distinct closing delimiters.
    closes: AhoCorasick,
    /// Per closing delimiter (pattern id): `(format index, open)`, in registry order.
    by_close: Vec<Vec<(usize, String)>>,
    /// `(platform index, format)`.
    formats: Vec<(usize, ShareCodeFormat)>,
    /// Longest body of any format: how far the scan walks back.
    max_len: usize,
    /// Per byte value: [`ALNUM`] for an ASCII letter or digit, [`CLOSE`] for the first byte of a
    /// closing delimiter (derived from the registry data).
    class: [u8; 256],
}

/// Byte classes of the pre-check; `CLOSE` is `ALNUM << 1` so one shift lines them up.
const ALNUM: u8 = 1;
const CLOSE: u8 = 2;
/// Bytes per branch-free step of the pre-check.
const CHUNK: usize = 32;

/// Bit per character class: upper, lower, digit.
pub(crate) fn classes(body: &[u8]) -> u8 {
    let mut bits = 0u8;
    for &b in body {
        bits |= match b {
            b'A'..=b'Z' => 1,
            b'a'..=b'z' => 2,
            _ => 4,
        };
    }
    bits.count_ones() as u8
}

impl ShareMatcher {
    /// `None` when no platform has a format.
    pub(crate) fn new<'a>(
        formats: impl IntoIterator<Item = (usize, &'a ShareCodeFormat)>,
    ) -> Option<Self> {
        let formats: Vec<(usize, ShareCodeFormat)> =
            formats.into_iter().map(|(i, f)| (i, f.clone())).collect();
        let mut close_texts: Vec<String> = Vec::new();
        let mut by_close: Vec<Vec<(usize, String)>> = Vec::new();
        for (fi, (_, format)) in formats.iter().enumerate() {
            for (open, close) in &format.delimiters {
                let id = match close_texts.iter().position(|c| c == close) {
                    Some(id) => id,
                    None => {
                        close_texts.push(close.clone());
                        by_close.push(Vec::new());
                        close_texts.len() - 1
                    }
                };
                by_close.get_mut(id)?.push((fi, open.clone()));
            }
        }
        if close_texts.is_empty() {
            return None;
        }
        let closes = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&close_texts)
            .ok()?;
        let max_len = formats.iter().map(|(_, f)| f.max_len).max().unwrap_or(0);
        let mut class = [0u8; 256];
        for b in 0..=u8::MAX {
            if b.is_ascii_alphanumeric() {
                class[usize::from(b)] |= ALNUM;
            }
        }
        for close in &close_texts {
            if let Some(&b) = close.as_bytes().first() {
                class[usize::from(b)] |= CLOSE;
            }
        }
        Some(Self {
            closes,
            by_close,
            formats,
            max_len,
            class,
        })
    }

    /// Whether `bytes` may hold a code: every code is at least one ASCII letter or digit right
    /// before a closing delimiter (the registry refuses an empty one), so without such a pair of
    /// bytes there is none. Far cheaper than the Aho-Corasick scan, and allocation-free.
    fn may_hold_code(&self, bytes: &[u8]) -> bool {
        // Most Chinese messages have no ASCII letter or digit at all: a branch-free pass per
        // chunk, which the compiler vectorises, settles them.
        let any_alnum = bytes.chunks(CHUNK).any(|chunk| {
            chunk
                .iter()
                .fold(false, |seen, b| seen | b.is_ascii_alphanumeric())
        });
        if !any_alnum {
            return false;
        }
        // Otherwise the pairs, one table load per byte, branch-free within a chunk.
        let mut prev_alnum = 0u8;
        bytes.chunks(CHUNK).any(|chunk| {
            let mut hit = 0u8;
            for &b in chunk {
                let class = self.class[usize::from(b)];
                hit |= prev_alnum & (class >> 1);
                prev_alnum = class & ALNUM;
            }
            hit != 0
        })
    }

    /// Codes in `text`, in order, at most `max`, none overlapping a byte range of `skip` (sorted,
    /// e.g. the URLs of the text, so a code inside a URL is not counted twice).
    pub(crate) fn find<'a>(
        &self,
        text: &'a str,
        skip: &[Range<usize>],
        max: usize,
    ) -> Vec<FoundCode<'a>> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        // A code overlapping a skipped range is dropped below, so only the text between them can
        // hold one: a message that is mostly its URL skips the scan.
        if max == 0
            || !gaps(bytes.len(), skip)
                .any(|gap| bytes.get(gap).is_some_and(|b| self.may_hold_code(b)))
        {
            return out;
        }
        let mut cues: Vec<Option<Vec<usize>>> = vec![None; self.formats.len()];
        let mut last_end = 0;
        let mut skip_at = 0;
        let mut counter = Counter::default();
        for m in self.closes.find_iter(text) {
            let close_start = m.start();
            if close_start < last_end || close_start == 0 {
                continue;
            }
            // The body: the run of ASCII letters and digits right before the closing delimiter.
            let floor = close_start.saturating_sub(self.max_len + 1).max(last_end);
            let mut body_start = close_start;
            while body_start > floor
                && bytes
                    .get(body_start - 1)
                    .is_some_and(u8::is_ascii_alphanumeric)
            {
                body_start -= 1;
            }
            let len = close_start - body_start;
            if len == 0 || len > self.max_len {
                continue;
            }
            let body = bytes.get(body_start..close_start).unwrap_or_default();
            let body_classes = classes(body);
            let Some(candidates) = self.by_close.get(m.pattern().as_usize()) else {
                continue;
            };
            // The format whose cue is nearest the code wins; a format without a cue present
            // only if none has one.
            let mut fallback = None;
            let mut chosen: Option<(usize, usize, usize)> = None;
            for (fi, open) in candidates {
                let Some((_, format)) = self.formats.get(*fi) else {
                    continue;
                };
                let open_start = body_start.wrapping_sub(open.len());
                if len < format.min_len
                    || len > format.max_len
                    || body_classes < format.min_classes
                    || body_start < open.len()
                    || open_start < last_end
                    || !text
                        .get(..body_start)
                        .is_some_and(|t| t.ends_with(open.as_str()))
                {
                    continue;
                }
                let distance = cues
                    .get_mut(*fi)
                    .map(|slot| slot.get_or_insert_with(|| cue_positions(text, &format.cues)))
                    .and_then(|at| nearest(at, open_start, m.end()));
                if let Some(d) = distance
                    && chosen.is_none_or(|(_, _, best)| d < best)
                {
                    chosen = Some((*fi, open_start, d));
                }
                if !format.cue_required && fallback.is_none() {
                    fallback = Some((*fi, open_start));
                }
            }
            let chosen = chosen.map(|(fi, start, _)| (fi, start));
            let Some((fi, start)) = chosen.or(fallback) else {
                continue;
            };
            let end = m.end();
            while skip.get(skip_at).is_some_and(|r| r.end <= start) {
                skip_at += 1;
            }
            if skip.get(skip_at).is_some_and(|r| r.start < end) {
                continue;
            }
            let (Some((platform, _)), Some(code)) = (self.formats.get(fi), text.get(start..end))
            else {
                continue;
            };
            let (cp_start, u16_start) = counter.advance(text, start);
            let (cp_end, u16_end) = counter.advance(text, end);
            out.push(FoundCode {
                code,
                platform: *platform,
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
}

/// The parts of `0..len` outside the sorted, non-overlapping ranges of `skip`, non-empty ones only.
fn gaps(len: usize, skip: &[Range<usize>]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut from = 0;
    skip.iter()
        .map(move |r| (r.start.min(len), r.end.min(len)))
        .chain(std::iter::once((len, len)))
        .filter_map(move |(start, end)| {
            let gap = from..start.max(from);
            from = end.max(from);
            (!gap.is_empty()).then_some(gap)
        })
}

/// Byte offsets of every occurrence of any of `cues` in `text`, sorted. Each cue is searched once
/// per text, so the work stays linear however many codes the text holds.
fn cue_positions(text: &str, cues: &[String]) -> Vec<usize> {
    let mut at: Vec<usize> = cues
        .iter()
        .flat_map(|c| text.match_indices(c.as_str()).map(|(i, _)| i))
        .collect();
    at.sort_unstable();
    at
}

/// Distance from the code `start..end` to the nearest of `sorted` outside it (a cue's letters
/// inside the code itself are no cue), if any.
fn nearest(sorted: &[usize], start: usize, end: usize) -> Option<usize> {
    let i = sorted.partition_point(|&p| p < start);
    let j = sorted.partition_point(|&p| p < end);
    let after = sorted.get(j).map(|&p| p - end);
    let before = i
        .checked_sub(1)
        .and_then(|k| sorted.get(k))
        .map(|&p| start - p);
    match (before, after) {
        (Some(b), Some(a)) => Some(a.min(b)),
        (b, a) => b.or(a),
    }
}

/// Code-point and UTF-16 offsets, counted forward from the last position asked (so linear).
#[derive(Default)]
pub(crate) struct Counter {
    byte: usize,
    cp: usize,
    utf16: usize,
}

impl Counter {
    pub(crate) fn advance(&mut self, text: &str, to: usize) -> (usize, usize) {
        if let Some(between) = text.get(self.byte..to) {
            for c in between.chars() {
                self.cp += 1;
                self.utf16 += c.len_utf16();
            }
            self.byte = to;
        }
        (self.cp, self.utf16)
    }
}
