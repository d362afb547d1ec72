//! One configuration over several seeds, and whether two runs or sweeps really differ.
//!
//! A test set of a few hundred images with a handful of cancers gives an AUC that moves by
//! 0.1 from one seed to the next. [`sweep`] trains the same [`RunOptions`] once per seed
//! (each seed draws its own patient split, weights and sample order) into
//! `OUT/seed-<s>/`, and writes `OUT/sweep.csv` (one row per seed) and `OUT/sweep.json`
//! (each metric's [`Spread`] over the seeds, and the seeds that failed and why). A
//! collapsed or failed seed is recorded and the sweep goes on.
//!
//! [`compare`] sets two run directories against each other with DeLong's test (paired when
//! both scored the same test images, else unpaired), or two sweep directories seed by seed
//! (the [`Spread`] of the per-seed differences).

use std::path::{Path, PathBuf};

use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};

use super::{run, run_classes, RunOptions, RunResult};
use crate::error::{Error, IoContext, Result};
use crate::eval::{delong_paired, delong_unpaired, AucTest, Spread};
use crate::ingest::frames::{read_csv, write_csv, ScoreTable};
use crate::manifest::Manifest;
use crate::model::Progress;

/// The metrics a sweep summarises, in `sweep.csv`'s column order: test ROC AUC, average
/// precision, recall and specificity at 0.5 and at the threshold chosen on validation,
/// accuracy at 0.5, and the per-breast ROC AUC.
pub const SWEEP_METRICS: [&str; 8] = [
    "roc_auc",
    "average_precision",
    "accuracy",
    "recall",
    "specificity",
    "recall_chosen",
    "specificity_chosen",
    "breast_roc_auc",
];

/// One seed of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// Its run directory.
    pub dir: PathBuf,
    /// [`SWEEP_METRICS`] in order (`None` where undefined, e.g. no threshold chosen).
    pub metrics: Vec<Option<f64>>,
    /// Epochs trained.
    pub epochs: usize,
    /// Why the run failed (`metrics` are then all `None`).
    pub error: Option<String>,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// The metrics of each seed's `metrics`, in order: [`SWEEP_METRICS`] for binary runs;
    /// for k-class runs `accuracy`, `balanced_accuracy`, the four ROC AUCs and
    /// `cohen_kappa`, then per source `<source>/accuracy`, `<source>/balanced_accuracy`,
    /// `<source>/roc_auc_ovr_macro` and `<source>/roc_auc_<class>` (see
    /// [`ClassMetrics::named_values`](super::ClassMetrics::named_values)).
    #[serde(default = "binary_metrics")]
    pub metrics: Vec<String>,
    /// Every seed, in order.
    pub runs: Vec<SeedRun>,
    /// `(metric, spread over the seeds where it is defined)`, in [`SweepSummary::metrics`]
    /// order (a metric no seed defines is left out).
    pub spread: Vec<(String, Spread)>,
}

fn binary_metrics() -> Vec<String> {
    SWEEP_METRICS.iter().map(|m| m.to_string()).collect()
}

impl SweepSummary {
    /// The spread of `metric` (one of [`SweepSummary::metrics`]).
    pub fn get(&self, metric: &str) -> Option<&Spread> {
        self.spread
            .iter()
            .find(|(m, _)| m == metric)
            .map(|(_, s)| s)
    }

    /// Seeds that failed.
    pub fn failed(&self) -> impl Iterator<Item = &SeedRun> {
        self.runs.iter().filter(|r| r.error.is_some())
    }

    /// One line per metric, then one per failed seed.
    pub fn report(&self) -> String {
        let ok = self.runs.len() - self.failed().count();
        let mut text = format!("{} seeds, {ok} trained", self.runs.len());
        let w = self.spread.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        for (m, s) in &self.spread {
            text.push_str(&format!("\n  {m:<w$} {}", s.line()));
        }
        for r in self.failed() {
            text.push_str(&format!(
                "\n  seed {} failed: {}",
                r.seed,
                r.error.as_deref().unwrap_or_default()
            ));
        }
        text
    }

