//! Governance: policy versions proposed, validated and scheduled by admins.
//! This file holds the service, its admin check and the versions; the
//! other jobs each have a module: [`diff`] between versions, the
//! [`scheduler`] that switches at the scheduled instant (this process polls
//! the database, so a version scheduled through another process sharing the
//! file is picked up too), the transparency [`report`] (its payments
//! section in [`payment_report`]), [`replay`] of a
//! candidate policy over the link-share log, and the [`audit`] log.
mod audit;
mod diff;
mod payment_report;
mod replay;
mod report;
mod scheduler;

use std::sync::Arc;

use kaifang_policy::{
    FairnessReport, FairnessSettings, PlatformFacts, PolicyEngine, check_non_discrimination_with,
};
use kaifang_store::{Activation, Governance, Moderation, Payments, PolicyVersion, Store, UserId};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::config::GovernanceSettings;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::links::Links;

pub use crate::now_ms;
pub use audit::AuditLog;
pub use diff::Diff;
pub use replay::Replay;
pub use report::Report;
pub use scheduler::in_force;

/// A policy version as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// Version id (from 1; 0 is the start-up policy from the settings).
    pub id: i64,
    /// Cedar text.
    pub text: String,
    /// Who proposed it (handle; `settings` for version 0).
    pub author: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// Why.
    pub comment: String,
}

impl From<PolicyVersion> for VersionView {
    fn from(v: PolicyVersion) -> Self {
        Self {
            id: v.id,
            text: v.text,
            author: v.author,
            created_at: v.created_at,
            comment: v.comment,
        }
    }
}

/// A scheduled (or past) activation as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationView {
    /// Activation id.
    pub id: i64,
    /// The version it puts in force.
    pub version_id: i64,
    /// From when, Unix ms.
    pub effective_from: i64,
    /// Who scheduled it (handle).
    pub created_by: String,
    /// When it was scheduled, Unix ms.
    pub created_at: i64,
    /// When it was cancelled, if it was (Unix ms, else null).
    pub cancelled_at: Option<i64>,
}

impl From<Activation> for ActivationView {
    fn from(a: Activation) -> Self {
        Self {
            id: a.id,
            version_id: a.version_id,
            effective_from: a.effective_from,
            created_by: a.created_by,
            created_at: a.created_at,
            cancelled_at: a.cancelled_at,
        }
    }
}

/// Every version and activation, and the version in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyHistory {
    /// Stored versions, oldest first.
    pub versions: Vec<VersionView>,
    /// Activations, scheduled, past and cancelled.
    pub activations: Vec<ActivationView>,
    /// The version in force now (0: the start-up policy).
    pub active_version: i64,
}

/// The governance service.
pub struct GovernanceService {
    store: Arc<dyn Governance>,
    users: Arc<dyn Store>,
    /// Complaints and penalties, for the report's moderation sections.
    moderation: Arc<dyn Moderation>,
    /// Orders, for the report's payments section.
    payments: Arc<dyn Payments>,
    links: Arc<Links>,
    settings: GovernanceSettings,
    startup: (String, Arc<PolicyEngine>),
    wake: tokio::sync::Notify,
    fairness: FairnessSettings,
}

impl GovernanceService {
    /// Builds the service; the policy in force now is the start-up policy (version 0).
    pub fn new(
        store: Arc<dyn Governance>,
        users: Arc<dyn Store>,
        moderation: Arc<dyn Moderation>,
        payments: Arc<dyn Payments>,
        links: Arc<Links>,
        settings: GovernanceSettings,
    ) -> Self {
        let active = links.active();
        Self {
            store,
            users,
            moderation,
            payments,
            startup: (active.text.clone(), active.engine.clone()),
            links,
            settings,
            wake: tokio::sync::Notify::new(),
            fairness: FairnessSettings::default(),
        }
    }

    /// The wallet picker's order (`payments.picker_order`), shown in the
    /// fairness check and the transparency report's payments section.
    pub fn with_picker(mut self, picker: kaifang_pay::PickerOrder) -> Self {
        self.fairness.picker = picker;
        self
    }

    /// The largest group the non-discrimination check considers
    /// (`limits.max_group_members`).
    pub fn with_max_group_members(mut self, n: usize) -> Self {
        self.fairness.max_group_members = u32::try_from(n).unwrap_or(u32::MAX);
        self
    }

    async fn admin(&self, caller: &Caller) -> Result<UserId> {
        caller.admin(&*self.users).await
    }

    fn compile(&self, text: &str) -> Result<PolicyEngine> {
        self.links
            .compile(text)
            .map_err(|e| Error::refused("invalid-policy", "Invalid policy", e.to_string()))
    }

    /// Validates and stores a new version (not yet in force).
    pub async fn propose(&self, caller: &Caller, text: &str, comment: &str) -> Result<VersionView> {
        let actor = self.admin(caller).await?;
        self.compile(text)?;
        let v = self.store.create_version(actor, text, comment).await?;
        self.record(
            actor,
            "policy.propose",
            json!({ "version": v.id, "comment": comment }),
        )
        .await?;
        Ok(v.into())
    }

    /// Every version and activation.
    pub async fn history(&self, caller: &Caller) -> Result<PolicyHistory> {
        self.admin(caller).await?;
        Ok(PolicyHistory {
            versions: into_views(self.store.versions().await?),
            activations: into_views(self.store.activations().await?),
            active_version: self.links.active().version,
        })
    }

    /// One version (0: the start-up policy).
    pub async fn version(&self, caller: &Caller, id: i64) -> Result<VersionView> {
        self.admin(caller).await?;
        Ok(self.version_text(id).await?.into())
    }

    async fn version_text(&self, id: i64) -> Result<PolicyVersion> {
        if id == 0 {
            return Ok(PolicyVersion {
                id: 0,
                text: self.startup.0.clone(),
                author: "settings".into(),
                created_at: 0,
                comment: "the start-up policy from the settings".into(),
            });
        }
        self.store
            .version(id)
            .await?
            .ok_or_else(|| Error::not_found("policy version"))
    }

    /// The non-discrimination check of the policy in force, or of a candidate.
    pub async fn fairness(
        &self,
        caller: &Caller,
        candidate: Option<&str>,
    ) -> Result<FairnessReport> {
        self.admin(caller).await?;
        let engine = match candidate {
            Some(text) => Arc::new(self.compile(text)?),
            None => self.links.active().engine.clone(),
        };
        Ok(check_non_discrimination_with(
            &engine,
            &PlatformFacts::from_registry(self.links.registry()),
            self.links.operator(),
            &self.fairness,
        ))
    }
}

fn into_views<T, V: From<T>>(rows: Vec<T>) -> Vec<V> {
    rows.into_iter().map(V::from).collect()
}
