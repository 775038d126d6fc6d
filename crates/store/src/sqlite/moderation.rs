//! [`Moderation`] for the SQLite backend. Every write runs in the writer's
//! savepoint: an error rolls back all of it.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::moderation::refusal;
use crate::{
    Appeal, CaseState, Complaint, ComplaintCount, Decision, Error, Moderation, NewComplaint,
    Penalty, PenaltyCount, PenaltyState, Rung, Timestamp, UserId,
};

const COMPLAINT_SQL: &str = "SELECT c.id, r.handle, c.conversation_id, c.message_id, c.link_index, \
     c.url, c.domain, c.platform, c.owner, c.reason, c.note, c.created_at, c.state, d.handle, \
     c.decided_at, c.decision_note, c.reporter_id \
     FROM complaints c JOIN users r ON r.id = c.reporter_id LEFT JOIN users d ON d.id = c.decided_by";

fn state(r: &Row<'_>, at: usize) -> rusqlite::Result<CaseState> {
    let name: String = r.get(at)?;
    CaseState::parse(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, name.into())
    })
}

fn complaint_from(r: &Row<'_>) -> rusqlite::Result<Complaint> {
    Ok(Complaint {
        id: r.get(0)?,
        reporter: r.get(1)?,
        conversation_id: r.get(2)?,
        message_id: r.get(3)?,
        link_index: r.get(4)?,
        url: r.get(5)?,
        domain: r.get(6)?,
        platform: r.get(7)?,
        owner: r.get(8)?,
        reason: r.get(9)?,
        note: r.get(10)?,
        created_at: r.get(11)?,
        state: state(r, 12)?,
        decided_by: r.get(13)?,
        decided_at: r.get(14)?,
        decision_note: r.get(15)?,
        reporter_id: r.get(16)?,
    })
}

fn complaint(conn: &Connection, id: i64) -> Result<Option<Complaint>, Error> {
    Ok(conn
        .prepare_cached(&format!("{COMPLAINT_SQL} WHERE c.id = ?1"))?
        .query_row([id], complaint_from)
        .optional()?)
}

const PENALTY_SQL: &str = "SELECT p.id, p.domain, p.platform, p.owner, p.complaint_id, p.strike, \
     p.state, p.starts_at, p.ends_at, p.lifted_at, u.handle \
     FROM penalties p LEFT JOIN users u ON u.id = p.lifted_by";

fn penalty_from(r: &Row<'_>) -> rusqlite::Result<Penalty> {
    let name: String = r.get(6)?;
    let state = PenaltyState::parse(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, name.into())
    })?;
    Ok(Penalty {
        id: r.get(0)?,
        domain: r.get(1)?,
        platform: r.get(2)?,
        owner: r.get(3)?,
        complaint_id: r.get(4)?,
        strike: r.get(5)?,
        state,
        starts_at: r.get(7)?,
        ends_at: r.get(8)?,
        lifted_at: r.get(9)?,
        lifted_by: r.get(10)?,
    })
}

fn penalty(conn: &Connection, id: i64) -> Result<Option<Penalty>, Error> {
    Ok(conn
        .prepare_cached(&format!("{PENALTY_SQL} WHERE p.id = ?1"))?
        .query_row([id], penalty_from)
        .optional()?)
}

const APPEAL_SQL: &str = "SELECT a.id, a.penalty_id, p.domain, u.handle, a.note, a.created_at, \
     a.state, d.handle, a.decided_at, a.decision_note \
     FROM appeals a JOIN penalties p ON p.id = a.penalty_id JOIN users u ON u.id = a.appellant_id \
     LEFT JOIN users d ON d.id = a.decided_by";

fn appeal_from(r: &Row<'_>) -> rusqlite::Result<Appeal> {
    Ok(Appeal {
        id: r.get(0)?,
        penalty_id: r.get(1)?,
        domain: r.get(2)?,
        appellant: r.get(3)?,
        note: r.get(4)?,
        created_at: r.get(5)?,
        state: state(r, 6)?,
        decided_by: r.get(7)?,
        decided_at: r.get(8)?,
        decision_note: r.get(9)?,
    })
}

fn appeal(conn: &Connection, id: i64) -> Result<Option<Appeal>, Error> {
    Ok(conn
        .prepare_cached(&format!("{APPEAL_SQL} WHERE a.id = ?1"))?
        .query_row([id], appeal_from)
        .optional()?)
}

/// Closes an open complaint; [`Error::Conflict`] when it is not open.
fn close_complaint(conn: &Connection, d: &Decision, to: CaseState) -> Result<Complaint, Error> {
    let found = complaint(conn, d.id)?.ok_or(Error::NotFound("complaint"))?;
    if found.state != CaseState::Open {
        return Err(Error::Conflict(refusal::CLOSED));
    }
    conn.prepare_cached(
        "UPDATE complaints SET state = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5 \
         WHERE id = ?1",
    )?
    .execute(params![d.id, to.as_str(), d.by, d.now, d.note])?;
    complaint(conn, d.id)?.ok_or(Error::NotFound("complaint"))
}

