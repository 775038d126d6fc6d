//! [`Administration`] for the PostgreSQL backend. Every write runs in one
//! transaction holding the write lock (see `mod.rs`): an error rolls back
//! all of it, and two redemptions of one code cannot both succeed.
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::read::{self, execute, query, query_one, query_opt};
use super::{PgStore, now_ms, write};
use crate::administration::{refusal, removal_data};
use crate::{
    Account, Administration, Error, Event, EventBody, Invite, InvitedSignUp, Timestamp, User,
    UserId,
};

const INVITE_SQL: &str = "SELECT i.id, u.handle, i.created_at, i.expires_at, i.max_uses, i.uses, \
     i.revoked_at FROM invites i JOIN users u ON u.id = i.created_by";

fn invite_from(r: &Row) -> Result<Invite, Error> {
    Ok(Invite {
        id: r.try_get(0)?,
        created_by: r.try_get(1)?,
        created_at: r.try_get(2)?,
        expires_at: r.try_get(3)?,
        max_uses: r.try_get(4)?,
        uses: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
    })
}

async fn invite<C: GenericClient>(c: &C, id: i64) -> Result<Option<Invite>, Error> {
    let sql = format!("{INVITE_SQL} WHERE i.id = $1");
    let row = query_opt(c, &sql, &[&id]).await?;
    row.as_ref().map(invite_from).transpose()
}

const ACCOUNT_SQL: &str =
    "SELECT id, handle, display_name, is_admin, created_at, suspended_at FROM users";

fn account_from(r: &Row) -> Result<Account, Error> {
    Ok(Account {
        user: User {
            id: r.try_get(0)?,
            handle: r.try_get(1)?,
            display_name: r.try_get(2)?,
            is_admin: r.try_get(3)?,
            created_at: r.try_get(4)?,
        },
        suspended_at: r.try_get(5)?,
    })
}

/// Revokes every live session of `user`; returns their digests.
async fn end_sessions<C: GenericClient>(
    c: &C,
    user: UserId,
    now: Timestamp,
) -> Result<Vec<[u8; 32]>, Error> {
    let rows = query(
        c,
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
         RETURNING token_hash",
        &[&user, &now],
    )
    .await?;
    let mut out = Vec::new();
    for row in rows {
        let hash: Vec<u8> = row.try_get(0)?;
        // Digests are always 32 bytes; anything else is not a live token.
        if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
            out.push(hash);
        }
    }
    Ok(out)
}

async fn sign_up_with_invite<C: GenericClient>(c: &C, s: &InvitedSignUp) -> Result<User, Error> {
    let row = query_opt(
        c,
        "SELECT id, expires_at, max_uses, uses, revoked_at FROM invites WHERE code_hash = $1",
        &[&&s.code_hash[..]],
    )
    .await?;
    let Some(row) = row else {
        return Err(Error::Forbidden(refusal::INVITE_INVALID));
    };
    let (id, expires_at, max_uses, uses, revoked_at): (i64, i64, i64, i64, Option<i64>) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    );
    if revoked_at.is_some() {
        return Err(Error::Forbidden(refusal::INVITE_INVALID));
    }
    if expires_at <= s.now {
        return Err(Error::Forbidden(refusal::INVITE_EXPIRED));
    }
    if uses >= max_uses {
        return Err(Error::Forbidden(refusal::INVITE_USED_UP));
    }
    let user = write::create_user(c, &s.handle, &s.display_name, &s.password_hash, s.admin).await?;
    execute(
        c,
        "UPDATE invites SET uses = uses + 1 WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(user)
}

