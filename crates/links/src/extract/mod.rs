//! URL extraction following twitter-text's rules (see `docs/links.md`).

mod chars;
mod scan;
mod tld;

pub(crate) use chars::is_bidi_control;
pub use tld::is_known_tld;

/// Limits of [`extract_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractConfig {
    /// At most this many URLs are returned per text; later URLs are not reported, so a caller that
    /// renders only what it was given shows them as plain, inert text. Default 100.
    pub max_urls: usize,
    /// A URL longer than this (UTF-16 units, host counted in punycode, plus the scheme or `https://`)
    /// is not a link, as in twitter-text. Default 4096.
    pub max_url_len: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            max_urls: 100,
            max_url_len: 4096,
        }
    }
}

impl ExtractConfig {
    /// The defaults with another cap on URLs per text.
    pub fn with_max_urls(max_urls: usize) -> Self {
        ExtractConfig {
            max_urls,
            ..ExtractConfig::default()
        }
    }
}

/// One URL found in a text, with its span in three units: bytes (for Rust slicing), Unicode code
/// points (Twitter's entity convention) and UTF-16 code units (for web clients). All are half-open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FoundUrl<'a> {
    /// The URL exactly as written (`&text[byte_start..byte_end]`).
    pub url: &'a str,
    /// Its host as written (any case, Unicode or punycode, `[…]` for IPv6): enough for
    /// [`Registry::classify`](crate::Registry::classify) and [`Blocklists`](crate::Blocklists) without
    /// [`normalise`](crate::normalise).
    pub host: &'a str,
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
    /// Written with `http://` or `https://`; otherwise a scheme-less domain such as `jd.com/1.html`.
    pub has_scheme: bool,
    /// A bidi control character (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C) sits in the same
    /// (ASCII-)whitespace-delimited word as the URL, so what is displayed may not be what is opened: callers
    /// should make this link inert.
    pub bidi_nearby: bool,
}

/// Every URL in `text` with the default [`ExtractConfig`].
///
/// ```
/// let found = kaifang_links::extract("看看这个https://item.taobao.com/item.htm?id=123很好");
/// assert_eq!(found[0].url, "https://item.taobao.com/item.htm?id=123");
/// assert_eq!((found[0].start, found[0].end), (4, 43));
/// ```
pub fn extract(text: &str) -> Vec<FoundUrl<'_>> {
    extract_with(text, &ExtractConfig::default())
}

/// Every URL in `text`, in order of appearance, at most `cfg.max_urls`. Linear in the length of `text`.
pub fn extract_with<'a>(text: &'a str, cfg: &ExtractConfig) -> Vec<FoundUrl<'a>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    // Fast path: every URL contains a dot, except a bracketed IPv6 literal.
    let Some(mark) = next_mark(bytes, 0) else {
        return out;
    };
    if cfg.max_urls == 0 {
        return out;
    }
    SCRATCH.with(|cell| {
        // Taken out of the cell, so a (never expected) nested call gets fresh buffers, not a panic.
        let mut scratch = cell.take();
        scan_text(text, mark, cfg, &mut scratch, &mut out);
        scratch.trim();
        cell.set(scratch);
    });
    out
}

thread_local! {
    /// Buffers kept between texts on this thread: extraction runs for every message, and needs
    /// up to three of them for each.
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch {
            chars: Vec::new(),
            tables: Vec::new(),
            spans: Vec::new(),
        })
    };
}

/// Scan every word of `text` holding a mark, from the first mark `mark`.
fn scan_text<'a>(
    text: &'a str,
    mut mark: usize,
    cfg: &ExtractConfig,
    scratch: &mut Scratch,
    out: &mut Vec<FoundUrl<'a>>,
) {
    let bytes = text.as_bytes();
    let mut cursor = Cursor::default();
    // A URL never contains whitespace and may always start after it, so each ASCII-whitespace-delimited
    // word is scanned on its own. Only words holding a dot or `[` are looked at: found from each such
    // mark, so the rest of the text costs one byte scan.
    loop {
        let start = word_start(bytes, mark);
        let end = word_end(bytes, mark);
        scan_word(text, start, end, cfg, scratch, &mut cursor, out);
        if out.len() >= cfg.max_urls {
            break;
        }
        match next_mark(bytes, end) {
            Some(m) => mark = m,
            None => break,
        }
    }
}

/// ASCII whitespace: where words end.
fn is_word_break(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

/// The next `.` or `[` at or after `from`.
fn next_mark(bytes: &[u8], from: usize) -> Option<usize> {
    memchr::memchr2(b'.', b'[', bytes.get(from..)?).map(|p| from + p)
}

/// Does any byte of `w` lie below 0x21 (every word break does)? The classic SWAR test: exact
/// for the word as a whole.
fn has_low_byte(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    w.wrapping_sub(ONES * 0x21) & !w & (ONES * 0x80) != 0
}

/// First word break at or after `from`, or the end of the text; eight bytes at a time.
fn word_end(bytes: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if has_low_byte(u64::from_le_bytes(w))
            && let Some(p) = chunk.iter().position(|&b| is_word_break(b))
        {
            return from + p;
        }
        from += 8;
    }
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| is_word_break(b)))
        .map_or(bytes.len(), |p| from + p)
}

