//! [`Search`] for the PostgreSQL backend: `ILIKE` served by a pg_trgm GIN
//! index on `messages.body` (an index of the column, so always in step
//! with the text), and a bounded scan for queries too short for it.
use async_trait::async_trait;

use super::PgStore;
use super::read::{MESSAGE_COLUMNS, Params, message_from, query, query_one};
use crate::search::{full_page_next, indexed, like_pattern};
use crate::{Error, Message, Search, SearchPage, SearchQuery};

/// Which messages the user may see: those of conversations they are a
/// member of now (as history reads), or of the one conversation asked for
/// if they are a member of it. `$1` is the user, `$2` the conversation
/// (named in both forms, so that its type is known).
fn scope(q: &SearchQuery) -> &'static str {
    match q.conversation {
        None => {
            "$2::BIGINT IS NULL AND m.conversation_id IN (SELECT conversation_id \
             FROM memberships WHERE user_id = $1 AND left_event IS NULL)"
        }
        Some(_) => {
            "m.conversation_id = $2::BIGINT AND EXISTS (SELECT 1 FROM memberships \
             WHERE conversation_id = $2::BIGINT AND user_id = $1 AND left_event IS NULL)"
        }
    }
}

async fn collect(
    c: &impl deadpool_postgres::GenericClient,
    sql: &str,
    p: Params<'_>,
) -> Result<Vec<Message>, Error> {
    query(c, sql, p)
        .await?
        .iter()
        .map(|r| message_from(r, 0))
        .collect()
}

#[async_trait]
impl Search for PgStore {
    async fn search(&self, q: SearchQuery) -> Result<SearchPage, Error> {
        let c = self.client().await?;
        let before = q.before.unwrap_or(i64::MAX);
        let pattern = like_pattern(&q.text);
        let limit = i64::from(q.limit);
        if indexed(&q.text) {
            // The planner picks the trigram index, or the id index read
            // backwards when the text is common; both stop at `limit`.
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
                 WHERE m.body ILIKE $4 AND m.id < $3 AND {} AND m.removed_at IS NULL \
                 ORDER BY m.id DESC LIMIT $5",
                scope(&q)
            );
            let hits = collect(
                &c,
                &sql,
                &[&q.user, &q.conversation, &before, &pattern, &limit],
            )
            .await?;
            let next_before = full_page_next(&hits, q.limit);
            return Ok(SearchPage { hits, next_before });
        }
        // One or two characters: the newest `short_scan` messages in scope.
        let scan = i64::from(q.short_scan);
        let window = format!(
            "SELECT * FROM messages m WHERE {} AND m.id < $3 ORDER BY m.id DESC LIMIT $4",
            scope(&q)
        );
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM ({window}) m JOIN users u ON u.id = m.sender_id \
             WHERE m.body ILIKE $5 AND m.removed_at IS NULL ORDER BY m.id DESC LIMIT $6"
        );
        let hits = collect(
            &c,
            &sql,
            &[&q.user, &q.conversation, &before, &scan, &pattern, &limit],
        )
        .await?;
        if let Some(next) = full_page_next(&hits, q.limit) {
            return Ok(SearchPage {
                hits,
                next_before: Some(next),
            });
        }
        let count = format!("SELECT COUNT(*), MIN(m.id) FROM ({window}) m");
        let row = query_one(&c, &count, &[&q.user, &q.conversation, &before, &scan]).await?;
        let (scanned, oldest): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        let next_before = if scanned >= scan { oldest } else { None };
        Ok(SearchPage { hits, next_before })
    }
}
