//! Sending messages: validation, rate, membership, link decisions, storage,
//! then previews in the background.
use std::sync::Arc;

use kaifang_policy::Treatment;
use kaifang_store::{ConversationKind, LinkShare, Message, NewMessage, Store};

use crate::config::Limits;
use crate::hub::{Hub, Membership};
use crate::metrics::Metrics;
use crate::ratelimit::Buckets;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::links::{self, LinkDecision, Links};
use crate::service::mentions;
use crate::service::previews::Previews;

/// The messaging service.
pub struct Messaging {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    links: Arc<Links>,
    previews: Arc<Previews>,
    metrics: Arc<Metrics>,
    limits: Limits,
    rate: Buckets,
    /// `chat.mention_all_max_members`.
    mention_all_max_members: usize,
    /// `attachments.max_per_message`.
    max_attachments: usize,
}

fn shares(links: &[LinkDecision], m: &Membership, version: i64) -> Vec<LinkShare> {
    let at = crate::now_ms();
    links
        .iter()
        .map(|l| &l.decision)
        .map(|l| LinkShare {
            at,
            message_id: None,
            conversation_kind: m.kind,
            member_count: m.member_count as i64,
            sender_role: m.role,
            platform: l.platform.to_string(),
            owner: l.owner.to_string(),
            category: l.category.to_string(),
            domain: l.domain.to_string(),
            lists: l.lists.clone(),
            bidi: l.bidi(),
            mixed_script: l.mixed_script(),
            treatment: l.treatment.as_str().to_owned(),
            preview: l.preview,
            policy_version: version,
            policies: l.policies.to_vec(),
        })
        .collect()
}

