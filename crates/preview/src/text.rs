//! Text clean-up: HTML entities decoded, whitespace collapsed, length capped.

/// Named entities worth knowing in metadata (the rest stay as written).
const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("hellip", '…'),
    ("mdash", '—'),
    ("ndash", '–'),
    ("rsquo", '’'),
    ("lsquo", '‘'),
    ("rdquo", '”'),
    ("ldquo", '“'),
    ("sbquo", '‚'),
    ("bdquo", '„'),
    ("copy", '©'),
    ("reg", '®'),
    ("trade", '™'),
    ("middot", '·'),
    ("bull", '•'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("eacute", 'é'),
    ("egrave", 'è'),
    ("aacute", 'á'),
    ("agrave", 'à'),
    ("oacute", 'ó'),
    ("uacute", 'ú'),
    ("iacute", 'í'),
    ("ntilde", 'ñ'),
    ("ouml", 'ö'),
    ("uuml", 'ü'),
    ("auml", 'ä'),
    ("szlig", 'ß'),
    ("ccedil", 'ç'),
    ("euro", '€'),
    ("pound", '£'),
    ("yen", '¥'),
    ("cent", '¢'),
    ("deg", '°'),
    ("times", '×'),
    ("divide", '÷'),
    ("shy", '\u{ad}'),
    ("zwj", '\u{200d}'),
    ("zwnj", '\u{200c}'),
    ("thinsp", '\u{2009}'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("prime", '′'),
    ("Prime", '″'),
    ("sect", '§'),
    ("para", '¶'),
];

/// Decodes character references once (`&amp;amp;` becomes `&amp;`).
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map(|e| e + 1);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = if let Some(num) = name.strip_prefix('#') {
                let n = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse::<u32>().ok(),
                };
                n.and_then(char::from_u32)
            } else {
                NAMED.iter().find(|(k, _)| *k == name).map(|(_, c)| *c)
            }?;
            let len = if rest[e..].starts_with(';') { e + 1 } else { e };
            Some((c, len))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Collapses runs of whitespace to one space, trims, and caps at `max`
/// characters (adding `…` when cut).
pub fn clean(s: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut chars = 0;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        if chars >= max {
            out.push('…');
            break;
        }
        out.push(c);
        chars += 1;
    }
    (!out.is_empty()).then_some(out)
}

/// Entities decoded, then cleaned.
pub fn text(s: &str, max: usize) -> Option<String> {
    clean(&decode_entities(s), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_decode_once() {
        assert_eq!(
            decode_entities("a &amp;amp; b &lt;c&gt; &#39;d&#x27; &eacute; &bogus; & x"),
            "a &amp; b <c> 'd' é &bogus; & x"
        );
        assert_eq!(decode_entities("&#1114112;"), "&#1114112;");
    }

    #[test]
    fn whitespace_collapses_and_text_is_capped() {
        assert_eq!(clean("  a \n\t b  ", 10).as_deref(), Some("a b"));
        assert_eq!(clean("abcdef", 3).as_deref(), Some("abc…"));
        assert_eq!(clean(" \n ", 3), None);
        assert_eq!(text("淘宝&nbsp;网", 10).as_deref(), Some("淘宝 网"));
    }
}
