//! Uncertainty and aggregation: bootstrap confidence intervals, RSNA's probabilistic F1,
//! and the roll-up of image scores to breasts or patients.

use std::collections::HashMap;
use std::hash::Hash;

use rayon::prelude::*;
use serde::Serialize;

use super::calibration::quantile_sorted;
use super::{check_probabilities, check_scores};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// What a bootstrap resample draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    /// Positives and negatives separately, so every resample keeps the class counts.
    Stratified,
    /// Whole groups (patients) with all their samples: the right choice when a patient has
    /// several images, whose scores are not independent.
    Groups,
}

/// Parameters of [`bootstrap_ci`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions {
    /// Number of resamples (default 1000).
    pub resamples: usize,
    /// Coverage of the interval (default 0.95).
    pub confidence: f64,
    /// Seed of the resampling (default 0); the result does not depend on thread count.
    pub seed: u64,
    /// How resamples are drawn (default [`Resampling::Stratified`]).
    pub resampling: Resampling,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            resamples: 1000,
            confidence: 0.95,
            seed: 0,
            resampling: Resampling::Stratified,
        }
    }
}

impl BootstrapOptions {
    /// Set the number of resamples.
    pub fn with_resamples(mut self, n: usize) -> Self {
        self.resamples = n;
        self
    }
    /// Set the coverage.
    pub fn with_confidence(mut self, c: f64) -> Self {
        self.confidence = c;
        self
    }
    /// Set the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Set the resampling scheme.
    pub fn with_resampling(mut self, r: Resampling) -> Self {
        self.resampling = r;
        self
    }
}

/// A point estimate with a percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The metric on the full data.
    pub estimate: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Coverage the bounds were computed for.
    pub confidence: f64,
    /// Resamples that produced a value.
    pub resamples: usize,
    /// Resamples where the metric was undefined (e.g. one class only), left out.
    pub skipped: usize,
}

/// A percentile bootstrap interval for `metric(labels, scores)`.
///
/// `groups` (one id per sample, e.g. patient ids) is required for
/// [`Resampling::Groups`] and ignored otherwise. Each resample has its own random stream
/// derived from the seed, so the result is the same on any number of threads.
pub fn bootstrap_ci<G, F>(
    labels: &[bool],
    scores: &[f64],
    groups: Option<&[G]>,
    options: &BootstrapOptions,
    metric: F,
) -> Result<Interval>
where
    G: Hash + Eq + Sync,
    F: Fn(&[bool], &[f64]) -> Result<f64> + Sync,
{
    check_scores("bootstrap_ci", labels.len(), scores)?;
    if options.resamples == 0 {
        return Err(Error::Param {
            name: "resamples",
            message: "must be at least 1".into(),
        });
    }
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return Err(Error::Param {
            name: "confidence",
            message: format!("must lie in (0, 1), got {}", options.confidence),
        });
    }
    let estimate = metric(labels, scores)?;
    // Pools to draw from: each resample draws len(pool) members with replacement from
    // every pool and takes all samples of each member drawn.
    let pools: Vec<Vec<Vec<usize>>> = match options.resampling {
        Resampling::Stratified => {
            let (pos, neg): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| labels[i]);
            [pos, neg]
                .into_iter()
                .filter(|p| !p.is_empty())
                .map(|p| p.into_iter().map(|i| vec![i]).collect())
                .collect()
        }
        Resampling::Groups => {
            let groups = groups.ok_or_else(|| {
                Error::input(
                    "bootstrap_ci",
                    "Resampling::Groups needs one group id per sample",
                )
            })?;
            if groups.len() != labels.len() {
                return Err(Error::input(
                    "bootstrap_ci",
                    format!("{} labels but {} group ids", labels.len(), groups.len()),
                ));
            }
            vec![group_members(groups).1]
        }
    };
    let values: Vec<Option<f64>> = (0..options.resamples)
        .into_par_iter()
        .map(|r| {
            let mut rng = Rng::derive(options.seed, r as u64);
            let (mut l, mut s) = (
                Vec::with_capacity(labels.len()),
                Vec::with_capacity(labels.len()),
            );
            for pool in &pools {
                for _ in 0..pool.len() {
                    for &i in &pool[rng.below(pool.len() as u64) as usize] {
                        l.push(labels[i]);
                        s.push(scores[i]);
                    }
                }
            }
            metric(&l, &s).ok()
        })
        .collect();
    let mut ok: Vec<f64> = values.into_iter().flatten().collect();
    let skipped = options.resamples - ok.len();
    if ok.is_empty() {
        return Err(Error::input(
            "bootstrap_ci",
            "the metric was undefined on every resample",
        ));
    }
    ok.sort_unstable_by(f64::total_cmp);
    let alpha = (1.0 - options.confidence) / 2.0;
    Ok(Interval {
        estimate,
        lower: quantile_sorted(&ok, alpha),
        upper: quantile_sorted(&ok, 1.0 - alpha),
        confidence: options.confidence,
        resamples: ok.len(),
        skipped,
    })
}

