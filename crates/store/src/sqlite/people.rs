//! [`People`] for the SQLite backend: edits on the writer's thread, lookups
//! on the pooled read connections.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::people::find_sql;
use crate::{Error, People, Profile, ProfileEdit, UserId};

const PROFILE: &str = "SELECT id, handle, display_name, discoverable FROM users WHERE id = ?1";

fn profile_from(r: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        user_id: r.get(0)?,
        handle: r.get(1)?,
        display_name: r.get(2)?,
        discoverable: r.get(3)?,
    })
}

fn profile(c: &Connection, user: UserId) -> Result<Option<Profile>, Error> {
    Ok(c.prepare_cached(PROFILE)?
        .query_row([user], profile_from)
        .optional()?)
}

#[async_trait]
impl People for SqliteStore {
    async fn profile(&self, user: UserId) -> Result<Option<Profile>, Error> {
        self.read(move |c| profile(c, user)).await
    }

    async fn edit_profile(&self, user: UserId, edit: ProfileEdit) -> Result<Profile, Error> {
        self.writer
            .run(move |conn, _| {
                conn.prepare_cached(
                    "UPDATE users SET display_name = coalesce(?2, display_name), \
                     discoverable = coalesce(?3, discoverable) WHERE id = ?1",
                )?
                .execute(params![user, edit.display_name, edit.discoverable])?;
                profile(conn, user)?.ok_or(Error::NotFound("user"))
            })
            .await
    }

    async fn find_users(&self, query: &str, limit: u32) -> Result<Vec<Profile>, Error> {
        let query = query.to_ascii_lowercase();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&find_sql('?'))?;
            let rows = stmt.query_map(params![query, limit], profile_from)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
