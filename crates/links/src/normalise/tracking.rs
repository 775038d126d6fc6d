//! Removing tracking parameters from a query string while keeping the others in their order.

/// The default tracking parameters; `*` at the end of a pattern matches any suffix.
pub(crate) const DEFAULT_TRACKING: &[&str] = &[
    "utm_*",
    "spm",
    "scm",
    "from",
    "share_*",
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "igsh",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "ttclid",
    "si",
    "vd_source",
    "xhsshare",
    "app_platform",
    "wfr",
    "pvid",
    "ali_trackid",
    "trackid",
    "sourcetype",
];

/// Does `key` (ASCII case-insensitive) match one of the patterns?
pub(crate) fn is_tracking(key: &str, patterns: &[String]) -> bool {
    let key = key.as_bytes();
    patterns.iter().any(|p| match p.as_bytes().split_last() {
        Some((b'*', prefix)) => key
            .get(..prefix.len())
            .is_some_and(|k| k.eq_ignore_ascii_case(prefix)),
        // Lengths first: most patterns are exact names of another length.
        _ => key.len() == p.len() && key.eq_ignore_ascii_case(p.as_bytes()),
    })
}

/// The query without tracking parameters and empty pieces, or `None` when nothing is left.
pub(crate) fn strip_tracking(query: &str, patterns: &[String]) -> Option<String> {
    let mut out = String::with_capacity(query.len());
    strip_tracking_into(query, patterns, &mut out).then_some(out)
}

/// Append the query without tracking parameters and empty pieces to `out`; false (and nothing
/// appended) when nothing is left.
pub(crate) fn strip_tracking_into(query: &str, patterns: &[String], out: &mut String) -> bool {
    let mut kept = false;
    let mut rest = query;
    // Cut at bytes rather than with `str::split`: pieces are short, a plain walk beats a
    // searcher, and `&` and `=` are ASCII, so every cut is a char boundary.
    loop {
        let (piece, next) = match rest.bytes().position(|b| b == b'&') {
            Some(p) => (&rest[..p], Some(&rest[p + 1..])),
            None => (rest, None),
        };
        let key = piece
            .bytes()
            .position(|b| b == b'=')
            .map_or(piece, |p| &piece[..p]);
        if !piece.is_empty() && !is_tracking(key, patterns) {
            if kept {
                out.push('&');
            }
            out.push_str(piece);
            kept = true;
        }
        match next {
            Some(next) => rest = next,
            None => return kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_TRACKING.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn keeps_order_and_drops_trackers() {
        let p = defaults();
        assert_eq!(
            strip_tracking("b=2&utm_source=x&a=1&spm=a21&UTM_Medium=y", &p).as_deref(),
            Some("b=2&a=1")
        );
        assert_eq!(strip_tracking("spm=1&&share_token=2", &p), None);
        assert_eq!(
            strip_tracking("fromage=1&from=2", &p).as_deref(),
            Some("fromage=1")
        );
    }

    /// The first, plain version of `is_tracking`, as a reference.
    fn reference(key: &str, patterns: &[String]) -> bool {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => {
                key.len() >= prefix.len()
                    && key.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            }
            None => key.eq_ignore_ascii_case(p),
        })
    }

    proptest::proptest! {
        #[test]
        fn strips_as_the_plain_split_did(query in "((utm_a|SPM|si|from|x|中|)(=[a-z0-9=]{0,3})?&?){0,5}") {
            let p = defaults();
            let mut plain = Vec::new();
            for piece in query.split('&') {
                let key = piece.split_once('=').map_or(piece, |(key, _)| key);
                if !piece.is_empty() && !is_tracking(key, &p) {
                    plain.push(piece);
                }
            }
            let expected = (!plain.is_empty()).then(|| plain.join("&"));
            proptest::prop_assert_eq!(strip_tracking(&query, &p), expected);
        }

        #[test]
        fn matches_the_reference(
            key in "[a-zA-Z_*]{0,6}",
            extra in proptest::collection::vec("[a-zA-Z_*]{0,4}", 0..4),
        ) {
            let mut p = defaults();
            p.extend(extra);
            proptest::prop_assert_eq!(is_tracking(&key, &p), reference(&key, &p));
            proptest::prop_assert_eq!(is_tracking(&key, &p[30..]), reference(&key, &p[30..]));
        }
    }
}
