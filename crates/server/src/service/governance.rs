//! Governance: policy versions proposed, validated and scheduled by admins;
//! the switch at the scheduled instant (on every node, by polling the
//! shared database); the transparency report; the fairness check; replay of
//! a candidate policy over the link-share log; the audit log.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kaifang_policy::{
    ContestedCategories, FairnessReport, LinkFacts, PlatformFacts, PolicyEngine,
    check_non_discrimination,
};
use kaifang_store::{Activation, Governance, PolicyVersion, ShareCount, Store, Timestamp, UserId};
use serde::Serialize;
use serde_json::json;

use crate::config::GovernanceSettings;
use crate::error::{ApiError, ApiResult};
use crate::service::accounts::Caller;
use crate::service::links::{self, Links};

pub use crate::now_ms;

/// The activation in force at `t`: greatest `effective_from <= t`, latest
/// id on ties, cancelled ones ignored.
pub fn in_force(activations: &[Activation], t: Timestamp) -> Option<&Activation> {
    activations
        .iter()
        .filter(|a| a.cancelled_at.is_none() && a.effective_from <= t)
        .max_by_key(|a| (a.effective_from, a.id))
}

/// One line of a diff.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DiffLine {
    /// `=` kept, `-` removed, `+` added.
    pub op: &'static str,
    /// The line.
    pub line: String,
}

/// A line diff (longest common subsequence; policies are small).
pub fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(DiffLine {
                op: "=",
                line: a[i].to_owned(),
            });
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(DiffLine {
                op: "+",
                line: b[j].to_owned(),
            });
            j += 1;
        } else {
            out.push(DiffLine {
                op: "-",
                line: a[i].to_owned(),
            });
            i += 1;
        }
    }
    out
}

/// A row of the transparency report.
#[derive(Debug, Serialize)]
pub struct ReportRow {
    /// Counts.
    #[serde(flatten)]
    pub count: ShareCount,
    /// Share of this owner × platform × conversation kind's links.
    pub share: f64,
}

/// The transparency report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Range start (ms).
    pub from: Timestamp,
    /// Range end (ms, exclusive).
    pub to: Timestamp,
    /// Links decided in the range.
    pub total: i64,
    /// Per owner × platform × conversation kind × treatment.
    pub rows: Vec<ReportRow>,
    /// Versions in force during the range: `{version, from}` (0 = the
    /// start-up policy from the settings).
    pub versions_in_force: Vec<serde_json::Value>,
    /// Width of the time buckets of `series`, ms (an hour for ranges up to
    /// two days, else a day).
    pub bucket_ms: i64,
    /// Over time: `{at, owner, conversation_kind, treatment, count}` per bucket.
    pub series: Vec<serde_json::Value>,
}

/// What a candidate policy would change.
#[derive(Debug, Serialize)]
pub struct Replay {
    /// Logged links replayed.
    pub replayed: u64,
    /// Of those, how many change treatment.
    pub changed: u64,
    /// `{owner, platform, conversation_kind, from, to, count}`, most first.
    pub changes: Vec<serde_json::Value>,
}

/// The governance service.
pub struct GovernanceService {
    store: Arc<dyn Governance>,
    users: Arc<dyn Store>,
    links: Arc<Links>,
    settings: GovernanceSettings,
    startup: (String, Arc<PolicyEngine>),
    wake: tokio::sync::Notify,
}

impl GovernanceService {
    /// Builds the service; the policy in force now is the start-up policy (version 0).
    pub fn new(
        store: Arc<dyn Governance>,
        users: Arc<dyn Store>,
        links: Arc<Links>,
        settings: GovernanceSettings,
    ) -> Self {
        let active = links.active();
        Self {
            store,
            users,
            startup: (active.text.clone(), active.engine.clone()),
            links,
            settings,
            wake: tokio::sync::Notify::new(),
        }
    }

    async fn admin(&self, caller: &Caller) -> ApiResult<UserId> {
        match self.users.user_by_id(caller.user_id).await? {
            Some(u) if u.is_admin => Ok(u.id),
            // Non-admins learn nothing, not even that the endpoint exists.
            _ => Err(ApiError::not_found("resource")),
        }
    }

    async fn audit(&self, actor: UserId, action: &str, detail: serde_json::Value) -> ApiResult<()> {
        Ok(self.store.audit(actor, action, &detail.to_string()).await?)
    }

