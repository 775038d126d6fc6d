//! The transparency report: links decided in a range, counted by owner,
//! platform, conversation kind and treatment, with the versions in force and
//! a time series; and moderation's figures: complaints by outcome, penalties,
//! and how often rivals' and the house's domains were struck per thousand
//! shares, category by category and reason by reason; and payments: orders
//! by merchant, wallet and outcome with the picker's order in force.
use std::collections::{BTreeMap, BTreeSet};

use kaifang_store::{CaseState, ComplaintCount, ShareCount, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::payment_report::{PaymentsSection, payments_section};
use super::{GovernanceService, in_force};
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};

/// A row of the transparency report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportRow {
    /// Owner id.
    pub owner: String,
    /// Platform id.
    pub platform: String,
    /// `direct` or `group`.
    pub conversation_kind: String,
    /// `live`, `warn`, `inert` or `blocked`.
    pub treatment: String,
    /// How many links.
    pub count: i64,
    /// Share of this owner × platform × conversation kind's links.
    pub share: f64,
}

/// A version in force during the range, and from when.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInForce {
    /// The version (0: the start-up policy from the settings).
    pub version: i64,
    /// In force from (Unix ms; the range start for the first).
    pub from: i64,
    /// The version's comment (for version 0, where it came from).
    pub comment: String,
}

/// Complaints filed in the range about one owner × platform × reason, by outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintRow {
    /// Owner id.
    pub owner: String,
    /// Platform id.
    pub platform: String,
    /// The reason.
    pub reason: String,
    /// `open`, `upheld` or `dismissed`.
    pub state: String,
    /// How many.
    pub count: i64,
}

/// Penalties that began in the range, per owner × platform × reason × state.
#[derive(Debug, Serialize, ToSchema)]
pub struct PenaltyRow {
    /// Owner id.
    pub owner: String,
    /// Platform id.
    pub platform: String,
    /// The reason of the upheld complaint behind the strike.
    pub reason: String,
    /// `restricted` or `suspended`.
    pub state: String,
    /// How many.
    pub count: i64,
    /// Of those, lifted by a granted appeal.
    pub lifted: i64,
}

/// For one category and reason: strikes (upheld complaints) per thousand
/// shares against rivals' domains and against the house's own. A rival rate
/// well above the house's for the same reason is what uneven treatment looks
/// like in figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct StrikeRate {
    /// Platform category.
    pub category: String,
    /// The complaint reason.
    pub reason: String,
    /// Strikes against the operator's own platforms' domains.
    pub house_strikes: i64,
    /// Links to the operator's own platforms of this category logged in the range.
    pub house_shares: i64,
    /// Strikes per thousand shares; null without shares.
    pub house_per_thousand: Option<f64>,
    /// Strikes against rivals' platforms' domains.
    pub rival_strikes: i64,
    /// Links to rivals' platforms of this category logged in the range.
    pub rival_shares: i64,
    /// Strikes per thousand shares; null without shares.
    pub rival_per_thousand: Option<f64>,
}

/// One bucket of the time series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// Bucket start, Unix ms.
    pub at: i64,
    /// Owner id.
    pub owner: String,
    /// `direct` or `group`.
    pub conversation_kind: String,
    /// `live`, `warn`, `inert` or `blocked`.
    pub treatment: String,
    /// How many links.
    pub count: i64,
}

/// The transparency report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    /// Range start (ms).
    pub from: i64,
    /// Range end (ms, exclusive).
    pub to: i64,
    /// Links decided in the range.
    pub total: i64,
    /// Per owner × platform × conversation kind × treatment.
    pub rows: Vec<ReportRow>,
    /// Versions in force during the range, in order.
    pub versions_in_force: Vec<VersionInForce>,
    /// Width of the time buckets of `series`, ms (an hour for ranges up to
    /// two days, else a day).
    pub bucket_ms: i64,
    /// Over time: per bucket × owner × conversation kind × treatment.
    pub series: Vec<SeriesPoint>,
    /// Complaints filed in the range, by owner × platform × reason × outcome.
    pub complaints: Vec<ComplaintRow>,
    /// Penalties that began in the range.
    pub penalties: Vec<PenaltyRow>,
    /// Strikes per thousand shares, rivals beside the house, per category
    /// and reason (categories where the operator has a platform).
    pub strike_rates: Vec<StrikeRate>,
    /// Orders created in the range by merchant × wallet × outcome, each
    /// wallet's totals, and the wallet picker's order in force.
    pub payments: PaymentsSection,
}

