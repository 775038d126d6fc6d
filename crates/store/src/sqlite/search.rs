//! [`Search`] for the SQLite backend: an FTS5 trigram index
//! (`messages_search`, filled between sends by `indexer.rs`, and moved by
//! triggers when indexed text changes), and a bounded scan for queries too
//! short for it.
use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::read::{MESSAGE_COLUMNS, message_from};
use crate::search::{fts_phrase, full_page_next, indexed, like_pattern};
use crate::{Error, Message, Search, SearchPage, SearchQuery};

/// Which messages the user may see: those of conversations they are a
/// member of now (as history reads), or of the one conversation asked for
/// if they are a member of it. `?1` is the user, `?2` the conversation.
fn scope(q: &SearchQuery) -> &'static str {
    match q.conversation {
        None => {
            "m.conversation_id IN (SELECT conversation_id FROM memberships \
             WHERE user_id = ?1 AND left_event IS NULL)"
        }
        Some(_) => {
            "m.conversation_id = ?2 AND EXISTS (SELECT 1 FROM memberships \
             WHERE conversation_id = ?2 AND user_id = ?1 AND left_event IS NULL)"
        }
    }
}

fn collect(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Message>, Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(p, |r| message_from(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Three characters or more: the trigram index, read newest first, so
/// that the query stops at `limit` hits however common the text is. The
/// newest messages, not indexed yet (`indexer.rs`), come first, by a scan;
/// one read transaction serves both, so a chunk indexed in between is
/// neither missed nor found twice.
fn indexed_search(conn: &Connection, q: &SearchQuery) -> Result<SearchPage, Error> {
    let tx = conn.unchecked_transaction()?;
    let through: i64 = conn
        .prepare_cached("SELECT indexed_through FROM search_state")?
        .query_row([], |r| r.get(0))?;
    let before = q.before.unwrap_or(i64::MAX);
    let tail = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
         WHERE m.id > ?3 AND m.id < ?4 AND {} AND m.body LIKE ?5 ESCAPE '\\' \
         AND m.removed_at IS NULL ORDER BY m.id DESC LIMIT ?6",
        scope(q)
    );
    let mut hits = collect(
        conn,
        &tail,
        params![
            q.user,
            q.conversation,
            through,
            before,
            like_pattern(&q.text),
            q.limit
        ],
    )?;
    let left = q
        .limit
        .saturating_sub(u32::try_from(hits.len()).unwrap_or(u32::MAX));
    if left > 0 {
        let indexed = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages_search \
             JOIN messages m ON m.id = messages_search.rowid JOIN users u ON u.id = m.sender_id \
             WHERE messages_search MATCH ?4 AND messages_search.rowid < ?3 AND {} \
             AND m.removed_at IS NULL ORDER BY messages_search.rowid DESC LIMIT ?5",
            scope(q)
        );
        let below = before.min(through.saturating_add(1));
        hits.extend(collect(
            conn,
            &indexed,
            params![q.user, q.conversation, below, fts_phrase(&q.text), left],
        )?);
    }
    tx.finish()?;
    let next_before = full_page_next(&hits, q.limit);
    Ok(SearchPage { hits, next_before })
}

/// One or two characters: `LIKE` over the newest `short_scan` messages in
/// scope. When the window ends before the page fills, the next page starts
/// where the window ended, so a client can keep looking further back.
fn short_search(conn: &Connection, q: &SearchQuery) -> Result<SearchPage, Error> {
    let window = format!(
        "SELECT * FROM messages m WHERE {} AND m.id < ?3 ORDER BY m.id DESC LIMIT ?4",
        scope(q)
    );
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM ({window}) m JOIN users u ON u.id = m.sender_id \
         WHERE m.body LIKE ?5 ESCAPE '\\' AND m.removed_at IS NULL ORDER BY m.id DESC LIMIT ?6"
    );
    let before = q.before.unwrap_or(i64::MAX);
    let pattern = like_pattern(&q.text);
    let hits = collect(
        conn,
        &sql,
        params![
            q.user,
            q.conversation,
            before,
            q.short_scan,
            pattern,
            q.limit
        ],
    )?;
    if let Some(next) = full_page_next(&hits, q.limit) {
        return Ok(SearchPage {
            hits,
            next_before: Some(next),
        });
    }
    let (scanned, oldest): (u32, Option<i64>) = conn
        .prepare_cached(&format!("SELECT COUNT(*), MIN(id) FROM ({window})"))?
        .query_row(params![q.user, q.conversation, before, q.short_scan], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let next_before = if scanned >= q.short_scan {
        oldest
    } else {
        None
    };
    Ok(SearchPage { hits, next_before })
}

#[async_trait]
impl Search for SqliteStore {
    async fn search(&self, query: SearchQuery) -> Result<SearchPage, Error> {
        self.read(move |conn| {
            if indexed(&query.text) {
                indexed_search(conn, &query)
            } else {
                short_search(conn, &query)
            }
        })
        .await
    }
}
