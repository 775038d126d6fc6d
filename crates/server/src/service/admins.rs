//! Operator administration: the administrator role, invite codes, the
//! account list, suspension and password-reset codes. The role is read
//! from the database on every admin request, so a change takes effect at
//! the caller's very next request. Every change is audited.
use std::sync::Arc;

use kaifang_store::{Account, Administration, EventBody, Governance, Invite, Store, User, UserId};
use serde_json::json;

use crate::config::AuthSettings;
use crate::service::accounts::{Accounts, Caller, new_secret, token_digest};
use crate::service::error::{Error, Result};
use crate::service::events::Events;

/// The administrators service.
pub struct Admins {
    users: Arc<dyn Store>,
    audit: Arc<dyn Governance>,
    administration: Arc<dyn Administration>,
    accounts: Arc<Accounts>,
    events: Arc<Events>,
    settings: AuthSettings,
    max_users_page: u32,
}

/// A new code, shown once: only its digest is kept.
#[derive(Debug)]
pub struct NewCode<T> {
    /// The code to hand over.
    pub code: String,
    /// What it is for.
    pub record: T,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
}

/// One page of the account list.
#[derive(Debug)]
pub struct AccountPage {
    /// Accounts by id.
    pub accounts: Vec<Account>,
    /// Pass as `after` for the next page; `None` on the last.
    pub next_after: Option<UserId>,
}

impl Admins {
    /// Builds the service.
    pub fn new(
        users: Arc<dyn Store>,
        audit: Arc<dyn Governance>,
        administration: Arc<dyn Administration>,
        accounts: Arc<Accounts>,
        events: Arc<Events>,
        settings: &crate::Settings,
    ) -> Self {
        Self {
            users,
            audit,
            administration,
            accounts,
            events,
            settings: settings.auth.clone(),
            max_users_page: settings.limits.max_users_page.max(1),
        }
    }

    async fn admin(&self, caller: &Caller) -> Result<UserId> {
        caller.admin(&*self.users).await
    }

    async fn record(&self, actor: UserId, action: &str, detail: serde_json::Value) -> Result<()> {
        Ok(self.audit.audit(actor, action, &detail.to_string()).await?)
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
        self.record(actor, action, detail).await?;
        Ok(user)
    }

    /// Makes an invite code for `max_uses` sign-ups (default 1) valid for
    /// `valid_seconds` (default `auth.invite_default_seconds`).
    pub async fn create_invite(
        &self,
        caller: &Caller,
        max_uses: Option<u32>,
        valid_seconds: Option<u64>,
    ) -> Result<NewCode<Invite>> {
        let actor = self.admin(caller).await?;
        let max_uses = max_uses.unwrap_or(1);
        if !(1..=self.settings.invite_max_uses).contains(&max_uses) {
            return Err(Error::invalid(format!(
                "max_uses is 1 to {} (auth.invite_max_uses)",
                self.settings.invite_max_uses
            )));
        }
        let seconds = valid_seconds.unwrap_or(self.settings.invite_default_seconds);
        if !(1..=self.settings.invite_max_seconds).contains(&seconds) {
            return Err(Error::invalid(format!(
                "valid_seconds is 1 to {} (auth.invite_max_seconds)",
                self.settings.invite_max_seconds
            )));
        }
        let expires_at = crate::now_ms().saturating_add((seconds as i64).saturating_mul(1000));
        let code = new_secret("kfi_");
        let invite = self
            .administration
            .create_invite(actor, token_digest(&code), expires_at, i64::from(max_uses))
            .await?;
        let detail =
            json!({ "invite_id": invite.id, "max_uses": max_uses, "expires_at": expires_at });
        self.record(actor, "invite.create", detail).await?;
        Ok(NewCode {
            code,
            record: invite,
            expires_at,
        })
    }

    /// Every invite, newest first (without codes: they are not kept).
    pub async fn invites(&self, caller: &Caller) -> Result<Vec<Invite>> {
        self.admin(caller).await?;
        Ok(self.administration.invites().await?)
    }

