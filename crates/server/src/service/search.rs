//! Searching the messages of the caller's conversations: the query's
//! limits, the per-user rate, and the snippet shown for each hit. The
//! matching itself is the store's (trigram indexes; docs/search.md).
use std::sync::Arc;

use kaifang_store::{Search, SearchPage, SearchQuery, Store};

use crate::config::SearchSettings;
use crate::ratelimit::Buckets;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};

/// Hits per page when the client does not say.
const DEFAULT_LIMIT: u32 = 20;
/// Characters of context kept before the match in a snippet.
const SNIPPET_BEFORE: usize = 30;
/// Longest snippet, in characters (without the ellipses).
const SNIPPET_CHARS: usize = 120;

/// What a client asks for.
#[derive(Debug, Default)]
pub struct Request {
    /// The text, taken literally.
    pub q: String,
    /// Only this conversation.
    pub conversation: Option<i64>,
    /// The previous page's `next_before`.
    pub before: Option<i64>,
    /// Hits per page.
    pub limit: Option<u32>,
}

/// The search service.
pub struct SearchService {
    store: Arc<dyn Store>,
    search: Arc<dyn Search>,
    settings: SearchSettings,
    rate: Buckets,
}

impl SearchService {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn Store>,
        search: Arc<dyn Search>,
        settings: SearchSettings,
        rate_limit_keys: usize,
    ) -> Self {
        let rate = Buckets::new(
            settings.queries_per_second,
            settings.queries_burst,
            rate_limit_keys,
        );
        Self {
            store,
            search,
            settings,
            rate,
        }
    }

    /// A page of hits, newest first. Refuses (400) an empty query, one
    /// longer than `search.max_query_chars` or with control characters, and
    /// a `limit` outside 1 to `search.max_results`; 404 for a conversation
    /// the caller is not in; 429 past the per-user rate.
    pub async fn search(&self, caller: &Caller, req: Request) -> Result<SearchPage> {
        let text = self.checked_text(&req.q)?;
        let limit = req
            .limit
            .unwrap_or(DEFAULT_LIMIT.min(self.settings.max_results));
        if limit == 0 || limit > self.settings.max_results {
            return Err(Error::invalid(format!(
                "limit is 1 to {}",
                self.settings.max_results
            )));
        }
        self.rate
            .take(&format!("search:{}", caller.user_id))
            .map_err(|wait| Error::rate_limited("searching too fast", wait))?;
        if let Some(id) = req.conversation
            && self.store.role(id, caller.user_id).await?.is_none()
        {
            return Err(Error::not_found("conversation"));
        }
        let query = SearchQuery {
            user: caller.user_id,
            text: text.to_owned(),
            conversation: req.conversation,
            before: req.before,
            limit,
            short_scan: self.settings.short_query_scan.max(1),
        };
        Ok(self.search.search(query).await?)
    }

    fn checked_text<'a>(&self, q: &'a str) -> Result<&'a str> {
        let max = self.settings.max_query_chars;
        // Counting stops one past the limit: a huge query costs no more.
        if q.chars().nth(max).is_some() {
            return Err(Error::invalid(format!(
                "the query is longer than {max} characters"
            )));
        }
        let text = q.trim();
        if text.is_empty() {
            return Err(Error::invalid("the query is empty"));
        }
        if text.chars().any(char::is_control) {
            return Err(Error::invalid("the query has control characters"));
        }
        Ok(text)
    }
}

/// Up to [`SNIPPET_CHARS`] characters of `body` around the first match of
/// `q` (ASCII letters in either case, as the store matches), with `…` where
/// text is cut.
pub fn snippet(body: &str, q: &str) -> String {
    // ASCII lowering keeps every byte where it is, so the offset found in
    // the lowered text is a character boundary of the original.
    let at = body
        .to_ascii_lowercase()
        .find(&q.trim().to_ascii_lowercase())
        .unwrap_or(0);
    let before: Vec<(usize, char)> = body[..at].char_indices().collect();
    let start = before
        .len()
        .checked_sub(SNIPPET_BEFORE)
        .map_or(0, |i| before[i].0);
    let rest = &body[start..];
    let end = rest
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(rest.len(), |(i, _)| i);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&rest[..end]);
    if end < rest.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn short_texts_are_whole() {
        assert_eq!(
            snippet("明天下午三点在淘宝直播间见", "直播"),
            "明天下午三点在淘宝直播间见"
        );
    }

    #[test]
    fn long_texts_are_cut_around_the_match() {
        let body = format!("{}淘宝直播{}", "前".repeat(100), "后".repeat(200));
        let s = snippet(&body, "直播");
        assert!(
            s.starts_with(&format!("…{}淘宝直播", "前".repeat(28))),
            "{s}"
        );
        assert!(s.ends_with("后…"), "{s}");
        assert_eq!(s.chars().count(), 122);
    }

    #[test]
    fn case_differences_still_find_the_match() {
        let body = format!("{} Live Stream", "x".repeat(200));
        assert!(snippet(&body, "live").starts_with(&format!("…{} Live", "x".repeat(29))));
    }
}
