//! Operator administrators: granting and revoking the role. The role is
//! read from the database on every admin request, so a change takes effect
//! at the caller's very next request.
use std::sync::Arc;

use kaifang_store::{Governance, Store, User, UserId};
use serde_json::json;

use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};

/// The administrators service.
pub struct Admins {
    users: Arc<dyn Store>,
    audit: Arc<dyn Governance>,
}

impl Admins {
    /// Builds the service.
    pub fn new(users: Arc<dyn Store>, audit: Arc<dyn Governance>) -> Self {
        Self { users, audit }
    }

    async fn admin(&self, caller: &Caller) -> Result<UserId> {
        match self.users.user_by_id(caller.user_id).await? {
            Some(u) if u.is_admin => Ok(u.id),
            // Non-admins learn nothing, not even that the endpoint exists.
            _ => Err(Error::not_found("resource")),
        }
    }

    /// Makes `handle` an administrator (idempotent), audited.
    pub async fn grant(&self, caller: &Caller, handle: &str) -> Result<User> {
        self.set(caller, handle, true).await
    }

    /// Takes the role from `handle` (idempotent), audited; 409 when it would
    /// leave no administrator. An administrator may revoke themself.
    pub async fn revoke(&self, caller: &Caller, handle: &str) -> Result<User> {
        self.set(caller, handle, false).await
    }

    async fn set(&self, caller: &Caller, handle: &str, is_admin: bool) -> Result<User> {
        let actor = self.admin(caller).await?;
        let user = self.users.set_admin(handle, is_admin).await?;
        let action = if is_admin {
            "admin.grant"
        } else {
            "admin.revoke"
        };
        let detail = json!({ "handle": user.handle, "user_id": user.id });
        self.audit.audit(actor, action, &detail.to_string()).await?;
        Ok(user)
    }
}