async fn redeem<C: GenericClient>(
    c: &C,
    code_hash: &[u8; 32],
    now: Timestamp,
    password_hash: &str,
) -> Result<(User, Vec<[u8; 32]>), Error> {
    let row = query_opt(
        c,
        "SELECT user_id, expires_at, used_at FROM password_resets WHERE code_hash = $1",
        &[&&code_hash[..]],
    )
    .await?;
    let Some(row) = row else {
        return Err(Error::Forbidden(refusal::RESET_INVALID));
    };
    let (user_id, expires_at, used_at): (UserId, i64, Option<i64>) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if used_at.is_some() {
        return Err(Error::Forbidden(refusal::RESET_USED));
    }
    if expires_at <= now {
        return Err(Error::Forbidden(refusal::RESET_EXPIRED));
    }
    execute(
        c,
        "UPDATE password_resets SET used_at = $2 WHERE code_hash = $1",
        &[&&code_hash[..], &now],
    )
    .await?;
    execute(
        c,
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        &[&user_id, &password_hash],
    )
    .await?;
    let sessions = end_sessions(c, user_id, now).await?;
    let user = read::user_by_id(c, user_id)
        .await?
        .ok_or(Error::NotFound("user"))?;
    Ok((user, sessions))
}

async fn set_suspended<C: GenericClient>(
    c: &C,
    handle: &str,
    at: Option<Timestamp>,
) -> Result<(Account, Vec<[u8; 32]>), Error> {
    let sql = format!("{ACCOUNT_SQL} WHERE handle = $1");
    let row = query_opt(c, &sql, &[&handle]).await?;
    let account = row
        .as_ref()
        .map(account_from)
        .transpose()?
        .ok_or(Error::NotFound("user"))?;
    let Some(now) = at else {
        execute(
            c,
            "UPDATE users SET suspended_at = NULL WHERE id = $1",
            &[&account.user.id],
        )
        .await?;
        let account = Account {
            suspended_at: None,
            ..account
        };
        return Ok((account, Vec::new()));
    };
    if account.user.is_admin {
        return Err(Error::Conflict(
            "an administrator cannot be suspended: revoke the role first",
        ));
    }
    let suspended_at = account.suspended_at.unwrap_or(now);
    execute(
        c,
        "UPDATE users SET suspended_at = $2 WHERE id = $1",
        &[&account.user.id, &suspended_at],
    )
    .await?;
    let sessions = end_sessions(c, account.user.id, now).await?;
    let account = Account {
        suspended_at: Some(suspended_at),
        ..account
    };
    Ok((account, sessions))
}

async fn create_password_reset<C: GenericClient>(
    c: &C,
    handle: &str,
    by: UserId,
    code_hash: &[u8; 32],
    expires_at: Timestamp,
) -> Result<User, Error> {
    let user = read::user_auth(c, handle)
        .await?
        .ok_or(Error::NotFound("user"))?
        .user;
    let now = now_ms();
    // A retired code reads as used: the newest one is the only one.
    execute(
        c,
        "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        &[&user.id, &now],
    )
    .await?;
    execute(
        c,
        "INSERT INTO password_resets (code_hash, user_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&&code_hash[..], &user.id, &by, &now, &expires_at],
    )
    .await?;
    Ok(user)
}

async fn remove_message<C: GenericClient>(
    c: &C,
    events: &mut Vec<Event>,
    message_id: i64,
    now: Timestamp,
) -> Result<Event, Error> {
    let row = query_opt(
        c,
        "SELECT conversation_id, seq, removed_at FROM messages WHERE id = $1",
        &[&message_id],
    )
    .await?;
    let Some(row) = row else {
        return Err(Error::NotFound("message"));
    };
    let (conversation_id, seq, removed_at): (i64, i64, Option<i64>) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if removed_at.is_some() {
        return Err(Error::Conflict("the message is already removed"));
    }
    execute(
        c,
        "UPDATE messages SET body = '', links = '[]', previews = NULL, mentions = NULL, removed_at = $2 WHERE id = $1",
        &[&message_id, &now],
    )
    .await?;
    let data = removal_data(message_id, seq);
    // The newest id plus one, as every event (see `write::log_event_at`).
    // It comes before the preview events are deleted, so the newest id is
    // never one that is deleted and then handed out again.
    let id = write::log_event_at(
        c,
        conversation_id,
        "removal",
        Some(message_id),
        Some(&data),
        now,
    )
    .await?;
    // Preview events carry the linked pages' titles and text.
    execute(
        c,
        "DELETE FROM events WHERE kind = 'preview' AND message_id = $1",
        &[&message_id],
    )
    .await?;
    let event = Event {
        id,
        conversation_id,
        body: EventBody::Removal { message_id, seq },
    };
    events.push(event.clone());
    Ok(event)
}

