//! Moderation (issue 11): members report links, moderators uphold or dismiss
//! the reports, an upheld report is a strike against the link's registrable
//! domain and costs it the penalty ladder's next rung, and the domain's owner
//! (or an administrator) appeals. Penalties are facts the policy reads
//! (`resource.penalty`); this service only keeps the penalty book in step
//! with the database and the clock. Every step goes into the audit log.
//!
//! The reporter is told the outcome (an ephemeral `complaint` event in the
//! conversation, and `GET /api/v1/complaints`); the message's sender is told
//! nothing, and no view but the moderators' names the reporter.
mod ladder;

use std::sync::Arc;
use std::time::Duration;

use kaifang_store::{
    Appeal, CaseState, Chat, Complaint, Decision, Governance, Moderation, NewComplaint, Penalty,
    Store, UserId,
};
use serde_json::{Value, json};

pub use ladder::{Ladder, book_at};

use crate::config::ModerationSettings;
use crate::hub::Audience;
use crate::ratelimit::Window;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::events::Events;
use crate::service::links::Links;
use crate::service::messaging::Messaging;

/// The reasons a link can be reported for: WeChat's published categories,
/// plus malware and phishing.
pub const REASONS: [&str; 7] = [
    "inducement",
    "fraud",
    "rumour",
    "spam",
    "vulgar",
    "malware",
    "phishing",
];

/// What a moderator decides about a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintOutcome {
    /// A strike against the domain.
    Upheld,
    /// Nothing happens to the domain.
    Dismissed,
}

/// A complaint as filed by a member.
#[derive(Debug)]
pub struct Report {
    /// The conversation.
    pub conversation_id: i64,
    /// The message's sequence number in it.
    pub seq: i64,
    /// Which of the message's links (0 for the first).
    pub link_index: usize,
    /// One of [`REASONS`].
    pub reason: String,
    /// Optional note.
    pub note: String,
}

/// The moderation service.
pub struct ModerationService {
    store: Arc<dyn Moderation>,
    users: Arc<dyn Store>,
    chat: Arc<dyn Chat>,
    audit: Arc<dyn Governance>,
    messaging: Arc<Messaging>,
    links: Arc<Links>,
    events: Arc<Events>,
    settings: ModerationSettings,
    /// How often the penalty book is rebuilt from the database, so that a
    /// decision taken on another node counts here too (`governance.poll_ms`:
    /// the same bound as policy activations).
    poll: Duration,
    /// Complaints per reporter per hour (`moderation.complaints_per_hour`).
    rate: Window,
}

/// Everything the service needs, named (the constructor would otherwise
/// take nine positional arguments).
pub struct Parts {
    /// Complaints, penalties, appeals, moderators.
    pub store: Arc<dyn Moderation>,
    /// Accounts.
    pub users: Arc<dyn Store>,
    /// Messages by position.
    pub chat: Arc<dyn Chat>,
    /// The audit log.
    pub audit: Arc<dyn Governance>,
    /// Membership checks.
    pub messaging: Arc<Messaging>,
    /// The link engine, whose penalty book this keeps.
    pub links: Arc<Links>,
    /// Ephemeral events to reporters.
    pub events: Arc<Events>,
}

impl ModerationService {
    /// Builds the service.
    pub fn new(
        parts: Parts,
        settings: ModerationSettings,
        poll: Duration,
        rate_limit_keys: usize,
    ) -> Self {
        let rate = Window::new(
            settings.complaints_per_hour,
            Duration::from_secs(3_600),
            rate_limit_keys,
        );
        Self {
            store: parts.store,
            users: parts.users,
            chat: parts.chat,
            audit: parts.audit,
            messaging: parts.messaging,
            links: parts.links,
            events: parts.events,
            settings,
            poll,
            rate,
        }
    }

    /// Whether the account moderates: an administrator, a handle in
    /// `moderation.moderators`, or granted the role.
    pub async fn can_moderate(&self, user: UserId) -> Result<bool> {
        let Some(u) = self.users.user_by_id(user).await? else {
            return Ok(false);
        };
        Ok(u.is_admin
            || self.settings.moderators.contains(&u.handle)
            || self.store.is_moderator(user).await?)
    }

    /// The caller's id if they moderate; 404 otherwise, as for admin pages.
    async fn moderator(&self, caller: &Caller) -> Result<UserId> {
        if self.can_moderate(caller.user_id).await? {
            Ok(caller.user_id)
        } else {
            Err(Error::not_found("resource"))
        }
    }

    async fn admin(&self, caller: &Caller) -> Result<UserId> {
        caller.admin(&*self.users).await
    }