/// Strikes per thousand shares, rivals beside the house. Only categories in
/// which the operator owns a platform compare anything; unknown platforms
/// belong to none.
fn strike_rates(
    complaints: &[ComplaintCount],
    shares: &[ShareCount],
    operator: &str,
    house_categories: &BTreeSet<String>,
    category_of: impl Fn(&str) -> Option<String>,
) -> Vec<StrikeRate> {
    // (category, house?) → shares
    let mut shared: BTreeMap<(String, bool), i64> = BTreeMap::new();
    for s in shares {
        if let Some(category) = category_of(&s.platform) {
            *shared.entry((category, s.owner == operator)).or_default() += s.count;
        }
    }
    // (category, reason) → (house strikes, rival strikes)
    let mut struck: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for c in complaints.iter().filter(|c| c.state == CaseState::Upheld) {
        if let Some(category) = category_of(&c.platform) {
            let entry = struck.entry((category, c.reason.clone())).or_default();
            if c.owner == operator {
                entry.0 += c.count;
            } else {
                entry.1 += c.count;
            }
        }
    }
    let rate =
        |strikes: i64, shares: i64| (shares > 0).then(|| strikes as f64 * 1000.0 / shares as f64);
    struck
        .into_iter()
        .filter(|((category, _), _)| house_categories.contains(category))
        .map(|((category, reason), (house, rival))| {
            let house_shares = shared.get(&(category.clone(), true)).copied().unwrap_or(0);
            let rival_shares = shared.get(&(category.clone(), false)).copied().unwrap_or(0);
            StrikeRate {
                house_per_thousand: rate(house, house_shares),
                rival_per_thousand: rate(rival, rival_shares),
                category,
                reason,
                house_strikes: house,
                house_shares,
                rival_strikes: rival,
                rival_shares,
            }
        })
        .collect()
}

