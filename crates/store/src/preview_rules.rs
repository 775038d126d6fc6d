//! Storage for the operator's per-domain preview rules. A trait of its own
//! beside [`crate::Governance`]; patterns are opaque text here (the server
//! parses them with `kaifang_links::DomainPattern` before they arrive).
//! Every change is written with its audit-log entry and a bump of the
//! rules' revision in one transaction, so that no change goes unaudited and
//! every node sees, with one small read, that its copy is stale.
use async_trait::async_trait;
use serde::Serialize;

use crate::{Error, Timestamp, UserId};

/// Which list a rule is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleList {
    /// Hosts that may be previewed (when the list is not empty, only they).
    Allow,
    /// Hosts that are never previewed.
    Deny,
}

impl RuleList {
    /// As stored: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleList::Allow => "allow",
            RuleList::Deny => "deny",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<RuleList> {
        match s {
            "allow" => Some(RuleList::Allow),
            "deny" => Some(RuleList::Deny),
            _ => None,
        }
    }
}

/// One stored rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewRule {
    /// Its list.
    pub list: RuleList,
    /// The pattern's canonical text.
    pub pattern: String,
    /// Who added it (handle).
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
}

/// Every rule and the revision they are at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRuleSet {
    /// Counts the changes ever made (0: never changed).
    pub revision: i64,
    /// The rules, oldest first.
    pub rules: Vec<PreviewRule>,
}

/// Why adding a rule is refused.
pub mod refusal {
    /// `preview.max_rules` rules exist already.
    pub const FULL: &str = "the preview rules are at their limit (preview.max_rules)";
}

/// The per-domain preview rules.
#[async_trait]
pub trait PreviewRules: Send + Sync + 'static {
    /// Every rule, with the revision.
    async fn preview_rules(&self) -> Result<PreviewRuleSet, Error>;
    /// The revision alone: what each node polls.
    async fn preview_rules_revision(&self) -> Result<i64, Error>;
    /// Adds a rule and audits it (`preview_rules.add`). `None` when it is on
    /// that list already (nothing changes, nothing is audited);
    /// [`Error::Conflict`] with [`refusal::FULL`] when `max_rules` rules (both
    /// lists together) exist, counted in the same transaction.
    async fn add_preview_rule(
        &self,
        list: RuleList,
        pattern: &str,
        by: UserId,
        at: Timestamp,
        max_rules: usize,
    ) -> Result<Option<PreviewRule>, Error>;
    /// Removes a rule and audits it (`preview_rules.remove`); `false` when
    /// it was not there (nothing is audited).
    async fn remove_preview_rule(
        &self,
        list: RuleList,
        pattern: &str,
        by: UserId,
        at: Timestamp,
    ) -> Result<bool, Error>;
}

/// The audit entry's detail for a change.
pub(crate) fn audit_detail(list: RuleList, pattern: &str) -> String {
    serde_json::json!({ "list": list.as_str(), "rule": pattern }).to_string()
}