    fn note(&self, note: &str) -> Result<String> {
        let max = self.settings.max_note_chars;
        if note.chars().nth(max).is_some() {
            return Err(Error::invalid(format!(
                "the note is longer than {max} characters"
            )));
        }
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::invalid("the note has control characters"));
        }
        Ok(note.trim().to_owned())
    }

    async fn record(&self, actor: UserId, action: &str, detail: Value) -> Result<()> {
        self.audit
            .audit(actor, action, &detail.to_string())
            .await
            .map_err(Error::from)
    }

    /// Files a complaint about a link of a message the caller can read.
    /// Returns it and whether it is new (the same report again is the first one).
    pub async fn report(&self, caller: &Caller, r: Report) -> Result<(Complaint, bool)> {
        if !REASONS.contains(&r.reason.as_str()) {
            return Err(Error::invalid(format!(
                "unknown reason {:?}: use one of {}",
                r.reason,
                REASONS.join(", ")
            )));
        }
        let note = self.note(&r.note)?;
        // A non-member learns nothing: the conversation is not there.
        self.messaging.membership(caller, r.conversation_id).await?;
        let message = self
            .chat
            .message_at(r.conversation_id, r.seq)
            .await?
            .ok_or_else(|| Error::not_found("message"))?;
        let links: Vec<Value> = serde_json::from_str(&message.links).unwrap_or_default();
        let link = links.get(r.link_index).ok_or_else(|| {
            Error::invalid(format!(
                "the message has no link at index {} (it has {})",
                r.link_index,
                links.len()
            ))
        })?;
        let text = |key: &str| {
            link.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let domain = text("domain");
        if domain.is_empty() {
            return Err(Error::invalid(
                "that link was not decided (past the link cap, or malformed): there is no domain to report",
            ));
        }
        let key = caller.user_id.to_string();
        self.rate.check(&key).map_err(|wait| {
            Error::rate_limited("too many complaints: moderation.complaints_per_hour", wait)
        })?;
        let (complaint, created) = self
            .store
            .file_complaint(NewComplaint {
                reporter: caller.user_id,
                conversation_id: r.conversation_id,
                message_id: message.id,
                link_index: i64::try_from(r.link_index).unwrap_or(i64::MAX),
                url: text("url"),
                domain,
                platform: text("platform"),
                owner: text("owner"),
                reason: r.reason,
                note,
                now: crate::now_ms(),
            })
            .await?;
        if created {
            self.rate.record(&key);
            self.record(
                caller.user_id,
                "complaint.file",
                json!({ "complaint": complaint.id, "domain": complaint.domain, "reason": complaint.reason }),
            )
            .await?;
        }
        Ok((complaint, created))
    }

    /// The caller's own complaints, newest first, with their outcomes.
    pub async fn mine(&self, caller: &Caller) -> Result<Vec<Complaint>> {
        Ok(self
            .store
            .complaints_by(caller.user_id, self.settings.page)
            .await?)
    }

    /// The queue: complaints in a state (open by default), oldest first.
    pub async fn queue(
        &self,
        caller: &Caller,
        state: Option<CaseState>,
        after: i64,
    ) -> Result<Vec<Complaint>> {
        self.moderator(caller).await?;
        Ok(self
            .store
            .complaints(state, after, self.settings.page)
            .await?)
    }

    /// Upholds or dismisses an open complaint (409 once decided). Upheld,
    /// it is a strike and the domain's penalty is in force at once.
    pub async fn decide(
        &self,
        caller: &Caller,
        id: i64,
        outcome: ComplaintOutcome,
        note: &str,
    ) -> Result<(Complaint, Option<Penalty>)> {
        let by = self.moderator(caller).await?;
        let decision = Decision {
            id,
            by,
            note: self.note(note)?,
            now: crate::now_ms(),
        };
        let (complaint, penalty) = match outcome {
            ComplaintOutcome::Upheld => {
                let window = self.settings.strike_window_days.saturating_mul(86_400_000);
                let since = decision.now.saturating_sub(window);
                let (c, p) = self
                    .store
                    .uphold(decision, since, self.settings.ladder.rungs())
                    .await?;
                (c, Some(p))
            }
            ComplaintOutcome::Dismissed => (self.store.dismiss(decision).await?, None),
        };
        self.record(
            by,
            "complaint.decide",
            json!({
                "complaint": complaint.id,
                "outcome": complaint.state.as_str(),
                "domain": complaint.domain,
                "penalty": penalty.as_ref().map(|p| json!({
                    "id": p.id, "strike": p.strike, "state": p.state.as_str(), "ends_at": p.ends_at,
                })),
            }),
        )
        .await?;
        if penalty.is_some() {
            self.refresh().await;
        }
        // The reporter hears the outcome; the sender is told nothing.
        let told = json!({
            "type": "complaint",
            "conversation_id": complaint.conversation_id,
            "id": complaint.id,
            "state": complaint.state.as_str(),
            "url": complaint.url,
            "reason": complaint.reason,
        });
        self.events.ephemeral(
            complaint.conversation_id,
            Audience::Users(vec![complaint.reporter_id]),
            told.to_string(),
        );
        Ok((complaint, penalty))
    }

    /// Penalties, newest first: open figures for any signed-in user.
    pub async fn penalties(&self) -> Result<Vec<Penalty>> {
        Ok(self.store.penalties(self.settings.page).await?)
    }

    /// Whether the caller may appeal for `owner`'s domains.
    async fn may_appeal_for(&self, caller: &Caller, owner: &str) -> Result<bool> {
        let Some(u) = self.users.user_by_id(caller.user_id).await? else {
            return Ok(false);
        };
        Ok(u.is_admin
            || self
                .settings
                .owner_accounts
                .get(owner)
                .is_some_and(|handles| handles.contains(&u.handle)))
    }

    /// Appeals against a penalty in force: the domain's owner's accounts
    /// (`moderation.owner_accounts`) or an administrator. Anyone else gets
    /// 404; a penalty no longer in force, or one already appealed, 409.
    pub async fn appeal(&self, caller: &Caller, penalty: i64, note: &str) -> Result<Appeal> {
        let note = self.note(note)?;
        let p = self
            .store
            .penalty(penalty)
            .await?
            .ok_or_else(|| Error::not_found("penalty"))?;
        if !self.may_appeal_for(caller, &p.owner).await? {
            return Err(Error::not_found("penalty"));
        }
        let appeal = self
            .store
            .file_appeal(penalty, caller.user_id, &note, crate::now_ms())
            .await?;
        self.record(
            caller.user_id,
            "appeal.file",
            json!({ "appeal": appeal.id, "penalty": penalty, "domain": p.domain }),
        )
        .await?;
        Ok(appeal)
    }

    /// Appeals in a state (open by default), oldest first; moderators only.
    pub async fn appeals(&self, caller: &Caller, state: Option<CaseState>) -> Result<Vec<Appeal>> {
        self.moderator(caller).await?;
        Ok(self.store.appeals(state, self.settings.page).await?)
    }

    /// Grants (lifting the penalty at once) or refuses an open appeal.
    pub async fn decide_appeal(
        &self,
        caller: &Caller,
        id: i64,
        grant: bool,
        note: &str,
    ) -> Result<Appeal> {
        let by = self.moderator(caller).await?;
        let decision = Decision {
            id,
            by,
            note: self.note(note)?,
            now: crate::now_ms(),
        };
        let appeal = self.store.decide_appeal(decision, grant).await?;
        self.record(
            by,
            "appeal.decide",
            json!({ "appeal": appeal.id, "penalty": appeal.penalty_id, "outcome": appeal.state.as_str() }),
        )
        .await?;
        if grant {
            self.refresh().await;
        }
        Ok(appeal)
    }

    /// Every moderator: the setting's handles and those granted the role.
    pub async fn moderators(&self, caller: &Caller) -> Result<Vec<String>> {
        self.admin(caller).await?;
        let mut all = self.store.moderators().await?;
        all.extend(self.settings.moderators.iter().cloned());
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Grants or withdraws the moderator role (administrators only; 404
    /// for an unknown handle).
    pub async fn set_moderator(&self, caller: &Caller, handle: &str, on: bool) -> Result<()> {
        let by = self.admin(caller).await?;
        self.store.set_moderator(handle, on).await?;
        let action = if on {
            "moderator.grant"
        } else {
            "moderator.revoke"
        };
        self.record(by, action, json!({ "handle": handle })).await
    }

    /// Rebuilds the penalty book from the database at the current time;
    /// returns when it next changes by itself.
    pub async fn refresh(&self) -> Option<i64> {
        let now = crate::now_ms();
        match self.store.live_penalties(now).await {
            Ok(live) => {
                let (book, next) = book_at(&live, now);
                self.links.penalties().replace(book);
                next
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the penalties in force");
                None
            }
        }
    }

    /// Runs forever: rebuilds the book when a penalty ends and every poll,
    /// so penalties expire without a restart and decisions taken on other
    /// nodes apply here within `governance.poll_ms`. A decision taken here
    /// rebuilds it at once (see [`Self::refresh`]).
    pub async fn run(self: Arc<Self>) {
        loop {
            let next = self.refresh().await;
            let wait = next.map_or(self.poll, |t| {
                let until = u64::try_from(t - crate::now_ms()).unwrap_or(0).max(1);
                self.poll.min(Duration::from_millis(until))
            });
            tokio::time::sleep(wait).await;
        }
    }
}
