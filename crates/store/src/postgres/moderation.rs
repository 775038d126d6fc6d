//! [`Moderation`] for the PostgreSQL backend. Every write runs in one
//! transaction holding the write lock (see `mod.rs`), so two upholds against
//! one domain count their strikes one after the other.
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgStore;
use super::read::{corrupt, execute, query, query_one, query_opt};
use crate::moderation::refusal;
use crate::{
    Appeal, CaseState, Complaint, ComplaintCount, Decision, Error, Moderation, NewComplaint,
    Penalty, PenaltyCount, PenaltyState, Rung, Timestamp, UserId,
};

const COMPLAINT_SQL: &str = "SELECT c.id, r.handle, c.conversation_id, c.message_id, c.link_index, \
     c.url, c.domain, c.platform, c.owner, c.reason, c.note, c.created_at, c.state, d.handle, \
     c.decided_at, c.decision_note, c.reporter_id \
     FROM complaints c JOIN users r ON r.id = c.reporter_id LEFT JOIN users d ON d.id = c.decided_by";

fn state(r: &Row, at: usize) -> Result<CaseState, Error> {
    let name: String = r.try_get(at)?;
    CaseState::parse(&name).ok_or_else(|| corrupt("a case state"))
}

fn complaint_from(r: &Row) -> Result<Complaint, Error> {
    Ok(Complaint {
        id: r.try_get(0)?,
        reporter: r.try_get(1)?,
        conversation_id: r.try_get(2)?,
        message_id: r.try_get(3)?,
        link_index: r.try_get(4)?,
        url: r.try_get(5)?,
        domain: r.try_get(6)?,
        platform: r.try_get(7)?,
        owner: r.try_get(8)?,
        reason: r.try_get(9)?,
        note: r.try_get(10)?,
        created_at: r.try_get(11)?,
        state: state(r, 12)?,
        decided_by: r.try_get(13)?,
        decided_at: r.try_get(14)?,
        decision_note: r.try_get(15)?,
        reporter_id: r.try_get(16)?,
    })
}

async fn complaint<C: GenericClient>(c: &C, id: i64) -> Result<Option<Complaint>, Error> {
    let sql = format!("{COMPLAINT_SQL} WHERE c.id = $1");
    query_opt(c, &sql, &[&id])
        .await?
        .as_ref()
        .map(complaint_from)
        .transpose()
}

const PENALTY_SQL: &str = "SELECT p.id, p.domain, p.platform, p.owner, p.complaint_id, p.strike, \
     p.state, p.starts_at, p.ends_at, p.lifted_at, u.handle \
     FROM penalties p LEFT JOIN users u ON u.id = p.lifted_by";

fn penalty_from(r: &Row) -> Result<Penalty, Error> {
    let name: String = r.try_get(6)?;
    Ok(Penalty {
        id: r.try_get(0)?,
        domain: r.try_get(1)?,
        platform: r.try_get(2)?,
        owner: r.try_get(3)?,
        complaint_id: r.try_get(4)?,
        strike: r.try_get(5)?,
        state: PenaltyState::parse(&name).ok_or_else(|| corrupt("a penalty state"))?,
        starts_at: r.try_get(7)?,
        ends_at: r.try_get(8)?,
        lifted_at: r.try_get(9)?,
        lifted_by: r.try_get(10)?,
    })
}

async fn penalty<C: GenericClient>(c: &C, id: i64) -> Result<Option<Penalty>, Error> {
    let sql = format!("{PENALTY_SQL} WHERE p.id = $1");
    query_opt(c, &sql, &[&id])
        .await?
        .as_ref()
        .map(penalty_from)
        .transpose()
}

const APPEAL_SQL: &str = "SELECT a.id, a.penalty_id, p.domain, u.handle, a.note, a.created_at, \
     a.state, d.handle, a.decided_at, a.decision_note \
     FROM appeals a JOIN penalties p ON p.id = a.penalty_id JOIN users u ON u.id = a.appellant_id \
     LEFT JOIN users d ON d.id = a.decided_by";