#[async_trait]
impl Administration for PgStore {
    async fn create_invite(
        &self,
        by: UserId,
        code_hash: [u8; 32],
        expires_at: Timestamp,
        max_uses: i64,
    ) -> Result<Invite, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                let row = query_one(
                    tx,
                    "INSERT INTO invites (code_hash, created_by, created_at, expires_at, max_uses) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&&code_hash[..], &by, &now_ms(), &expires_at, &max_uses],
                )
                .await?;
                let id: i64 = row.try_get(0)?;
                invite(tx, id).await?.ok_or(Error::NotFound("invite"))
            })
        })
        .await
    }

    async fn invites(&self) -> Result<Vec<Invite>, Error> {
        let sql = format!("{INVITE_SQL} ORDER BY i.id DESC");
        let rows = query(&self.client().await?, &sql, &[]).await?;
        rows.iter().map(invite_from).collect()
    }

    async fn revoke_invite(&self, id: i64, now: Timestamp) -> Result<Invite, Error> {
        self.write(move |tx, _| {
            Box::pin(async move {
                execute(
                    tx,
                    "UPDATE invites SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                    &[&id, &now],
                )
                .await?;
                invite(tx, id).await?.ok_or(Error::NotFound("invite"))
            })
        })
        .await
    }

    async fn sign_up_with_invite(&self, sign_up: InvitedSignUp) -> Result<User, Error> {
        self.write(move |tx, _| Box::pin(async move { sign_up_with_invite(tx, &sign_up).await }))
            .await
    }

    async fn accounts(&self, after: UserId, limit: u32) -> Result<Vec<Account>, Error> {
        let sql = format!("{ACCOUNT_SQL} WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = query(&self.client().await?, &sql, &[&after, &i64::from(limit)]).await?;
        rows.iter().map(account_from).collect()
    }

    async fn account(&self, id: UserId) -> Result<Option<Account>, Error> {
        let sql = format!("{ACCOUNT_SQL} WHERE id = $1");
        let row = query_opt(&self.client().await?, &sql, &[&id]).await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn set_suspended(
        &self,
        handle: &str,
        at: Option<Timestamp>,
    ) -> Result<(Account, Vec<[u8; 32]>), Error> {
        let handle = handle.to_owned();
        self.write(move |tx, _| Box::pin(async move { set_suspended(tx, &handle, at).await }))
            .await
    }

    async fn create_password_reset(
        &self,
        handle: &str,
        by: UserId,
        code_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<User, Error> {
        let handle = handle.to_owned();
        self.write(move |tx, _| {
            Box::pin(
                async move { create_password_reset(tx, &handle, by, &code_hash, expires_at).await },
            )
        })
        .await
    }

    async fn redeem_password_reset(
        &self,
        code_hash: [u8; 32],
        now: Timestamp,
        password_hash: &str,
    ) -> Result<(User, Vec<[u8; 32]>), Error> {
        let password_hash = password_hash.to_owned();
        self.write(move |tx, _| {
            Box::pin(async move { redeem(tx, &code_hash, now, &password_hash).await })
        })
        .await
    }

    async fn remove_message(&self, message_id: i64, now: Timestamp) -> Result<Event, Error> {
        self.write(move |tx, events| {
            Box::pin(async move { remove_message(tx, events, message_id, now).await })
        })
        .await
    }
}