    /// One row per seed: `seed`, `epochs`, the [`SweepSummary::metrics`] and `error` (what
    /// `sweep.csv` holds).
    pub fn seeds_table(&self) -> Result<DataFrame> {
        let mut cols = vec![
            Column::new(
                "seed".into(),
                self.runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
            ),
            Column::new(
                "epochs".into(),
                self.runs
                    .iter()
                    .map(|r| r.epochs as u64)
                    .collect::<Vec<_>>(),
            ),
        ];
        for (k, m) in self.metrics.iter().enumerate() {
            cols.push(Column::new(
                m.as_str().into(),
                self.runs.iter().map(|r| r.metrics[k]).collect::<Vec<_>>(),
            ));
        }
        cols.push(Column::new(
            "error".into(),
            self.runs
                .iter()
                .map(|r| r.error.clone())
                .collect::<Vec<_>>(),
        ));
        DataFrame::new_infer_height(cols).map_err(|e| Error::table("sweep", e))
    }

    /// One row per metric: `metric`, `seeds` (where it is defined), `mean`, `sd`, `min`,
    /// `max` and the bootstrap interval of the mean (`lower`, `upper`).
    pub fn spread_table(&self) -> Result<DataFrame> {
        let col = |name: &str, f: fn(&Spread) -> f64| {
            Column::new(
                name.into(),
                self.spread.iter().map(|(_, s)| f(s)).collect::<Vec<_>>(),
            )
        };
        DataFrame::new_infer_height(vec![
            Column::new(
                "metric".into(),
                self.spread
                    .iter()
                    .map(|(m, _)| m.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "seeds".into(),
                self.spread
                    .iter()
                    .map(|(_, s)| s.n as u64)
                    .collect::<Vec<_>>(),
            ),
            col("mean", |s| s.mean),
            col("sd", |s| s.sd),
            col("min", |s| s.min),
            col("max", |s| s.max),
            col("lower", |s| s.lower),
            col("upper", |s| s.upper),
        ])
        .map_err(|e| Error::table("sweep", e))
    }
}

fn metrics_of(r: &RunResult) -> Vec<Option<f64>> {
    let s = &r.summary;
    vec![
        Some(s.roc_auc),
        Some(s.average_precision),
        Some(s.metrics.accuracy),
        Some(s.metrics.recall),
        Some(s.metrics.specificity),
        r.chosen.as_ref().map(|c| c.metrics.recall),
        r.chosen.as_ref().map(|c| c.metrics.specificity),
        r.breast.as_ref().map(|b| b.roc_auc),
    ]
}

/// Train `options` once per seed of `seeds` into `out/seed-<s>/` and summarise (see the
/// module docs): binary runs ([`run`]), or k-class runs ([`run_classes`]) when the
/// manifest's classes name no positive one. `on_seed` is told each seed before it starts.
pub fn sweep(
    manifest: &Manifest,
    options: &RunOptions,
    seeds: &[u64],
    out: &Path,
    progress: &mut dyn Progress,
    on_seed: &mut dyn FnMut(u64),
) -> Result<SweepSummary> {
    if seeds.is_empty() {
        return Err(Error::Param {
            name: "seeds",
            message: "no seeds given".into(),
        });
    }
    options.validate()?;
    let k_class = manifest.positive_class()?.is_none();
    let _lock = crate::outlock::OutLock::folder(out)?;
    // Each seed's (metric, value) pairs, or why it failed.
    type Named = Vec<(String, Option<f64>)>;
    let mut trained: Vec<(u64, PathBuf, usize, Result<Named>)> = vec![];
    for &seed in seeds {
        on_seed(seed);
        let dir = out.join(format!("seed-{seed}"));
        let o = options.clone().with_seed(seed);
        let r = match k_class {
            false => run(manifest, &o, &dir, progress).map(|r| {
                let values = SWEEP_METRICS
                    .iter()
                    .map(|m| m.to_string())
                    .zip(metrics_of(&r));
                (r.history.epochs.len(), values.collect())
            }),
            true => run_classes(manifest, &o, &dir, progress).map(|r| {
                let names = r.info.classes.names().to_vec();
                (r.history.epochs.len(), r.metrics.named_values(&names))
            }),
        };
        match r {
            Ok((epochs, values)) => trained.push((seed, dir, epochs, Ok(values))),
            Err(e) => trained.push((seed, dir, 0, Err(e))),
        }
    }
    // The metrics in the order the seeds first name them (binary runs: SWEEP_METRICS).
    let mut metrics: Vec<String> = match k_class {
        false => binary_metrics(),
        true => vec![],
    };
    for (_, _, _, r) in &trained {
        for (name, _) in r.iter().flatten() {
            if !metrics.contains(name) {
                metrics.push(name.clone());
            }
        }
    }
    let runs: Vec<SeedRun> = trained
        .into_iter()
        .map(|(seed, dir, epochs, r)| match r {
            Ok(values) => SeedRun {
                seed,
                dir,
                metrics: metrics
                    .iter()
                    .map(|m| values.iter().find(|(n, _)| n == m).and_then(|(_, v)| *v))
                    .collect(),
                epochs,
                error: None,
            },
            Err(e) => SeedRun {
                seed,
                dir,
                metrics: vec![None; metrics.len()],
                epochs: 0,
                error: Some(e.to_string()),
            },
        })
        .collect();
    let mut spread = Vec::new();
    for (k, m) in metrics.iter().enumerate() {
        let v: Vec<f64> = runs.iter().filter_map(|r| r.metrics[k]).collect();
        if !v.is_empty() {
            spread.push((m.to_string(), Spread::of(&v)?));
        }
    }
    let summary = SweepSummary {
        metrics,
        runs,
        spread,
    };
    write_sweep(out, &summary)?;
    Ok(summary)
}

fn write_sweep(out: &Path, s: &SweepSummary) -> Result<()> {
    write_csv(&mut s.seeds_table()?, &out.join("sweep.csv"))?;
    crate::outlock::write_json(s, &out.join("sweep.json"))
}

/// Read `sweep.json` of a sweep directory.
pub fn read_sweep(dir: &Path) -> Result<SweepSummary> {
    let p = dir.join("sweep.json");
    let text = std::fs::read_to_string(&p).at(&p)?;
    serde_json::from_str(&text).map_err(|e| Error::data(&p, e))
}

/// What [`compare`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Comparison {
    /// Two run directories: DeLong's test of their test-set ROC AUCs.
    Runs(AucTest),
    /// Two sweeps: each one's ROC AUC over its seeds, and the per-seed differences
    /// (`b - a`) over the seeds both trained.
    Sweeps {
        /// Sweep A's test ROC AUC over its seeds.
        a: Spread,
        /// Sweep B's.
        b: Spread,
        /// `b - a` seed by seed.
        difference: Spread,
        /// The seeds both trained.
        seeds: Vec<u64>,
    },
}

