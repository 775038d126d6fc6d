//! [`People`] for PostgreSQL. An edit is one statement that logs no event,
//! so it runs on a pooled connection outside the write lock.
use async_trait::async_trait;
use tokio_postgres::Row;

use super::PgStore;
use super::read::{execute, query, query_opt};
use crate::attachments::blob;
use crate::people::{blob_in_use_sql, find_sql};
use crate::{BlobId, Error, People, Profile, ProfileEdit, UserId};

const PROFILE_COLUMNS: &str = "id, handle, display_name, discoverable, avatar_sha256";

fn profile_from(r: &Row) -> Result<Profile, Error> {
    Ok(Profile {
        user_id: r.try_get(0)?,
        handle: r.try_get(1)?,
        display_name: r.try_get(2)?,
        discoverable: r.try_get(3)?,
        avatar: r.try_get::<_, Option<String>>(4)?.map(blob).transpose()?,
    })
}

#[async_trait]
impl People for PgStore {
    async fn profile(&self, user: UserId) -> Result<Option<Profile>, Error> {
        let row = query_opt(
            &self.client().await?,
            &format!("SELECT {PROFILE_COLUMNS} FROM users WHERE id = $1"),
            &[&user],
        )
        .await?;
        row.as_ref().map(profile_from).transpose()
    }

    async fn edit_profile(&self, user: UserId, edit: ProfileEdit) -> Result<Profile, Error> {
        let row = query_opt(
            &self.client().await?,
            &format!(
                "UPDATE users SET display_name = coalesce($2, display_name), \
                 discoverable = coalesce($3, discoverable) WHERE id = $1 \
                 RETURNING {PROFILE_COLUMNS}"
            ),
            &[&user, &edit.display_name, &edit.discoverable],
        )
        .await?;
        row.as_ref()
            .map(profile_from)
            .transpose()?
            .ok_or(Error::NotFound("user"))
    }

    async fn find_users(&self, query_text: &str, limit: u32) -> Result<Vec<Profile>, Error> {
        let text = query_text.to_ascii_lowercase();
        let rows = query(
            &self.client().await?,
            &find_sql('$'),
            &[&text, &i64::from(limit)],
        )
        .await?;
        rows.iter().map(profile_from).collect()
    }

    async fn set_avatar(
        &self,
        user: UserId,
        avatar: Option<BlobId>,
    ) -> Result<(Profile, Option<BlobId>), Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The row lock orders two changes of one user's avatar.
        let before = query_opt(
            &tx,
            &format!("SELECT {PROFILE_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"),
            &[&user],
        )
        .await?
        .as_ref()
        .map(profile_from)
        .transpose()?
        .ok_or(Error::NotFound("user"))?;
        let new = avatar.as_ref().map(BlobId::as_str);
        execute(
            &tx,
            "UPDATE users SET avatar_sha256 = $2 WHERE id = $1",
            &[&user, &new],
        )
        .await?;
        let released = match before.avatar {
            Some(old) if avatar.as_ref() != Some(&old) => {
                let used = query_opt(&tx, &blob_in_use_sql('$'), &[&old.as_str()])
                    .await?
                    .is_some();
                (!used).then_some(old)
            }
            _ => None,
        };
        tx.commit().await?;
        let after = Profile { avatar, ..before };
        Ok((after, released))
    }

    async fn avatar_of(&self, handle: &str) -> Result<Option<BlobId>, Error> {
        let row = query_opt(
            &self.client().await?,
            "SELECT avatar_sha256 FROM users WHERE handle = $1",
            &[&handle],
        )
        .await?;
        match row {
            Some(r) => r.try_get::<_, Option<String>>(0)?.map(blob).transpose(),
            None => Ok(None),
        }
    }
}
