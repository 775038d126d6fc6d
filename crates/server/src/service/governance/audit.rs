//! The audit log: every admin action, recorded as it happens.
use kaifang_store::{AuditEntry, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use super::GovernanceService;
use crate::service::accounts::Caller;
use crate::service::error::Result;

/// One admin action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRow {
    /// Entry id.
    pub id: i64,
    /// When, Unix ms.
    pub at: i64,
    /// Who (handle).
    pub actor: String,
    /// What, e.g. `policy.propose`.
    pub action: String,
    /// Details: a JSON object, as text.
    pub detail: String,
}

impl From<AuditEntry> for AuditRow {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            detail: e.detail,
        }
    }
}

/// The newest audit entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLog {
    /// The entries.
    pub entries: Vec<AuditRow>,
}

impl GovernanceService {
    /// Records one admin action.
    pub(super) async fn record(
        &self,
        actor: UserId,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        Ok(self.store.audit(actor, action, &detail.to_string()).await?)
    }

    /// The newest audit entries, `governance.audit_page` of them.
    pub async fn audit_log(&self, caller: &Caller) -> Result<AuditLog> {
        self.admin(caller).await?;
        let entries = self
            .store
            .audit_log(self.settings.audit_page.max(1))
            .await?;
        Ok(AuditLog {
            entries: super::into_views(entries),
        })
    }
}