fn uphold(
    conn: &Connection,
    d: &Decision,
    window_start: Timestamp,
    ladder: &[Rung],
) -> Result<(Complaint, Penalty), Error> {
    let complaint = close_complaint(conn, d, CaseState::Upheld)?;
    // Strikes in the window that no granted appeal took back.
    let earlier: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM penalties WHERE domain = ?1 AND starts_at >= ?2 \
             AND lifted_at IS NULL",
        )?
        .query_row(params![complaint.domain, window_start], |r| r.get(0))?;
    let strike = earlier + 1;
    let index = usize::try_from(earlier).unwrap_or(usize::MAX);
    let rung = ladder
        .get(index)
        .or(ladder.last())
        .ok_or(Error::Conflict("the penalty ladder is empty"))?;
    let ends_at = rung.duration_ms.map(|ms| d.now.saturating_add(ms));
    conn.prepare_cached(
        "INSERT INTO penalties (domain, platform, owner, complaint_id, strike, state, starts_at, ends_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        complaint.domain,
        complaint.platform,
        complaint.owner,
        complaint.id,
        strike,
        rung.state.as_str(),
        d.now,
        ends_at
    ])?;
    let penalty = penalty(conn, conn.last_insert_rowid())?.ok_or(Error::NotFound("penalty"))?;
    Ok((complaint, penalty))
}

fn file_appeal(
    conn: &Connection,
    penalty_id: i64,
    by: UserId,
    note: &str,
    now: Timestamp,
) -> Result<Appeal, Error> {
    let p = penalty(conn, penalty_id)?.ok_or(Error::NotFound("penalty"))?;
    if !p.in_force(now) {
        return Err(Error::Conflict(refusal::NOT_IN_FORCE));
    }
    let open: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM appeals WHERE penalty_id = ?1 AND state = 'open')",
        )?
        .query_row([penalty_id], |r| r.get(0))?;
    if open {
        return Err(Error::Conflict(refusal::APPEAL_OPEN));
    }
    conn.prepare_cached(
        "INSERT INTO appeals (penalty_id, appellant_id, note, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![penalty_id, by, note, now])?;
    appeal(conn, conn.last_insert_rowid())?.ok_or(Error::NotFound("appeal"))
}

fn decide_appeal(conn: &Connection, d: &Decision, grant: bool) -> Result<Appeal, Error> {
    let found = appeal(conn, d.id)?.ok_or(Error::NotFound("appeal"))?;
    if found.state != CaseState::Open {
        return Err(Error::Conflict(refusal::CLOSED));
    }
    let to = if grant {
        CaseState::Granted
    } else {
        CaseState::Refused
    };
    conn.prepare_cached(
        "UPDATE appeals SET state = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5 \
         WHERE id = ?1",
    )?
    .execute(params![d.id, to.as_str(), d.by, d.now, d.note])?;
    if grant {
        conn.prepare_cached(
            "UPDATE penalties SET lifted_at = ?2, lifted_by = ?3 WHERE id = ?1 AND lifted_at IS NULL",
        )?
        .execute(params![found.penalty_id, d.now, d.by])?;
    }
    appeal(conn, d.id)?.ok_or(Error::NotFound("appeal"))
}

fn state_filter(state: Option<CaseState>) -> &'static str {
    state.map_or("", CaseState::as_str)
}

