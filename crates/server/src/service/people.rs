//! People: the user directory (who can be found, how fast one may look)
//! and profile edits. Matching is the store's; the rules are here.
use std::sync::Arc;

use kaifang_store::{People, Profile, ProfileEdit};

use crate::config::DirectorySettings;
use crate::ratelimit::Buckets;
use crate::service::accounts::{Caller, validate_display_name};
use crate::service::error::{Error, Result};

/// The people service.
pub struct PeopleService {
    people: Arc<dyn People>,
    settings: DirectorySettings,
    max_display_name_chars: usize,
    rate: Buckets,
}

/// A profile edit as a client asks for it.
#[derive(Debug, Default)]
pub struct Edit {
    /// A new display name (trimmed; limits as at sign-up).
    pub display_name: Option<String>,
    /// Whether partial matches find the caller.
    pub discoverable: Option<bool>,
}

impl PeopleService {
    /// Builds the service.
    pub fn new(
        people: Arc<dyn People>,
        settings: DirectorySettings,
        max_display_name_chars: usize,
        rate_limit_keys: usize,
    ) -> Self {
        let rate = Buckets::new(
            settings.lookups_per_second,
            settings.lookups_burst,
            rate_limit_keys,
        );
        Self {
            people,
            settings,
            max_display_name_chars,
            rate,
        }
    }

    /// People matching `q` (store's order), at most
    /// `directory.max_results`. 400 for an empty query, one longer than
    /// `directory.max_query_chars` or with control characters; 429 past
    /// the per-user rate. The bad query is refused before the rate is
    /// charged, so a client's mistake does not cost it its budget.
    pub async fn find(&self, caller: &Caller, q: &str) -> Result<Vec<Profile>> {
        let max = self.settings.max_query_chars;
        // Counting stops one past the limit: a huge query costs no more.
        if q.chars().nth(max).is_some() {
            return Err(Error::invalid(format!(
                "the query is longer than {max} characters"
            )));
        }
        let text = q.trim();
        if text.is_empty() {
            return Err(Error::invalid("the query is empty"));
        }
        if text.chars().any(char::is_control) {
            return Err(Error::invalid("the query has control characters"));
        }
        self.rate
            .take(&format!("directory:{}", caller.user_id))
            .map_err(|wait| Error::rate_limited("looking people up too fast", wait))?;
        // A leading `@` is how people write handles; it is not part of one.
        let text = text.strip_prefix('@').unwrap_or(text);
        if text.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .people
            .find_users(text, self.settings.max_results)
            .await?)
    }

    /// The caller's profile.
    pub async fn profile(&self, caller: &Caller) -> Result<Profile> {
        self.people
            .profile(caller.user_id)
            .await?
            .ok_or_else(|| Error::not_found("user"))
    }

    /// Changes the caller's display name and/or discoverable flag; 400 for
    /// a display name outside the sign-up limits. An empty edit changes
    /// nothing and answers the profile.
    pub async fn edit(&self, caller: &Caller, edit: Edit) -> Result<Profile> {
        let display_name = match edit.display_name.as_deref() {
            Some(name) => {
                Some(validate_display_name(name, self.max_display_name_chars)?.to_owned())
            }
            None => None,
        };
        let edit = ProfileEdit {
            display_name,
            discoverable: edit.discoverable,
        };
        Ok(self.people.edit_profile(caller.user_id, edit).await?)
    }
}