/// Start of the word holding `to` (just after the last word break before it), eight bytes at a time.
fn word_start(bytes: &[u8], mut to: usize) -> usize {
    while to >= 8 {
        let chunk = &bytes[to - 8..to];
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if has_low_byte(u64::from_le_bytes(w))
            && let Some(p) = chunk.iter().rposition(|&b| is_word_break(b))
        {
            return to - 8 + p + 1;
        }
        to -= 8;
    }
    bytes[..to]
        .iter()
        .rposition(|&b| is_word_break(b))
        .map_or(0, |p| p + 1)
}

/// Buffers reused between the words of a text, and between the texts of a thread.
#[derive(Default)]
struct Scratch {
    chars: Vec<char>,
    tables: Vec<scan::Cell>,
    spans: Vec<scan::Span>,
}

/// Most elements a [`Scratch`] buffer keeps between texts: one long word must not pin its
/// buffers to the thread (64 Ki cells are 1 MiB).
const SCRATCH_KEPT: usize = 1 << 16;

impl Scratch {
    fn trim(&mut self) {
        if self.chars.capacity() > SCRATCH_KEPT {
            self.chars = Vec::new();
        }
        if self.tables.capacity() > SCRATCH_KEPT {
            self.tables = Vec::new();
        }
        if self.spans.capacity() > SCRATCH_KEPT {
            self.spans = Vec::new();
        }
    }
}

/// Scan the word `text[start..end]` and append its URLs to `out`.
fn scan_word<'a>(
    text: &'a str,
    start: usize,
    end: usize,
    cfg: &ExtractConfig,
    scratch: &mut Scratch,
    cursor: &mut Cursor,
    out: &mut Vec<FoundUrl<'a>>,
) {
    let Some(word) = text.get(start..end) else {
        return;
    };
    let Scratch {
        chars,
        tables,
        spans,
    } = scratch;
    spans.clear();
    let max_urls = cfg.max_urls.saturating_sub(out.len());
    // An ASCII word is scanned as bytes: no decoding, and character offsets are byte offsets.
    let ascii = word.is_ascii();
    if ascii {
        scan::scan(word.as_bytes(), max_urls, cfg.max_url_len, tables, spans);
    } else {
        chars.clear();
        chars.extend(word.chars());
        scan::scan(chars, max_urls, cfg.max_url_len, tables, spans);
    }
    if spans.is_empty() {
        return;
    }
    // Bidi controls are never ASCII.
    let bidi = !ascii && chars.iter().any(|&c| is_bidi_control(c));
    let mut local = LocalBytes::default();
    let mut to_byte = |idx: usize| {
        if ascii {
            start + idx
        } else {
            start + local.to(chars, idx)
        }
    };
    for s in spans.iter() {
        let b0 = to_byte(s.start);
        let h0 = to_byte(s.host_start);
        let h1 = to_byte(s.host_end);
        let b1 = to_byte(s.end);
        let (Some(url), Some(host)) = (text.get(b0..b1), text.get(h0..h1)) else {
            continue;
        };
        let (start_cp, start_utf16) = cursor.to(text, b0);
        let (end_cp, end_utf16) = cursor.to(text, b1);
        out.push(FoundUrl {
            url,
            host,
            byte_start: b0,
            byte_end: b1,
            start: start_cp,
            end: end_cp,
            start_utf16,
            end_utf16,
            has_scheme: s.has_scheme,
            bidi_nearby: bidi,
        });
    }
}

/// Converts increasing char indices of one word to byte offsets within it.
#[derive(Default)]
struct LocalBytes {
    chars: usize,
    bytes: usize,
}

impl LocalBytes {
    fn to(&mut self, chars: &[char], idx: usize) -> usize {
        // Host spans lie inside URL spans, so indices may step back a little: restart then.
        if idx < self.chars {
            *self = LocalBytes::default();
        }
        while self.chars < idx {
            self.bytes += chars.get(self.chars).map_or(0, |c| c.len_utf8());
            self.chars += 1;
        }
        self.bytes
    }
}

/// Converts increasing byte offsets of the text to code-point and UTF-16 offsets.
#[derive(Default)]
struct Cursor {
    byte: usize,
    chars: usize,
    utf16: usize,
}

impl Cursor {
    fn to(&mut self, text: &str, byte: usize) -> (usize, usize) {
        if let Some(gap) = text.get(self.byte..byte) {
            // Count bytes rather than decode: every byte but a continuation byte starts a code
            // point, and a four-byte one (lead byte ≥ 0xF0) is two UTF-16 units.
            // Byte-wide counters over chunks of at most 255 bytes vectorise well.
            for chunk in gap.as_bytes().chunks(255) {
                let (mut starts, mut fours) = (0u8, 0u8);
                for &b in chunk {
                    starts += u8::from((b as i8) >= -0x40);
                    fours += u8::from(b >= 0xF0);
                }
                self.chars += usize::from(starts);
                self.utf16 += usize::from(starts) + usize::from(fours);
            }
            self.byte = byte;
        }
        (self.chars, self.utf16)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn word_bounds_match_a_plain_scan(bytes in prop::collection::vec(
            prop::sample::select(vec![b'a', b' ', b'\t', b'\n', b'\r', 0x0B, 0x0C, 0x00, 0x20, 0x21, 0xE4]),
            0..40,
        ), at in 0usize..40) {
            let at = at.min(bytes.len());
            let end = bytes[at..].iter().position(|&b| is_word_break(b)).map_or(bytes.len(), |p| at + p);
            let start = bytes[..at].iter().rposition(|&b| is_word_break(b)).map_or(0, |p| p + 1);
            prop_assert_eq!(word_end(&bytes, at), end);
            prop_assert_eq!(word_start(&bytes, at), start);
        }
    }
}
