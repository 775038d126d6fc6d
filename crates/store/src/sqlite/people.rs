//! [`People`] for the SQLite backend: edits on the writer's thread, lookups
//! on the pooled read connections.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::attachments::blob;
use crate::people::{blob_in_use_sql, find_sql};
use crate::{BlobId, Error, People, Profile, ProfileEdit, UserId};

const PROFILE: &str =
    "SELECT id, handle, display_name, discoverable, avatar_sha256 FROM users WHERE id = ?1";

fn profile_from(r: &Row<'_>) -> rusqlite::Result<(Profile, Option<String>)> {
    let profile = Profile {
        user_id: r.get(0)?,
        handle: r.get(1)?,
        display_name: r.get(2)?,
        discoverable: r.get(3)?,
        avatar: None,
    };
    Ok((profile, r.get(4)?))
}

/// Fills in the avatar's blob name, checked (rusqlite's row mapping cannot
/// fail with our error).
fn complete(row: (Profile, Option<String>)) -> Result<Profile, Error> {
    let (mut p, avatar) = row;
    p.avatar = avatar.map(blob).transpose()?;
    Ok(p)
}

fn profile(c: &Connection, user: UserId) -> Result<Option<Profile>, Error> {
    c.prepare_cached(PROFILE)?
        .query_row([user], profile_from)
        .optional()?
        .map(complete)
        .transpose()
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
            rows.map(|r| complete(r?)).collect()
        })
        .await
    }

    async fn set_avatar(
        &self,
        user: UserId,
        avatar: Option<BlobId>,
    ) -> Result<(Profile, Option<BlobId>), Error> {
        self.writer
            .run(move |conn, _| {
                let before = profile(conn, user)?.ok_or(Error::NotFound("user"))?;
                conn.prepare_cached("UPDATE users SET avatar_sha256 = ?2 WHERE id = ?1")?
                    .execute(params![user, avatar.as_ref().map(BlobId::as_str)])?;
                let after = profile(conn, user)?.ok_or(Error::NotFound("user"))?;
                // Inside the writer's transaction: no other write can name
                // the old blob between this check and the commit.
                let released = match before.avatar {
                    Some(old) if after.avatar.as_ref() != Some(&old) => {
                        let used = conn
                            .prepare_cached(&blob_in_use_sql('?'))?
                            .query_row([old.as_str()], |_| Ok(()))
                            .optional()?
                            .is_some();
                        (!used).then_some(old)
                    }
                    _ => None,
                };
                Ok((after, released))
            })
            .await
    }

    async fn avatar_of(&self, handle: &str) -> Result<Option<BlobId>, Error> {
        let handle = handle.to_owned();
        self.read(move |c| {
            let stored: Option<Option<String>> = c
                .prepare_cached("SELECT avatar_sha256 FROM users WHERE handle = ?1")?
                .query_row([handle], |r| r.get(0))
                .optional()?;
            stored.flatten().map(blob).transpose()
        })
        .await
    }
}
