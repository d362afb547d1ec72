//! Baselines a CNN must beat: the majority class, and logistic regression on tabular
//! columns of the workbooks (linfa).
//!
//! The majority-class baseline is seed 001's trap made explicit: at 2 % prevalence it is
//! 98 % accurate, finds no cancer, and its constant score has ROC AUC 0.5.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::dataset::tabular::Standardiser;
use crate::error::{Error, Result};

fn standardise(scale: &Standardiser, rows: &[Vec<f64>]) -> Result<Array2<f64>> {
    let v = scale.apply(rows, WHAT)?;
    Array2::from_shape_vec((rows.len(), scale.width()), v)
        .map_err(|e| Error::input(WHAT, e.to_string()))
}

/// Always predicts the most frequent training class; its score for a class is that class's
/// training share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MajorityClass {
    /// The predicted class.
    pub class: usize,
    /// Training share of each class.
    pub shares: Vec<f64>,
}

impl MajorityClass {
    /// Fit on training labels (`classes` classes).
    pub fn fit(labels: &[usize], classes: usize) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::input("majority baseline", "no training labels"));
        }
        let mut counts = vec![0usize; classes];
        for &l in labels {
            if l >= classes {
                return Err(Error::input(
                    "majority baseline",
                    format!("label {l} is not below {classes} classes"),
                ));
            }
            counts[l] += 1;
        }
        let class = (0..classes)
            .max_by_key(|&c| (counts[c], usize::MAX - c))
            .unwrap_or(0);
        let n = labels.len() as f64;
        Ok(Self {
            class,
            shares: counts.iter().map(|&c| c as f64 / n).collect(),
        })
    }

    /// The predicted class for each of `n` samples.
    pub fn predict(&self, n: usize) -> Vec<usize> {
        vec![self.class; n]
    }

    /// The (constant) score of class `positive` for each of `n` samples.
    pub fn scores(&self, n: usize, positive: usize) -> Vec<f64> {
        vec![self.shares.get(positive).copied().unwrap_or(0.0); n]
    }
}

/// Options of [`Logistic::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticOptions {
    /// L2 penalty on the weights (not the intercept): `alpha / 2 * |w|^2` added to the
    /// summed log-loss, i.e. scikit-learn's `C = 1 / alpha`.
    pub alpha: f64,
    /// L-BFGS iterations at most.
    pub max_iterations: u64,
}

impl Default for LogisticOptions {
    /// `alpha = 1` (scikit-learn's default `C = 1`), 200 iterations.
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iterations: 200,
        }
    }
}

/// Logistic regression on standardised features (linfa-logistic, L-BFGS). Missing values
/// (NaN) are replaced by the training mean of their column ([`Standardiser`]).
#[derive(Debug, Clone)]
pub struct Logistic {
    scale: Standardiser,
    weights: Vec<f64>,
    intercept: f64,
}

const WHAT: &str = "logistic baseline";

impl Logistic {
    /// Fit on `features` (rows of `names.len()` values, NaN = missing) and labels.
    pub fn fit(
        features: &[Vec<f64>],
        names: &[String],
        labels: &[bool],
        options: LogisticOptions,
    ) -> Result<Self> {
        let scale = Standardiser::fit(features, names, WHAT)?;
        if labels.len() != features.len() {
            return Err(Error::input(
                WHAT,
                format!("{} rows but {} labels", features.len(), labels.len()),
            ));
        }
        if labels.iter().all(|&l| l) || labels.iter().all(|&l| !l) {
            return Err(Error::input(WHAT, "training labels hold one class only"));
        }
        let x = standardise(&scale, features)?;
        let y = Array1::from(labels.to_vec());
        let fitted = LogisticRegression::default()
            .alpha(options.alpha)
            .max_iterations(options.max_iterations)
            .gradient_tolerance(1e-8)
            .fit(&Dataset::new(x, y))
            .map_err(|e| Error::input(WHAT, e.to_string()))?;
        // linfa models P(label = the more frequent class): turn it into P(true).
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Self {
            scale,
            weights: fitted.params().iter().map(|w| sign * w).collect(),
            intercept: sign * fitted.intercept(),
        })
    }

    /// P(true) for each row.
    pub fn predict_proba(&self, features: &[Vec<f64>]) -> Result<Vec<f64>> {
        let x = standardise(&self.scale, features)?;
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                let z: f64 =
                    r.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>() + self.intercept;
                1.0 / (1.0 + (-z).exp())
            })
            .collect())
    }

    /// Weight per standardised feature (effect of one standard deviation on the log-odds),
    /// with the feature names, largest magnitude first.
    pub fn coefficients(&self) -> Vec<(String, f64)> {
        let mut c: Vec<(String, f64)> = self
            .scale
            .columns
            .iter()
            .cloned()
            .zip(self.weights.iter().copied())
            .collect();
        c.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        c
    }

    /// The `top` largest coefficients as a table: `feature`, `coefficient (per SD)`.
    pub fn coefficients_frame(&self, top: usize) -> Result<polars::prelude::DataFrame> {
        use polars::prelude::{Column, DataFrame};
        let mut c = self.coefficients();
        c.truncate(top);
        DataFrame::new_infer_height(vec![
            Column::new(
                "feature".into(),
                c.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "coefficient (per SD)".into(),
                c.iter().map(|x| x.1).collect::<Vec<_>>(),
            ),
        ])
        .map_err(|e| Error::table("coefficients", e))
    }

    /// The intercept (log-odds at the training means).
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
}

pub use crate::dataset::tabular::numeric_features;