fn appeal_from(r: &Row) -> Result<Appeal, Error> {
    Ok(Appeal {
        id: r.try_get(0)?,
        penalty_id: r.try_get(1)?,
        domain: r.try_get(2)?,
        appellant: r.try_get(3)?,
        note: r.try_get(4)?,
        created_at: r.try_get(5)?,
        state: state(r, 6)?,
        decided_by: r.try_get(7)?,
        decided_at: r.try_get(8)?,
        decision_note: r.try_get(9)?,
    })
}

async fn appeal<C: GenericClient>(c: &C, id: i64) -> Result<Option<Appeal>, Error> {
    let sql = format!("{APPEAL_SQL} WHERE a.id = $1");
    query_opt(c, &sql, &[&id])
        .await?
        .as_ref()
        .map(appeal_from)
        .transpose()
}

/// Closes an open complaint; [`Error::Conflict`] when it is not open.
async fn close_complaint<C: GenericClient>(
    c: &C,
    d: &Decision,
    to: CaseState,
) -> Result<Complaint, Error> {
    let found = complaint(c, d.id)
        .await?
        .ok_or(Error::NotFound("complaint"))?;
    if found.state != CaseState::Open {
        return Err(Error::Conflict(refusal::CLOSED));
    }
    execute(
        c,
        "UPDATE complaints SET state = $2, decided_by = $3, decided_at = $4, decision_note = $5 \
         WHERE id = $1",
        &[&d.id, &to.as_str(), &d.by, &d.now, &d.note],
    )
    .await?;
    complaint(c, d.id)
        .await?
        .ok_or(Error::NotFound("complaint"))
}

async fn uphold<C: GenericClient>(
    c: &C,
    d: &Decision,
    window_start: Timestamp,
    ladder: &[Rung],
) -> Result<(Complaint, Penalty), Error> {
    let complaint = close_complaint(c, d, CaseState::Upheld).await?;
    // Strikes in the window that no granted appeal took back.
    let earlier: i64 = query_one(
        c,
        "SELECT COUNT(*) FROM penalties WHERE domain = $1 AND starts_at >= $2 \
         AND lifted_at IS NULL",
        &[&complaint.domain, &window_start],
    )
    .await?
    .try_get(0)?;
    let strike = earlier + 1;
    let index = usize::try_from(earlier).unwrap_or(usize::MAX);
    let rung = ladder
        .get(index)
        .or(ladder.last())
        .ok_or(Error::Conflict("the penalty ladder is empty"))?;
    let ends_at = rung.duration_ms.map(|ms| d.now.saturating_add(ms));
    let id: i64 = query_one(
        c,
        "INSERT INTO penalties (domain, platform, owner, complaint_id, strike, state, starts_at, ends_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            &complaint.domain,
            &complaint.platform,
            &complaint.owner,
            &complaint.id,
            &strike,
            &rung.state.as_str(),
            &d.now,
            &ends_at,
        ],
    )
    .await?
    .try_get(0)?;
    let penalty = penalty(c, id).await?.ok_or(Error::NotFound("penalty"))?;
    Ok((complaint, penalty))
}

async fn file_appeal<C: GenericClient>(
    c: &C,
    penalty_id: i64,
    by: UserId,
    note: &str,
    now: Timestamp,
) -> Result<Appeal, Error> {
    let p = penalty(c, penalty_id)
        .await?
        .ok_or(Error::NotFound("penalty"))?;
    if !p.in_force(now) {
        return Err(Error::Conflict(refusal::NOT_IN_FORCE));
    }
    let open = query_opt(
        c,
        "SELECT 1 FROM appeals WHERE penalty_id = $1 AND state = 'open'",
        &[&penalty_id],
    )
    .await?;
    if open.is_some() {
        return Err(Error::Conflict(refusal::APPEAL_OPEN));
    }
    let id: i64 = query_one(
        c,
        "INSERT INTO appeals (penalty_id, appellant_id, note, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id",
        &[&penalty_id, &by, &note, &now],
    )
    .await?
    .try_get(0)?;
    appeal(c, id).await?.ok_or(Error::NotFound("appeal"))
}

