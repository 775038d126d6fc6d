//! [`People`] for PostgreSQL. An edit is one statement that logs no event,
//! so it runs on a pooled connection outside the write lock.
use async_trait::async_trait;
use tokio_postgres::Row;

use super::PgStore;
use super::read::{query, query_opt};
use crate::people::find_sql;
use crate::{Error, People, Profile, ProfileEdit, UserId};

fn profile_from(r: &Row) -> Result<Profile, Error> {
    Ok(Profile {
        user_id: r.try_get(0)?,
        handle: r.try_get(1)?,
        display_name: r.try_get(2)?,
        discoverable: r.try_get(3)?,
    })
}

#[async_trait]
impl People for PgStore {
    async fn profile(&self, user: UserId) -> Result<Option<Profile>, Error> {
        let row = query_opt(
            &self.client().await?,
            "SELECT id, handle, display_name, discoverable FROM users WHERE id = $1",
            &[&user],
        )
        .await?;
        row.as_ref().map(profile_from).transpose()
    }

    async fn edit_profile(&self, user: UserId, edit: ProfileEdit) -> Result<Profile, Error> {
        let row = query_opt(
            &self.client().await?,
            "UPDATE users SET display_name = coalesce($2, display_name), \
             discoverable = coalesce($3, discoverable) WHERE id = $1 \
             RETURNING id, handle, display_name, discoverable",
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
}