impl Comparison {
    /// Whether the difference is larger than chance: p < 0.05 for runs; for sweeps, the
    /// bootstrap interval of the mean per-seed difference excludes 0.
    pub fn significant(&self) -> bool {
        match self {
            Self::Runs(t) => t.p_value < 0.05,
            Self::Sweeps { difference, .. } => difference.lower > 0.0 || difference.upper < 0.0,
        }
    }

    /// What `mammolab compare` prints.
    pub fn report(&self, a: &Path, b: &Path) -> String {
        let verdict = if self.significant() {
            "larger than chance"
        } else {
            "NOT larger than chance"
        };
        match self {
            Self::Runs(t) => format!(
                "A {}: test ROC AUC {:.4}\nB {}: test ROC AUC {:.4}\nB - A = {:+.4} (95 % CI {:+.4} to {:+.4}), DeLong {} test on {} positive and {} negative images{}: z {:.3}, p {:.4}: {verdict}",
                a.display(),
                t.auc_a,
                b.display(),
                t.auc_b,
                t.difference,
                t.lower,
                t.upper,
                if t.paired { "paired" } else { "unpaired" },
                t.positives,
                t.negatives,
                if t.paired { "" } else { " (A's; the test sets differ)" },
                t.z,
                t.p_value
            ),
            Self::Sweeps {
                a: sa,
                b: sb,
                difference,
                seeds,
            } => format!(
                "A {}: test ROC AUC {}\nB {}: test ROC AUC {}\nB - A seed by seed over {} seeds: {}: {verdict} (the seed-to-seed spread)",
                a.display(),
                sa.line(),
                b.display(),
                sb.line(),
                seeds.len(),
                difference.line()
            ),
        }
    }
}

