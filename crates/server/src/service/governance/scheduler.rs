//! Scheduling: activations of versions at an instant, rollback and
//! cancellation, and the loop that installs whatever is in force. The loop
//! polls the database, so a version scheduled by another process sharing the
//! database file is installed too, within a poll.
use std::time::Duration;

use kaifang_store::{Activation, Timestamp};
use serde_json::json;

use super::{ActivationView, GovernanceService};
use crate::now_ms;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};

/// The activation in force at `t`: greatest `effective_from <= t`, latest
/// id on ties, cancelled ones ignored.
pub fn in_force(activations: &[Activation], t: Timestamp) -> Option<&Activation> {
    activations
        .iter()
        .filter(|a| a.cancelled_at.is_none() && a.effective_from <= t)
        .max_by_key(|a| (a.effective_from, a.id))
}

impl GovernanceService {
    /// Schedules a version at `at` (RFC 3339; `None`: now).
    pub async fn activate(
        &self,
        caller: &Caller,
        id: i64,
        at: Option<&str>,
    ) -> Result<ActivationView> {
        let actor = self.admin(caller).await?;
        let now = now_ms();
        let at = match at {
            None => now,
            Some(text) => {
                let t = time::OffsetDateTime::parse(
                    text,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|e| Error::invalid(format!("`at` is not an RFC 3339 instant: {e}")))?;
                let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
                // A second of slack for clocks and round trips.
                if ms < now - 1_000 {
                    return Err(Error::invalid(
                        "`at` is in the past: omit it to activate now",
                    ));
                }
                ms
            }
        };
        let version = self.version_text(id).await?;
        if id == 0 {
            return Err(Error::invalid(
                "version 0 is the start-up policy; propose it as a new version",
            ));
        }
        self.compile(&version.text)?;
        let activation = self.store.schedule(id, at, actor).await?;
        self.record(
            actor,
            "policy.activate",
            json!({ "version": id, "activation": activation.id, "effective_from": at }),
        )
        .await?;
        self.wake.notify_one();
        self.sync().await;
        Ok(activation.into())
    }

    /// Puts an earlier version back in force now.
    pub async fn rollback(&self, caller: &Caller, to: i64) -> Result<ActivationView> {
        let actor = self.admin(caller).await?;
        let a = self.activate(caller, to, None).await?;
        self.record(actor, "policy.rollback", json!({ "version": to }))
            .await?;
        Ok(a)
    }

    /// Cancels a pending activation.
    pub async fn cancel(&self, caller: &Caller, activation: i64) -> Result<ActivationView> {
        let actor = self.admin(caller).await?;
        let a = self.store.cancel(activation, now_ms()).await?;
        self.record(actor, "policy.cancel", json!({ "activation": activation }))
            .await?;
        self.wake.notify_one();
        Ok(a.into())
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
                tracing::error!(version = want, error = %e, "cannot load a scheduled policy")
            }
        }
    }

    /// Runs forever: switches at each scheduled instant, polls the database
    /// for activations written by other processes, and prunes the
    /// link-share log daily.
    pub async fn run(self: std::sync::Arc<Self>) {
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
}
