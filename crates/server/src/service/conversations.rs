//! Conversations and their members.
use std::sync::Arc;

use kaifang_store::{
    Conversation, ConversationSummary, MemberChange, Message, Role, Store, UserId,
};

use crate::config::Limits;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};

/// The conversations service.
pub struct Conversations {
    store: Arc<dyn Store>,
    limits: Limits,
}

impl Conversations {
    /// Builds the service.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self { store, limits }
    }

    async fn user_id(&self, handle: &str) -> Result<UserId> {
        self.store
            .user_by_handle(handle)
            .await?
            .map(|u| u.id)
            .ok_or_else(|| Error::not_found(format!("user '{handle}'")))
    }

    /// The direct conversation with `with`, created if needed; `true` when new.
    pub async fn open_direct(&self, caller: &Caller, with: &str) -> Result<(Conversation, bool)> {
        let other = self.user_id(with).await?;
        if other == caller.user_id {
            return Err(Error::invalid("a direct conversation is with someone else"));
        }
        Ok(self.store.open_direct(caller.user_id, other).await?)
    }

    /// A new group owned by the caller.
    pub async fn create_group(
        &self,
        caller: &Caller,
        title: &str,
        members: &[String],
    ) -> Result<Conversation> {
        let title = title.trim();
        if title.is_empty()
            || title.chars().count() > self.limits.max_title_chars
            || title.chars().any(char::is_control)
        {
            return Err(Error::invalid(format!(
                "a group title has 1 to {} characters and no control characters",
                self.limits.max_title_chars
            )));
        }
        if members.len() + 1 > self.limits.max_group_members {
            return Err(Error::invalid(format!(
                "a group has at most {} members",
                self.limits.max_group_members
            )));
        }
        let mut ids = Vec::with_capacity(members.len());
        for handle in members {
            ids.push(self.user_id(handle).await?);
        }
        Ok(self.store.create_group(caller.user_id, title, &ids).await?)
    }

    /// The caller's conversations.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<ConversationSummary>> {
        Ok(self.store.conversations_of(caller.user_id).await?)
    }

    /// A conversation the caller belongs to (404 otherwise, whether or not
    /// it exists).
    pub async fn get(&self, caller: &Caller, id: i64) -> Result<Conversation> {
        self.store
            .conversation(id)
            .await?
            .filter(|c| c.members.iter().any(|m| m.user_id == caller.user_id))
            .ok_or_else(|| Error::not_found("conversation"))
    }

    /// Adds `handle` to a group.
    pub async fn add_member(&self, caller: &Caller, id: i64, handle: &str) -> Result<Conversation> {
        let conversation = self.get(caller, id).await?;
        if conversation.members.len() + 1 > self.limits.max_group_members {
            return Err(Error::conflict(format!(
                "the group is full ({} members)",
                self.limits.max_group_members
            )));
        }
        let target = self.user_id(handle).await?;
        self.store
            .change_members(id, caller.user_id, MemberChange::Add(target))
            .await?;
        self.get(caller, id).await
    }

    /// Removes `handle` from a group; removing oneself is leaving.
    pub async fn remove_member(&self, caller: &Caller, id: i64, handle: &str) -> Result<()> {
        let target = self
            .user_id(handle)
            .await
            .map_err(|_| Error::not_found("member"))?;
        let change = if target == caller.user_id {
            MemberChange::Leave
        } else {
            MemberChange::Remove(target)
        };
        self.store
            .change_members(id, caller.user_id, change)
            .await?;
        Ok(())
    }

    /// Sets a member's role; `owner` hands ownership over.
    pub async fn set_role(
        &self,
        caller: &Caller,
        id: i64,
        handle: &str,
        role: Role,
    ) -> Result<Conversation> {
        let target = self
            .user_id(handle)
            .await
            .map_err(|_| Error::not_found("member"))?;
        let change = match role {
            Role::Owner => MemberChange::TransferOwnership(target),
            other => MemberChange::SetRole(target, other),
        };
        self.store
            .change_members(id, caller.user_id, change)
            .await?;
        self.get(caller, id).await
    }

    /// A page of history, oldest first.
    pub async fn history(
        &self,
        caller: &Caller,
        id: i64,
        before_seq: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<Message>> {
        // One indexed look-up, not the whole member list, per page.
        if self.store.role(id, caller.user_id).await?.is_none() {
            return Err(Error::not_found("conversation"));
        }
        let limit = limit.unwrap_or(50);
        if limit == 0 || limit > self.limits.max_history_page {
            return Err(Error::invalid(format!(
                "limit is 1 to {}",
                self.limits.max_history_page
            )));
        }
        Ok(self.store.messages(id, before_seq, limit).await?)
    }
}
