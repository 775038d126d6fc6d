//! The transparency report: links decided in a range, counted by owner,
//! platform, conversation kind and treatment, with the versions in force and
//! a time series.
use std::collections::BTreeMap;

use kaifang_store::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

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
        let first = VersionInForce {
            version: in_force(&activations, from).map_or(0, |a| a.version_id),
            from,
        };
        let later = activations
            .iter()
            .filter(|a| {
                a.cancelled_at.is_none() && a.effective_from > from && a.effective_from < to
            })
            .map(|a| VersionInForce {
                version: a.version_id,
                from: a.effective_from,
            });
        let versions_in_force = std::iter::once(first).chain(later).collect();
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
}
