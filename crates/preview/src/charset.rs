//! Which encoding a page is in: BOM, then the HTTP header, then a
//! `<meta charset>` / `http-equiv` in the first 1,024 bytes (as browsers
//! pre-scan), else UTF-8. A declaration the bytes contradict (a page that
//! says windows-1251 but is valid UTF-8 with non-ASCII text) loses to the
//! bytes.
use encoding_rs::{Encoding, UTF_8};

fn label_from_content_type(ct: &str) -> Option<&str> {
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
    })
}

fn prescan(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&lower[from..], b"charset") {
        let at = from + i + "charset".len();
        from = at;
        let rest = &lower[at..];
        let rest = rest.strip_prefix(b"=").or_else(|| {
            let trimmed = rest
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .map(|p| &rest[p..])?;
            trimmed.strip_prefix(b"=")
        })?;
        let start = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'"' | b'\''))?;
        let rest = &rest[start..];
        let end = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\'' | b';' | b'>' | b' ' | b'/'))
            .unwrap_or(rest.len());
        if let Some(enc) = Encoding::for_label(&rest[..end]) {
            return Some(enc);
        }
    }
    None
}

/// The encoding to decode `bytes` with.
pub fn detect(bytes: &[u8], content_type: Option<&str>) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        return enc;
    }
    let declared = content_type
        .and_then(label_from_content_type)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
        .or_else(|| prescan(&bytes[..bytes.len().min(1024)]));
    match declared {
        // UTF-16 cannot be declared in-band; pages claiming it are ASCII-compatible.
        Some(enc) if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE => UTF_8,
        // Valid UTF-8 with non-ASCII bytes is almost never a legacy encoding.
        Some(enc) if enc != UTF_8 && !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() => {
            UTF_8
        }
        Some(enc) => enc.output_encoding(),
        None => UTF_8,
    }
}

/// Decodes the page (invalid sequences become U+FFFD; never fails).
pub fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>) -> std::borrow::Cow<'a, str> {
    let enc = detect(bytes, content_type);
    let (text, _, _) = enc.decode(bytes);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_charsets_are_found() {
        assert_eq!(detect(b"<meta charset=\"gbk\">", None), encoding_rs::GBK);
        assert_eq!(
            detect(
                b"<meta http-equiv=Content-Type content='text/html; charset=Big5'>",
                None
            ),
            encoding_rs::BIG5
        );
        assert_eq!(
            detect(b"<p>hi</p>", Some("text/html; charset=Shift_JIS")),
            encoding_rs::SHIFT_JIS
        );
        assert_eq!(
            detect(b"\xEF\xBB\xBF<p>hi", Some("text/html; charset=gbk")),
            UTF_8
        );
        assert_eq!(detect(b"<p>plain", None), UTF_8);
    }

    #[test]
    fn bytes_beat_a_wrong_declaration() {
        let page = "<meta charset=\"windows-1251\"><title>Интересные</title>";
        assert_eq!(detect(page.as_bytes(), None), UTF_8);
    }

    #[test]
    fn legacy_pages_decode() {
        let (gbk, _, _) = encoding_rs::GBK.encode("<meta charset=gbk><title>淘宝网</title>");
        assert!(decode(&gbk, None).contains("淘宝网"));
        let (euc, _, _) = encoding_rs::EUC_KR.encode("<title>네이버</title>");
        assert!(decode(&euc, Some("text/html;charset=euc-kr")).contains("네이버"));
    }
}
