//! Character classes of twitter-text's URL grammar (`js/src/regexp/*.js`), as plain predicates so the
//! scanner never backtracks.

/// A character of a scanned word: a `char`, or a byte of an all-ASCII word (no decoding needed, and
/// byte offsets are character offsets).
pub(crate) trait Ch: Copy {
    /// The character itself.
    fn ch(self) -> char;
}

impl Ch for char {
    #[inline]
    fn ch(self) -> char {
        self
    }
}

impl Ch for u8 {
    #[inline]
    fn ch(self) -> char {
        char::from(self)
    }
}

/// twitter-text `spacesGroup`.
const fn is_space(c: char) -> bool {
    matches!(c,
        '\u{09}'..='\u{0D}' | ' ' | '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{180E}' | '\u{2000}'..='\u{200A}'
        | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

/// twitter-text `invalidCharsGroup`.
const fn is_invalid(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')
}

/// twitter-text `directionalMarkersGroup`: the bidi controls (embeddings, overrides, isolates, marks).
pub(crate) const fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2066}'..='\u{2069}')
}

/// twitter-text `punct` (note: `"` and `` ` `` are not in it, so they count as domain characters).
const fn is_punct(c: char) -> bool {
    matches!(
        c,
        '!' | '\''
            | '#'
            | '%'
            | '&'
            | '('
            | ')'
            | '*'
            | '+'
            | ','
            | '\\'
            | '-'
            | '.'
            | '/'
            | ':'
            | ';'
            | '<'
            | '='
            | '>'
            | '?'
            | '@'
            | '['
            | ']'
            | '^'
            | '_'
            | '{'
            | '|'
            | '}'
            | '~'
            | '$'
    )
}

/// `validDomainChars`: anything that is not punctuation, space, invalid or a bidi control.
const fn is_domain_char_slow(c: char) -> bool {
    !(is_punct(c) || is_space(c) || is_invalid(c) || is_bidi_control(c))
}

/// Characters a domain label run is made of (`validSubdomain` also allows `_` and `-` inside).
const fn is_label_char_slow(c: char) -> bool {
    c == '-' || c == '_' || is_domain_char_slow(c)
}

/// `validUrlPrecedingChars`: what may stand right before a URL.
const fn is_valid_preceding_slow(c: char) -> bool {
    if is_bidi_control(c) {
        return true;
    }
    !(c.is_ascii_alphanumeric() || matches!(c, '@' | '＠' | '$' | '#' | '＃') || is_invalid(c))
}

/// `latinAccentChars`.
pub(crate) const fn is_latin_accent(c: char) -> bool {
    matches!(c,
        '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{FF}' | '\u{100}'..='\u{24F}' | '\u{253}'
        | '\u{254}' | '\u{256}' | '\u{257}' | '\u{259}' | '\u{25B}' | '\u{263}' | '\u{268}' | '\u{26F}'
        | '\u{272}' | '\u{289}' | '\u{28B}' | '\u{2BB}' | '\u{300}'..='\u{36F}' | '\u{1E00}'..='\u{1EFF}')
}

const fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{400}'..='\u{4FF}')
}

/// `validGeneralUrlPathChars`.
const fn is_path_char_slow(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || is_cyrillic(c)
        || is_latin_accent(c)
        || matches!(
            c,
            '!' | '*'
                | '\''
                | ';'
                | ':'
                | '='
                | '+'
                | ','
                | '.'
                | '$'
                | '/'
                | '%'
                | '#'
                | '['
                | ']'
                | '-'
                | '\u{2013}'
                | '_'
                | '~'
                | '@'
                | '|'
                | '&'
        )
}

/// `validUrlPathEndingChars` (single characters; a balanced parenthesis group also ends a path).
const fn is_path_ending_char_slow(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || is_cyrillic(c)
        || is_latin_accent(c)
        || matches!(c, '+' | '-' | '=' | '_' | '#' | '/')
}

/// `validUrlQueryChars`.
const fn is_query_char_slow(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '?'
                | '*'
                | '\''
                | '@'
                | '('
                | ')'
                | ';'
                | ':'
                | '&'
                | '='
                | '+'
                | '$'
                | '/'
                | '%'
                | '#'
                | '['
                | ']'
                | '-'
                | '_'
                | '.'
                | ','
                | '~'
                | '|'
        )
}

/// `validUrlQueryEndingChars`.
const fn is_query_ending_char_slow(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '&' | '=' | '#' | '/')
}

/// Characters of `validAsciiDomain` labels.
const fn is_ascii_domain_char_slow(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || is_latin_accent(c)
}

/// The TLD look-ahead `(?=[^0-9a-zA-Z@+-]|$)`: may this character follow a TLD?
pub(crate) fn may_follow_tld(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => !(c.is_ascii_alphanumeric() || matches!(c, '@' | '+' | '-')),
    }
}

/// Class bits of the ASCII characters, computed at compile time from the predicates above: the
/// scanner asks these questions for every character, and most characters in URLs are ASCII.
const ASCII_CLASSES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8 as char;
        let mut bits = 0u8;
        if is_domain_char_slow(c) {
            bits |= 1;
        }
        if is_label_char_slow(c) {
            bits |= 2;
        }
        if is_valid_preceding_slow(c) {
            bits |= 4;
        }
        if is_path_char_slow(c) {
            bits |= 8;
        }
        if is_path_ending_char_slow(c) {
            bits |= 16;
        }
        if is_query_char_slow(c) {
            bits |= 32;
        }
        if is_query_ending_char_slow(c) {
            bits |= 64;
        }
        if is_ascii_domain_char_slow(c) {
            bits |= 128;
        }
        t[i] = bits;
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn is_domain_char(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 1 != 0,
        None => is_domain_char_slow(c),
    }
}

#[inline]
pub(crate) fn is_label_char(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 2 != 0,
        None => is_label_char_slow(c),
    }
}

#[inline]
pub(crate) fn is_valid_preceding(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 4 != 0,
        None => is_valid_preceding_slow(c),
    }
}

#[inline]
pub(crate) fn is_path_char(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 8 != 0,
        None => is_path_char_slow(c),
    }
}

#[inline]
pub(crate) fn is_path_ending_char(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 16 != 0,
        None => is_path_ending_char_slow(c),
    }
}

#[inline]
pub(crate) fn is_query_char(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 32 != 0,
        None => is_query_char_slow(c),
    }
}

#[inline]
pub(crate) fn is_query_ending_char(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 64 != 0,
        None => is_query_ending_char_slow(c),
    }
}

#[inline]
pub(crate) fn is_ascii_domain_char(c: char) -> bool {
    match ASCII_CLASSES.get(c as usize) {
        Some(bits) => bits & 128 != 0,
        None => is_ascii_domain_char_slow(c),
    }
}
