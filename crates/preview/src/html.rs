//! A small, forgiving HTML tag scanner: no DOM, no allocation per tag,
//! linear time. It finds tags and their attributes, and the raw text of
//! `<title>`, `<script>`, `<style>` and `<textarea>`; it never fails.

/// A start or end tag.
pub struct Tag<'a> {
    /// The tag name as written (compare with `eq_ignore_ascii_case`).
    pub name: &'a str,
    /// The raw attribute text.
    pub attrs: &'a str,
    /// `</name>`.
    pub closing: bool,
    /// For raw-text elements: everything up to their end tag.
    pub text: Option<&'a str>,
    /// Byte offset of the tag's `<` in the page.
    pub offset: usize,
    /// Byte offset just past the tag's `>`: where its content starts.
    pub content_start: usize,
}

impl Tag<'_> {
    /// `<name … />`: a start tag that opens nothing.
    pub fn self_closing(&self) -> bool {
        self.attrs.trim_end().ends_with('/')
    }
}

/// Whether to keep scanning.
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop here.
    Stop,
}

const RAW_TEXT: [&str; 4] = ["script", "style", "title", "textarea"];

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    let first = n.first()?;
    let mut from = 0;
    while let Some(i) = memchr::memchr2(
        first.to_ascii_lowercase(),
        first.to_ascii_uppercase(),
        &h[from..],
    ) {
        let at = from + i;
        if h.len() >= at + n.len() && h[at..at + n.len()].eq_ignore_ascii_case(n) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// End of a tag starting at `s` (just past `<name`), honouring quotes.
fn tag_end(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote = 0u8;
    while i < b.len() {
        let c = b[i];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            // Quotes only open at the start of a value (after `=`).
            let prev = b[..i].iter().rev().find(|c| !c.is_ascii_whitespace());
            if prev == Some(&b'=') {
                quote = c;
            }
        } else if c == b'>' {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// Calls `on` for every tag of `html` until it returns [`Flow::Stop`].
pub fn scan<'a>(html: &'a str, mut on: impl FnMut(Tag<'a>) -> Flow) {
    let bytes = html.as_bytes();
    let mut pos = 0;
    while let Some(i) = memchr::memchr(b'<', &bytes[pos..]) {
        let lt = pos + i;
        let rest = &html[lt + 1..];
        if rest.starts_with("!--") {
            pos = match memchr::memmem::find(rest.as_bytes(), b"-->") {
                Some(e) => lt + 1 + e + 3,
                None => return,
            };
            continue;
        }
        if rest.starts_with("![CDATA[") {
            pos = match memchr::memmem::find(rest.as_bytes(), b"]]>") {
                Some(e) => lt + 1 + e + 3,
                None => return,
            };
            continue;
        }
        if rest.starts_with('!') || rest.starts_with('?') {
            pos = match memchr::memchr(b'>', rest.as_bytes()) {
                Some(e) => lt + 1 + e + 1,
                None => return,
            };
            continue;
        }
        let closing = rest.starts_with('/');
        let name_start = lt + 1 + usize::from(closing);
        let name_len = html[name_start..]
            .bytes()
            .position(|c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b':'))
            .unwrap_or(html.len() - name_start);
        if name_len == 0 || !html.as_bytes()[name_start].is_ascii_alphabetic() {
            pos = lt + 1;
            continue;
        }
        let name = &html[name_start..name_start + name_len];
        let after = name_start + name_len;
        let end = after + tag_end(&html[after..]);
        let attrs = &html[after..end];
        let body_start = (end + 1).min(html.len());
        let mut next = body_start;
        let mut text = None;
        if !closing
            && RAW_TEXT.iter().any(|r| name.eq_ignore_ascii_case(r))
            && !attrs.trim_end().ends_with('/')
        {
            // Bounded: one search per raw-text element, from where it starts.
            let closer = format!("</{name}");
            match find_ci(&html[body_start..], &closer) {
                Some(e) => {
                    text = Some(&html[body_start..body_start + e]);
                    next = body_start + e;
                }
                None => {
                    text = Some(&html[body_start..]);
                    next = html.len();
                }
            }
        }
        if let Flow::Stop = on(Tag {
            name,
            attrs,
            closing,
            text,
            offset: lt,
            content_start: body_start,
        }) {
            return;
        }
        pos = next;
        if pos >= html.len() {
            return;
        }
    }
}

/// The attributes of a tag: `(name, raw value)`; names as written.
pub fn attrs(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = raw.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() {
                return None;
            }
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
                i += 1;
            }
            let name = &raw[start..i];
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                    let q = b[i];
                    let vs = i + 1;
                    let ve = b[vs..]
                        .iter()
                        .position(|&c| c == q)
                        .map_or(b.len(), |p| vs + p);
                    i = (ve + 1).min(b.len());
                    &raw[vs..ve]
                } else {
                    let vs = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    &raw[vs..i]
                };
                if !name.is_empty() {
                    return Some((name, value));
                }
            } else if !name.is_empty() {
                return Some((name, ""));
            } else {
                i += 1;
            }
        }
    })
}

/// One attribute's raw value.
pub fn attr<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    attrs(raw)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(html: &str) -> Vec<String> {
        let mut out = Vec::new();
        scan(html, |t| {
            out.push(format!(
                "{}{}",
                if t.closing { "/" } else { "" },
                t.name.to_ascii_lowercase()
            ));
            Flow::Continue
        });
        out
    }

    #[test]
    fn tags_comments_and_raw_text() {
        let html = "<!doctype html><HTML><!-- <meta> --><head><title>a < b</title><script>if (a<b) {}</script></head>";
        assert_eq!(
            names(html),
            [
                "html", "head", "title", "/title", "script", "/script", "/head"
            ]
        );
    }

    #[test]
    fn attributes_in_every_quoting() {
        let got: Vec<_> =
            attrs(r#" property="og:title" content='It''s' data-x=plain checked /"#).collect();
        assert_eq!(
            got,
            [
                ("property", "og:title"),
                ("content", "It"),
                ("'s'", ""),
                ("data-x", "plain"),
                ("checked", "")
            ]
        );
        assert_eq!(attr(r#"content="a > b" name=x"#, "NAME"), Some("x"));
    }

    #[test]
    fn broken_html_does_not_stop_the_scan() {
        assert_eq!(names("< p> <3 <meta a=\"unclosed><title>x"), ["meta"]);
        assert!(names("<title>never closed").contains(&"title".to_owned()));
        names("<<<<>>>>");
        names("<a");
    }
}