    fn compile(&self, text: &str) -> ApiResult<PolicyEngine> {
        self.links
            .compile(text)
            .map_err(|e| ApiError::unprocessable("invalid-policy", "Invalid policy", e.to_string()))
    }

    /// Validates and stores a new version (not yet in force).
    pub async fn propose(
        &self,
        caller: &Caller,
        text: &str,
        comment: &str,
    ) -> ApiResult<PolicyVersion> {
        let actor = self.admin(caller).await?;
        self.compile(text)?;
        let v = self.store.create_version(actor, text, comment).await?;
        self.audit(
            actor,
            "policy.propose",
            json!({ "version": v.id, "comment": comment }),
        )
        .await?;
        Ok(v)
    }

    /// Every version and activation.
    pub async fn history(
        &self,
        caller: &Caller,
    ) -> ApiResult<(Vec<PolicyVersion>, Vec<Activation>, i64)> {
        self.admin(caller).await?;
        Ok((
            self.store.versions().await?,
            self.store.activations().await?,
            self.links.active().version,
        ))
    }

    /// One version (0: the start-up policy).
    pub async fn version(&self, caller: &Caller, id: i64) -> ApiResult<PolicyVersion> {
        self.admin(caller).await?;
        self.version_text(id).await
    }

    async fn version_text(&self, id: i64) -> ApiResult<PolicyVersion> {
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
            .ok_or_else(|| ApiError::not_found("policy version"))
    }

    /// A line diff between two versions.
    pub async fn diff(&self, caller: &Caller, from: i64, to: i64) -> ApiResult<Vec<DiffLine>> {
        self.admin(caller).await?;
        let (a, b) = (self.version_text(from).await?, self.version_text(to).await?);
        Ok(diff(&a.text, &b.text))
    }

    /// Schedules a version at `at` (RFC 3339; `None`: now).
    pub async fn activate(
        &self,
        caller: &Caller,
        id: i64,
        at: Option<&str>,
    ) -> ApiResult<Activation> {
        let actor = self.admin(caller).await?;
        let now = now_ms();
        let at = match at {
            None => now,
            Some(text) => {
                let t = time::OffsetDateTime::parse(
                    text,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|e| {
                    ApiError::bad_request(format!("`at` is not an RFC 3339 instant: {e}"))
                })?;
                let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
                // A second of slack for clocks and round trips.
                if ms < now - 1_000 {
                    return Err(ApiError::bad_request(
                        "`at` is in the past: omit it to activate now",
                    ));
                }
                ms
            }
        };
        let version = self.version_text(id).await?;
        if id == 0 {
            return Err(ApiError::bad_request(
                "version 0 is the start-up policy; propose it as a new version",
            ));
        }
        self.compile(&version.text)?;
        let activation = self.store.schedule(id, at, actor).await?;
        self.audit(
            actor,
            "policy.activate",
            json!({ "version": id, "activation": activation.id, "effective_from": at }),
        )
        .await?;
        self.wake.notify_one();
        self.sync().await;
        Ok(activation)
    }

    /// Puts an earlier version back in force now.
    pub async fn rollback(&self, caller: &Caller, to: i64) -> ApiResult<Activation> {
        let actor = self.admin(caller).await?;
        let a = self.activate(caller, to, None).await?;
        self.audit(actor, "policy.rollback", json!({ "version": to }))
            .await?;
        Ok(a)
    }

    /// Cancels a pending activation.
    pub async fn cancel(&self, caller: &Caller, activation: i64) -> ApiResult<Activation> {
        let actor = self.admin(caller).await?;
        let a = self.store.cancel(activation, now_ms()).await?;
        self.audit(actor, "policy.cancel", json!({ "activation": activation }))
            .await?;
        self.wake.notify_one();
        Ok(a)
    }

    /// Installs whatever is in force now, if it is not already, and
    /// returns the next pending activation's instant (one read of the
    /// activations serves both).
    pub async fn sync(&self) -> Option<Timestamp> {
        let activations = self.store.activations().await.ok()?;
        let now = now_ms();
        let next = activations
            .iter()
            .filter(|a| a.cancelled_at.is_none() && a.effective_from > now)
            .map(|a| a.effective_from)
            .min();
        let want = in_force(&activations, now).map_or(0, |a| a.version_id);
        if want != self.links.active().version {
            self.install(want).await;
        }
        next
    }