/// Test labels, scores and image keys (`sheet:row`) of a run directory.
fn run_scores(dir: &Path) -> Result<(Vec<String>, ScoreTable)> {
    let p = dir.join("predictions.csv");
    if !p.is_file() {
        return Err(Error::data(
            dir,
            "neither predictions.csv (a run) nor sweep.json (a sweep)",
        ));
    }
    let df = read_csv(&p)?;
    let t = ScoreTable::from_frame(&df, &p, "label", "score", None)?;
    let text = |name: &str| super::rundir::text_column(&df, &p, name);
    let keys = text("sheet")?
        .into_iter()
        .zip(text("row")?)
        .map(|(s, r)| format!("{s}:{r}"))
        .collect();
    Ok((keys, t))
}

/// Compare two run directories or two sweep directories (see the module docs). For runs,
/// the test is paired when both scored exactly the same test images (matched by sheet and
/// row), else unpaired.
pub fn compare(a: &Path, b: &Path) -> Result<Comparison> {
    let is_sweep = |d: &Path| d.join("sweep.json").is_file();
    match (is_sweep(a), is_sweep(b)) {
        (true, true) => compare_sweeps(&read_sweep(a)?, &read_sweep(b)?),
        (false, false) => compare_runs(a, b),
        _ => Err(Error::data(
            if is_sweep(a) { b } else { a },
            "compare needs two runs or two sweeps; this is not the same kind as the other",
        )),
    }
}

fn compare_runs(a: &Path, b: &Path) -> Result<Comparison> {
    let (ka, ta) = run_scores(a)?;
    let (kb, tb) = run_scores(b)?;
    // Paired when B scored exactly A's images, each once (in any order).
    let at: std::collections::HashMap<&str, usize> = kb
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let unique_a: std::collections::HashSet<&str> = ka.iter().map(String::as_str).collect();
    let same_images = ka.len() == kb.len()
        && at.len() == kb.len()
        && unique_a.len() == ka.len()
        && ka.iter().all(|k| at.contains_key(k.as_str()));
    if !same_images {
        return Ok(Comparison::Runs(delong_unpaired(
            &ta.labels, &ta.scores, &tb.labels, &tb.scores,
        )?));
    }
    let b_scores: Vec<f64> = ka.iter().map(|k| tb.scores[at[k.as_str()]]).collect();
    if let Some(i) = ka
        .iter()
        .zip(&ta.labels)
        .position(|(k, &l)| tb.labels[at[k.as_str()]] != l)
    {
        return Err(Error::data(
            b.join("predictions.csv"),
            format!("image {} has another label than in {}", ka[i], a.display()),
        ));
    }
    Ok(Comparison::Runs(delong_paired(
        &ta.labels, &ta.scores, &b_scores,
    )?))
}

fn compare_sweeps(a: &SweepSummary, b: &SweepSummary) -> Result<Comparison> {
    let auc = |s: &SweepSummary| -> Result<Vec<(u64, f64)>> {
        let k = s
            .metrics
            .iter()
            .position(|m| m == "roc_auc")
            .ok_or_else(|| {
                Error::input(
                "compare",
                "sweeps of k-class runs have no single ROC AUC to compare: compare binary sweeps",
            )
            })?;
        Ok(s.runs
            .iter()
            .filter_map(|r| r.metrics[k].map(|v| (r.seed, v)))
            .collect())
    };
    let (va, vb) = (auc(a)?, auc(b)?);
    let mut seeds = Vec::new();
    let mut diff = Vec::new();
    for (seed, x) in &va {
        if let Some((_, y)) = vb.iter().find(|(s, _)| s == seed) {
            seeds.push(*seed);
            diff.push(y - x);
        }
    }
    if diff.is_empty() {
        return Err(Error::input(
            "compare",
            "the two sweeps share no trained seed: run them with the same --seeds",
        ));
    }
    let values = |v: &[(u64, f64)]| v.iter().map(|p| p.1).collect::<Vec<_>>();
    Ok(Comparison::Sweeps {
        a: Spread::of(&values(&va))?,
        b: Spread::of(&values(&vb))?,
        difference: Spread::of(&diff)?,
        seeds,
    })
}
