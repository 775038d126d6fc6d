//! The operator's per-domain preview rules (docs/previews.md, "Per-domain
//! rules"): administrators list, add and remove them; every node keeps the
//! rules in memory as a [`RuleGate`] that sends and preview requests ask.
//!
//! A change is written to the database with its audit entry and a bump of
//! the rules' revision. The node that made it installs the new rules at
//! once; every other node polls the revision every `governance.poll_ms`
//! (the path and the bound of policy activations) and re-reads the rules
//! when it moved. Nothing rides on the bus: a lost bus message could not
//! then leave a node with stale rules.
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kaifang_links::{DomainPattern, PreviewRules as Rules};
use kaifang_store::{PreviewRule, PreviewRules, RuleList, Store, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};

/// The rules in force on this node, swapped whole when they change.
#[derive(Default)]
pub struct RuleGate {
    current: RwLock<(i64, Arc<Rules>)>,
}

impl RuleGate {
    fn rules(&self) -> (i64, Arc<Rules>) {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Installs rules read at `revision`, unless newer ones are in already
    /// (two reads racing: the later install must not put older rules back).
    fn install(&self, revision: i64, rules: Rules) {
        let mut current = match self.current.write() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if revision > current.0 {
            *current = (revision, Arc::new(rules));
        }
    }

    /// Whether a link to `url` may get a preview under the rules. A URL
    /// without a host (a share code's) names nothing a rule could, so it
    /// is judged as an unnamed host.
    pub fn permits_url(&self, url: &str) -> bool {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        self.rules().1.permits(&host)
    }
}

/// One rule as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    /// `allow` or `deny`.
    #[schema(value_type = String)]
    pub list: RuleList,
    /// The rule's canonical text: lower-case ASCII, IDNs as punycode
    /// (`example.com`, `*.example.com`, `domain:example.com`).
    pub rule: String,
    /// The same with Unicode labels, for people (`*.例子.中国`).
    pub display: String,
    /// Who added it (handle).
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
}

