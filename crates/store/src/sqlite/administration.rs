//! [`Administration`] for the SQLite backend. Every write runs in the
//! writer's savepoint: an error rolls back all of it.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, writer};
use crate::administration::{refusal, removal_data};
use crate::{
    Account, Administration, Error, Event, EventBody, Invite, InvitedSignUp, Timestamp, User,
    UserId,
};

const INVITE_SQL: &str = "SELECT i.id, u.handle, i.created_at, i.expires_at, i.max_uses, i.uses, \
     i.revoked_at FROM invites i JOIN users u ON u.id = i.created_by";

fn invite_from(r: &Row<'_>) -> rusqlite::Result<Invite> {
    Ok(Invite {
        id: r.get(0)?,
        created_by: r.get(1)?,
        created_at: r.get(2)?,
        expires_at: r.get(3)?,
        max_uses: r.get(4)?,
        uses: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

fn invite(conn: &Connection, id: i64) -> Result<Option<Invite>, Error> {
    Ok(conn
        .prepare_cached(&format!("{INVITE_SQL} WHERE i.id = ?1"))?
        .query_row([id], invite_from)
        .optional()?)
}

const ACCOUNT_SQL: &str =
    "SELECT id, handle, display_name, is_admin, created_at, suspended_at FROM users";

fn account_from(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        user: User {
            id: r.get(0)?,
            handle: r.get(1)?,
            display_name: r.get(2)?,
            is_admin: r.get(3)?,
            created_at: r.get(4)?,
        },
        suspended_at: r.get(5)?,
    })
}

/// Revokes every live session of `user`; returns their digests.
fn end_sessions(conn: &Connection, user: UserId, now: Timestamp) -> Result<Vec<[u8; 32]>, Error> {
    let mut stmt = conn.prepare_cached(
        "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL \
         RETURNING token_hash",
    )?;
    let rows = stmt.query_map(params![user, now], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for row in rows {
        // Digests are always 32 bytes; anything else is not a live token.
        if let Ok(hash) = <[u8; 32]>::try_from(row?.as_slice()) {
            out.push(hash);
        }
    }
    Ok(out)
}

fn sign_up_with_invite(conn: &Connection, s: &InvitedSignUp) -> Result<User, Error> {
    let found: Option<(i64, i64, i64, i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT id, expires_at, max_uses, uses, revoked_at FROM invites WHERE code_hash = ?1",
        )?
        .query_row([&s.code_hash[..]], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let id = match found {
        None | Some((_, _, _, _, Some(_))) => {
            return Err(Error::Forbidden(refusal::INVITE_INVALID));
        }
        Some((_, expires_at, ..)) if expires_at <= s.now => {
            return Err(Error::Forbidden(refusal::INVITE_EXPIRED));
        }
        Some((_, _, max_uses, uses, _)) if uses >= max_uses => {
            return Err(Error::Forbidden(refusal::INVITE_USED_UP));
        }
        Some((id, ..)) => id,
    };
    let user = writer::create_user(conn, &s.handle, &s.display_name, &s.password_hash, s.admin)?;
    conn.prepare_cached("UPDATE invites SET uses = uses + 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(user)
}

fn redeem(
    conn: &Connection,
    code_hash: &[u8; 32],
    now: Timestamp,
    password_hash: &str,
) -> Result<(User, Vec<[u8; 32]>), Error> {
    let found: Option<(UserId, i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT user_id, expires_at, used_at FROM password_resets WHERE code_hash = ?1",
        )?
        .query_row([&code_hash[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let user_id = match found {
        None => return Err(Error::Forbidden(refusal::RESET_INVALID)),
        Some((_, _, Some(_))) => return Err(Error::Forbidden(refusal::RESET_USED)),
        Some((_, expires_at, None)) if expires_at <= now => {
            return Err(Error::Forbidden(refusal::RESET_EXPIRED));
        }
        Some((user_id, ..)) => user_id,
    };
    conn.prepare_cached("UPDATE password_resets SET used_at = ?2 WHERE code_hash = ?1")?
        .execute(params![&code_hash[..], now])?;
    conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")?
        .execute(params![user_id, password_hash])?;
    let sessions = end_sessions(conn, user_id, now)?;
    let user = super::read::user_by_id(conn, user_id)?.ok_or(Error::NotFound("user"))?;
    Ok((user, sessions))
}

fn remove_message(
    conn: &Connection,
    events: &mut Vec<Event>,
    message_id: i64,
    now: Timestamp,
) -> Result<Event, Error> {
    let found: Option<(i64, i64, Option<i64>)> = conn
        .prepare_cached("SELECT conversation_id, seq, removed_at FROM messages WHERE id = ?1")?
        .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (conversation_id, seq) = match found {
        None => return Err(Error::NotFound("message")),
        Some((_, _, Some(_))) => return Err(Error::Conflict("the message is already removed")),
        Some((c, seq, None)) => (c, seq),
    };
    conn.prepare_cached(
        "UPDATE messages SET body = '', links = '[]', previews = NULL, mentions = NULL, removed_at = ?2 WHERE id = ?1",
    )?
    .execute(params![message_id, now])?;
    // Logged first: were a preview event the newest, deleting it first
    // would let the removal reuse its id, which clients have already seen.
    let data = removal_data(message_id, seq);
    conn.prepare_cached(
        "INSERT INTO events (conversation_id, kind, message_id, data, created_at) \
         VALUES (?1, 'removal', ?2, ?3, ?4)",
    )?
    .execute(params![conversation_id, message_id, data, now])?;
    let id = conn.last_insert_rowid();
    // Preview events carry the linked pages' titles and text.
    conn.prepare_cached("DELETE FROM events WHERE kind = 'preview' AND message_id = ?1")?
        .execute([message_id])?;
    let event = Event {
        id,
        conversation_id,
        body: EventBody::Removal { message_id, seq },
    };
    events.push(event.clone());
    Ok(event)
}

#[async_trait]
impl Administration for SqliteStore {
    async fn create_invite(
        &self,
        by: UserId,
        code_hash: [u8; 32],
        expires_at: Timestamp,
        max_uses: i64,
    ) -> Result<Invite, Error> {
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "INSERT INTO invites (code_hash, created_by, created_at, expires_at, max_uses) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    &code_hash[..],
                    by,
                    super::now_ms(),
                    expires_at,
                    max_uses
                ])?;
                invite(conn, conn.last_insert_rowid())?.ok_or(Error::NotFound("invite"))
            })
            .await
    }

    async fn invites(&self) -> Result<Vec<Invite>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{INVITE_SQL} ORDER BY i.id DESC"))?;
            let rows = stmt.query_map([], invite_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn revoke_invite(&self, id: i64, now: Timestamp) -> Result<Invite, Error> {
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "UPDATE invites SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                )?
                .execute(params![id, now])?;
                invite(conn, id)?.ok_or(Error::NotFound("invite"))
            })
            .await
    }

    async fn sign_up_with_invite(&self, sign_up: InvitedSignUp) -> Result<User, Error> {
        self.writer
            .run(move |conn, _| sign_up_with_invite(conn, &sign_up))
            .await
    }

    async fn accounts(&self, after: UserId, limit: u32) -> Result<Vec<Account>, Error> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("{ACCOUNT_SQL} WHERE id > ?1 ORDER BY id LIMIT ?2"))?;
            let rows = stmt.query_map(params![after, limit], account_from)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn account(&self, id: UserId) -> Result<Option<Account>, Error> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("{ACCOUNT_SQL} WHERE id = ?1"))?
                .query_row([id], account_from)
                .optional()?)
        })
        .await
    }

    async fn set_suspended(
        &self,
        handle: &str,
        at: Option<Timestamp>,
    ) -> Result<(Account, Vec<[u8; 32]>), Error> {
        let handle = handle.to_owned();
        self.writer
            .run(move |conn, _| {
                let found = conn
                    .prepare_cached(&format!("{ACCOUNT_SQL} WHERE handle = ?1"))?
                    .query_row([&handle], account_from)
                    .optional()?;
                let account = found.ok_or(Error::NotFound("user"))?;
                let Some(now) = at else {
                    conn.prepare_cached("UPDATE users SET suspended_at = NULL WHERE id = ?1")?
                        .execute([account.user.id])?;
                    return Ok((
                        Account {
                            suspended_at: None,
                            ..account
                        },
                        Vec::new(),
                    ));
                };
                if account.user.is_admin {
                    return Err(Error::Conflict(
                        "an administrator cannot be suspended: revoke the role first",
                    ));
                }
                let suspended_at = account.suspended_at.unwrap_or(now);
                conn.prepare_cached("UPDATE users SET suspended_at = ?2 WHERE id = ?1")?
                    .execute(params![account.user.id, suspended_at])?;
                let sessions = end_sessions(conn, account.user.id, now)?;
                let account = Account {
                    suspended_at: Some(suspended_at),
                    ..account
                };
                Ok((account, sessions))
            })
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
        self.writer
            .run(move |conn, _| {
                let user = super::read::user_auth(conn, &handle)?
                    .ok_or(Error::NotFound("user"))?
                    .user;
                let now = super::now_ms();
                // A retired code reads as used: the newest one is the only one.
                conn.prepare_cached(
                    "UPDATE password_resets SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
                )?
                .execute(params![user.id, now])?;
                conn.prepare_cached(
                    "INSERT INTO password_resets (code_hash, user_id, created_by, created_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![&code_hash[..], user.id, by, now, expires_at])?;
                Ok(user)
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
        self.writer
            .run(move |conn, _| redeem(conn, &code_hash, now, &password_hash))
            .await
    }

    async fn remove_message(&self, message_id: i64, now: Timestamp) -> Result<Event, Error> {
        self.writer
            .run(move |conn, events| remove_message(conn, events, message_id, now))
            .await
    }
}
