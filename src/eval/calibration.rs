//! Metrics on predicted probabilities: Brier score, log loss, calibration curve.

use serde::Serialize;

use super::{check_probabilities, check_scores};
use crate::error::{Error, Result};

fn check(what: &'static str, labels: &[bool], probs: &[f64]) -> Result<()> {
    check_scores(what, labels.len(), probs)?;
    check_probabilities(what, probs)
}

/// Mean squared difference between probability and outcome (scikit-learn's
/// `brier_score_loss`); 0 is perfect, 0.25 is a constant 0.5.
pub fn brier_score(labels: &[bool], probs: &[f64]) -> Result<f64> {
    check("brier_score", labels, probs)?;
    let s: f64 = labels
        .iter()
        .zip(probs)
        .map(|(&l, &p)| (p - f64::from(u8::from(l))).powi(2))
        .sum();
    Ok(s / probs.len() as f64)
}

/// Mean negative log-likelihood (scikit-learn's `log_loss`). Probabilities are clipped to
/// `[eps, 1 - eps]` with `eps = f64::EPSILON`, as scikit-learn 1.6 does, so a confident
/// mistake costs about 36 instead of infinity.
pub fn log_loss(labels: &[bool], probs: &[f64]) -> Result<f64> {
    check("log_loss", labels, probs)?;
    let eps = f64::EPSILON;
    let s: f64 = labels
        .iter()
        .zip(probs)
        .map(|(&l, &p)| {
            let q = if l { p } else { 1.0 - p };
            -q.clamp(eps, 1.0 - eps).ln()
        })
        .sum();
    Ok(s / probs.len() as f64)
}

/// How bins are laid out for a [`calibration_curve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Binning {
    /// Equal-width bins over [0, 1].
    Uniform,
    /// Bins holding equal numbers of samples (edges at the score quantiles).
    Quantile,
}

/// Observed frequency of positives against mean predicted probability, per non-empty bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationCurve {
    /// Fraction of positives in each bin.
    pub prob_true: Vec<f64>,
    /// Mean predicted probability in each bin.
    pub prob_pred: Vec<f64>,
    /// Samples in each bin.
    pub counts: Vec<u64>,
}

/// scikit-learn's `calibration_curve`: bins are `(edge[i-1], edge[i]]` (the first one also
/// holds 0) and empty bins are dropped.
pub fn calibration_curve(
    labels: &[bool],
    probs: &[f64],
    n_bins: usize,
    binning: Binning,
) -> Result<CalibrationCurve> {
    check("calibration_curve", labels, probs)?;
    if n_bins == 0 {
        return Err(Error::Param {
            name: "n_bins",
            message: "must be at least 1".into(),
        });
    }
    let edges: Vec<f64> = match binning {
        Binning::Uniform => {
            let step = 1.0 / n_bins as f64;
            (0..=n_bins).map(|i| i as f64 * step).collect()
        }
        Binning::Quantile => {
            let mut sorted = probs.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            (0..=n_bins)
                .map(|i| quantile_sorted(&sorted, i as f64 / n_bins as f64))
                .collect()
        }
    };
    let inner = &edges[1..n_bins];
    let mut sums = vec![0.0; n_bins];
    let mut trues = vec![0.0; n_bins];
    let mut counts = vec![0u64; n_bins];
    for (&l, &p) in labels.iter().zip(probs) {
        // numpy's searchsorted(side="left"): the number of inner edges below p.
        let b = inner.partition_point(|&e| e < p);
        sums[b] += p;
        trues[b] += f64::from(u8::from(l));
        counts[b] += 1;
    }
    let mut c = CalibrationCurve {
        prob_true: vec![],
        prob_pred: vec![],
        counts: vec![],
    };
    for b in 0..n_bins {
        if counts[b] > 0 {
            c.prob_true.push(trues[b] / counts[b] as f64);
            c.prob_pred.push(sums[b] / counts[b] as f64);
            c.counts.push(counts[b]);
        }
    }
    Ok(c)
}

/// numpy's default (`linear`) percentile of sorted data, `q` in [0, 1].
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = pos - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // numpy's _lerp: stable at both ends.
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}