    async fn install(&self, want: i64) {
        if want == 0 {
            let (text, engine) = &self.startup;
            self.links.install_compiled(0, text.clone(), engine.clone());
            return;
        }
        match self
            .version_text(want)
            .await
            .map(|v| (self.links.compile(&v.text), v.text))
        {
            Ok((Ok(engine), text)) => {
                self.links.install(want, text, engine);
                tracing::info!(version = want, "policy version in force");
            }
            Ok((Err(e), _)) => {
                tracing::error!(version = want, error = %e, "a scheduled policy no longer compiles")
            }
            Err(e) => {
                tracing::error!(version = want, error = ?e.status(), "cannot load a scheduled policy")
            }
        }
    }

    /// Runs forever: switches at each scheduled instant, polls for changes
    /// made by other nodes, and prunes the link-share log daily.
    pub async fn run(self: Arc<Self>) {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        let mut last_prune = 0;
        loop {
            let next = self.sync().await;
            let now = now_ms();
            if now - last_prune > 86_400_000 {
                last_prune = now;
                let before = now - self.settings.share_retention_days * 86_400_000;
                if let Err(e) = self.store.prune_shares(before).await {
                    tracing::warn!(error = %e, "could not prune the link-share log");
                }
            }
            let wait = next.map_or(poll, |t| {
                poll.min(Duration::from_millis((t - now).max(1) as u64))
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    fn check_range(&self, from: Timestamp, to: Timestamp) -> ApiResult<()> {
        if from >= to {
            return Err(ApiError::bad_request(
                "the range is empty or inverted: from must be before to",
            ));
        }
        if to - from > self.settings.max_report_days * 86_400_000 {
            return Err(ApiError::bad_request(format!(
                "the range is longer than {} days",
                self.settings.max_report_days
            )));
        }
        Ok(())
    }

    /// The transparency report; `caller` `None` is the public report.
    pub async fn report(
        &self,
        caller: Option<&Caller>,
        from: Timestamp,
        to: Timestamp,
    ) -> ApiResult<Report> {
        match caller {
            Some(c) => {
                self.admin(c).await?;
            }
            None if !self.settings.public_report => return Err(ApiError::not_found("endpoint")),
            None => {}
        }
        self.check_range(from, to)?;
        let counts = self.store.share_counts(from, to).await?;
        let mut groups: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        for c in &counts {
            *groups
                .entry((
                    c.owner.clone(),
                    c.platform.clone(),
                    c.conversation_kind.clone(),
                ))
                .or_default() += c.count;
        }
        let total = counts.iter().map(|c| c.count).sum();
        let rows = counts
            .into_iter()
            .map(|count| {
                let of = groups
                    .get(&(
                        count.owner.clone(),
                        count.platform.clone(),
                        count.conversation_kind.clone(),
                    ))
                    .copied()
                    .unwrap_or(1);
                ReportRow {
                    share: count.count as f64 / of.max(1) as f64,
                    count,
                }
            })
            .collect();
        let activations = self.store.activations().await?;
        let mut versions_in_force = vec![
            json!({ "version": in_force(&activations, from).map_or(0, |a| a.version_id), "from": from }),
        ];
        for a in activations.iter().filter(|a| {
            a.cancelled_at.is_none() && a.effective_from > from && a.effective_from < to
        }) {
            versions_in_force.push(json!({ "version": a.version_id, "from": a.effective_from }));
        }
        let bucket_ms = if to - from <= 2 * 86_400_000 {
            3_600_000
        } else {
            86_400_000
        };
        let mut series: BTreeMap<(i64, String, String, String), i64> = BTreeMap::new();
        for (at, c) in self.store.share_series(from, to, bucket_ms).await? {
            *series
                .entry((at, c.owner, c.conversation_kind, c.treatment))
                .or_default() += c.count;
        }
        let series = series
            .into_iter()
            .map(|((at, owner, kind, treatment), count)| {
                json!({ "at": at, "owner": owner, "conversation_kind": kind, "treatment": treatment, "count": count })
            })
            .collect();
        Ok(Report {
            from,
            to,
            total,
            rows,
            versions_in_force,
            bucket_ms,
            series,
        })
    }

    /// The non-discrimination check of the policy in force, or of a candidate.
    pub async fn fairness(
        &self,
        caller: &Caller,
        candidate: Option<&str>,
    ) -> ApiResult<FairnessReport> {
        self.admin(caller).await?;
        let engine = match candidate {
            Some(text) => Arc::new(self.compile(text)?),
            None => self.links.active().engine.clone(),
        };
        Ok(check_non_discrimination(
            &engine,
            &PlatformFacts::from_registry(self.links.registry()),
            self.links.operator(),
        ))
    }

    /// What `text` would have decided for every link logged in the range.
    pub async fn replay(
        &self,
        caller: &Caller,
        text: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> ApiResult<Replay> {
        let actor = self.admin(caller).await?;
        self.check_range(from, to)?;
        let engine = self.compile(text)?;
        let contested = ContestedCategories::new(
            self.links
                .registry()
                .platforms()
                .iter()
                .map(|p| (p.owner.as_str(), p.category.as_str())),
            self.links.operator(),
        );
        let (mut replayed, mut changed, mut after) = (0u64, 0u64, 0i64);
        let mut changes: BTreeMap<(String, String, String, String, String), u64> = BTreeMap::new();
        loop {
            let page = self
                .store
                .shares(from, to, after, self.settings.replay_page)
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, s) in &page {
                let ctx = links::context(s.conversation_kind, s.member_count, s.sender_role);
                let facts = LinkFacts {
                    platform: s.platform.clone(),
                    owner: s.owner.clone(),
                    category: s.category.clone(),
                    domain: s.domain.clone(),
                    lists: s.lists.clone(),
                    category_contested: contested.contains(&s.category),
                    ..LinkFacts::default()
                };
                let new = serde_json::to_value(engine.decide(&ctx, &facts).treatment)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                replayed += 1;
                if new != s.treatment {
                    changed += 1;
                    let key = (
                        s.owner.clone(),
                        s.platform.clone(),
                        s.conversation_kind.as_str().to_owned(),
                        s.treatment.clone(),
                        new,
                    );
                    *changes.entry(key).or_default() += 1;
                }
            }
        }
        let mut changes: Vec<_> = changes.into_iter().collect();
        changes.sort_by_key(|c| std::cmp::Reverse(c.1));
        let changes = changes
            .into_iter()
            .map(|((owner, platform, kind, old, new), count)| {
                json!({ "owner": owner, "platform": platform, "conversation_kind": kind, "from": old, "to": new, "count": count })
            })
            .collect();
        self.audit(
            actor,
            "policy.replay",
            json!({ "from": from, "to": to, "replayed": replayed }),
        )
        .await?;
        Ok(Replay {
            replayed,
            changed,
            changes,
        })
    }

    /// The newest audit entries.
    pub async fn audit_log(
        &self,
        caller: &Caller,
        limit: u32,
    ) -> ApiResult<Vec<kaifang_store::AuditEntry>> {
        self.admin(caller).await?;
        Ok(self.store.audit_log(limit.clamp(1, 1_000)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: i64, at: i64, cancelled: bool) -> Activation {
        Activation {
            id,
            version_id: id * 10,
            effective_from: at,
            created_by: "x".into(),
            created_at: 0,
            cancelled_at: cancelled.then_some(1),
        }
    }

    #[test]
    fn the_latest_effective_uncancelled_activation_is_in_force() {
        let all = [
            a(1, 100, false),
            a(2, 200, false),
            a(3, 150, true),
            a(4, 300, false),
        ];
        assert_eq!(in_force(&all, 50), None);
        assert_eq!(in_force(&all, 100).map(|a| a.id), Some(1));
        assert_eq!(in_force(&all, 199).map(|a| a.id), Some(1));
        assert_eq!(in_force(&all, 250).map(|a| a.id), Some(2));
        assert_eq!(in_force(&all, 300).map(|a| a.id), Some(4));
        // Ties: the later activation wins.
        let tie = [a(1, 100, false), a(2, 100, false)];
        assert_eq!(in_force(&tie, 100).map(|a| a.id), Some(2));
    }

    #[test]
    fn line_diffs() {
        let d = diff("a\nb\nc", "a\nc\nd");
        let ops: Vec<(&str, &str)> = d.iter().map(|l| (l.op, l.line.as_str())).collect();
        assert_eq!(ops, [("=", "a"), ("-", "b"), ("=", "c"), ("+", "d")]);
    }
}