async fn decide_appeal<C: GenericClient>(
    c: &C,
    d: &Decision,
    grant: bool,
) -> Result<Appeal, Error> {
    let found = appeal(c, d.id).await?.ok_or(Error::NotFound("appeal"))?;
    if found.state != CaseState::Open {
        return Err(Error::Conflict(refusal::CLOSED));
    }
    let to = if grant {
        CaseState::Granted
    } else {
        CaseState::Refused
    };
    execute(
        c,
        "UPDATE appeals SET state = $2, decided_by = $3, decided_at = $4, decision_note = $5 \
         WHERE id = $1",
        &[&d.id, &to.as_str(), &d.by, &d.now, &d.note],
    )
    .await?;
    if grant {
        execute(
            c,
            "UPDATE penalties SET lifted_at = $2, lifted_by = $3 WHERE id = $1 AND lifted_at IS NULL",
            &[&found.penalty_id, &d.now, &d.by],
        )
        .await?;
    }
    appeal(c, d.id).await?.ok_or(Error::NotFound("appeal"))
}

fn state_filter(state: Option<CaseState>) -> &'static str {
    state.map_or("", CaseState::as_str)
}

#[async_trait]
impl Moderation for PgStore {
    async fn set_moderator(&self, handle: &str, moderator: bool) -> Result<UserId, Error> {
        let handle = handle.to_owned();
        self.write(move |tx, _| {
            Box::pin(async move {
                query_opt(
                    tx,
                    "UPDATE users SET is_moderator = $2 WHERE handle = $1 RETURNING id",
                    &[&handle, &moderator],
                )
                .await?
                .ok_or(Error::NotFound("user"))?
                .try_get(0)
                .map_err(Error::from)
            })
        })
        .await
    }