impl RuleView {
    fn of(r: PreviewRule) -> Self {
        let display = DomainPattern::parse(&r.pattern)
            .map(|p| p.display())
            .unwrap_or_else(|_| r.pattern.clone());
        Self {
            list: r.list,
            rule: r.pattern,
            display,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// Both lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleListing {
    /// Hosts that may be previewed; when not empty, only they may.
    pub allow: Vec<RuleView>,
    /// Hosts never previewed (deny wins over allow).
    pub deny: Vec<RuleView>,
    /// `preview.max_rules`: most rules, both lists together.
    pub max_rules: usize,
}

/// The preview-rules service.
pub struct PreviewRuleService {
    store: Arc<dyn PreviewRules>,
    users: Arc<dyn Store>,
    gate: Arc<RuleGate>,
    max_rules: usize,
    poll: Duration,
}

/// Parses a list's name from a path: `allow` or `deny`.
pub fn list_named(name: &str) -> Result<RuleList> {
    RuleList::parse(name)
        .ok_or_else(|| Error::invalid(format!("`{name}` is not a list: use allow or deny")))
}

fn parsed(rule: &str) -> Result<DomainPattern> {
    DomainPattern::parse(rule).map_err(|e| Error::invalid(e.to_string()))
}

impl PreviewRuleService {
    /// Builds the service over the gate the previews and sends ask.
    pub fn new(
        store: Arc<dyn PreviewRules>,
        users: Arc<dyn Store>,
        gate: Arc<RuleGate>,
        max_rules: usize,
        poll_ms: u64,
    ) -> Self {
        Self {
            store,
            users,
            gate,
            max_rules,
            poll: Duration::from_millis(poll_ms.max(10)),
        }
    }

    async fn admin(&self, caller: &Caller) -> Result<UserId> {
        caller.admin(&*self.users).await
    }

    /// Both lists.
    pub async fn list(&self, caller: &Caller) -> Result<RuleListing> {
        self.admin(caller).await?;
        let set = self.store.preview_rules().await?;
        let (allow, deny): (Vec<_>, Vec<_>) = set
            .rules
            .into_iter()
            .partition(|r| r.list == RuleList::Allow);
        Ok(RuleListing {
            allow: allow.into_iter().map(RuleView::of).collect(),
            deny: deny.into_iter().map(RuleView::of).collect(),
            max_rules: self.max_rules,
        })
    }

    /// Adds a rule (400 naming it when it is not a domain rule; 409 past
    /// `preview.max_rules`); the flag is `true` when it was added now,
    /// `false` when it was on the list already (then nothing is audited).
    pub async fn add(
        &self,
        caller: &Caller,
        list: RuleList,
        rule: &str,
    ) -> Result<(RuleView, bool)> {
        let actor = self.admin(caller).await?;
        let pattern = parsed(rule)?.to_string();
        let added = self
            .store
            .add_preview_rule(list, &pattern, actor, crate::now_ms(), self.max_rules)
            .await?;
        self.sync().await;
        match added {
            Some(r) => Ok((RuleView::of(r), true)),
            // Already there: the stored one, as it was added.
            None => self
                .store
                .preview_rules()
                .await?
                .rules
                .into_iter()
                .find(|r| r.list == list && r.pattern == pattern)
                .map(|r| (RuleView::of(r), false))
                .ok_or_else(|| Error::not_found("preview rule")),
        }
    }

    /// Removes a rule (404 when it is not on that list).
    pub async fn remove(&self, caller: &Caller, list: RuleList, rule: &str) -> Result<()> {
        let actor = self.admin(caller).await?;
        let pattern = parsed(rule)?.to_string();
        let removed = self
            .store
            .remove_preview_rule(list, &pattern, actor, crate::now_ms())
            .await?;
        self.sync().await;
        if removed {
            Ok(())
        } else {
            Err(Error::not_found("preview rule"))
        }
    }

    /// Installs the stored rules when their revision moved since this node
    /// last read them. A stored rule this build cannot parse is skipped
    /// with a warning rather than stopping every preview.
    pub async fn sync(&self) {
        let revision = match self.store.preview_rules_revision().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the preview rules' revision");
                return;
            }
        };
        if revision <= self.gate.rules().0 {
            return;
        }
        let set = match self.store.preview_rules().await {
            Ok(set) => set,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the preview rules");
                return;
            }
        };
        let (mut allow, mut deny) = (Vec::new(), Vec::new());
        for r in &set.rules {
            match DomainPattern::parse(&r.pattern) {
                Ok(p) if r.list == RuleList::Allow => allow.push(p),
                Ok(p) => deny.push(p),
                Err(e) => tracing::warn!(error = %e, "ignoring a stored preview rule"),
            }
        }
        self.gate.install(set.revision, Rules::new(&allow, &deny));
        tracing::info!(
            revision = set.revision,
            rules = set.rules.len(),
            "preview rules in force"
        );
    }

    /// Runs forever: re-reads the rules when another node changed them.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.sync().await;
            tokio::time::sleep(self.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny(rule: &str) -> Rules {
        let p = DomainPattern::parse(rule).unwrap_or_else(|e| panic!("{e}"));
        Rules::new([], [&p])
    }

    #[test]
    fn the_gate_judges_urls_by_host_and_never_goes_back_a_revision() {
        let gate = RuleGate::default();
        assert!(gate.permits_url("https://www.example.com/a"));
        gate.install(2, deny("*.example.com"));
        assert!(!gate.permits_url("https://WWW.Example.com./a?b=c"));
        assert!(gate.permits_url("https://example.com/"));
        // Not a URL, or no host: nothing a rule could name.
        assert!(gate.permits_url("￥Ab3dE5fG7hK￥"));
        // A slower read of an older revision does not undo the newer one.
        gate.install(1, Rules::default());
        assert!(!gate.permits_url("https://www.example.com/a"));
        gate.install(3, Rules::default());
        assert!(gate.permits_url("https://www.example.com/a"));
    }
}