impl Messaging {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        links: Arc<Links>,
        previews: Arc<Previews>,
        metrics: Arc<Metrics>,
        limits: Limits,
        max_attachments: usize,
    ) -> Self {
        let rate = Buckets::new(
            limits.messages_per_second,
            limits.messages_burst,
            limits.rate_limit_keys,
        );
        Self {
            store,
            hub,
            links,
            previews,
            metrics,
            limits,
            rate,
            mention_all_max_members: crate::config::ChatSettings::default().mention_all_max_members,
            max_attachments,
        }
    }

    /// Sets who may use `@all` (`chat.mention_all_max_members`).
    pub fn with_mention_all_max_members(mut self, members: usize) -> Self {
        self.mention_all_max_members = members;
        self
    }

    /// The mentions of `body` that count, as stored JSON (`None`: none).
    /// The member list is read only when the text has an `@` mention.
    pub(crate) async fn mentions(
        &self,
        conversation_id: i64,
        membership: &Membership,
        body: &str,
    ) -> Result<Option<String>> {
        let found = mentions::find(body);
        if found.is_empty() {
            return Ok(None);
        }
        let Some(conversation) = self.store.conversation(conversation_id).await? else {
            return Err(Error::not_found("conversation"));
        };
        let all = mentions::may_mention_all(
            membership.kind == ConversationKind::Direct,
            conversation.members.len(),
            membership.role,
            self.mention_all_max_members,
        );
        let resolved = mentions::resolve(&found, &conversation.members, all);
        if resolved.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            serde_json::to_string(&resolved).map_err(Error::internal)?,
        ))
    }

    /// The caller's membership, from the hub or (just after a change the
    /// hub has not seen yet) from the store; 404 for non-members.
    pub async fn membership(&self, caller: &Caller, conversation_id: i64) -> Result<Membership> {
        if let Some(m) = self.hub.membership(conversation_id, caller.user_id) {
            return Ok(m);
        }
        let c = self
            .store
            .conversation(conversation_id)
            .await?
            .ok_or_else(|| Error::not_found("conversation"))?;
        let me = c
            .members
            .iter()
            .find(|m| m.user_id == caller.user_id)
            .ok_or_else(|| Error::not_found("conversation"))?;
        Ok(Membership {
            kind: c.kind,
            member_count: c.members.len(),
            role: me.role,
        })
    }

    /// Stores and delivers a message, with the caller's unsent uploads
    /// `attachments` into this conversation; `false` when `client_txn_id`
    /// repeated an earlier send (the original comes back). `reply_to` names
    /// the seq of a message of the same conversation (400 when there is none).
    pub async fn send(
        &self,
        caller: &Caller,
        conversation_id: i64,
        body: String,
        client_txn_id: Option<String>,
        attachments: Vec<i64>,
        reply_to: Option<i64>,
    ) -> Result<(Message, bool)> {
        // Attachments alone make a message; otherwise the text rule applies.
        if attachments.is_empty() || !body.trim().is_empty() {
            self.check_text(&body)?;
        }
        if attachments.len() > self.max_attachments {
            return Err(Error::too_large(format!(
                "a message carries at most {} attachments",
                self.max_attachments
            )));
        }
        let mut distinct = attachments.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != attachments.len() {
            return Err(Error::invalid("an attachment is listed twice"));
        }
        if let Some(txn) = &client_txn_id
            && (txn.is_empty() || txn.len() > self.limits.max_txn_id_bytes)
        {
            return Err(Error::invalid(format!(
                "client_txn_id has 1 to {} bytes",
                self.limits.max_txn_id_bytes
            )));
        }
        self.rate
            .take(&caller.user_id.to_string())
            .map_err(|wait| Error::rate_limited("sending too fast", wait))?;
        // The hub's view is a fast path; the store checks membership again
        // inside the write transaction, which is what counts.
        let membership = self.membership(caller, conversation_id).await?;
        if let Some(seq) = reply_to {
            // Seqs have no gaps and are never taken back (a recalled
            // message keeps its place), so 1..=last_seq is exactly the set
            // of messages that exist, now and at the append.
            let last = self
                .store
                .conversation(conversation_id)
                .await?
                .map_or(0, |c| c.last_seq);
            if seq < 1 || seq > last {
                return Err(Error::invalid(format!(
                    "reply_to: this conversation has no message {seq}"
                )));
            }
        }
        let decided = self.decide_links(&body, &membership).await?;
        let mentions = self.mentions(conversation_id, &membership, &body).await?;
        let new = NewMessage {
            conversation_id,
            sender_id: caller.user_id,
            body,
            client_txn_id,
            links: decided.links,
            shares: decided.shares,
            mentions,
            attachments,
            reply_to,
        };
        let (message, created) = self.store.append_message(new).await?;
        if created {
            self.metrics.message_sent();
            self.fetch_previews(message.id, decided.wanted);
        }
        Ok((message, created))
    }

    /// Refuses an empty or oversized text (a send's and an edit's rule).
    pub(crate) fn check_text(&self, body: &str) -> Result<()> {
        if body.trim().is_empty() {
            return Err(Error::invalid("a message needs some text"));
        }
        if body.len() > self.limits.max_message_bytes {
            return Err(Error::too_large(format!(
                "a message has at most {} bytes of UTF-8",
                self.limits.max_message_bytes
            )));
        }
        Ok(())
    }

    /// Starts fetching the previews a decision permitted.
    pub(crate) fn fetch_previews(&self, message_id: i64, wanted: Vec<(String, String)>) {
        if !wanted.is_empty() {
            self.previews.attach_in_background(message_id, wanted);
        }
    }

    /// Decides a text's links under the policy in force, as a send does:
    /// a blocked link refuses the text (422) and logs the refused shares;
    /// otherwise the decisions, their share-log rows and the previews to
    /// fetch come back. Edits go through here too, so an edited text
    /// cannot carry a link its send would have been refused for.
    pub(crate) async fn decide_links(
        &self,
        body: &str,
        membership: &Membership,
    ) -> Result<Decided> {
        let (mut links, version) = self.links.evaluate(
            body,
            &links::context(
                membership.kind,
                membership.member_count as i64,
                membership.role,
            ),
        );
        let log = shares(&links, membership, version);
        let blocked: Vec<&LinkDecision> = links
            .iter()
            .filter(|l| l.decision.treatment == Treatment::Blocked)
            .collect();
        if !blocked.is_empty() {
            let detail = blocked
                .iter()
                .map(|l| &l.decision)
                .map(|l| format!("{} (policy {})", l.url, l.policies.join(", ")))
                .collect::<Vec<_>>()
                .join("; ");
            let extra = serde_json::json!({ "links": blocked });
            if let Err(e) = self.store.log_refused_shares(log).await {
                tracing::warn!(error = %e, "could not log refused link shares");
            }
            return Err(Error::Refused {
                kind: "link-blocked",
                title: "Link blocked",
                detail: format!("blocked: {detail}"),
                extra: Some(Box::new(extra)),
            });
        }
        // The message says what will happen: no card will come when
        // previews are off, or the operator's rules exclude the host.
        let enabled = self.previews.enabled();
        for l in &mut links {
            let d = &mut l.decision;
            let excluded = d
                .canonical
                .as_deref()
                .is_some_and(|u| !self.previews.permitted(u));
            if !enabled || excluded {
                d.preview = false;
            }
        }
        let wanted: Vec<(String, String)> = links
            .iter()
            .map(|l| &l.decision)
            .filter(|l| l.preview && matches!(l.treatment, Treatment::Live | Treatment::Warn))
            .filter_map(|l| Some((l.url.clone(), l.canonical.clone()?)))
            .collect();
        Ok(Decided {
            links: serde_json::to_string(&links).map_err(Error::internal)?,
            shares: log,
            wanted,
        })
    }
}

/// A text's link decisions, ready to store.
pub(crate) struct Decided {
    /// The decisions, as the JSON array a message keeps.
    pub links: String,
    /// One share-log row per link.
    pub shares: Vec<LinkShare>,
    /// `(url, canonical)` of the previews to fetch.
    pub wanted: Vec<(String, String)>,
}
