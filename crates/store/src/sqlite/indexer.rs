//! The full-text index, written by the writer thread between sends instead
//! of by a trigger inside every send.
//!
//! Why: FTS5 turns each transaction's new trigrams into a new index segment
//! at commit and merges segments as they pile up. Done in every send, that
//! work sat on the send path and made the embedded server slower (a send's
//! p99 rose from 1.2 to 4.7 ms, docs/benchmarks.md). Indexed in chunks,
//! the same messages make one segment per chunk, and no send waits for it
//! unless the backlog is full.
//!
//! The index covers the messages up to `search_state.indexed_through`. The
//! one writer assigns message ids in commit order, each above the largest
//! id in the table, so "not indexed yet" is exactly "id above the
//! watermark": search reads those few by a scan (`search.rs`). Edits and
//! deletions of indexed messages still move the index by trigger (migration
//! 0017), and a deletion lowers the watermark to the largest id left, so an
//! id SQLite hands out again is above it; edits of unindexed messages need
//! nothing, as the chunk reads the text as it is then.
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use crate::Error;

/// When and how much to index.
#[derive(Debug, Clone, Copy)]
pub(super) struct IndexPace {
    /// Most messages indexed in one transaction; a backlog this long is
    /// indexed right after the writes that made it, idle or not.
    pub chunk: usize,
    /// A shorter backlog waits until no write has come for this long.
    pub idle: Duration,
}

pub(super) struct Indexer {
    pace: IndexPace,
    /// The last message id indexed (the watermark, as stored).
    through: i64,
    /// The last message id written, as far as the writer has looked.
    written: i64,
    /// Failed steps in a row, and when to try again: a failure that lasts
    /// (a full disk) is retried with a growing pause, not every `idle`.
    failures: u32,
    retry_at: Option<Instant>,
}

/// The longest pause between two tries after failures.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(60);

impl Indexer {
    pub(super) fn load(conn: &Connection, pace: IndexPace) -> Result<Self, Error> {
        let mut indexer = Self {
            pace: IndexPace {
                chunk: pace.chunk.max(1),
                idle: pace.idle,
            },
            through: 0,
            written: 0,
            failures: 0,
            retry_at: None,
        };
        indexer.note_writes(conn)?;
        Ok(indexer)
    }

    /// Looks at how far messages have been written and indexed (after a
    /// commit; a deletion may have lowered the watermark).
    pub(super) fn note_writes(&mut self, conn: &Connection) -> Result<(), Error> {
        (self.through, self.written) = conn
            .prepare_cached(
                "SELECT (SELECT indexed_through FROM search_state), \
                 (SELECT COALESCE(MAX(id), 0) FROM messages)",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(())
    }

    fn backlog(&self) -> usize {
        usize::try_from(self.written.saturating_sub(self.through)).unwrap_or(usize::MAX)
    }

    /// How long the writer may wait for a write before indexing: `None`
    /// when there is nothing to index.
    pub(super) fn wait(&self) -> Option<Duration> {
        let pause = self.retry_at.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        });
        (self.backlog() > 0).then(|| pause.max(self.pace.idle))
    }

    /// Is the backlog a full chunk, to index now?
    pub(super) fn full(&self) -> bool {
        self.backlog() >= self.pace.chunk && self.retry_at.is_none_or(|at| Instant::now() >= at)
    }

    /// Indexes the next chunk in its own transaction. On failure nothing
    /// changes: the messages stay unindexed, and search still finds them.
    pub(super) fn step(&mut self, conn: &Connection) {
        match self.try_step(conn) {
            Ok(()) => {
                self.failures = 0;
                self.retry_at = None;
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                self.failures = self.failures.saturating_add(1);
                let pause = (self.pace.idle.max(Duration::from_millis(100)))
                    .saturating_mul(1 << self.failures.min(10))
                    .min(MAX_RETRY_PAUSE);
                self.retry_at = Some(Instant::now() + pause);
                tracing::error!(
                    error = %e,
                    failures = self.failures,
                    retry_in_ms = pause.as_millis() as u64,
                    "indexing messages for search failed; they are still found by a scan"
                );
            }
        }
    }

    fn try_step(&mut self, conn: &Connection) -> Result<(), Error> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        self.note_writes(conn)?;
        let chunk = i64::try_from(self.pace.chunk).unwrap_or(i64::MAX);
        let upto: Option<i64> = conn
            .prepare_cached(
                "SELECT MAX(id) FROM (SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2)",
            )?
            .query_row(params![self.through, chunk], |r| r.get(0))?;
        let Some(upto) = upto else {
            return Ok(conn.execute_batch("COMMIT")?);
        };
        conn.prepare_cached(
            "INSERT INTO messages_search (rowid, body) \
             SELECT id, body FROM messages WHERE id > ?1 AND id <= ?2",
        )?
        .execute(params![self.through, upto])?;
        conn.prepare_cached("UPDATE search_state SET indexed_through = ?1")?
            .execute(params![upto])?;
        conn.execute_batch("COMMIT")?;
        // `written` was read in this transaction, so it is at least `upto`.
        self.through = upto;
        Ok(())
    }
}