/// Dense ids in order of first appearance, and the members of each.
fn group_members<G: Hash + Eq>(groups: &[G]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut index: HashMap<&G, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = vec![];
    let mut first = vec![];
    for (i, g) in groups.iter().enumerate() {
        let id = *index.entry(g).or_insert_with(|| {
            members.push(vec![]);
            first.push(i);
            members.len() - 1
        });
        members[id].push(i);
    }
    (first, members)
}

/// RSNA screening challenge's probabilistic F1: precision and recall computed from the
/// probabilities themselves (`pTP = sum of p over positives`, `pFP = sum of p over
/// negatives`), so it rewards confident correct scores without a threshold. 0 when no
/// probability mass lands on positives.
pub fn probabilistic_f1(labels: &[bool], probs: &[f64]) -> Result<f64> {
    check_scores("probabilistic_f1", labels.len(), probs)?;
    check_probabilities("probabilistic_f1", probs)?;
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    if positives == 0.0 {
        return Err(Error::input(
            "probabilistic_f1",
            "undefined with no positives",
        ));
    }
    let (mut ptp, mut pfp) = (0.0, 0.0);
    for (&l, &p) in labels.iter().zip(probs) {
        if l {
            ptp += p;
        } else {
            pfp += p;
        }
    }
    if ptp == 0.0 {
        return Ok(0.0);
    }
    let precision = ptp / (ptp + pfp);
    let recall = ptp / positives;
    Ok(2.0 * precision * recall / (precision + recall))
}

/// How image scores combine into one score per breast or patient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The highest score: one suspicious view flags the breast (what readers do).
    #[default]
    Max,
    /// The mean score.
    Mean,
}

impl Aggregate {
    /// `max` or `mean`.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Max => "max",
            Aggregate::Mean => "mean",
        }
    }
}

/// Scores rolled up to groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup<G> {
    /// Group ids in order of first appearance.
    pub groups: Vec<G>,
    /// A group is positive when any of its samples is.
    pub labels: Vec<bool>,
    /// Aggregated score per group.
    pub scores: Vec<f64>,
    /// Samples per group.
    pub sizes: Vec<usize>,
}

/// Roll image-level labels and scores up to `groups` (breast ids such as
/// `patient-L`, or patient ids).
pub fn rollup<G: Hash + Eq + Clone>(
    groups: &[G],
    labels: &[bool],
    scores: &[f64],
    aggregate: Aggregate,
) -> Result<Rollup<G>> {
    check_scores("rollup", labels.len(), scores)?;
    if groups.len() != labels.len() {
        return Err(Error::input(
            "rollup",
            format!("{} labels but {} group ids", labels.len(), groups.len()),
        ));
    }
    let (first, members) = group_members(groups);
    Ok(Rollup {
        groups: first.iter().map(|&i| groups[i].clone()).collect(),
        labels: members
            .iter()
            .map(|m| m.iter().any(|&i| labels[i]))
            .collect(),
        scores: members
            .iter()
            .map(|m| {
                let it = m.iter().map(|&i| scores[i]);
                match aggregate {
                    Aggregate::Max => it.fold(f64::NEG_INFINITY, f64::max),
                    Aggregate::Mean => it.sum::<f64>() / m.len() as f64,
                }
            })
            .collect(),
        sizes: members.iter().map(Vec::len).collect(),
    })
}