    /// Revokes an invite (idempotent), audited.
    pub async fn revoke_invite(&self, caller: &Caller, id: i64) -> Result<Invite> {
        let actor = self.admin(caller).await?;
        let invite = self
            .administration
            .revoke_invite(id, crate::now_ms())
            .await?;
        self.record(actor, "invite.revoke", json!({ "invite_id": id }))
            .await?;
        Ok(invite)
    }

    /// A page of accounts by id, after `after`.
    pub async fn accounts(
        &self,
        caller: &Caller,
        after: Option<UserId>,
        limit: Option<u32>,
    ) -> Result<AccountPage> {
        self.admin(caller).await?;
        let limit = limit.unwrap_or(50);
        if !(1..=self.max_users_page).contains(&limit) {
            return Err(Error::invalid(format!(
                "limit is 1 to {} (limits.max_users_page)",
                self.max_users_page
            )));
        }
        let accounts = self
            .administration
            .accounts(after.unwrap_or(0), limit)
            .await?;
        let next_after = (accounts.len() == limit as usize)
            .then(|| accounts.last().map(|a| a.user.id))
            .flatten();
        Ok(AccountPage {
            accounts,
            next_after,
        })
    }

    /// Suspends an account: its sessions end at once (tokens refused, open
    /// streams closed as at sign-out) and it cannot sign in; audited.
    pub async fn suspend(&self, caller: &Caller, handle: &str) -> Result<Account> {
        let actor = self.admin(caller).await?;
        let (account, sessions) = self
            .administration
            .set_suspended(handle, Some(crate::now_ms()))
            .await?;
        self.end_sessions(account.user.id, &sessions);
        let detail = json!({
            "handle": account.user.handle,
            "user_id": account.user.id,
            "sessions_ended": sessions.len(),
        });
        self.record(actor, "account.suspend", detail).await?;
        Ok(account)
    }

    /// Lets a suspended account sign in again (its old sessions stay
    /// ended); audited.
    pub async fn restore(&self, caller: &Caller, handle: &str) -> Result<Account> {
        let actor = self.admin(caller).await?;
        let (account, _) = self.administration.set_suspended(handle, None).await?;
        let detail = json!({ "handle": account.user.handle, "user_id": account.user.id });
        self.record(actor, "account.restore", detail).await?;
        Ok(account)
    }

    /// A one-time password-reset code for `handle`, valid for
    /// `auth.password_reset_seconds`; an earlier unused one stops working.
    /// Audited (without the code).
    pub async fn reset_password(&self, caller: &Caller, handle: &str) -> Result<NewCode<User>> {
        let actor = self.admin(caller).await?;
        let seconds = self.settings.password_reset_seconds.max(1);
        let expires_at = crate::now_ms().saturating_add((seconds as i64).saturating_mul(1000));
        let code = new_secret("kfr_");
        let user = self
            .administration
            .create_password_reset(handle, actor, token_digest(&code), expires_at)
            .await?;
        let detail = json!({ "handle": user.handle, "user_id": user.id, "expires_at": expires_at });
        self.record(actor, "account.password_reset", detail).await?;
        Ok(NewCode {
            code,
            record: user,
            expires_at,
        })
    }

    /// Removes a message: its text, links and previews are gone from the
    /// store, members' clients get a removal event and show a placeholder;
    /// audited (without the text).
    /// Returns the message's conversation and position.
    pub async fn remove_message(&self, caller: &Caller, message_id: i64) -> Result<(i64, i64)> {
        let actor = self.admin(caller).await?;
        let event = self
            .administration
            .remove_message(message_id, crate::now_ms())
            .await?;
        let detail = json!({ "message_id": message_id, "conversation_id": event.conversation_id });
        self.record(actor, "message.remove", detail).await?;
        match event.body {
            EventBody::Removal { seq, .. } => Ok((event.conversation_id, seq)),
            _ => Err(Error::internal(
                "the store answered a removal with another event",
            )),
        }
    }

    /// Ends sessions the database has just revoked: the token cache
    /// forgets them and their streams close (code 4001, as at sign-out).
    pub fn end_sessions(&self, user: UserId, sessions: &[[u8; 32]]) {
        self.accounts.forget_user(user);
        for session in sessions {
            self.events.end_session(user, *session);
        }
    }
}