#[async_trait]
impl Moderation for SqliteStore {
    async fn set_moderator(&self, handle: &str, moderator: bool) -> Result<UserId, Error> {
        let handle = handle.to_owned();
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "UPDATE users SET is_moderator = ?2 WHERE handle = ?1 RETURNING id",
                )?
                .query_row(params![handle, moderator], |r| r.get(0))
                .optional()?
                .ok_or(Error::NotFound("user"))
            })
            .await
    }

    async fn moderators(&self) -> Result<Vec<String>, Error> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT handle FROM users WHERE is_moderator ORDER BY handle")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn is_moderator(&self, user: UserId) -> Result<bool, Error> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT is_moderator FROM users WHERE id = ?1")?
                    .query_row([user], |r| r.get(0))
                    .optional()?
                    .unwrap_or(false),
            )
        })
        .await
    }

    async fn file_complaint(&self, n: NewComplaint) -> Result<(Complaint, bool), Error> {
        self.writer
            .run(move |conn, _| {
                let inserted = conn
                    .prepare_cached(
                        "INSERT INTO complaints (reporter_id, conversation_id, message_id, link_index, \
                         url, domain, platform, owner, reason, note, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                         ON CONFLICT (reporter_id, message_id, link_index) DO NOTHING",
                    )?
                    .execute(params![
                        n.reporter,
                        n.conversation_id,
                        n.message_id,
                        n.link_index,
                        n.url,
                        n.domain,
                        n.platform,
                        n.owner,
                        n.reason,
                        n.note,
                        n.now
                    ])?;
                let id: i64 = conn
                    .prepare_cached(
                        "SELECT id FROM complaints WHERE reporter_id = ?1 AND message_id = ?2 \
                         AND link_index = ?3",
                    )?
                    .query_row(params![n.reporter, n.message_id, n.link_index], |r| r.get(0))?;
                let c = complaint(conn, id)?.ok_or(Error::NotFound("complaint"))?;
                Ok((c, inserted == 1))
            })
            .await
    }

    async fn complaint(&self, id: i64) -> Result<Option<Complaint>, Error> {
        self.read(move |c| complaint(c, id)).await
    }

    async fn complaints(
        &self,
        state: Option<CaseState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Complaint>, Error> {
        let state = state_filter(state);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{COMPLAINT_SQL} WHERE (?1 = '' OR c.state = ?1) AND c.id > ?2 ORDER BY c.id LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![state, after, limit], complaint_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn complaints_by(&self, reporter: UserId, limit: u32) -> Result<Vec<Complaint>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{COMPLAINT_SQL} WHERE c.reporter_id = ?1 ORDER BY c.id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![reporter, limit], complaint_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn uphold(
        &self,
        decision: Decision,
        window_start: Timestamp,
        ladder: &[Rung],
    ) -> Result<(Complaint, Penalty), Error> {
        let ladder = ladder.to_vec();
        self.writer
            .run(move |conn, _| uphold(conn, &decision, window_start, &ladder))
            .await
    }

    async fn dismiss(&self, decision: Decision) -> Result<Complaint, Error> {
        self.writer
            .run(move |conn, _| close_complaint(conn, &decision, CaseState::Dismissed))
            .await
    }

    async fn penalty(&self, id: i64) -> Result<Option<Penalty>, Error> {
        self.read(move |c| penalty(c, id)).await
    }

    async fn penalties(&self, limit: u32) -> Result<Vec<Penalty>, Error> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("{PENALTY_SQL} ORDER BY p.id DESC LIMIT ?1"))?;
            let rows = stmt.query_map([limit], penalty_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn live_penalties(&self, now: Timestamp) -> Result<Vec<Penalty>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{PENALTY_SQL} WHERE p.lifted_at IS NULL AND (p.ends_at IS NULL OR p.ends_at > ?1) \
                 ORDER BY p.id"
            ))?;
            let rows = stmt.query_map([now], penalty_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn file_appeal(
        &self,
        penalty: i64,
        by: UserId,
        note: &str,
        now: Timestamp,
    ) -> Result<Appeal, Error> {
        let note = note.to_owned();
        self.writer
            .run(move |conn, _| file_appeal(conn, penalty, by, &note, now))
            .await
    }

    async fn appeals(&self, state: Option<CaseState>, limit: u32) -> Result<Vec<Appeal>, Error> {
        let state = state_filter(state);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{APPEAL_SQL} WHERE (?1 = '' OR a.state = ?1) ORDER BY a.id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![state, limit], appeal_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn decide_appeal(&self, decision: Decision, grant: bool) -> Result<Appeal, Error> {
        self.writer
            .run(move |conn, _| decide_appeal(conn, &decision, grant))
            .await
    }

    async fn complaint_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ComplaintCount>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT owner, platform, reason, state, COUNT(*) FROM complaints \
                 WHERE created_at >= ?1 AND created_at < ?2 \
                 GROUP BY owner, platform, reason, state ORDER BY owner, platform, reason, state",
            )?;
            let rows = stmt.query_map(params![from, to], |r| {
                Ok(ComplaintCount {
                    owner: r.get(0)?,
                    platform: r.get(1)?,
                    reason: r.get(2)?,
                    state: state(r, 3)?,
                    count: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn penalty_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PenaltyCount>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT p.owner, p.platform, c.reason, p.state, COUNT(*), COUNT(p.lifted_at) \
                 FROM penalties p JOIN complaints c ON c.id = p.complaint_id \
                 WHERE p.starts_at >= ?1 AND p.starts_at < ?2 \
                 GROUP BY p.owner, p.platform, c.reason, p.state \
                 ORDER BY p.owner, p.platform, c.reason, p.state",
            )?;
            let rows = stmt.query_map(params![from, to], |r| {
                let name: String = r.get(3)?;
                let state = PenaltyState::parse(&name).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        3,
                        rusqlite::types::Type::Text,
                        name.into(),
                    )
                })?;
                Ok(PenaltyCount {
                    owner: r.get(0)?,
                    platform: r.get(1)?,
                    reason: r.get(2)?,
                    state,
                    count: r.get(4)?,
                    lifted: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