impl GovernanceService {
    pub(super) fn check_range(&self, from: Timestamp, to: Timestamp) -> Result<()> {
        if from >= to {
            return Err(Error::invalid(
                "the range is empty or inverted: from must be before to",
            ));
        }
        if to - from > self.settings.max_report_days * 86_400_000 {
            return Err(Error::invalid(format!(
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
    ) -> Result<Report> {
        match caller {
            Some(c) => {
                self.admin(c).await?;
            }
            None if !self.settings.public_report => return Err(Error::not_found("endpoint")),
            None => {}
        }
        self.check_range(from, to)?;
        let counts = self.store.share_counts(from, to).await?;
        let mut groups: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
        for c in &counts {
            *groups
                .entry((&c.owner, &c.platform, &c.conversation_kind))
                .or_default() += c.count;
        }
        let total = counts.iter().map(|c| c.count).sum();
        let rows = counts
            .iter()
            .map(|c| {
                let of = groups
                    .get(&(
                        c.owner.as_str(),
                        c.platform.as_str(),
                        c.conversation_kind.as_str(),
                    ))
                    .copied()
                    .unwrap_or(1);
                ReportRow {
                    owner: c.owner.clone(),
                    platform: c.platform.clone(),
                    conversation_kind: c.conversation_kind.clone(),
                    treatment: c.treatment.clone(),
                    count: c.count,
                    share: c.count as f64 / of.max(1) as f64,
                }
            })
            .collect();
        let activations = self.store.activations().await?;
        let comments: BTreeMap<i64, String> = self
            .store
            .versions()
            .await?
            .into_iter()
            .map(|v| (v.id, v.comment))
            .collect();
        let comment = |version: i64| match version {
            0 => "start-up policy (settings)".to_owned(),
            v => comments.get(&v).cloned().unwrap_or_default(),
        };
        let first_version = in_force(&activations, from).map_or(0, |a| a.version_id);
        let first = VersionInForce {
            version: first_version,
            from,
            comment: comment(first_version),
        };
        let later = activations
            .iter()
            .filter(|a| {
                a.cancelled_at.is_none() && a.effective_from > from && a.effective_from < to
            })
            .map(|a| VersionInForce {
                version: a.version_id,
                from: a.effective_from,
                comment: comment(a.version_id),
            });
        let versions_in_force = std::iter::once(first).chain(later).collect();
        let complaint_counts = self.moderation.complaint_counts(from, to).await?;
        let registry = self.links.registry();
        let operator = self.links.operator();
        let house_categories: BTreeSet<String> = registry
            .platforms()
            .iter()
            .filter(|p| p.owner == operator)
            .map(|p| p.category.clone())
            .collect();
        let strike_rates = strike_rates(
            &complaint_counts,
            &counts,
            operator,
            &house_categories,
            |platform| registry.platform(platform).map(|p| p.category.clone()),
        );
        let complaints = complaint_counts
            .into_iter()
            .map(|c| ComplaintRow {
                owner: c.owner,
                platform: c.platform,
                reason: c.reason,
                state: c.state.as_str().to_owned(),
                count: c.count,
            })
            .collect();
        let penalties = self
            .moderation
            .penalty_counts(from, to)
            .await?
            .into_iter()
            .map(|p| PenaltyRow {
                owner: p.owner,
                platform: p.platform,
                reason: p.reason,
                state: p.state.as_str().to_owned(),
                count: p.count,
                lifted: p.lifted,
            })
            .collect();
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
            .map(
                |((at, owner, conversation_kind, treatment), count)| SeriesPoint {
                    at,
                    owner,
                    conversation_kind,
                    treatment,
                    count,
                },
            )
            .collect();
        let payments = payments_section(
            self.fairness.picker,
            self.payments.payment_counts(from, to).await?,
        )?;
        Ok(Report {
            from,
            to,
            total,
            rows,
            versions_in_force,
            bucket_ms,
            series,
            complaints,
            penalties,
            strike_rates,
            payments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complaint(owner: &str, platform: &str, reason: &str, count: i64) -> ComplaintCount {
        ComplaintCount {
            owner: owner.into(),
            platform: platform.into(),
            reason: reason.into(),
            state: CaseState::Upheld,
            count,
        }
    }

    fn shares(owner: &str, platform: &str, count: i64) -> ShareCount {
        ShareCount {
            owner: owner.into(),
            platform: platform.into(),
            conversation_kind: "group".into(),
            treatment: "live".into(),
            count,
        }
    }

    /// The figure that would have shown WeChat's uneven treatment: for the
    /// same reason in the same category, rivals struck four times as often
    /// per thousand shares as the house.
    #[test]
    fn strikes_per_thousand_shares_put_rivals_beside_the_house() {
        let category = |p: &str| match p {
            "taobao" | "jd" | "wechat-shop" => Some("commerce".to_owned()),
            "douyin" => Some("video".to_owned()),
            _ => None,
        };
        let complaints = [
            complaint("alibaba", "taobao", "fraud", 4),
            complaint("tencent", "wechat-shop", "fraud", 1),
            complaint("bytedance", "douyin", "fraud", 9),
            complaint("unknown", "unknown", "fraud", 3),
            ComplaintCount {
                state: CaseState::Dismissed,
                ..complaint("jd", "jd", "fraud", 50)
            },
        ];
        let logged = [
            shares("alibaba", "taobao", 600),
            shares("jd", "jd", 400),
            shares("tencent", "wechat-shop", 1_000),
            shares("bytedance", "douyin", 10),
        ];
        let house = BTreeSet::from(["commerce".to_owned()]);
        let rates = strike_rates(&complaints, &logged, "tencent", &house, category);
        // Video: the house has no platform there, so nothing to compare.
        assert_eq!(rates.len(), 1, "{rates:?}");
        let r = &rates[0];
        assert_eq!(
            (r.category.as_str(), r.reason.as_str()),
            ("commerce", "fraud")
        );
        assert_eq!((r.house_strikes, r.house_shares), (1, 1_000));
        assert_eq!(
            (r.rival_strikes, r.rival_shares),
            (4, 1_000),
            "dismissed ones are no strikes"
        );
        assert_eq!(r.house_per_thousand, Some(1.0));
        assert_eq!(r.rival_per_thousand, Some(4.0));
        // A category the house is in but had no shares in: still compared,
        // the house's rate unknown rather than zero.
        let rates = strike_rates(&complaints, &logged[..2], "tencent", &house, category);
        assert_eq!(rates[0].house_per_thousand, None);
        assert_eq!(rates[0].rival_per_thousand, Some(4.0));
    }
}