    async fn moderators(&self) -> Result<Vec<String>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT handle FROM users WHERE is_moderator ORDER BY handle",
            &[],
        )
        .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(Error::from))
            .collect()
    }

    async fn is_moderator(&self, user: UserId) -> Result<bool, Error> {
        let row = query_opt(
            &self.client().await?,
            "SELECT is_moderator FROM users WHERE id = $1",
            &[&user],
        )
        .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => false,
        })
    }

    async fn file_complaint(&self, n: NewComplaint) -> Result<(Complaint, bool), Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                let inserted = execute(
                    tx,
                    "INSERT INTO complaints (reporter_id, conversation_id, message_id, link_index, \
                     url, domain, platform, owner, reason, note, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (reporter_id, message_id, link_index) DO NOTHING",
                    &[
                        &n.reporter,
                        &n.conversation_id,
                        &n.message_id,
                        &n.link_index,
                        &n.url,
                        &n.domain,
                        &n.platform,
                        &n.owner,
                        &n.reason,
                        &n.note,
                        &n.now,
                    ],
                )
                .await?;
                let id: i64 = query_one(
                    tx,
                    "SELECT id FROM complaints WHERE reporter_id = $1 AND message_id = $2 \
                     AND link_index = $3",
                    &[&n.reporter, &n.message_id, &n.link_index],
                )
                .await?
                .try_get(0)?;
                let c = complaint(tx, id)
                    .await?
                    .ok_or(Error::NotFound("complaint"))?;
                Ok((c, inserted == 1))
            })
        })
        .await
    }

    async fn complaint(&self, id: i64) -> Result<Option<Complaint>, Error> {
        complaint(&self.client().await?, id).await
    }

    async fn complaints(
        &self,
        state: Option<CaseState>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Complaint>, Error> {
        let sql = format!(
            "{COMPLAINT_SQL} WHERE ($1 = '' OR c.state = $1) AND c.id > $2 ORDER BY c.id LIMIT $3"
        );
        let rows = query(
            &self.client().await?,
            &sql,
            &[&state_filter(state), &after, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(complaint_from).collect()
    }

    async fn complaints_by(&self, reporter: UserId, limit: u32) -> Result<Vec<Complaint>, Error> {
        let sql = format!("{COMPLAINT_SQL} WHERE c.reporter_id = $1 ORDER BY c.id DESC LIMIT $2");
        let rows = query(&self.client().await?, &sql, &[&reporter, &i64::from(limit)]).await?;
        rows.iter().map(complaint_from).collect()
    }

    async fn uphold(
        &self,
        decision: Decision,
        window_start: Timestamp,
        ladder: &[Rung],
    ) -> Result<(Complaint, Penalty), Error> {
        let ladder = ladder.to_vec();
        self.write(move |tx, _| {
            Box::pin(async move { uphold(tx, &decision, window_start, &ladder).await })
        })
        .await
    }

    async fn dismiss(&self, decision: Decision) -> Result<Complaint, Error> {
        self.write(move |tx, _| {
            Box::pin(async move { close_complaint(tx, &decision, CaseState::Dismissed).await })
        })
        .await
    }

    async fn penalty(&self, id: i64) -> Result<Option<Penalty>, Error> {
        penalty(&self.client().await?, id).await
    }

    async fn penalties(&self, limit: u32) -> Result<Vec<Penalty>, Error> {
        let sql = format!("{PENALTY_SQL} ORDER BY p.id DESC LIMIT $1");
        let rows = query(&self.client().await?, &sql, &[&i64::from(limit)]).await?;
        rows.iter().map(penalty_from).collect()
    }

    async fn live_penalties(&self, now: Timestamp) -> Result<Vec<Penalty>, Error> {
        let sql = format!(
            "{PENALTY_SQL} WHERE p.lifted_at IS NULL AND (p.ends_at IS NULL OR p.ends_at > $1) \
             ORDER BY p.id"
        );
        let rows = query(&self.client().await?, &sql, &[&now]).await?;
        rows.iter().map(penalty_from).collect()
    }

    async fn file_appeal(
        &self,
        penalty: i64,
        by: UserId,
        note: &str,
        now: Timestamp,
    ) -> Result<Appeal, Error> {
        let note = note.to_owned();
        self.write(move |tx, _| {
            Box::pin(async move { file_appeal(tx, penalty, by, &note, now).await })
        })
        .await
    }

    async fn appeals(&self, state: Option<CaseState>, limit: u32) -> Result<Vec<Appeal>, Error> {
        let sql = format!("{APPEAL_SQL} WHERE ($1 = '' OR a.state = $1) ORDER BY a.id LIMIT $2");
        let rows = query(
            &self.client().await?,
            &sql,
            &[&state_filter(state), &i64::from(limit)],
        )
        .await?;
        rows.iter().map(appeal_from).collect()
    }

    async fn decide_appeal(&self, decision: Decision, grant: bool) -> Result<Appeal, Error> {
        self.write(move |tx, _| Box::pin(async move { decide_appeal(tx, &decision, grant).await }))
            .await
    }

    async fn complaint_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ComplaintCount>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT owner, platform, reason, state, COUNT(*) FROM complaints \
             WHERE created_at >= $1 AND created_at < $2 \
             GROUP BY owner, platform, reason, state ORDER BY owner, platform, reason, state",
            &[&from, &to],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ComplaintCount {
                    owner: r.try_get(0)?,
                    platform: r.try_get(1)?,
                    reason: r.try_get(2)?,
                    state: state(r, 3)?,
                    count: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn penalty_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PenaltyCount>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT p.owner, p.platform, c.reason, p.state, COUNT(*), COUNT(p.lifted_at) \
             FROM penalties p JOIN complaints c ON c.id = p.complaint_id \
             WHERE p.starts_at >= $1 AND p.starts_at < $2 \
             GROUP BY p.owner, p.platform, c.reason, p.state \
             ORDER BY p.owner, p.platform, c.reason, p.state",
            &[&from, &to],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(3)?;
                Ok(PenaltyCount {
                    owner: r.try_get(0)?,
                    platform: r.try_get(1)?,
                    reason: r.try_get(2)?,
                    state: PenaltyState::parse(&name).ok_or_else(|| corrupt("a penalty state"))?,
                    count: r.try_get(4)?,
                    lifted: r.try_get(5)?,
                })
            })
            .collect()
    }
}
