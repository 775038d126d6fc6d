//! Full-text search over the messages of the conversations a user is in:
//! a fourth trait beside [`crate::Store`], so that the chat path does not
//! see it. Both backends index trigrams (every run of three characters), so
//! text inside Chinese, which has no spaces between words, is found; a
//! query of one or two characters, which a trigram index cannot serve, is
//! looked for in a bounded window of the newest messages instead (see
//! docs/search.md for why, with figures).
use async_trait::async_trait;

use crate::{Error, Message, UserId};

/// The fewest characters a query needs to use the trigram index.
pub const INDEXED_QUERY_CHARS: usize = 3;

/// What to look for, and where.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Whose conversations: only those the user is a member of now.
    pub user: UserId,
    /// The text, taken literally (no operators, no wildcards), matched
    /// anywhere in a message; ASCII letters match either case. Not empty.
    pub text: String,
    /// Only this conversation, when set.
    pub conversation: Option<i64>,
    /// Only messages with a smaller id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Most hits.
    pub limit: u32,
    /// A query shorter than [`INDEXED_QUERY_CHARS`] looks through at most
    /// this many of the newest messages (before `before`).
    pub short_scan: u32,
}

/// A page of hits.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// Matching messages, newest (highest id) first.
    pub hits: Vec<Message>,
    /// Where the next page starts (its `before`); `None` when there is
    /// nothing older to look through.
    pub next_before: Option<i64>,
}

/// Search storage.
#[async_trait]
pub trait Search: Send + Sync + 'static {
    /// Messages of the user's current conversations whose text contains
    /// the query, newest first. Removed messages have no text and are
    /// never found.
    async fn search(&self, query: SearchQuery) -> Result<SearchPage, Error>;
}

/// The query as a `LIKE` pattern (escape character `\`): `%`, `_` and `\`
/// are taken literally.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The query as one FTS5 phrase: inside double quotes every character is
/// literal (`AND`, `*`, `^`, `:` included), and a quote is doubled.
pub(crate) fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Whether the trigram index can serve the query.
pub(crate) fn indexed(text: &str) -> bool {
    text.chars().count() >= INDEXED_QUERY_CHARS
}

/// The next page's start: the last hit when the page is full.
pub(crate) fn full_page_next(hits: &[Message], limit: u32) -> Option<i64> {
    if hits.len() >= limit as usize {
        hits.last().map(|m| m.id)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(like_pattern("直播"), "%直播%");
    }

    #[test]
    fn fts_queries_become_one_quoted_phrase() {
        assert_eq!(fts_phrase("a \"b\" OR c*"), "\"a \"\"b\"\" OR c*\"");
    }

    #[test]
    fn three_characters_use_the_index_whatever_their_bytes() {
        assert!(!indexed("直播"));
        assert!(indexed("直播间"));
        assert!(!indexed("ab"));
        assert!(indexed("abc"));
    }
}
