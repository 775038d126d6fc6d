//! Replay: what a candidate policy would have decided for every link in the
//! link-share log, counted by what would change.
use std::collections::BTreeMap;

use kaifang_policy::{ContestedCategories, LinkFacts};
use kaifang_store::{LinkShare, Timestamp};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::GovernanceService;
use crate::service::accounts::Caller;
use crate::service::error::Result;
use crate::service::links;

/// Logged links of one owner × platform × conversation kind whose treatment
/// would change from one value to another.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayChange {
    /// Owner id.
    pub owner: String,
    /// Platform id.
    pub platform: String,
    /// `direct` or `group`.
    pub conversation_kind: String,
    /// The treatment logged.
    pub from: String,
    /// The treatment the candidate gives.
    pub to: String,
    /// How many links.
    pub count: u64,
}

/// What a candidate policy would change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replay {
    /// Logged links replayed.
    pub replayed: u64,
    /// Of those, how many change treatment.
    pub changed: u64,
    /// The changes, most links first.
    pub changes: Vec<ReplayChange>,
}

/// The facts the policy reads, rebuilt from a logged share.
fn facts(s: &LinkShare, contested: &ContestedCategories) -> LinkFacts {
    LinkFacts {
        // The link-share log does not record the kind yet: replayed as URLs.
        kind: kaifang_policy::LinkKind::Url,
        platform: s.platform.clone(),
        owner: s.owner.clone(),
        category: s.category.clone(),
        domain: s.domain.clone(),
        lists: s.lists.clone(),
        bidi: s.bidi,
        mixed_script: s.mixed_script,
        // Not in the link-share log yet: replayed as not a look-alike.
        lookalike: false,
        category_contested: contested.contains(&s.category),
        // Penalties are not in the link-share log: replayed as none, so a
        // replay shows what the policy text changes, not what moderation did.
        penalty: kaifang_policy::Penalty::None,
    }
}

impl GovernanceService {
    /// What `text` would have decided for every link logged in the range.
    pub async fn replay(
        &self,
        caller: &Caller,
        text: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Replay> {
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
                let new = engine.decide(&ctx, &facts(s, &contested)).treatment;
                replayed += 1;
                if new.as_str() != s.treatment {
                    changed += 1;
                    let key = (
                        s.owner.clone(),
                        s.platform.clone(),
                        s.conversation_kind.as_str().to_owned(),
                        s.treatment.clone(),
                        new.as_str().to_owned(),
                    );
                    *changes.entry(key).or_default() += 1;
                }
            }
        }
        let mut changes: Vec<_> = changes.into_iter().collect();
        changes.sort_by_key(|c| std::cmp::Reverse(c.1));
        let changes = changes
            .into_iter()
            .map(
                |((owner, platform, conversation_kind, from, to), count)| ReplayChange {
                    owner,
                    platform,
                    conversation_kind,
                    from,
                    to,
                    count,
                },
            )
            .collect();
        self.record(
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
}
